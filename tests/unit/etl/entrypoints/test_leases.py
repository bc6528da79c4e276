"""The streaming worker's leases: what waits in its inbox is renewed before its ack deadline, and
what it settled never is."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from etl.entrypoints.pull_loop import Leases

DEADLINE = 60.0

ids = st.sets(st.sampled_from("abcdefgh"), max_size=4)
steps = st.lists(
    st.tuples(st.sampled_from(["receive", "settle", "wait"]), ids, st.floats(0, DEADLINE / 2)),
    max_size=40,
)
"""Each step receives or settles some ack ids, or lets up to half a deadline pass."""


@given(steps)
def test_renewing_at_least_every_half_deadline_keeps_every_unsettled_lease_alive_and_no_other(
    script: list[tuple[str, set[str], float]],
) -> None:
    now = [0.0]
    leases = Leases(DEADLINE, clock=lambda: now[0])
    set_at: dict[str, float] = {}  # when the server last set each outstanding lease
    for action, ack_ids, wait in script:
        if action == "receive":
            leases.add(ack_ids)
            set_at.update((a, now[0]) for a in ack_ids)
        elif action == "settle":
            leases.settle(ack_ids)
            for a in ack_ids:
                set_at.pop(a, None)
        else:
            now[0] += wait
        renewed = leases.due()
        assert set(renewed) <= set(set_at)  # a settled message is never renewed
        for a in renewed:
            assert now[0] - set_at[a] >= DEADLINE / 2  # nor one far from its deadline
            set_at[a] = now[0]
        assert all(now[0] - at < DEADLINE for at in set_at.values())  # none expires


def test_a_lease_younger_than_half_its_deadline_is_not_renewed() -> None:
    now = [0.0]
    leases = Leases(DEADLINE, clock=lambda: now[0])
    leases.add(["a"])
    now[0] = DEADLINE / 2 - 1
    assert leases.due() == []
    now[0] = DEADLINE / 2
    assert leases.due() == ["a"]
    assert leases.due() == []  # renewed from now on
