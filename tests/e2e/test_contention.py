"""The contention bench on a tiny grid: two worker processes racing for one site's summary rows
end exact, and the pipeline's own counters saw the commits (no timing asserted)."""

from __future__ import annotations

import pytest

from bench.contention import measure


# `bench.pipeline.serving` (shared with `nox -s bench`) leaves the stderr pipe of `etl serve` to
# the garbage collector once its reader thread is done; a bench-only leak, not the pipeline's.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_two_workers_on_one_site_end_exact_with_every_commit_counted(
    etl_emulator_hosts: object,
) -> None:
    del etl_emulator_hosts  # exported to the environment the bench's `etl serve` inherits
    tally = measure(workers=2, sites=1, events=300, rate=1000.0, timeout=120.0)
    assert tally.exact, tally
    assert tally.events == 300
    assert tally.commits >= 2  # at least one batch: occupancy and hourly counts of the site
