"""Pub/Sub schemas as Google documents them ("Create a schema", "Associate a schema with a topic",
"Commit a schema revision", `ValidateMessage`), through the official Python client: a topic with
schema settings accepts the messages of its schema (in its encoding, within its revision range),
refuses the others with `INVALID_ARGUMENT`, and delivers the accepted ones with the
`googclient_schemaname`, `googclient_schemarevisionid` and `googclient_schemaencoding`
attributes. Run against our emulators and Google's (`--etl-emulators=official`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1
from google.pubsub_v1.types import Encoding, Schema, SchemaSettings

from etl.config import Settings
from etl_harness import etl_toml, provision
from tests.e2e.test_parity_pubsub import eventually

pytestmark = pytest.mark.parity

AVRO_V1 = json.dumps({
    "type": "record", "name": "State",
    "fields": [{"name": "name", "type": "string"}, {"name": "post_abbr", "type": "string"}],
})  # fmt: skip
AVRO_V2 = json.dumps({
    "type": "record", "name": "State",
    "fields": [{"name": "name", "type": "string"}, {"name": "post_abbr", "type": "string"},
               {"name": "capital", "type": "string"}],
})  # fmt: skip
PROTO = 'syntax = "proto3";\nmessage Province {\n  string name = 1;\n  string post_abbr = 2;\n}\n'
ALASKA = {"name": "Alaska", "post_abbr": "AK"}


@pytest.fixture
def schemas() -> pubsub_v1.SchemaServiceClient:
    return pubsub_v1.SchemaServiceClient()


@pytest.fixture
def new_schema(
    schemas: pubsub_v1.SchemaServiceClient,
    etl_gcp_project: str,
    etl_unique_name: Callable[[str], str],
) -> Callable[[Schema.Type, str], Schema]:
    def make(kind: Schema.Type, definition: str) -> Schema:
        return schemas.create_schema(
            request={"parent": f"projects/{etl_gcp_project}",
                     "schema": Schema(type_=kind, definition=definition),
                     "schema_id": etl_unique_name("schema")}
        )  # fmt: skip

    return make


@pytest.fixture
def schema_topic(
    etl_publisher: pubsub_v1.PublisherClient,
    etl_subscriber: pubsub_v1.SubscriberClient,
    etl_gcp_project: str,
    etl_unique_name: Callable[[str], str],
) -> Callable[..., tuple[str, str]]:
    """`schema_topic(schema_name, encoding, **revisions)`: a topic with those schema settings and a
    pull subscription of it, by path."""

    def make(schema: str, encoding: Encoding, **revisions: str) -> tuple[str, str]:
        topic = etl_publisher.topic_path(etl_gcp_project, etl_unique_name("topic"))
        settings = SchemaSettings(schema=schema, encoding=encoding, **revisions)
        etl_publisher.create_topic(request={"name": topic, "schema_settings": settings})
        sub = etl_subscriber.subscription_path(etl_gcp_project, etl_unique_name("sub"))
        etl_subscriber.create_subscription(
            request={"name": sub, "topic": topic, "ack_deadline_seconds": 10}
        )
        return topic, sub

    return make


@pytest.fixture
def avro_topic(
    new_schema: Callable[..., Schema], schema_topic: Callable[..., tuple[str, str]]
) -> Callable[[Encoding], tuple[Schema, str, str]]:
    """`avro_topic(encoding)`: a new AVRO_V1 schema, a topic using it and its subscription."""

    def make(encoding: Encoding) -> tuple[Schema, str, str]:
        schema = new_schema(Schema.Type.AVRO, AVRO_V1)
        return (schema, *schema_topic(schema.name, encoding))

    return make


def pull_one(subscriber: pubsub_v1.SubscriberClient, sub: str) -> Any:
    got: list[Any] = []

    def arrived() -> None:
        got.extend(subscriber.pull(subscription=sub, max_messages=1, timeout=10).received_messages)
        assert got

    eventually(arrived)
    subscriber.acknowledge(subscription=sub, ack_ids=[got[0].ack_id])
    return got[0].message


def publish_json(publisher: pubsub_v1.PublisherClient, topic: str, record: dict[str, str]) -> str:
    return str(publisher.publish(topic, json.dumps(record).encode()).result(timeout=30))


def avro_binary(*strings: str) -> bytes:
    """A record of string fields in Avro's binary encoding: each a zigzag varint length, then the
    UTF-8 bytes (the Avro specification's encoding of `string`)."""
    out = bytearray()
    for text in strings:
        data = text.encode()
        length = len(data) << 1  # zigzag of a non-negative number
        while length > 0x7F:
            out.append((length & 0x7F) | 0x80)
            length >>= 7
        out.append(length)
        out += data
    return bytes(out)


def test_an_avro_json_topic_accepts_its_records_and_refuses_others(
    etl_publisher: pubsub_v1.PublisherClient,
    avro_topic: Callable[[Encoding], tuple[Schema, str, str]],
) -> None:
    _, topic, _ = avro_topic(Encoding.JSON)

    assert publish_json(etl_publisher, topic, ALASKA)
    with pytest.raises(gexc.InvalidArgument):
        publish_json(etl_publisher, topic, {"name": "Alaska"})
    with pytest.raises(gexc.InvalidArgument):
        etl_publisher.publish(topic, b"not json").result(timeout=30)


@pytest.mark.parametrize(
    ("encoding", "record", "other"),
    [
        (Encoding.JSON, json.dumps(ALASKA).encode(), b"not json"),
        (Encoding.BINARY, avro_binary("Alaska", "AK"), json.dumps(ALASKA).encode()),
    ],
    ids=["JSON", "BINARY"],
)
def test_delivered_messages_name_the_schema_its_revision_and_encoding(
    etl_publisher: pubsub_v1.PublisherClient,
    etl_subscriber: pubsub_v1.SubscriberClient,
    avro_topic: Callable[[Encoding], tuple[Schema, str, str]],
    encoding: Encoding,
    record: bytes,
    other: bytes,
) -> None:
    """A record in the topic's encoding is delivered with the schema's name, revision and that
    encoding; the same record in another encoding is refused."""
    schema, topic, sub = avro_topic(encoding)
    etl_publisher.publish(topic, record).result(timeout=30)

    attributes = dict(pull_one(etl_subscriber, sub).attributes)
    assert attributes["googclient_schemaname"] == schema.name
    assert attributes["googclient_schemarevisionid"] == schema.revision_id
    assert attributes["googclient_schemaencoding"] == encoding.name
    with pytest.raises(gexc.InvalidArgument):
        etl_publisher.publish(topic, other).result(timeout=30)


@pytest.mark.official_lacks(
    "the Java emulator accepts binary Avro followed by more bytes; production refuses it "
    "('Too much data to parse for schema')"
)
def test_an_avro_binary_record_followed_by_more_bytes_is_refused(
    etl_publisher: pubsub_v1.PublisherClient,
    avro_topic: Callable[[Encoding], tuple[Schema, str, str]],
) -> None:
    _, topic, _ = avro_topic(Encoding.BINARY)
    with pytest.raises(gexc.InvalidArgument):
        etl_publisher.publish(topic, avro_binary("Alaska", "AK") + b"\x02x").result(timeout=30)


@pytest.fixture
def two_revisions(
    schemas: pubsub_v1.SchemaServiceClient, new_schema: Callable[..., Schema]
) -> tuple[Schema, Schema]:
    """A schema with AVRO_V1 as its first revision and AVRO_V2 committed as its second."""
    first = new_schema(Schema.Type.AVRO, AVRO_V1)
    second = schemas.commit_schema(
        request={"name": first.name, "schema": Schema(type_=Schema.Type.AVRO, definition=AVRO_V2)}
    )
    return first, second


def test_a_message_is_tagged_with_the_newest_revision_it_matches(
    etl_publisher: pubsub_v1.PublisherClient,
    etl_subscriber: pubsub_v1.SubscriberClient,
    schemas: pubsub_v1.SchemaServiceClient,
    two_revisions: tuple[Schema, Schema],
    schema_topic: Callable[..., tuple[str, str]],
) -> None:
    first, second = two_revisions
    assert second.revision_id != first.revision_id
    revisions = schemas.list_schema_revisions(request={"name": first.name})
    assert {r.revision_id for r in revisions} == {first.revision_id, second.revision_id}

    topic, sub = schema_topic(first.name, Encoding.JSON)
    publish_json(etl_publisher, topic, ALASKA | {"capital": "Juneau"})
    revision = "googclient_schemarevisionid"
    assert pull_one(etl_subscriber, sub).attributes[revision] == second.revision_id
    publish_json(etl_publisher, topic, ALASKA)
    assert pull_one(etl_subscriber, sub).attributes[revision] == first.revision_id


@pytest.mark.official_lacks("the Java emulator ignores a topic's first and last revision ids")
def test_a_topic_accepts_only_the_revisions_between_its_first_and_last(
    etl_publisher: pubsub_v1.PublisherClient,
    two_revisions: tuple[Schema, Schema],
    schema_topic: Callable[..., tuple[str, str]],
) -> None:
    first, _ = two_revisions
    only_first, _ = schema_topic(
        first.name, Encoding.JSON, first_revision_id=first.revision_id,
        last_revision_id=first.revision_id,
    )  # fmt: skip
    publish_json(etl_publisher, only_first, ALASKA)
    with pytest.raises(gexc.InvalidArgument):
        publish_json(etl_publisher, only_first, ALASKA | {"capital": "Juneau"})


def test_validate_schema_refuses_a_definition_that_does_not_parse(
    schemas: pubsub_v1.SchemaServiceClient, etl_gcp_project: str
) -> None:
    parent = f"projects/{etl_gcp_project}"
    good = Schema(type_=Schema.Type.AVRO, definition=AVRO_V1)
    schemas.validate_schema(request={"parent": parent, "schema": good})
    bad = Schema(type_=Schema.Type.AVRO, definition='{"type": "record", "name": "R"}')
    with pytest.raises(gexc.InvalidArgument):
        schemas.validate_schema(request={"parent": parent, "schema": bad})


def test_validate_message_checks_a_message_against_a_schema(
    schemas: pubsub_v1.SchemaServiceClient,
    etl_gcp_project: str,
    new_schema: Callable[..., Schema],
) -> None:
    schema = new_schema(Schema.Type.AVRO, AVRO_V1)
    parent = f"projects/{etl_gcp_project}"

    def validate(record: dict[str, str]) -> None:
        schemas.validate_message(
            request={"parent": parent, "name": schema.name, "encoding": Encoding.JSON,
                     "message": json.dumps(record).encode()}
        )  # fmt: skip

    validate(ALASKA)
    with pytest.raises(gexc.InvalidArgument):
        validate({"name": 1, "post_abbr": "AK"})  # type: ignore[dict-item]


@pytest.mark.official_lacks(
    "the Java emulator answers 501 'Protocol buffer support not implemented'"
)
def test_a_protocol_buffer_json_topic_accepts_its_messages_and_refuses_others(
    etl_publisher: pubsub_v1.PublisherClient,
    etl_subscriber: pubsub_v1.SubscriberClient,
    new_schema: Callable[..., Schema],
    schema_topic: Callable[..., tuple[str, str]],
) -> None:
    schema = new_schema(Schema.Type.PROTOCOL_BUFFER, PROTO)
    topic, sub = schema_topic(schema.name, Encoding.JSON)
    publish_json(etl_publisher, topic, {"name": "Ontario", "post_abbr": "ON"})

    assert pull_one(etl_subscriber, sub).attributes["googclient_schemaname"] == schema.name
    with pytest.raises(gexc.InvalidArgument):
        publish_json(etl_publisher, topic, {"name": "Ontario", "capital": "Toronto"})


def test_a_schema_declared_in_etl_toml_guards_its_topic(
    etl_publisher: pubsub_v1.PublisherClient, settings: Settings
) -> None:
    declared = etl_toml.parse(
        '[[pubsub.schemas]]\nname = "state-{stage}"\ntype = "avro"\n'
        f"definition = '{AVRO_V1}'\n\n"
        '[[pubsub.topics]]\nname = "states-{stage}"\nschema = { name = "state-{stage}" }\n'
    )
    provision.ensure(settings, declared)
    topic = etl_publisher.topic_path(settings.project, f"states-{settings.stage}")

    assert publish_json(etl_publisher, topic, ALASKA)
    with pytest.raises(gexc.InvalidArgument):
        publish_json(etl_publisher, topic, {"name": "Alaska"})
