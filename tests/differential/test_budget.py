"""The differential run's budget: chosen by `ETL_DIFFERENTIAL_BUDGET`, refused when unknown."""

from __future__ import annotations

import pytest

from tests.differential.conftest import budget


def test_the_default_budget_is_the_derandomized_ci_one_with_no_example_database() -> None:
    chosen = budget({})
    assert chosen.derandomize
    assert chosen.database is None
    assert chosen.deadline is None


def test_explore_searches_longer_at_random() -> None:
    ci, explore = budget({}), budget({"ETL_DIFFERENTIAL_BUDGET": "explore"})
    assert not explore.derandomize
    assert explore.max_examples > ci.max_examples
    assert explore.stateful_step_count > ci.stateful_step_count


def test_an_unknown_budget_is_a_usage_error_naming_the_choices() -> None:
    with pytest.raises(pytest.UsageError, match="ci, explore"):
        budget({"ETL_DIFFERENTIAL_BUDGET": "huge"})
