"""The two sides of a differential run: our emulators and Google's, each with its own official
clients, called with the same request, their answers reduced to an `Outcome`.

Pub/Sub and Bigtable admin go through the generated (GAPIC) clients of google-cloud-pubsub and
google-cloud-bigtable over a channel of their own: two pairs in one process cannot share the
`*_EMULATOR_HOST` variables. Bigtable data goes through `BigtableDataClient`, which reads
`BIGTABLE_EMULATOR_HOST` once, when it is built. No call retries (`retry=None`): the first answer
is the one compared.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.api_core import exceptions as gexc
from google.cloud.bigtable.data import BigtableDataClient
from google.cloud.bigtable_admin_v2 import BigtableTableAdminClient
from google.cloud.bigtable_admin_v2.services.bigtable_table_admin.transports import (
    BigtableTableAdminGrpcTransport,
)
from google.pubsub_v1 import PublisherClient, SubscriberClient
from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport
from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

TIMEOUT = 30.0
"""Per call: generous, as both sides share two loaded cores; no answer is timed."""

OK = "OK"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one side answered: `OK` and the normalised response, or a gRPC code name (the
    message text is dropped: production words its errors its own way)."""

    code: str
    value: Any = None
    raw: Any = field(default=None, compare=False, repr=False)
    """The response as the client returned it (ack ids, for the next call), never compared."""

    @property
    def ok(self) -> bool:
        return self.code == OK


@dataclass(slots=True)
class Side:
    """One emulator pair's clients."""

    name: str
    publisher: PublisherClient
    subscriber: SubscriberClient
    tables: BigtableTableAdminClient
    data: BigtableDataClient
    channels: list[grpc.Channel] = field(default_factory=list)

    def close(self) -> None:
        self.data.close()
        for channel in self.channels:
            channel.close()


def _code_of(exc: BaseException) -> str | None:
    """The gRPC code name an exception carries (the first of a group), None if it has none."""
    if isinstance(exc, gexc.GoogleAPICallError) and exc.grpc_status_code is not None:
        return str(exc.grpc_status_code.name)
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            if (code := _code_of(inner)) is not None:
                return code
    cause = exc.__cause__ or exc.__context__
    return _code_of(cause) if cause is not None else None


def outcome(call: Callable[[], Any], normalise: Callable[[Any], Any] = lambda x: x) -> Outcome:
    """Run `call`; its normalised result, or the gRPC code it failed with. An exception with no
    gRPC code (a client-side check) is named by its type, the same on both sides."""
    try:
        result = call()
    except Exception as exc:
        code = _code_of(exc)
        return Outcome(code if code is not None else f"client:{type(exc).__name__}")
    return Outcome(OK, normalise(result), result)


@contextlib.contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before


def side(name: str, pubsub: str, bigtable: str) -> Side:
    """Clients of the pair answering at `pubsub` and `bigtable` (host:port)."""
    channels = [grpc.insecure_channel(address) for address in (pubsub, pubsub, bigtable)]
    with _env("BIGTABLE_EMULATOR_HOST", bigtable):
        data = BigtableDataClient(project="differential")
    return Side(
        name,
        PublisherClient(transport=PublisherGrpcTransport(channel=channels[0])),
        SubscriberClient(transport=SubscriberGrpcTransport(channel=channels[1])),
        BigtableTableAdminClient(transport=BigtableTableAdminGrpcTransport(channel=channels[2])),
        data,
        channels,
    )
