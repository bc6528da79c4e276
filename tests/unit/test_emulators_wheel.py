"""`emulators/wheel.py` writes a platform wheel pip can trust: tagged for static binaries of the
host, binaries executable, every file in RECORD with its real digest and size."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import stat
import zipfile
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def wheel_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("emulators_wheel", REPO / "emulators/wheel.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_linux_binaries_are_tagged_for_every_libc_and_macs_by_architecture() -> None:
    tags = wheel_module().platform_tags
    assert tags("Linux", "x86_64") == ["manylinux_2_17_x86_64", "musllinux_1_1_x86_64"]
    assert tags("Linux", "arm64") == ["manylinux_2_17_aarch64", "musllinux_1_1_aarch64"]
    assert tags("Darwin", "arm64") == ["macosx_11_0_arm64"]


def test_the_wheel_records_every_file_and_keeps_the_binaries_executable(tmp_path: Path) -> None:
    module = wheel_module()
    bins = tmp_path / "bin"
    bins.mkdir()
    for name in module.BINARIES:
        (bins / name).write_bytes(f"#!/bin/sh\necho {name}\n".encode())
    wheel = module.build(tmp_path / "dist", bins, "9.9.9", ["manylinux_2_17_x86_64"])
    assert wheel.name == "etl_pipeline_emulators-9.9.9-py3-none-manylinux_2_17_x86_64.whl"
    with zipfile.ZipFile(wheel) as archive:
        info = "etl_pipeline_emulators-9.9.9.dist-info"
        assert "Root-Is-Purelib: false" in archive.read(f"{info}/WHEEL").decode()
        record = archive.read(f"{info}/RECORD").decode().splitlines()
        assert sorted(line.split(",")[0] for line in record) == sorted(archive.namelist())
        for line in record:
            path, digest, size = line.split(",")
            if path.endswith("RECORD"):
                continue
            data = archive.read(path)
            raw = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert (digest, int(size)) == (f"sha256={raw}", len(data))
        for name in module.BINARIES:
            mode = archive.getinfo(f"etl_emulators/bin/{name}").external_attr >> 16
            assert mode & stat.S_IXUSR, name
