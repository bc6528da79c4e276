"""Write the emulators' platform wheel, `etl_pipeline_emulators-VERSION-py3-none-PLATFORM.whl`,
from the binaries `emulators/build.sh` built (standard library only; `nox -s wheels` runs it).

The binaries are static Go executables (CGO off), so one wheel serves every Linux of the
architecture: tagged manylinux and musllinux, like ruff's and uv's.

    python emulators/wheel.py [OUT_DIR] [--bin emulators/bin] [--version X]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import platform
import stat
import sys
import tomllib
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAME = "etl_pipeline_emulators"
BINARIES = ("pubsub-emulator", "bigtable-emulator", "healthcheck")


def platform_tags(system: str | None = None, machine: str | None = None) -> list[str]:
    """Wheel platform tags for static binaries of this host's OS and architecture."""
    system = (system or platform.system()).lower()
    machine = (machine or platform.machine()).lower()
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    if system == "linux":
        return [f"manylinux_2_17_{arch}", f"musllinux_1_1_{arch}"]
    if system == "darwin":
        mac = {"aarch64": "arm64"}.get(arch, arch)
        return [f"macosx_11_0_{mac}"]
    raise SystemExit(f"wheel.py: no wheel tag for {system}/{machine}")


def project_version() -> str:
    pyproject = tomllib.loads((HERE.parent / "pyproject.toml").read_text())
    return str(pyproject["project"]["version"])


def _digest(data: bytes) -> str:
    raw = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={raw.decode()}"


def build(out_dir: Path, bin_dir: Path, version: str, tags: list[str]) -> Path:
    """The wheel, written into `out_dir`; its path."""
    missing = [b for b in BINARIES if not (bin_dir / b).is_file()]
    if missing:
        raise SystemExit(f"wheel.py: {', '.join(missing)} not in {bin_dir}: bash emulators/build.sh")
    dist_info = f"{NAME}-{version}.dist-info"
    files: list[tuple[str, bytes, int]] = [
        ("etl_emulators/__init__.py", (HERE / "python/etl_emulators/__init__.py").read_bytes(), 0o644),
        *((f"etl_emulators/bin/{b}", (bin_dir / b).read_bytes(), 0o755) for b in BINARIES),
        (
            f"{dist_info}/METADATA",
            (
                "Metadata-Version: 2.1\n"
                "Name: etl-pipeline-emulators\n"
                f"Version: {version}\n"
                "Summary: The Pub/Sub and Bigtable emulators of etl-pipeline, as static binaries.\n"
                "License: Apache-2.0\n"
                "Requires-Python: >=3.11\n"
            ).encode(),
            0o644,
        ),
        (
            f"{dist_info}/WHEEL",
            (
                "Wheel-Version: 1.0\nGenerator: etl-pipeline emulators/wheel.py\n"
                "Root-Is-Purelib: false\n" + "".join(f"Tag: py3-none-{t}\n" for t in tags)
            ).encode(),
            0o644,
        ),
    ]
    record = "".join(f"{path},{_digest(data)},{len(data)}\n" for path, data, _ in files)
    record += f"{dist_info}/RECORD,,\n"
    files.append((f"{dist_info}/RECORD", record.encode(), 0o644))
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel = out_dir / f"{NAME}-{version}-py3-none-{'.'.join(tags)}.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data, mode in files:
            info = zipfile.ZipInfo(path, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return wheel


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", nargs="?", type=Path, default=HERE.parent / "dist")
    parser.add_argument("--bin", type=Path, default=HERE / "bin")
    parser.add_argument("--version", default=None)
    args = parser.parse_args(argv)
    wheel = build(args.out_dir, args.bin, args.version or project_version(), platform_tags())
    print(wheel)


if __name__ == "__main__":
    main(sys.argv[1:])
