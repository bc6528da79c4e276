"""Fault settings: validated as the Go emulator validates them, sent as its admin API takes them.

The messages etl.toml shows are checked against the Go reader's in the shared table
(test_etl_toml.py); these are the rules themselves, for the CLI's input too."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl_harness.faults import MAX_DELAY_MS, Faults, InvalidFaults, go_number


def test_nothing_set_is_no_fault_and_an_empty_body() -> None:
    assert Faults.parse({}) == Faults()
    assert Faults().as_json() == {}


def test_delay_ms_alone_delays_every_message() -> None:
    faults = Faults.parse({"delay_ms": [10, 20]})
    assert faults.delay_fraction == 1.0
    assert faults.as_json() == {"delay_ms": [10, 20], "delay_fraction": 1.0}


def test_the_body_carries_what_is_on_and_the_seed() -> None:
    raw = {"duplicate": 0.5, "shuffle": True, "push_error": 0, "early_redelivery": 1, "seed": 3,
           "transient_ack_failure": 0.25}  # fmt: skip
    assert Faults.parse(raw).as_json() == {
        "duplicate": 0.5,
        "early_redelivery": 1.0,
        "transient_ack_failure": 0.25,
        "shuffle": True,
        "seed": 3,
    }


@pytest.mark.parametrize(
    ("raw", "key", "message"),
    [
        ({"duplicate": 1.5}, "duplicate", "faults.duplicate must be 0-1, got 1.5"),
        ({"push_error": 2}, "push_error", "faults.push_error must be 0-1, got 2"),
        ({"duplicate": math.nan}, "duplicate", "faults.duplicate must be 0-1, got NaN"),
        ({"delay_fraction": 0.5}, "delay_fraction", "needs delay_ms = [low, high]"),
        ({"delay_ms": [1, 2, 3]}, "delay_ms", "must be [low, high] in ms, got 3 numbers"),
        ({"delay_ms": [-1, 2]}, "delay_ms", "0 <= low <= high <= 300000, got [-1, 2]"),
        ({"delay_ms": "5"}, "delay_ms", "must be [low, high] in ms, got '5'"),
        ({"shuffle": "yes"}, "shuffle", "must be true or false"),
        ({"seed": 1.5}, "seed", "must be an integer"),
        ({"duplicate": True}, "duplicate", "must be a number 0-1"),
        ({"dupe": 1}, "dupe", "unknown key 'dupe'"),
    ],
)
def test_each_setting_the_emulator_refuses_is_refused_naming_its_key(
    raw: dict[str, object], key: str, message: str
) -> None:
    with pytest.raises(InvalidFaults) as caught:
        Faults.parse(raw)
    assert caught.value.key == key
    assert message in str(caught.value)


def test_delay_fraction_zero_without_delay_ms_is_accepted_as_the_emulator_does() -> None:
    assert Faults.parse({"delay_fraction": 0}) == Faults()


@given(
    low=st.integers(0, MAX_DELAY_MS),
    high=st.integers(0, MAX_DELAY_MS),
    fraction=st.floats(0, 1),
    seed=st.integers(0, 2**31),
)
def test_every_valid_setting_survives_the_round_trip_through_its_body(
    low: int, high: int, fraction: float, seed: int
) -> None:
    low, high = sorted((low, high))
    raw = {"delay_ms": [low, high], "delay_fraction": fraction, "duplicate": fraction, "seed": seed}
    faults = Faults.parse(raw)
    assert Faults.parse(faults.as_json()) == faults


@pytest.mark.parametrize(
    ("value", "go"),
    [(1.5, "1.5"), (2, "2"), (3.0, "3"), (1e-05, "1e-05"), (1e21, "1e+21"),
     (1e17, "100000000000000000"), (-0.25, "-0.25"), (math.inf, "+Inf")],
)  # fmt: skip
def test_numbers_in_messages_are_printed_as_gos_percent_v(value: float, go: str) -> None:
    assert go_number(value) == go
