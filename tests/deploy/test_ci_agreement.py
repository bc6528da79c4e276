"""The GitHub workflow runs what .ci/run runs, and both run the README's commands as written.

.ci/run's sessions are its explicit `nox -s X` lines plus, for a bare `nox`, the default
`nox.options.sessions` of noxfile.py (read from its syntax tree, not by importing it), plus the
sessions of the README's commands that it runs through `.ci/readme-command`, which reads them
from README.md's block after `<!-- readme-commands -->`.
"""

from __future__ import annotations

import ast
import fnmatch
import re
import shlex
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.deploy.templates import REPO

CI_RUN = REPO / ".ci" / "run"
README_COMMAND = REPO / ".ci" / "readme-command"
README = REPO / "README.md"
README_MARKER = "<!-- readme-commands"
WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
SETUP_NOX = REPO / ".github" / "actions" / "setup-nox" / "action.yml"
NOXFILE = REPO / "noxfile.py"
SESSION_FLAGS = ("-s", "--session", "--sessions", "-e")
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*")
COMPOSE_HOSTS = {
    "PUBSUB_EMULATOR_HOST": "localhost:8085",
    "BIGTABLE_EMULATOR_HOST": "localhost:8086",
}


def default_sessions() -> list[str]:
    """`nox.options.sessions = [...]` in noxfile.py."""
    for node in ast.walk(ast.parse(NOXFILE.read_text())):
        if isinstance(node, ast.Assign) and any(
            ast.unparse(target) == "nox.options.sessions" for target in node.targets
        ):
            sessions = ast.literal_eval(node.value)
            assert isinstance(sessions, list)
            return [str(s) for s in sessions]
    raise AssertionError("noxfile.py sets no nox.options.sessions")


def _session_name(call: ast.expr, default: str) -> str | None:
    """`default` (or its `name=`) if `call` is `nox.session` or `nox.session(...)`, else None."""
    if ast.unparse(call) == "nox.session":
        return default
    if isinstance(call, ast.Call) and ast.unparse(call.func) == "nox.session":
        names = [k.value for k in call.keywords if k.arg == "name"]
        return str(ast.literal_eval(names[0])) if names else default
    return None


