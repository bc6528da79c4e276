"""Write docs/inspector.png: the `etl inspect` page over simulated data, in headless Chromium.

    python docs/screenshot.py [--out docs/inspector.png] [--events 600]

Uses the emulators named by PUBSUB_EMULATOR_HOST and BIGTABLE_EMULATOR_HOST (backlogs and recent
messages need ETL_PUBSUB_ADMIN_HOST too), else starts a private native pair from emulators/bin.
Project `inspector-demo` is reset to etl.toml first, then the worker processes the simulated
events and a few malformed messages, and the page is shot once it shows all of them.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests/ is not an installed package

from etl.config import Settings  # noqa: E402
from etl_harness import provision, serve  # noqa: E402
from etl_harness.cli import commands  # noqa: E402
from etl_harness.emulators.hosts import Emulators  # noqa: E402
from etl_harness.inspector import serving  # noqa: E402
from etl_harness.local import Local  # noqa: E402
from etl_harness.local import from_env as local_from_env  # noqa: E402
from tests.e2e.test_inspector import chromium  # noqa: E402

MALFORMED = b'not json\n{"service": "acceso-norte", "event": 1}\n[1, 2]\n'
WIDTH, MAX_BYTES = 1200, 300_000


def populate(local: Local, events: int, seed: int) -> None:
    """Simulated events and malformed messages through the worker, until all are processed."""
    settings = local.settings
    provision.reset_all(settings, provision.load(local))
    stop, ready = threading.Event(), threading.Event()
    worker = threading.Thread(
        target=serve.run_worker, args=(local, stop), kwargs={"on_ready": ready.set}
    )
    worker.start()
    try:
        ready.wait(60)
        commands.publish_simulation(local, events, 1e9, seed, None)
        commands.publish_lines(local, commands.message_lines(io.BytesIO(MALFORMED), "malformed"))
        wait_processed(settings, events, MALFORMED.count(b"\n"))
    finally:
        stop.set()
        worker.join(60)


def wait_processed(settings: Settings, events: int, letters: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report = commands.status_report(settings)
        dead = sum(report["dead_letters"].values())
        if report["unique_events"] == events and dead == letters:
            return
        time.sleep(0.5)
    raise SystemExit(f"the worker did not process {events} events in {timeout:g} s")


def shoot(settings: Settings, out: Path, letters: int) -> None:
    with serving(settings) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": WIDTH, "height": 900})
        page.goto(url)
        page.locator("#rows-body td").first.wait_for()
        page.locator("#chart svg rect").first.wait_for()
        page.locator(f"#dead-letters-body tr:nth-child({letters})").wait_for()
        page.locator("#occupancy-chart svg").first.wait_for()
        page.locator("#reasons-chart svg").first.wait_for()
        page.locator("#activity-body svg").nth(1).wait_for()  # two samples: a sparkline
        page.wait_for_timeout(1500)  # past the cards' change highlight
        page.screenshot(path=str(out), full_page=True)
    shrink(out)


def shrink(png: Path) -> None:
    """A 256-colour palette: the page is flat colours and text, so nothing visible is lost."""
    from PIL import Image

    with Image.open(png) as image:
        paletted = image.convert("RGB").quantize(colors=256)
    paletted.save(png, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "inspector.png")
    parser.add_argument("--events", type=int, default=600)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    local = local_from_env(os.environ)
    with Emulators(local, reuse_recorded=False) as emulators:
        os.environ.update(emulators.env())  # this script's own clients read the hosts from it
        settings = replace(emulators.settings, project="inspector-demo", stage="dev")
        populate(local.with_settings(settings), args.events, args.seed)
        shoot(settings, args.out, MALFORMED.count(b"\n"))
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size / 1000:.0f} kB)")
    if size > MAX_BYTES:
        raise SystemExit(f"{args.out} is over {MAX_BYTES / 1000:.0f} kB")


if __name__ == "__main__":
    main()
