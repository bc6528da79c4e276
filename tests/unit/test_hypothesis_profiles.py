"""The Hypothesis profile follows the environment: steady in CI, remembering failures locally,
and in every one nothing depends on how busy the machine is."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from tests.unit.conftest import profile_name


def test_ci_true_selects_the_ci_profile_and_anything_else_the_dev_profile() -> None:
    assert profile_name({"CI": "true"}) == "ci"
    assert profile_name({"CI": "1"}) == "ci"
    assert profile_name({"CI": "false"}) == "dev"
    assert profile_name({}) == "dev"


def test_hypothesis_profile_overrides_the_ci_variable() -> None:
    assert profile_name({"CI": "true", "HYPOTHESIS_PROFILE": "dev"}) == "dev"


def test_the_ci_profile_is_derandomized_without_an_example_database() -> None:
    ci = settings.get_profile("ci")
    assert ci.derandomize
    assert ci.database is None


@pytest.mark.parametrize("name", ["ci", "dev", "thorough"])
def test_no_profile_has_a_deadline_or_a_slowness_health_check(name: str) -> None:
    """A user's `nox` (the `dev` profile) on a busy laptop passes as CI does."""
    profile = settings.get_profile(name)
    assert profile.deadline is None
    assert {HealthCheck.too_slow, HealthCheck.data_too_large} <= set(profile.suppress_health_check)


def test_the_dev_profile_keeps_a_database_of_failing_examples() -> None:
    assert settings.get_profile("dev").database is not None
