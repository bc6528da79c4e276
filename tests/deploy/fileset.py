"""The deployed file set: the repository's tracked files that serverless.yml's
`package.patterns` send to Cloud Functions (what the zip holds), copied where a test runs them.

The patterns are applied as the Serverless Framework does, in order, the last that matches a
path deciding it (`!` excludes); `test_deployed_zip` checks this against the real zip.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.deploy.templates import REPO


def _regex(glob: str) -> re.Pattern[str]:
    """A glob with `**` (any folders), `*`, `?` and `[...]`, matched against a whole path."""
    out = []
    for part in re.split(r"(\*\*/|\*\*|\*|\?|\[[^\]]*\])", glob):
        out.append(
            {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(part)
            or (part if part.startswith("[") else re.escape(part))
        )
    return re.compile("".join(out))


def patterns(repo: Path = REPO) -> list[str]:
    config = yaml.safe_load((repo / "serverless.yml").read_text())
    return list(config["package"]["patterns"])


def deployed_files(repo: Path = REPO) -> list[str]:
    """The tracked files of `repo` the patterns keep, as relative paths, sorted."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repo,
        capture_output=True,
        check=True,
        text=True,
    ).stdout.split("\0")
    rules = [(p.startswith("!"), _regex(p.lstrip("!"))) for p in patterns(repo)]
    kept = []
    for path in filter(None, tracked):
        keep = False
        for negated, rule in rules:
            if rule.fullmatch(path):
                keep = not negated
        if keep and (repo / path).is_file():
            kept.append(path)
    return sorted(kept)


def copy_deployed(dest: Path, repo: Path = REPO) -> Path:
    """The deployed file set of `repo` copied under `dest` (returned)."""
    for name in deployed_files(repo):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / name, dest / name)
    return dest