def defined_sessions() -> set[str]:
    """Sessions noxfile.py registers: decorated functions and `x = nox.session(...)(f)`."""
    found: set[str] = set()
    for node in ast.parse(NOXFILE.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            found.update(n for d in node.decorator_list if (n := _session_name(d, node.name)))
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            (target,) = node.targets
            if isinstance(target, ast.Name) and (n := _session_name(node.value.func, target.id)):
                found.add(n)
    return found


def shell_commands(script: str) -> Iterator[list[str]]:
    """Simple commands of a shell script: words, with leading VAR=value assignments dropped."""
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words: list[str] = []
        for token in [*lexer, ";"]:
            if token and set(token) <= set("();<>|&"):
                while words and ASSIGNMENT.fullmatch(words[0]):
                    words.pop(0)
                if words:
                    yield words
                words = []
            else:
                words.append(token)


def nox_sessions(words: list[str]) -> list[str] | None:
    """Sessions a `nox ...` command runs; None if the words are not a nox command."""
    if not words or words[0] != "nox":
        return None
    named: list[str] = []
    collecting = False
    for word in words[1:]:
        if word == "--":
            break
        flag, _, value = word.partition("=")
        if flag in SESSION_FLAGS:
            collecting = not value
            named.extend([value] if value else [])
        elif word.startswith("-"):
            collecting = False
        elif collecting:
            named.append(word)
    return named or default_sessions()


def readme_commands() -> list[str]:
    """The README's block of commands, one a line, as a reader sees them."""
    lines = README.read_text().splitlines()
    marker = next(i for i, line in enumerate(lines) if line.startswith(README_MARKER))
    assert lines[marker + 1].startswith("```"), "the marker stands right above a fenced block"
    end = next(i for i in range(marker + 2, len(lines)) if lines[i].startswith("```"))
    return lines[marker + 2 : end]


def readme_command_runs(words: list[str]) -> tuple[str, int] | None:
    """(`--run` or `--fresh`, N) if the words run the README's Nth command, else None."""
    if words[:2] != ["bash", ".ci/readme-command"] or len(words) != 4:
        return None
    return words[2], int(words[3])


def sessions_of(script: str) -> set[str]:
    """Sessions a script runs: its nox commands and the README commands it runs."""
    sessions: set[str] = set()
    for words in shell_commands(script):
        if (readme := readme_command_runs(words)) is not None:
            sessions |= sessions_of(readme_commands()[readme[1] - 1])
        elif (found := nox_sessions(words)) is not None:
            sessions.update(found)
    return sessions


def ci_run_sessions() -> set[str]:
    return sessions_of(CI_RUN.read_text())


def ci_run_stages() -> list[list[list[str]]]:
    """.ci/run's commands, grouped by `stage` (the commands before the first stage dropped)."""
    stages: list[list[list[str]]] = []
    for words in shell_commands(CI_RUN.read_text()):
        if words[0] == "stage" and len(words) > 1:  # a call with its title, not the definition
            stages.append([])
        elif stages:
            stages[-1].append(words)
    return stages


def load_yaml(path: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return load_yaml(WORKFLOW)


def job_runs(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job.get("steps", []) if "run" in step]


def job_sessions(job: dict[str, Any]) -> set[str]:
    return set().union(*(sessions_of(script) for script in job_runs(job)))


def test_ci_run_runs_the_default_sessions_and_the_compose_e2e() -> None:
    assert ci_run_sessions() >= {*default_sessions(), "e2e"}
    assert set(default_sessions()) <= defined_sessions()


def test_every_session_ci_run_runs_has_a_workflow_job_named_after_it_that_runs_it(
    workflow: dict[str, Any],
) -> None:
    jobs = workflow["jobs"]
    missing = sorted(
        s for s in ci_run_sessions() if s not in jobs or s not in job_sessions(jobs[s])
    )
    assert missing == [], f"sessions .ci/run runs without a matching workflow job: {missing}"


def test_the_workflow_runs_no_session_nox_does_not_define(workflow: dict[str, Any]) -> None:
    used = set().union(*(job_sessions(job) for job in workflow["jobs"].values()))
    unknown = sorted(used - defined_sessions())
    assert unknown == [], f"workflow runs sessions noxfile.py does not define: {unknown}"


def test_workflow_installs_the_nox_and_uv_versions_ci_run_pins() -> None:
    pins = re.compile(r"\b(nox|uv)==([\w.]+)")
    assert dict(pins.findall(CI_RUN.read_text())) == dict(pins.findall(SETUP_NOX.read_text()))


def test_e2e_runs_against_docker_compose_with_the_emulator_hosts(workflow: dict[str, Any]) -> None:
    steps = workflow["jobs"]["e2e"]["steps"]
    up = [s for s in steps if "docker compose" in s.get("run", "") and " up " in s["run"] + " "]
    assert len(up) == 1
    assert "--wait" in up[0]["run"]
    after_up = steps[steps.index(up[0]) + 1 :]
    e2e = [s for s in after_up if "nox -s e2e" in s.get("run", "")]
    assert e2e
    for step in e2e:
        env = step.get("env", {})
        assert {k: env.get(k) for k in COMPOSE_HOSTS} == COMPOSE_HOSTS
        assert env.get("ETL_PUBSUB_ADMIN_HOST") == "localhost:8087"


def installs_googles_emulators(step: dict[str, Any]) -> bool:
    """The step installs the Cloud SDK's two emulators, itself or through the local action."""
    run = step.get("run", "")
    if step.get("uses") == "./.github/actions/google-emulators":
        run = (REPO / ".github/actions/google-emulators/action.yml").read_text()
    return "google-cloud-cli-pubsub-emulator" in run and "bigtable-emulator" in run


def test_the_official_parity_job_runs_what_ci_run_runs_against_googles_emulators(
    workflow: dict[str, Any],
) -> None:
    """Google's emulators started from the Cloud SDK (no hosts of ours set), the same selection."""
    steps = workflow["jobs"]["e2e-official"]["steps"]
    assert any(installs_googles_emulators(s) for s in steps)
    official = [s for s in steps if "--etl-emulators=official" in s.get("run", "")]
    assert len(official) == 1
    assert not set(official[0].get("env", {})) & set(COMPOSE_HOSTS)
    selection = r"nox -s e2e -- (--etl-emulators=official -k \"[^\"]+\")"
    in_ci_run = re.search(selection, CI_RUN.read_text())
    assert in_ci_run is not None
    assert in_ci_run[1] in official[0]["run"]


def test_unit_runs_on_every_supported_python(workflow: dict[str, Any]) -> None:
    matrix = workflow["jobs"]["unit"]["strategy"]["matrix"]["python"]
    assert matrix == ["3.11", "3.12", "3.13"]
    assert any("--force-python" in run for run in job_runs(workflow["jobs"]["unit"]))


def test_workflow_is_least_privilege_and_cancels_superseded_runs(workflow: dict[str, Any]) -> None:
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["concurrency"]["cancel-in-progress"] is True
    assert all("permissions" not in job for job in workflow["jobs"].values())


def test_every_action_is_pinned_to_a_full_commit_sha() -> None:
    uses = [
        line.split("uses:", 1)[1].strip()
        for path in (WORKFLOW, SETUP_NOX)
        for line in path.read_text().splitlines()
        if "uses:" in line
    ]
    remote = [u for u in uses if not u.startswith("./")]
    assert remote
    unpinned = [u for u in remote if not re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40} # v[\d.]+", u)]
    assert unpinned == []


def test_the_readme_block_holds_the_demo_then_the_tests() -> None:
    first, second = readme_commands()
    assert sessions_of(first) == {"demo"}
    assert any(words[:2] == ["pip", "install"] for words in shell_commands(first))
    assert sessions_of(second) == set(default_sessions())


@pytest.mark.parametrize("n", [1, 2])
def test_ci_reads_each_readme_command_exactly_as_the_readme_writes_it(n: int) -> None:
    printed = subprocess.run(
        ["bash", str(README_COMMAND), str(n)], capture_output=True, text=True, check=True
    ).stdout
    assert printed == readme_commands()[n - 1] + "\n"


def test_ci_runs_the_readmes_first_command_first_in_a_fresh_venv_and_its_second_later() -> None:
    """Nothing installs nox or uv before the README's own command has run without them."""
    first, *later = ci_run_stages()
    assert first == [["bash", ".ci/readme-command", "--fresh", "1"]]
    runs = [readme_command_runs(words) for stage in later for words in stage]
    assert ("--run", 2) in runs


def test_the_fresh_path_is_built_from_nothing_but_the_venv_go_and_the_system() -> None:
    script = README_COMMAND.read_text()
    (path,) = re.findall(r'^\s*path="(.*)"$', script, flags=re.MULTILINE)
    assert path == '$fresh/venv/bin:$(dirname "$go"):$system'
    (patterns,) = re.findall(r'case "\$name" in\n\s*(.*)\) continue', script)
    left_out = [p.strip() for p in patterns.split("|")]
    for program in ("uv", "nox", "docker", "chromium"):
        assert any(fnmatch.fnmatch(program, p) for p in left_out), program
    assert 'env -u VIRTUAL_ENV PATH="$path" bash -c "$command"' in script


def test_the_workflow_runs_the_readmes_first_command_as_ci_run_does(
    workflow: dict[str, Any],
) -> None:
    scripts = job_runs(workflow["jobs"]["demo"])
    runs = [words for script in scripts for words in shell_commands(script)]
    assert runs == [["bash", ".ci/readme-command", "--fresh", "1"]]
