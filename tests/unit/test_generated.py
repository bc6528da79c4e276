"""The files `nox -s generate` (deploy/generate.py) writes from the registry are committed as it
writes them, and a registry entry reaches every one of them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deploy import generate
from etl import pipeline
from etl_harness import etl_toml

REPO = Path(__file__).resolve().parents[2]
TOY = pipeline.Function(
    "toy_calc", "fanout", "written", summary="daily", about="A toy calculation."
)


@pytest.mark.parametrize("relative", generate.renderers(), ids=str)
def test_the_generated_file_is_what_the_registry_makes_it(relative: Path) -> None:
    expected = generate.rendered(REPO)[REPO / relative]
    assert (REPO / relative).read_text() == expected, f"{relative} is stale: run `nox -s generate`"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the generated files, as in a checkout."""
    for relative in generate.renderers():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / relative, tmp_path / relative)
    return tmp_path


def test_a_new_registry_function_reaches_every_generated_file(
    checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "FUNCTIONS", (*pipeline.FUNCTIONS, TOY))
    assert generate.main([str(checkout)]) == 0
    seeded = etl_toml.load(checkout / generate.ETL_TOML).resources("test")
    [toy] = [s for s in seeded.subscriptions if s.name == "toy-calc-test"]
    assert (toy.topic, toy.function) == ("acceso-written-test", "toy_calc")
    assert toy.dead_letter == etl_toml.DeadLetterPolicy("acceso-deadletter-test", 20)
    functions = yaml.safe_load((checkout / generate.SERVERLESS).read_text())["functions"][1]
    assert functions["toyCalc"]["handler"] == "toy_calc"
    assert functions["toyCalc"]["events"][0]["event"]["resource"].endswith(
        "${self:custom.topics.written}"
    )
    for stage in generate.STAGES:
        data = json.loads((checkout / generate.STAGE_DIR / f"{stage}.pipeline.json").read_text())
        assert data["functions"][-1]["subscription"] == f"toy-calc-{stage}"


def test_the_generator_keeps_what_is_outside_its_markers(checkout: Path) -> None:
    target = checkout / generate.SERVERLESS
    target.write_text("# a hand-written line\n" + target.read_text() + "# and another\n")
    before = target.read_text()
    generate.main([str(checkout)])
    assert target.read_text() == before


def test_a_file_without_its_markers_is_one_line_on_stderr_and_exit_status_2(
    checkout: Path,
) -> None:
    (checkout / generate.ETL_TOML).write_text('project = "p"\n')
    done = subprocess.run(
        [sys.executable, str(REPO / "deploy" / "generate.py"), str(checkout)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "deploy/generate.py: etl_harness/etl.toml: needs one `# BEGIN generated: registry` "
        "and then one `# END ...`\n"
    )
