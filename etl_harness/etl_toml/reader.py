"""Validates parsed etl.toml data into the model, every error naming `file:line: entry`."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from etl.config import DEFAULT_INSTANCE, DEFAULT_PROJECT, STAGES
from etl_harness.etl_toml.model import (
    FILE_NAME,
    PLACEHOLDERS,
    DeadLetterPolicy,
    EtlToml,
    GcRule,
    InvalidEtlToml,
    OidcToken,
    RetryPolicy,
    Schema,
    Subscription,
    Table,
    TopicSchema,
)
from etl_harness.faults import Faults, InvalidFaults

_PUBSUB_NAME = re.compile(r"[A-Za-z][-A-Za-z0-9_.~+%]{2,254}")
_TABLE_NAME = re.compile(r"[_a-zA-Z0-9][-_.a-zA-Z0-9]{0,49}")
_FAMILY_NAME = re.compile(r"[_a-zA-Z0-9][-_.a-zA-Z0-9]{0,63}")


def parse(text: str, source: str = FILE_NAME) -> EtlToml:
    """Validate the text of an etl.toml; `source` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InvalidEtlToml(f"{source}: {err}") from err
    return _Reader(text, source).read(data)


@dataclass(slots=True)
class _Reader:
    """Builds a `EtlToml` from parsed TOML, reporting `file:line: entry: problem`."""

    text: str
    source: str
    lines: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.lines = self.text.splitlines()

    def read(self, data: dict[str, Any]) -> EtlToml:
        self._only(data, {"project", "stages", "bigtable", "pubsub"}, "", 0)
        project = self._str(data, "project", "", 0, default=DEFAULT_PROJECT)
        stages = tuple(self._list(data, "stages", "", 0, default=["dev", "test"]))
        for stage in stages:
            if stage not in STAGES:
                self._fail(
                    0, "", f"stages: {_q(stage)} is not one of {', '.join(STAGES)}", "stages"
                )
        bigtable = self._table(data, "bigtable")
        pubsub = self._table(data, "pubsub")
        self._only(bigtable, {"instance", "tables"}, "bigtable", 0)
        self._only(pubsub, {"schemas", "topics", "subscriptions"}, "pubsub", 0)
        schemas = tuple(self._schema(e, i) for i, e in self._entries(pubsub, "pubsub.schemas"))
        topic_entries = list(self._entries(pubsub, "pubsub.topics"))
        topics = tuple(self._topic(e, i) for i, e in topic_entries)
        declared = {s.name for s in schemas}
        settings = [(e["name"], self._topic_schema(e, i, declared)) for i, e in topic_entries]
        parsed = EtlToml(
            project=project,
            stages=stages or ("dev",),
            instance=self._str(bigtable, "instance", "bigtable", 0, default=DEFAULT_INSTANCE),
            topics=topics,
            subscriptions=tuple(
                self._subscription(e, i, set(topics))
                for i, e in self._entries(pubsub, "pubsub.subscriptions")
            ),
            tables=tuple(
                self._table_entry(e, i) for i, e in self._entries(bigtable, "bigtable.tables")
            ),
            source=self.source,
            schemas=schemas,
            topic_schemas={name: ts for name, ts in settings if ts is not None},
        )
        self._unique(parsed)
        return parsed

    # entries

    def _topic(self, entry: dict[str, Any], index: int) -> str:
        where = f"pubsub.topics[{index}]"
        line = self._line_of("pubsub.topics", index)
        self._only(entry, {"name", "schema"}, where, line)
        name: str = self._str(entry, "name", where, line)
        self._check_name(name, _PUBSUB_NAME, where, line, "a Pub/Sub name")
        return name

    def _schema(self, entry: dict[str, Any], index: int) -> Schema:
        where = f"pubsub.schemas[{index}]"
        line = self._line_of("pubsub.schemas", index)
        self._only(entry, {"name", "type", "definition"}, where, line)
        name, where = self._named(entry, where, line)
        self._check_name(name, _PUBSUB_NAME, where, line, "a Pub/Sub name")
        kind = entry.get("type")
        if kind not in ("avro", "protocol_buffer"):
            problem = f'type must be "avro" or "protocol_buffer", got {_q(kind or "")}'
            self._fail(line, where, problem, "type")
        definition = entry.get("definition")
        if not isinstance(definition, str) or not definition.strip():
            self._fail(line, where, "definition is required", "definition")
        return Schema(name, kind, definition)

    def _topic_schema(
        self, entry: dict[str, Any], index: int, declared: set[str]
    ) -> TopicSchema | None:
        """A topic's schema settings: a declared schema, encoding json (default) or binary."""
        raw = entry.get("schema")
        if raw is None:
            return None
        where = f"pubsub.topics[{index}] {_q(entry['name'])}"
        line = self._line_of("pubsub.topics", index)
        settings = self._inline(raw, "schema", where, line)
        self._only(settings, {"name", "encoding"}, f"{where} schema", line)
        name = self._str(settings, "name", where, line, placeholders=False)
        self._placeholders(name, where, line, "schema.name")
        if name not in declared:
            problem = f"schema.name {_q(name)} is not declared in [[pubsub.schemas]]"
            self._fail(line, where, problem, "schema")
        encoding = settings.get("encoding", "json")
        if encoding not in ("json", "binary"):
            problem = f'schema.encoding must be "json" or "binary", got {_q(encoding)}'
            self._fail(line, where, problem, "schema")
        return TopicSchema(name, encoding)

    def _named(self, entry: dict[str, Any], where: str, line: int) -> tuple[str, str]:
        """The entry's name, and `where` with the name in it (for every later message)."""
        name = self._str(entry, "name", where, line, placeholders=False)
        where = f"{where} {_q(name)}"
        self._placeholders(name, where, line, "name")
        return name, where

    def _subscription(self, entry: dict[str, Any], index: int, topics: set[str]) -> Subscription:
        where = f"pubsub.subscriptions[{index}]"
        line = self._line_of("pubsub.subscriptions", index)
        keys = {"name", "topic", "type", "push_endpoint", "function", "ack_deadline_seconds",
                "ordering", "exactly_once", "dead_letter", "retry", "faults",
                "oidc_token"}  # fmt: skip
        self._only(entry, keys, where, line)
        name, where = self._named(entry, where, line)
        self._check_name(name, _PUBSUB_NAME, where, line, "a Pub/Sub name")
        topic = self._declared(self._str(entry, "topic", where, line), topics, where, line, "topic")
        kind = self._str(entry, "type", where, line, default="pull")
        endpoint = entry.get("push_endpoint")
        if kind not in ("pull", "push"):
            self._fail(line, where, f'type must be "pull" or "push", got {_q(kind)}', "type")
        if kind == "push" and endpoint is None:
            self._fail(line, where, "type push requires push_endpoint", "type")
        if kind != "push" and endpoint is not None:
            self._fail(line, where, 'push_endpoint needs type = "push"', "push_endpoint")
        if endpoint is not None and not str(endpoint).startswith(("http://", "https://")):
            self._fail(line, where, f"push_endpoint must be an http(s) URL, got {_q(endpoint)}",
                       "push_endpoint")  # fmt: skip
        ack = self._int(entry, "ack_deadline_seconds", where, line, 10, 600, default=60)
        exactly_once = self._bool(entry, "exactly_once", where, line)
        if exactly_once and kind == "push":
            problem = "exactly_once needs a pull subscription (push delivery is at-least-once)"
            self._fail(line, where, problem, "exactly_once")
        return Subscription(
            name=name,
            topic=topic,
            push_endpoint=endpoint,
            function=self._str(entry, "function", where, line, default=None),
            ack_deadline_seconds=ack,
            ordering=self._bool(entry, "ordering", where, line),
            exactly_once=exactly_once,
            dead_letter=self._dead_letter(entry, topics, where, line),
            retry=self._retry(entry, where, line),
            faults=self._faults(entry, where, line),
            oidc_token=self._oidc_token(entry, where, line),
        )

    def _dead_letter(
        self, entry: dict[str, Any], topics: set[str], where: str, line: int
    ) -> DeadLetterPolicy | None:
        raw = entry.get("dead_letter")
        if raw is None:
            return None
        policy = self._inline(raw, "dead_letter", where, line)
        self._only(policy, {"topic", "max_delivery_attempts"}, f"{where} dead_letter", line)
        topic = self._str(policy, "topic", f"{where} dead_letter", line)
        self._declared(topic, topics, where, line, "dead_letter.topic")
        attempts = self._int(
            policy, "max_delivery_attempts", where, line, 5, 100, default=5, label="dead_letter."
        )
        return DeadLetterPolicy(topic, attempts)

    def _oidc_token(self, entry: dict[str, Any], where: str, line: int) -> OidcToken | None:
        """A push subscription's token, or the one `etl serve` pushes a function's subscription
        with (and the function then requires): an email is required, the audience may be left
        out."""
        raw = entry.get("oidc_token")
        if raw is None:
            return None
        if entry.get("push_endpoint") is None and entry.get("function") is None:
            problem = 'oidc_token needs type = "push" or a function'
            self._fail(line, where, problem, "oidc_token")
        token = self._inline(raw, "oidc_token", where, line)
        self._only(token, {"service_account_email", "audience"}, f"{where} oidc_token", line)
        key = "oidc_token.service_account_email"
        if "service_account_email" not in token:
            self._fail(line, where, f"{key} is required", "oidc_token")
        email = self._str(token, "service_account_email", where, line, placeholders=False)
        self._placeholders(email, where, line, key)
        local, at, domain = email.partition("@")
        if not (local and at and domain):
            problem = f"{key} must be an email address, got {_q(email)}"
            self._fail(line, where, problem, "oidc_token")
        audience = self._str(token, "audience", where, line, default=None, placeholders=False)
        if audience is not None:
            self._placeholders(audience, where, line, "oidc_token.audience")
        return OidcToken(email, audience)

    def _retry(self, entry: dict[str, Any], where: str, line: int) -> RetryPolicy | None:
        raw = entry.get("retry")
        if raw is None:
            return None
        policy = self._inline(raw, "retry", where, line)
        keys = {"minimum_backoff_seconds", "maximum_backoff_seconds"}
        self._only(policy, keys, f"{where} retry", line)
        low = self._seconds(policy, "minimum_backoff_seconds", where, line, 10.0)
        high = self._seconds(policy, "maximum_backoff_seconds", where, line, 600.0)
        if low > high:
            problem = "retry: minimum_backoff_seconds is above maximum_backoff_seconds"
            self._fail(line, where, problem, "retry")
        return RetryPolicy(low, high)

    def _faults(self, entry: dict[str, Any], where: str, line: int) -> Faults | None:
        raw = entry.get("faults")
        if raw is None:
            return None
        try:
            return Faults.parse(self._inline(raw, "faults", where, line))
        except InvalidFaults as err:
            self._fail(line, where, str(err), f"faults.{err.key}")

    def _table_entry(self, entry: dict[str, Any], index: int) -> Table:
        where = f"bigtable.tables[{index}]"
        line = self._line_of("bigtable.tables", index)
        self._only(entry, {"name", "families"}, where, line)
        name, where = self._named(entry, where, line)
        self._check_name(name, _TABLE_NAME, where, line, "a table id")
        families = self._inline(entry.get("families", {}), "families", where, line)
        if not families:
            self._fail(line, where, "a table needs at least one entry under families", "families")
        rules: dict[str, GcRule] = {}
        aggregates: dict[str, str] = {}
        for family, raw in families.items():
            rules[family] = self._family(family, raw, where, line)
            if "aggregate" in raw:
                aggregates[family] = self._aggregate(raw["aggregate"], family, where, line)
        return Table(name, rules, aggregates)

    def _family(self, name: str, raw: Any, where: str, line: int) -> GcRule:
        if not _FAMILY_NAME.fullmatch(name):
            self._fail(line, where, f"{_q(name)} is not a column family name", "families")
        key = f"families.{name}"
        rule = self._inline(raw, key, where, line)
        self._only(rule, {"max_versions", "max_age_seconds", "aggregate"}, f"{where} {key}", line)
        versions = self._int(
            rule, "max_versions", where, line, 1, 2**31 - 1, default=None, label=f"{key}."
        )
        age = self._int(
            rule, "max_age_seconds", where, line, 1, 2**40, default=None, label=f"{key}."
        )
        if versions is None and age is None and "aggregate" not in rule:
            problem = f"{key}: set max_versions and/or max_age_seconds, or aggregate"
            self._fail(line, where, problem, key)
        return GcRule(versions, age)

    def _aggregate(self, value: Any, family: str, where: str, line: int) -> str:
        """An aggregate family's type: int64 sum, min, max or hll (HyperLogLog++ unique count)."""
        key = f"families.{family}.aggregate"
        if value not in ("sum", "min", "max", "hll"):
            problem = f'{key} must be "sum", "min", "max" or "hll", got {_q(value)}'
            self._fail(line, where, problem, f"families.{family}")
        return str(value)

    def _unique(self, parsed: EtlToml) -> None:
        """Names must differ within each stage; the error points at the second declaration."""
        for stage in parsed.stages:
            res = parsed.resources(stage)
            groups = (
                ("schema", "pubsub.schemas", [s.name for s in res.schemas]),
                ("topic", "pubsub.topics", res.topics),
                ("subscription", "pubsub.subscriptions", [s.name for s in res.subscriptions]),
                ("table", "bigtable.tables", [t.name for t in res.tables]),
            )
            for kind, section, names in groups:
                seen: set[str] = set()
                for index, name in enumerate(names):
                    if name in seen:
                        line = self._line_of(section, index)
                        problem = f"{kind} {_q(name)} is declared twice (stage {stage})"
                        self._fail(line, f"{section}[{index}]", problem, "name")
                    seen.add(name)

    # typed values

    def _str(
        self, d: Mapping[str, Any], key: str, where: str, line: int, default: Any = ...,
        *, placeholders: bool = True,
    ) -> Any:  # fmt: skip
        if key not in d:
            if default is ...:
                self._fail(line, where, f"{key} is required", None)
            return default
        value = d[key]
        if not isinstance(value, str) or not value:
            self._fail(line, where, f"{key} must be a non-empty string, got {value!r}", key)
        if placeholders:
            self._placeholders(value, where, line, key)
        return value

    def _int(
        self, d: Mapping[str, Any], key: str, where: str, line: int, low: int, high: int,
        default: int | None, label: str = "",
    ) -> Any:  # fmt: skip
        """An integer in `[low, high]`; `label` prefixes the key in messages (`dead_letter.`)."""
        value = d.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self._fail(line, where, f"{label}{key} must be an integer, got {value!r}", key)
        if not low <= value <= high:
            self._fail(line, where, f"{label}{key} must be {low}-{high}, got {value}", key)
        return value

    def _seconds(
        self, d: Mapping[str, Any], key: str, where: str, line: int, default: float
    ) -> float:
        value = d.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._fail(line, where, f"retry.{key} must be a number of seconds, got {value!r}", key)
        if not 0 <= value <= 600:
            self._fail(line, where, f"retry.{key} must be 0-600, got {value:g}", key)
        return float(value)

    def _bool(self, d: Mapping[str, Any], key: str, where: str, line: int) -> bool:
        value = d.get(key, False)
        if not isinstance(value, bool):
            self._fail(line, where, f"{key} must be true or false, got {value!r}", key)
        return value

    def _list(
        self, d: Mapping[str, Any], key: str, where: str, line: int, default: list[str]
    ) -> list[str]:
        value = d.get(key, default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self._fail(line, where, f"{key} must be a list of strings, got {value!r}", key)
        return value

    def _table(self, d: Mapping[str, Any], key: str) -> dict[str, Any]:
        value = d.get(key, {})
        if not isinstance(value, dict):
            self._fail(0, "", f"{key} must be a table ([{key}])", key)
        return value

    def _inline(self, value: Any, key: str, where: str, line: int) -> dict[str, Any]:
        if not isinstance(value, dict):
            self._fail(line, where, f"{key} must be a table, e.g. {key} = {{ ... }}", key)
        return value

    def _entries(self, d: Mapping[str, Any], dotted: str) -> Iterable[tuple[int, dict[str, Any]]]:
        leaf = dotted.rsplit(".", 1)[1]
        value = d.get(leaf, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self._fail(0, "", f"{dotted} must be an array of tables ([[{dotted}]])", leaf)
        return enumerate(value)

    def _only(self, d: Mapping[str, Any], allowed: set[str], where: str, line: int) -> None:
        for key in d:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                self._fail(line, where, f"unknown key {key!r} (known: {known})", key)

    def _declared(self, topic: str, topics: set[str], where: str, line: int, key: str) -> str:
        if topic not in topics:
            problem = f"{key} {_q(topic)} is not declared in [[pubsub.topics]]"
            self._fail(line, where, problem, key)
        return topic

    def _placeholders(self, value: str, where: str, line: int, key: str) -> None:
        for name in PLACEHOLDERS.findall(value):
            if name not in ("stage", "project"):
                self._fail(line, where, f"{key}: unknown placeholder {{{name}}} "
                           "(only {stage} and {project})", key)  # fmt: skip

    def _check_name(self, name: str, pattern: re.Pattern[str], where: str, line: int,
                    what: str) -> None:  # fmt: skip
        sample = name.format_map({"stage": "prod", "project": "p"})
        if not pattern.fullmatch(sample):
            self._fail(line, where, f"{_q(name)} is not {what}", "name")

    # locations

    def _line_of(self, dotted: str, index: int) -> int:
        """1-based line of the `index`-th `[[dotted]]` header, 0 when not written that way."""
        dots = re.escape(dotted).replace(r"\.", r"\s*\.\s*")
        header = re.compile(r"\s*\[\[\s*" + dots + r"\s*\]\]")
        seen = -1
        for number, text in enumerate(self.lines, start=1):
            if header.match(text):
                seen += 1
                if seen == index:
                    return number
        return 0

    def _key_line(self, start: int, key: str | None) -> int:
        """The line of `key = ...` in the entry starting at `start`, also inside an inline table
        (`start` itself when not found; top-level keys when `start` is 0)."""
        if not key:
            return start
        dotted = r"\s*\.\s*".join(re.escape(part) for part in key.split("."))
        name = re.escape(key.split(".")[0])
        span = self._span(start)
        patterns = (rf"\s*{dotted}\s*=", rf"\s*{name}\s*[.=]", rf".*[{{,]\s*{name}\s*=")
        for pattern in patterns:
            for number in span:
                if re.match(pattern, self.lines[number - 1]):
                    return number
        return start

    def _span(self, start: int) -> range:
        """Line numbers of the entry whose header is `start` (0: the top-level keys)."""
        end = start + 1
        while end <= len(self.lines) and not re.match(r"\s*\[", self.lines[end - 1]):
            end += 1
        return range(max(start, 1), end)

    def _fail(self, line: int, where: str, problem: str, key: str | None) -> NoReturn:
        number = self._key_line(line, key)
        place = f"{self.source}:{number}" if number else self.source
        raise InvalidEtlToml(f"{place}: {where + ': ' if where else ''}{problem}")


def _q(text: object) -> str:
    """A value quoted as the Go reader quotes it (`%q`), so both give the same messages."""
    return json.dumps(str(text), ensure_ascii=False)
