"""Reads `etl.toml`: the pipeline's topics, subscriptions and tables for the emulators, per stage.

`load()` parses and validates it; errors name the file and the line of the bad entry. The values
(`model`) are plain data; `etl_harness.provision` creates them in the emulators, and the Go
emulators read the same file with their `--seed` flag (emulators/internal/seed). `reader` holds
the validation.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from etl_harness.etl_toml import model
from etl_harness.etl_toml.model import *  # noqa: F403 (re-exported: the model's __all__)
from etl_harness.etl_toml.model import FILE_NAME, EtlToml, InvalidEtlToml
from etl_harness.etl_toml.reader import parse

__all__ = ["find", "load", "parse"]
__all__ += model.__all__


def find(explicit: str | None = None, start: Path | None = None) -> Path:
    """`explicit` (`ETL_SEED_FILE`), else the nearest `etl.toml` from `start` (cwd) upwards, else
    the default one shipped with this package."""
    if explicit:
        return Path(explicit)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / FILE_NAME).is_file():
            return folder / FILE_NAME
    return Path(str(resources.files("etl_harness") / FILE_NAME))


def load(path: Path) -> EtlToml:
    """Read and validate an etl.toml (`find` says which)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise InvalidEtlToml(f"{path}: cannot read it: {err.strerror}") from err
    return parse(text, str(path))
