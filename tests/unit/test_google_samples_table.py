"""The Google-samples comparison's own logic (tests/samples/run_google_samples.py): which folders
are suites, what a junit report says passed, and the four groups of the table."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.samples.run_google_samples import Suite, grouped, outcomes, suites, table

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
  <testcase classname="subscriber_test" name="test_ok" />
  <testcase classname="subscriber_test" name="test_bad"><failure message="no" /></testcase>
  <testcase classname="iam_test" name="test_setup"><error message="401" /></testcase>
  <testcase classname="iam_test" name="test_skipped"><skipped message="later" /></testcase>
</testsuite></testsuites>
"""


def test_only_a_passing_testcase_counts_as_passed(tmp_path: Path) -> None:
    report = tmp_path / "pubsub.xml"
    report.write_text(JUNIT)
    assert outcomes(Suite("pubsub", tmp_path), report) == {
        "pubsub::subscriber_test::test_ok": True,
        "pubsub::subscriber_test::test_bad": False,
        "pubsub::iam_test::test_setup": False,
        "pubsub::iam_test::test_skipped": False,
    }


def test_a_suite_without_a_report_counts_as_one_failure(tmp_path: Path) -> None:
    assert outcomes(Suite("bigtable/hello", tmp_path), tmp_path / "none.xml") == {
        "bigtable/hello::<no report>": False
    }


def test_each_bigtable_folder_with_tests_is_a_suite_and_snapshots_are_not(tmp_path: Path) -> None:
    for name in ("hello/main_test.py", "admin/test_admin.py", "reads/snapshots/snap_reads_test.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    (tmp_path / "reads" / "reads_test.py").touch()
    found = suites(tmp_path / "snippets", tmp_path)
    assert [suite.name for suite in found] == [
        "pubsub",
        "bigtable/admin",
        "bigtable/hello",
        "bigtable/reads",
    ]


RUNS = st.dictionaries(st.sampled_from([f"s::t{i}" for i in range(12)]), st.booleans())


@given(ours=RUNS, google=RUNS)
def test_every_test_lands_in_exactly_one_group_by_where_it_passed(
    ours: dict[str, bool], google: dict[str, bool]
) -> None:
    groups = grouped(ours, google)
    placed = [test for tests in groups.values() for test in tests]
    assert sorted(placed) == sorted(ours.keys() | google.keys())
    for (on_ours, on_google), tests in groups.items():
        for test in tests:
            assert (ours.get(test, False), google.get(test, False)) == (on_ours, on_google)


def test_the_table_lists_what_did_not_pass_on_both() -> None:
    text = table(grouped({"a": True, "b": False}, {"a": True, "b": True}), verbose=False)
    assert "passes only on Google's        1\n    b" in text
    assert "    a" not in text
