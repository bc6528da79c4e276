"""Sessions for etl-pipeline. `nox` runs the default ones; `nox -l` lists all."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nox

sys.path.insert(0, str(Path(__file__).resolve().parent))
from deploy import locked, nox_sessions  # deploy/ is not an installed package

nox.options.default_venv_backend = "uv|venv"
nox.options.sessions = [
    "lint",
    "typecheck",
    "unit",
    "emulators_test",
    "e2e",
    "deploy",
    "workflows",
    "docs",
    "terraform",
]
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
SOURCES = [
    "etl_core",
    "etl",
    "etl_harness",
    "main.py",
    "tests",
    "bench",
    "deploy",
    "docs",
    "noxfile.py",
]


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff lint and format check; uv.lock still satisfies pyproject.toml."""
    session.run(locked.uv(session), "lock", "--check", external=True)
    locked.install(session, "-e", ".[lint]")
    session.run("ruff", "check", *SOURCES, *session.posargs)
    session.run("ruff", "format", "--check", *SOURCES)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the core, the deployed runtime and the local tooling."""
    locked.install(session, "-e", ".[typecheck]")
    session.run("mypy", "--strict", "etl_core", "etl", "etl_harness", "main.py", *session.posargs)


@nox.session(python=PYTHON)
def unit(session: nox.Session) -> None:
    """Unit tests (pure, no I/O) with coverage of etl_core."""
    coverage = ("--cov=etl_core", "--cov-report=term-missing", "--cov-fail-under=95")
    _pytest(session, "tests/unit", whole_suite=coverage)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """The manual (mkdocs.yml, docs/) built strictly: a broken link, page or anchor fails it.

    `nox -s docs -- serve` previews it instead; site/ holds the built pages."""
    pyproject = nox.project.load_toml("pyproject.toml")
    locked.install(session, *pyproject["project"]["optional-dependencies"]["docs"])
    # Material prints a banner on every build about its end of life (May 2027): docs/ci.md.
    env = {"NO_MKDOCS_2_WARNING": "1"}
    session.run("mkdocs", *(session.posargs or ["build", "--strict"]), env=env)


@nox.session(python=PYTHON)
def emulators(session: nox.Session) -> None:
    """Build the Pub/Sub and Bigtable emulators (static Go binaries in emulators/bin)."""
    session.run("bash", "emulators/build.sh", external=True)


@nox.session(python=PYTHON)
def wheels(session: nox.Session) -> None:
    """Build every wheel the harness needs into dist/: etl-pipeline and the emulators' platform
    wheel (`pip install dist/*.whl` gives `etl` and its emulators outside the checkout)."""
    session.run("bash", "emulators/build.sh", external=True)
    locked.install(session, "uv")
    session.run("uv", "build", "--wheel", "--out-dir", "dist", *session.posargs)
    session.run("python", "emulators/wheel.py", "dist")


@nox.session(python=PYTHON)
def generate(session: nox.Session) -> None:
    """Write what derives from the registry: etl.toml's, serverless.yml's parts, Terraform data."""
    session.run("python", "deploy/generate.py", *session.posargs)


@nox.session(python=PYTHON)
def lock(session: nox.Session) -> None:
    """After a change to pyproject.toml's dependencies: update uv.lock and requirements.txt."""
    locked.write_requirements(session)


@nox.session(python=False)
def emulators_test(session: nox.Session) -> None:
    """go vet and the Go tests of the emulators (push delivery, seeding, admin API, readiness).

    `nox -s emulators_test -- -race` adds the race detector (needs a C compiler)."""
    go = shutil.which("go") or "/usr/local/go/bin/go"  # as emulators/build.sh finds it
    session.chdir("emulators")
    session.run(go, "vet", "./...", external=True)
    session.run(go, "test", "-count=1", *session.posargs, "./...", external=True)
    session.chdir("third_party/zetasketch")  # a vendored module of its own, patched: its tests too
    session.run(go, "test", "-count=1", "./...", external=True)


