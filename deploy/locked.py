"""Installs at the versions of uv.lock, for every nox session.

pyproject.toml holds version ranges (the package is installed into other projects); uv.lock holds
the exact versions the sessions, CI and the deployed functions use. `requirements.txt` (what Cloud
Functions installs) is exported from it: `nox -s lock` regenerates both after a change.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

REPO = Path(__file__).resolve().parent.parent
EXPORT_RUNTIME = ("export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes")
"""`uv` arguments whose output is requirements.txt: the runtime's closure, pinned, no extra."""


def uv(session: nox.Session) -> str:
    """The uv executable the sessions run: the one installed beside nox, else the one on PATH.

    The README's first command, `pip install 'nox[uv]'`, puts uv into nox's own environment, which
    need not be on PATH (nox run as `venv/bin/nox`, or through pipx): `uv.find_uv_bin()` finds it
    from the interpreter running this noxfile.
    """
    try:
        from uv import find_uv_bin  # only with the `uv` extra of nox
    except ImportError:
        pass
    else:
        try:
            return find_uv_bin()
        except FileNotFoundError:
            pass
    on_path = shutil.which("uv")
    if on_path is None:
        session.error("uv not found: install nox with it, pip install 'nox[uv]'")
    return on_path


def install(session: nox.Session, *args: str) -> None:
    """`session.install(*args)` constrained to the versions locked in uv.lock."""
    # In the session's venv: nox's create_tmp() would point TMPDIR, and so every test's tmp_path,
    # inside the checkout.
    constraints = Path(session.virtualenv.location) / "uv-lock-constraints.txt"
    session.run_install(
        uv(session),
        "export",
        "--frozen",
        "--all-extras",
        "--no-emit-project",
        "--no-hashes",
        "--quiet",
        "--output-file",
        str(constraints),
        external=True,
    )
    session.install(*args, "--constraint", str(constraints))


def write_requirements(session: nox.Session) -> None:
    """Lock pyproject.toml's ranges and export the runtime's pins to requirements.txt."""
    session.run(uv(session), "lock", external=True)
    session.run(
        uv(session),
        *EXPORT_RUNTIME,
        "--quiet",
        "--output-file",
        "requirements.txt",
        external=True,
    )
