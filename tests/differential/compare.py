"""One call on both sides, and the verdict: the same outcome, a listed known difference, or a
failure that shows both answers.

A known difference (`KNOWN`) is one the differential test found and that is not a bug of ours to
fix: each has the reason, a test of its own (`test_known_differences.py`) and a row in
docs/emulators/differences.md. Recognised, it lets the sequence go on; what each side holds after
it is the caller's to bring back in step (`Compared.known`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.differential import known
from tests.differential.sides import Outcome, Side, outcome

Explain = Callable[[str, Outcome, Outcome, frozenset[str]], "Outcome | None"]
"""(method, ours, Google's, the call's tags) → Google's outcome as production would give it, if
this difference explains what Google's gave; None if it does not apply."""


@dataclass(frozen=True, slots=True)
class Known:
    """A difference explained, and why it is not ours to fix."""

    name: str
    reason: str
    explain: Explain


@dataclass(frozen=True, slots=True)
class Compared:
    """Both outcomes (Google's as answered); `known` names the known differences between them."""

    ours: Outcome
    google: Outcome
    known: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Both succeeded."""
        return self.ours.ok and self.google.ok


KNOWN: tuple[Known, ...] = (
    Known(
        "detach-unimplemented",
        "Google's Java emulator has no DetachSubscription; production and ours detach",
        known.detach_unimplemented,
    ),
    Known(
        "subscription-state-unset",
        "Google's Java emulator leaves Subscription.state unset; production says ACTIVE",
        known.subscription_state_unset,
    ),
    Known(
        "topic-retention-unset",
        "Google's Java emulator leaves topic_message_retention_duration out; production reports it",
        known.topic_retention_unset,
    ),
    Known(
        "labels-not-updatable",
        "Google's Java emulator refuses `labels` in update masks; production updates them",
        known.labels_not_updatable,
    ),
    Known(
        "table-granularity-unset",
        "cbtemulator leaves Table.granularity unset; production sets MILLIS",
        known.table_granularity_unset,
    ),
    Known(
        "microsecond-timestamp",
        "cbtemulator refuses a microsecond SetCell with UNKNOWN and accepts such an AddToCell; "
        "production refuses both with INVALID_ARGUMENT",
        known.microsecond_timestamp,
    ),
    Known(
        "family-order",
        "cbtemulator returns a row's families in creation order; production lexicographic",
        known.family_order,
    ),
    Known(
        "snapshots-of-a-missing-topic",
        "ListTopicSnapshots of a missing topic: ours NOT_FOUND, Google's an empty list",
        known.snapshots_of_a_missing_topic,
    ),
    Known(
        "out-of-range-code",
        "max_delivery_attempts out of 5-100: ours INVALID_ARGUMENT, Google's OUT_OF_RANGE",
        known.out_of_range_code,
    ),
    Known(
        "check-order",
        "malformed and missing at once: which refusal wins is not documented",
        known.check_order,
    ),
)


SEEN: Counter[str] = Counter()
"""How often each known difference showed up in this process (the run's summary prints it)."""


def both(
    pair: tuple[Side, Side],
    method: str,
    call: Callable[[Side], Any],
    normalise: Callable[[Any], Any] = lambda x: x,
    tags: frozenset[str] = frozenset(),
) -> Compared:
    """`call` on our side, then Google's; fails (showing both) unless they agree, as they are or
    once known differences explain Google's answer. `tags` say what the call holds that a known
    difference may need (e.g. `malformed`: a field production refuses)."""
    ours_side, google_side = pair
    ours = outcome(lambda: call(ours_side), normalise)
    google = outcome(lambda: call(google_side), normalise)
    explained, as_production = [], google
    for difference in KNOWN:
        if ours == as_production:
            break
        if (mended := difference.explain(method, ours, as_production, tags)) is not None:
            explained.append(difference.name)
            as_production = mended
    assert ours == as_production, f"{method}: ours {ours} != Google's {google}" + (
        f" (after known differences {explained}: {as_production})" if explained else ""
    )
    SEEN.update(explained)
    return Compared(ours, google, tuple(explained))
