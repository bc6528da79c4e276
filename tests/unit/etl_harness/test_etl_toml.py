"""etl.toml: parsing, expansion per stage, and an error that points at the line for each mistake."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import etl_harness
from etl.config import STAGES
from etl_harness import etl_toml, provision
from etl_harness.faults import Faults
from etl_harness.provision import subscription_request

REPO = Path(__file__).resolve().parents[3]

SHARED = json.loads((REPO / "emulators/internal/seed/testdata/bad_etl_toml.json").read_text())
"""Bad files and their exact errors, which the Go reader's tests run too
(emulators/internal/seed/shared_table_test.go); its base is the valid file the tests here read."""
MINIMAL = SHARED["base"]


def test_the_minimal_file_expands_placeholders_for_a_stage_and_project() -> None:
    res = etl_toml.parse(MINIMAL).resources("test", "other")
    assert res.project == "other"
    assert res.instance == "inst"
    assert res.topics == ("events-test", "dead-test")
    sub = res.subscription("sub-test")
    assert sub.topic == "events-test"
    assert sub.ack_deadline_seconds == 30
    assert sub.ordering
    assert sub.dead_letter == etl_toml.DeadLetterPolicy("dead-test", 7)
    assert sub.retry == etl_toml.RetryPolicy(0.5, 20.0)
    assert res.subscription("hook-test").push_endpoint == "http://localhost:9000/other/test"
    (table,) = res.tables
    assert table.name == "t_test"
    assert table.families == {
        "f": etl_toml.GcRule(max_versions=2, max_age_seconds=60),
        "g": etl_toml.GcRule(max_age_seconds=5),
    }


def test_faults_are_read_with_the_emulators_defaults() -> None:
    hook = etl_toml.parse(MINIMAL).resources("dev").subscription("hook-dev")
    assert hook.faults == Faults(
        duplicate=0.1, delay_ms=(0, 5000), delay_fraction=0.1, shuffle=True,
        push_error=0.2, early_redelivery=0.05, seed=7,
    )  # fmt: skip
    assert etl_toml.parse(MINIMAL).resources("dev").subscription("sub-dev").faults is None
    delay_alone = MINIMAL.replace("delay_fraction = 0.1, ", "")
    hook = etl_toml.parse(delay_alone).resources("dev").subscription("hook-dev")
    assert hook.faults is not None
    assert hook.faults.delay_fraction == 1.0


def test_a_push_subscriptions_oidc_token_is_read_with_placeholders_filled() -> None:
    hook_endpoint = 'push_endpoint = "http://localhost:9000/{project}/{stage}"'
    oidc = 'oidc_token = { service_account_email = "pusher@{project}.iam.gserviceaccount.com" }'
    text = MINIMAL.replace(hook_endpoint, f"{hook_endpoint}\n{oidc}")
    hook = etl_toml.parse(text).resources("dev", "other").subscription("hook-dev")
    assert hook.oidc_token == etl_toml.OidcToken("pusher@other.iam.gserviceaccount.com", None)
    request = provision.subscription_request("other", hook)
    token = request["push_config"].oidc_token
    assert token.service_account_email == hook.oidc_token.service_account_email
    assert token.audience == ""

    with_audience = text.replace('.com" }', '.com", audience = "https://{stage}.example" }')
    hook = etl_toml.parse(with_audience).resources("test").subscription("hook-test")
    assert hook.oidc_token is not None
    assert hook.oidc_token.audience == "https://test.example"


def test_a_functions_subscription_may_declare_the_token_etl_serve_pushes_it_with() -> None:
    oidc = 'oidc_token = { service_account_email = "invoker@{project}.iam.gserviceaccount.com" }'
    text = MINIMAL.replace('function = "receiver"\n', f'function = "receiver"\n{oidc}\n')
    sub = etl_toml.parse(text).resources("dev", "other").subscription("sub-dev")
    account = "invoker@other.iam.gserviceaccount.com"
    assert sub.oidc_token == etl_toml.OidcToken(account, None)
    assert "push_config" not in provision.subscription_request("other", sub)  # pull at rest
    pushed = provision.subscription_request("other", sub, "http://localhost:1/x")
    assert pushed["push_config"].oidc_token.service_account_email == account


WITH_SCHEMA = MINIMAL.replace(
    '[[pubsub.topics]]\nname = "events-{stage}"',
    '[[pubsub.schemas]]\nname = "state-{stage}"\ntype = "avro"\n'
    'definition = \'{"type": "record", "name": "S", "fields": []}\'\n\n'
    '[[pubsub.topics]]\nname = "events-{stage}"\n'
    'schema = { name = "state-{stage}", encoding = "binary" }',
)


def test_schemas_and_a_topics_schema_settings_are_read_and_requested() -> None:
    res = etl_toml.parse(WITH_SCHEMA).resources("dev", "other")
    (schema,) = res.schemas
    assert (schema.name, schema.type) == ("state-dev", "avro")
    assert '"name": "S"' in schema.definition
    assert res.topic_schemas == {"events-dev": etl_toml.TopicSchema("state-dev", "binary")}
    request = provision.topic_request(res, "events-dev")
    assert request["schema_settings"]["schema"] == "projects/other/schemas/state-dev"
    assert "schema_settings" not in provision.topic_request(res, "dead-dev")


def test_defaults_fill_what_a_subscription_leaves_out() -> None:
    text = MINIMAL.replace("ack_deadline_seconds = 30\nordering = true\n", "")
    sub = etl_toml.parse(text).resources("dev").subscription("sub-dev")
    assert (sub.ack_deadline_seconds, sub.ordering, sub.push_endpoint) == (60, False, None)
    assert not sub.exactly_once


def test_exactly_once_on_a_pull_subscription_reaches_its_create_request() -> None:
    text = MINIMAL.replace("ordering = true\n", "ordering = true\nexactly_once = true\n")
    sub = etl_toml.parse(text).resources("dev").subscription("sub-dev")
    assert sub.exactly_once
    assert subscription_request("p", sub)["enable_exactly_once_delivery"] is True


NAME_CHARS = string.ascii_lowercase + string.digits + "-"


@given(
    stage=st.sampled_from(STAGES),
    project=st.text(NAME_CHARS, min_size=3, max_size=20),
    prefix=st.text(string.ascii_lowercase, min_size=1, max_size=10),
)
def test_expansion_leaves_no_placeholder_and_keeps_names_distinct(
    stage: str, project: str, prefix: str
) -> None:
    text = MINIMAL.replace('"events-{stage}"', f'"{prefix}-{{project}}-{{stage}}"')
    res = etl_toml.parse(text).resources(stage, project)
    names = [*res.topics, *(s.name for s in res.subscriptions), *(t.name for t in res.tables)]
    assert not any(etl_toml.PLACEHOLDERS.search(n) for n in names)
    assert len(set(names)) == len(names)
    assert res.topics[0] == f"{prefix}-{project}-{stage}"
    assert all(s.topic in res.topics for s in res.subscriptions)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("case", SHARED["cases"], ids=lambda case: case["name"])
def test_each_bad_file_of_the_shared_table_gives_the_same_error_as_the_go_reader(
    case: dict[str, str],
) -> None:
    etl_toml.parse(SHARED["base"], "etl.toml")  # the base itself is valid
    text = SHARED["base"].replace(case["old"], case["new"], 1)
    assert text != SHARED["base"], f"{case['old']!r} is not in the base file"
    with pytest.raises(etl_toml.InvalidEtlToml) as caught:
        etl_toml.parse(text, "etl.toml")
    assert str(caught.value) == case["error"]


# Mistakes only the Python reader words this way (the Go one reports them from its TOML decoder).
PYTHON_ONLY = [
    ("ordering = true", 'ordering = "yes"', "ordering must be true or false"),
    ("ordering = true", "colour = 1", "unknown key 'colour'"),
    ("shuffle = true", "shufle = true", "faults: unknown key 'shufle'"),
    ("shuffle = true", "shuffle = 1", "faults.shuffle must be true or false, got 1"),
    ("seed = 7", 'seed = "7"', "faults.seed must be an integer, got '7'"),
    ("duplicate = 0.1", 'duplicate = "a lot"', "faults.duplicate must be a number 0-1"),
    ("delay_ms = [0, 5000]", "delay_ms = [0, 0.5]", "faults.delay_ms must be [low, high] in ms"),
]


@pytest.mark.parametrize(("old", "new", "message"), PYTHON_ONLY)
def test_each_mistake_names_the_file_line_and_problem(old: str, new: str, message: str) -> None:
    assert old in MINIMAL
    text = MINIMAL.replace(old, new, 1)
    expected_line = line_of(text, new.splitlines()[0])
    with pytest.raises(etl_toml.InvalidEtlToml) as caught:
        etl_toml.parse(text, "etl.toml")
    assert str(caught.value).startswith(f"etl.toml:{expected_line}: ")
    assert message in str(caught.value)


def test_a_toml_syntax_error_keeps_tomllibs_line_and_column() -> None:
    with pytest.raises(etl_toml.InvalidEtlToml, match=r"^etl\.toml: .*line 3, column"):
        etl_toml.parse('project = "p"\n\n[[pubsub.topics]\n', "etl.toml")


def test_a_name_declared_twice_is_refused() -> None:
    text = MINIMAL + '\n[[pubsub.topics]]\nname = "events-{stage}"\n'
    with pytest.raises(etl_toml.InvalidEtlToml, match='topic "events-dev" is declared twice'):
        etl_toml.parse(text)


def test_a_missing_file_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(etl_toml.InvalidEtlToml, match="cannot read it"):
        etl_toml.load(tmp_path / "absent.toml")


def test_find_prefers_etl_seed_file_then_the_nearest_etl_toml_then_the_packaged_one(
    tmp_path: Path,
) -> None:
    nested = tmp_path / "with" / "a" / "b"
    nested.mkdir(parents=True)
    (tmp_path / "with" / "etl.toml").write_text(MINIMAL)
    lonely = tmp_path / "without"
    lonely.mkdir()
    assert etl_toml.find(None, nested) == tmp_path / "with" / "etl.toml"
    assert etl_toml.find("/x.toml", nested) == Path("/x.toml")
    packaged = etl_toml.find(None, lonely)
    assert packaged.parent == Path(etl_harness.__file__).parent
    assert etl_toml.load(packaged).topics


# --- the repository's own etl.toml is what the code expects --------------------------------------


@pytest.fixture(scope="module")
def project_file() -> etl_toml.EtlToml:
    return etl_toml.load(REPO / "etl.toml")


def test_etl_toml_dead_letters_every_pipeline_subscription_but_the_reader(
    project_file: etl_toml.EtlToml,
) -> None:
    for sub in project_file.resources("dev").subscriptions:
        expected = None if sub.name.startswith("deadletter-reader") else "acceso-deadletter-dev"
        assert (sub.dead_letter.topic if sub.dead_letter else None) == expected, sub.name