@nox.session(python=PYTHON)
def e2e(session: nox.Session) -> None:
    """End-to-end tests against real emulators (*_EMULATOR_HOST if set, else native binaries).

    Spread over `ETL_TEST_WORKERS` pytest-xdist workers (default `auto`: one per core), each with
    its own native emulator pair; `-- -n 0` runs them in one process.

    The native binaries are built either way (a no-op when up to date): the CLI and harness tests
    start pairs of their own. The inspector's browser test needs Chromium (`/usr/bin/chromium`,
    or `ETL_CHROMIUM`); Playwright drives it, never downloads one.
    """
    session.run("bash", "emulators/build.sh", external=True)
    workers = os.environ.get("ETL_TEST_WORKERS", "auto")
    _pytest(session, "tests/e2e", "-p", "no:cacheprovider", "-n", workers, "--dist", "loadgroup")


@nox.session(python=PYTHON)
def differential(session: nox.Session) -> None:
    """Ours against Google's emulators, side by side, on random call sequences (not default: needs
    the Cloud SDK's emulators). `ETL_DIFFERENTIAL_BUDGET=explore` for a longer, random search."""
    session.run("bash", "emulators/build.sh", external=True)
    _pytest(session, "tests/differential", "-p", "no:cacheprovider")


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The demo: emulators, a pipeline, simulated events, occupancy checked against the truth."""
    _install_beside_emulators(session, "harness")
    session.run("etl", "demo", *session.posargs)


@nox.session(python=PYTHON)
def screenshot(session: nox.Session) -> None:
    """docs/inspector.png: the inspector over simulated data (not default; needs Chromium)."""
    _install_beside_emulators(session, "test")
    session.run("python", "docs/screenshot.py", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks against the emulators (not default): `nox -s bench -- --events 20000`.

    Ends with ours beside Google's emulators (`bench/side_by_side.py`: a native pair of its own,
    then the Cloud SDK's; skipped with the reason when no SDK holds them), and the contention grid
    (`bench/contention.py`: N worker processes on S sites, lost summary-row races per commit, into
    bench-contention.json; the capacity page's figures)."""
    _install_beside_emulators(session, "bench")
    session.run("python", "bench/pipeline.py", *session.posargs)
    session.run(
        "python",
        "bench/contention.py",
        "--events",
        "4000",
        "--rate",
        "400",
        "--out",
        "bench-contention.json",
    )


def _pytest(
    session: nox.Session, folder: str, *options: str, whole_suite: tuple[str, ...] = ()
) -> None:
    """Install the project with its test extra, then run pytest on `folder` with `options`, then
    the caller's arguments. When those name test files or folders (`nox -s e2e --
    tests/e2e/test_demo.py`), pytest runs those alone: not `folder`, nor the `whole_suite` options
    (the coverage threshold means nothing for one file)."""
    locked.install(session, "-e", ".[test]")
    paths = (a.split("::")[0] for a in session.posargs if not a.startswith("-"))
    named = any(Path(p).exists() for p in paths)
    suite = [] if named else [folder, *whole_suite]
    session.run("pytest", *suite, *options, *session.posargs)


def _install_beside_emulators(session: nox.Session, extra: str) -> None:
    """Install the project with `extra`; build the native emulators first unless the caller points
    us at running ones (`PUBSUB_EMULATOR_HOST` and `BIGTABLE_EMULATOR_HOST`: compose, or the
    official image)."""
    if not (os.environ.get("PUBSUB_EMULATOR_HOST") and os.environ.get("BIGTABLE_EMULATOR_HOST")):
        session.run("bash", "emulators/build.sh", external=True)
    locked.install(session, "-e", f".[{extra}]")


deploy = nox.session(python=PYTHON)(nox_sessions.deploy)
terraform = nox.session(python=PYTHON)(nox_sessions.terraform)
bundle = nox.session(python=False)(nox_sessions.bundle)
workflows = nox.session(python=PYTHON)(nox_sessions.workflows)
