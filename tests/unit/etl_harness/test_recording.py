"""Recordings (`etl record`, `etl publish --replay`): the file format, the replay schedule and the
replay loop, without Pub/Sub (tests/e2e/test_record_replay.py runs both against the emulators)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl.adapters.pubsub import Outgoing
from etl.config import Settings
from etl_harness.recording import (
    BadRecording,
    InvalidSpeedFactor,
    NotARecording,
    RecordedMessage,
    Recording,
    UnsupportedVersion,
    is_header,
    lines,
    parse,
    read,
    replay,
    schedule,
    write,
)

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

instants = st.datetimes(timezones=st.just(UTC))
messages = st.builds(
    RecordedMessage,
    data=st.binary(max_size=200),
    publish_time=instants,
    attributes=st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=5),
    ordering_key=st.text(max_size=20),
    message_id=st.text(max_size=20),
)
recordings = st.builds(
    Recording,
    topic=st.text(min_size=1, max_size=40).filter(lambda t: "/" not in t),
    project=st.text(max_size=30),
    messages=st.lists(messages, max_size=10).map(tuple),
)
factors = st.floats(min_value=1e-3, max_value=1e6)


def raw(recording: Recording) -> list[bytes]:
    return [f"{line}\n".encode() for line in lines(recording)]


def message(seconds: float, data: bytes = b"x", **kwargs: str) -> RecordedMessage:
    return RecordedMessage(data, T0 + timedelta(seconds=seconds), attributes=kwargs)


@given(recordings)
def test_any_recording_reads_back_equal_to_what_was_written(recording: Recording) -> None:
    assert parse(raw(recording), "rec.jsonl") == recording


@given(recordings)
def test_a_recording_is_one_line_per_message_after_its_header(recording: Recording) -> None:
    written = raw(recording)
    assert len(written) == 1 + len(recording.messages)
    assert all(line.count(b"\n") == 1 for line in written)
    assert is_header(written[0])


def test_the_file_is_sorted_json_with_base64_data_and_utc_times(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    recorded = RecordedMessage(
        b"\x00\xffhi", T0, {"source": "gate-2"}, ordering_key="siteA", message_id="17"
    )
    write(Recording("acceso-events-dev", "local-project", (recorded,)), path)
    assert path.read_text().splitlines() == [
        '{"etl_recording": 1, "project": "local-project", "topic": "acceso-events-dev"}',
        '{"attributes": {"source": "gate-2"}, "data": "AP9oaQ==", "message_id": "17", '
        '"ordering_key": "siteA", "publish_time": "2026-11-30T12:00:00.000000Z"}',
    ]
    assert read(path).messages == (recorded,)


def test_a_hand_written_line_needs_only_data_and_publish_time() -> None:
    recording = parse(
        [
            b'{"etl_recording": 1, "topic": "t-1"}\n',
            b"\n",
            b'{"data": "aGk=", "publish_time": "2026-11-30T13:00:00+01:00"}\n',
        ],
        "hand.jsonl",
    )
    assert recording == Recording("t-1", "", (RecordedMessage(b"hi", T0),))


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"{not json", "hand.jsonl:2: not a JSON line"),
        (b"[1, 2]", "hand.jsonl:2: not a JSON object"),
        (b'{"publish_time": "2026-11-30T12:00:00Z"}', "hand.jsonl:2: missing 'data'"),
        (b'{"data": "aGk="}', "hand.jsonl:2: missing 'publish_time'"),
        (b'{"data": "a!", "publish_time": "2026-11-30T12:00:00Z"}', "'data' is not base64"),
        (b'{"data": "aGk=", "publish_time": "noon"}', "'publish_time' is not an RFC 3339"),
        (b'{"data": "aGk=", "publish_time": "2026-11-30T12:00:00"}', "has no time zone"),
        (b'{"data": 1, "publish_time": "2026-11-30T12:00:00Z"}', "'data' must be a string"),
        (
            b'{"data": "", "publish_time": "2026-11-30T12:00:00Z", "attributes": {"a": 1}}',
            "'attributes' must be an object of strings",
        ),
        (b'{"data": "", "publish_time": "2026-11-30T12:00:00Z", "dta": ""}', "unknown key 'dta'"),
    ],
)
def test_a_corrupt_line_is_refused_with_its_file_and_line(line: bytes, problem: str) -> None:
    with pytest.raises(BadRecording) as caught:
        parse([b'{"etl_recording": 1, "topic": "t-1"}', line], "hand.jsonl")
    assert problem in str(caught.value)
    assert str(caught.value).startswith("hand.jsonl:2: ")
    assert caught.value.line == 2


def test_another_format_version_is_refused_not_guessed_at() -> None:
    with pytest.raises(UnsupportedVersion) as caught:
        parse([b'{"etl_recording": 2, "topic": "t-1"}'], "new.jsonl")
    assert str(caught.value) == (
        "new.jsonl:1: recording format version 2; this etl reads version 1"
    )


@pytest.mark.parametrize("first", [b'{"service": "a"}', b"plain text", b""])
def test_a_file_that_is_not_a_recording_says_so_on_its_first_line(first: bytes) -> None:
    with pytest.raises(NotARecording) as caught:
        parse([first], "events.jsonl")
    assert str(caught.value).startswith("events.jsonl:1: not a recording of `etl record`")
    assert not is_header(first)


@pytest.mark.parametrize(
    "header", [b'{"etl_recording": 1}', b'{"etl_recording": 1, "topic": "a/b"}']
)
def test_a_header_without_a_topic_name_is_refused(header: bytes) -> None:
    with pytest.raises(BadRecording, match=r"^r\.jsonl:1: the header needs"):
        parse([header], "r.jsonl")


@given(st.lists(instants, min_size=1, max_size=20).map(sorted), factors)
def test_the_schedule_starts_at_0_and_is_the_recorded_spacing_divided_by_the_factor(
    times: list[datetime], factor: float
) -> None:
    offsets = schedule(times, factor)
    assert offsets[0] == 0
    for moment, offset in zip(times, offsets, strict=True):
        assert offset == pytest.approx((moment - times[0]).total_seconds() / factor)


@given(st.lists(instants, max_size=20), factors)
def test_the_schedule_never_goes_back_whatever_the_order_of_the_times(
    times: list[datetime], factor: float
) -> None:
    offsets = schedule(times, factor)
    assert len(offsets) == len(times)
    assert offsets[:1] in ([], [0.0])
    assert all(a <= b for a, b in itertools.pairwise(offsets))


@pytest.mark.parametrize("factor", [0.0, -1.0, math.nan])
def test_a_speed_factor_that_is_not_above_0_is_refused(factor: float) -> None:
    with pytest.raises(InvalidSpeedFactor, match="--speed-factor must be > 0"):
        schedule([T0], factor)


@dataclass
class FakeBus:
    """`PubSub.publish` as `replay` uses it, on a fake clock that `sleep` moves."""

    settings: Settings = field(default_factory=Settings)
    now: float = 100.0
    sent: list[tuple[float, str, list[Outgoing]]] = field(default_factory=list)

    def publish(self, topic: str, batch: object) -> list[str]:
        assert isinstance(batch, list)
        self.sent.append((self.now - 100.0, topic, batch))
        return [str(i) for i in range(len(batch))]

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_replay_sends_in_file_order_at_the_scaled_offsets_with_attributes_and_keys() -> None:
    keyed = RecordedMessage(b"c", T0 + timedelta(seconds=1), {"n": "3"}, ordering_key="siteA")
    recording = Recording(
        "t-1", "p", (message(0, b"a", n="1"), message(0, b"b", n="2"), keyed, message(3, b"d"))
    )
    bus = FakeBus()
    published: list[int] = []
    count = replay(bus, recording, 2.0, published.append, clock=bus.clock, sleep=bus.sleep)
    assert count == 4
    assert published == [2, 1, 1], "the two messages due at once went in one call"
    assert [(at, topic) for at, topic, _ in bus.sent] == [(0.0, "t-1"), (0.5, "t-1"), (1.5, "t-1")]
    assert [m for _, _, batch in bus.sent for m in batch] == [
        Outgoing(b"a", "", {"n": "1"}),
        Outgoing(b"b", "", {"n": "2"}),
        Outgoing(b"c", "siteA", {"n": "3"}),
        Outgoing(b"d", "", {}),
    ]


def test_replay_catches_up_without_waiting_when_it_is_late() -> None:
    recording = Recording("t-1", "p", (message(0), message(1), message(2)))
    bus = FakeBus()

    def slow_publish(topic: str, batch: object) -> list[str]:
        bus.now += 5  # each publish takes longer than the gaps
        return FakeBus.publish(bus, topic, batch)

    bus.publish = slow_publish  # type: ignore[method-assign]
    replay(bus, recording, 1.0, clock=bus.clock, sleep=bus.sleep)
    assert [len(batch) for _, _, batch in bus.sent] == [1, 2]
