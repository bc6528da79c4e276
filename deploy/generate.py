"""Writes every file derived from the registry (`etl/pipeline.py`); run by `nox -s generate`.

- deploy/terraform/stage/stages/<stage>.pipeline.json: `manifest(stage, ...)` less the project
  (Terraform takes that as a variable and reads nothing else about the pipeline);
- etl_harness/etl.toml (the repository's etl.toml links to it): the table, topics and
  subscriptions, between its `BEGIN generated` and `END generated` comments;
- serverless.yml: the Pub/Sub-triggered functions and the table's column families, likewise.

Everything outside the markers is kept as written. tests/unit/test_generated.py fails while a
committed file differs from what this writes.

    python deploy/generate.py [ROOT]    # ROOT: a checkout (default: this one)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
STAGES = ("dev", "test", "prod")
ETL_TOML = Path("etl_harness/etl.toml")
SERVERLESS = Path("serverless.yml")
STAGE_DIR = Path("deploy/terraform/stage/stages")
TEMPLATE_STAGE = "dev"
"""The stage whose names, with the stage turned back into `{stage}`, etl.toml declares."""


class MarkersMissing(ValueError):
    """A generated file lacks the comments that delimit its generated part."""


def _manifest(stage: str) -> dict[str, Any]:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))  # run as a script: etl/ is importable from the checkout
    from etl.pipeline import manifest

    return manifest(stage, "unused")


def stage_data(stage: str) -> dict[str, Any]:
    """The registry's manifest of `stage`, less the project."""
    data = _manifest(stage)
    del data["project"]
    return data


def stage_json(stage: str) -> str:
    return json.dumps(stage_data(stage), indent=2) + "\n"


def _templated(name: str) -> str:
    """`acceso-events-dev` → `acceso-events-{stage}` (every name ends with its stage)."""
    for sep in "-_":
        if name.endswith(sep + TEMPLATE_STAGE):
            return name[: -len(TEMPLATE_STAGE)] + "{stage}"
    raise ValueError(f"{name!r} does not end with its stage")


def _subscription(entry: dict[str, Any], topic: str, about: str, function: str = "") -> str:
    lines = [
        *([f"# {about}"] if about else []),
        "[[pubsub.subscriptions]]",
        f'name = "{_templated(entry["subscription"])}"',
        f'topic = "{_templated(topic)}"',
        *([f'function = "{function}"'] if function else []),
        f"ack_deadline_seconds = {entry['ack_deadline_seconds']}",
    ]
    if "dead_letter_topic" in entry:
        lines += [
            f'dead_letter = {{ topic = "{_templated(entry["dead_letter_topic"])}", '
            f"max_delivery_attempts = {entry['max_delivery_attempts']} }}",
            f"retry = {{ minimum_backoff_seconds = {entry['minimum_backoff_seconds']}, "
            f"maximum_backoff_seconds = {entry['maximum_backoff_seconds']} }}",
        ]
    return "\n".join(lines)


def etl_toml_part() -> str:
    """The table, topics and subscriptions of the registry, with `{stage}` in their names."""
    from etl.pipeline import DEAD_LETTER_READER, FUNCTIONS, WORKER

    m = _manifest(TEMPLATE_STAGE)
    table = m["bigtable"]
    blocks = [
        f'[bigtable]\ninstance = "{table["instance"]}"',
        "[[bigtable.tables]]\n"
        + f'name = "{_templated(table["table"])}"\n'
        + "\n".join(
            f"families.{name} = {{ max_versions = {rule['max_versions']} }}"
            for name, rule in table["families"].items()
        ),
        *(f'[[pubsub.topics]]\nname = "{_templated(t)}"' for t in m["topics"].values()),
        *(
            _subscription(f, f["trigger_topic"], about.about, f["name"])
            for f, about in zip(m["functions"], FUNCTIONS, strict=True)
        ),
        _subscription(m["worker"], m["worker"]["topic"], WORKER.about),
        _subscription(
            m["dead_letter_reader"], m["dead_letter_reader"]["topic"], DEAD_LETTER_READER.about
        ),
    ]
    return "\n\n".join(blocks) + "\n"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def serverless_functions_part() -> str:
    """serverless.yml's second `functions` item: every Pub/Sub-triggered function."""
    from etl.pipeline import FUNCTIONS

    lines = []
    for i, f in enumerate(FUNCTIONS):
        topic = _camel(f.trigger.replace("dead_letter", "dead_Letter"))
        lines += [
            *([f"  {'  ' if i else ''}# {f.about}"] if f.about else []),
            f"  {'  ' if i else '- '}{_camel(f.name)}:",
            f"      handler: {f.name}",
            "      events:",
            "        - event:",
            "            eventType: google.pubsub.topic.publish",
            "            resource: projects/${self:provider.project}/topics/"
            f"${{self:custom.topics.{topic}}}",
        ]
    return "\n".join(lines) + "\n"


def serverless_families_part() -> str:
    """The table's column families and their GC rules, as Deployment Manager takes them."""
    from etl.pipeline import FAMILIES

    return "".join(
        f"            {name}:\n              gcRule:\n                maxNumVersions: {versions}\n"
        for name, versions in FAMILIES.items()
    )


def between_markers(text: str, part: str, body: str) -> str:
    """`text` with the lines between `BEGIN generated: part` and `END generated: part` replaced."""
    lines = text.splitlines(keepends=True)
    begin = [i for i, line in enumerate(lines) if f"# BEGIN generated: {part}" in line]
    end = [i for i, line in enumerate(lines) if f"# END generated: {part}" in line]
    if len(begin) != 1 or len(end) != 1 or end[0] < begin[0]:
        raise MarkersMissing(f"needs one `# BEGIN generated: {part}` and then one `# END ...`")
    return "".join([*lines[: begin[0] + 1], body, *lines[end[0] :]])


Render = Callable[[str], str]


def _stage_renderer(stage: str) -> Render:
    return lambda _old: stage_json(stage)


def renderers() -> dict[Path, Render]:
    """Each generated file (relative to a checkout) → its content, given its current content."""
    found: dict[Path, Render] = {
        STAGE_DIR / f"{s}.pipeline.json": _stage_renderer(s) for s in STAGES
    }
    found[ETL_TOML] = lambda old: between_markers(old, "registry", etl_toml_part())
    found[SERVERLESS] = lambda old: between_markers(
        between_markers(old, "functions", serverless_functions_part()),
        "families",
        serverless_families_part(),
    )
    return found


def rendered(root: Path) -> dict[Path, str]:
    """What each generated file under `root` must hold (its hand-written parts as they are)."""
    found = {}
    for rel, render in renderers().items():
        try:
            found[root / rel] = render((root / rel).read_text() if (root / rel).exists() else "")
        except MarkersMissing as err:
            raise MarkersMissing(f"{rel}: {err}") from None
    return found


def main(argv: list[str]) -> int:
    root = Path(argv[0]).resolve() if argv else REPO
    for target, text in rendered(root).items():
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            print(f"wrote {target.relative_to(root)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except MarkersMissing as err:
        print(f"deploy/generate.py: {err}", file=sys.stderr)
        sys.exit(2)
