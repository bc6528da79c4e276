"""The deployed file set, and the two artifacts made from it: the functions' source zip and the
worker image's build context.

Cloud Run functions build from the zip (and install its requirements.txt); the worker's image is
built from `dist/worker/` (the same files beside deploy/worker/Dockerfile). Nothing else of the
repository goes out: no local tooling, tests or caches. The zip is reproducible (sorted entries,
fixed timestamps), so Terraform sees a new object, and rebuilds the functions, only when the code
changed.

    python deploy/bundle.py [OUT_DIR]      # default dist/: dist/functions.zip, dist/worker/
"""

from __future__ import annotations

import shutil
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEPLOYED = ("main.py", "requirements.txt", "etl_core", "etl")
"""What the functions and the worker run: serverless.yml's `package.patterns` say the same."""
DOCKERFILE = REPO / "deploy" / "worker" / "Dockerfile"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def deployed_files(repo: Path = REPO) -> Iterator[tuple[str, Path]]:
    """(name in the artifact, file) for every deployed file, sorted; no bytecode or cache."""
    found: list[tuple[str, Path]] = []
    for entry in DEPLOYED:
        path = repo / entry
        if path.is_file():
            found.append((entry, path))
            continue
        for file in path.rglob("*"):
            relative = file.relative_to(repo)
            if file.is_file() and "__pycache__" not in relative.parts and file.suffix != ".pyc":
                found.append((relative.as_posix(), file))
    yield from sorted(found)


def write_zip(target: Path, repo: Path = REPO) -> Path:
    """The functions' source zip at `target`: byte-identical for identical files."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, file in deployed_files(repo):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, file.read_bytes())
    return target


def write_worker_context(target: Path, repo: Path = REPO) -> Path:
    """`target/` holding the deployed files and the worker's Dockerfile, nothing else."""
    if target.exists():
        shutil.rmtree(target)
    for name, file in deployed_files(repo):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target / name)
    shutil.copyfile(DOCKERFILE, target / "Dockerfile")
    return target


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else REPO / "dist"
    print(write_zip(out / "functions.zip"))
    print(write_worker_context(out / "worker"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
