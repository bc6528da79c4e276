"""The Terraform deploys exactly the registry's pipeline, and nothing public (offline: no provider).

The stage module (deploy/terraform/stage) reads the registry through the generated
`stages/<stage>.pipeline.json` and expands it with `for_each`. So the check is in two halves that
together cover "what the registry says is what Terraform creates":

- the data: each committed `<stage>.pipeline.json` is `etl.pipeline.manifest(stage)`, written by
  `nox -s generate` (tests/unit/test_generated.py fails while it is stale);
- the wiring: the locals and resources that expand that data are the ones pinned below (every
  function and every consumer of the registry becomes a subscription, with its ack deadline,
  backoff and dead-letter policy; HTTP functions only in their stages; no hand-written extra).

`terraform test` (deploy/terraform/stage/tests, where a provider binary is available) then checks
the expansion itself on a plan. Every check returns its problems rather than asserting, so the
mutation tests at the end can prove each one fails on a broken copy of the Terraform.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hcl2
import pytest

from deploy.generate import STAGES, stage_data
from tests.deploy.templates import REPO

TERRAFORM = REPO / "deploy" / "terraform"
PUBLIC = ("allUsers", "allAuthenticatedUsers")
OPTIONS = hcl2.SerializationOptions(
    with_comments=False, explicit_blocks=False, strip_string_quotes=True
)
CONSUMER_KEYS = ("worker", "dead_letter_reader")
"""The registry's pull consumers that `local.subscriptions` wires (besides every function)."""
GC_RULES = {"max_versions"}
"""The GC rules google_bigtable_gc_policy.families maps."""

Module = dict[str, list[dict[str, Any]]]


def load(path: Path) -> dict[str, Any]:
    return _parse(path.read_text())


@functools.cache
def _parse(text: str) -> dict[str, Any]:
    """Parsed once per distinct text (the parser is slow; the copies share most files)."""
    return dict(hcl2.loads(text, serialization_options=OPTIONS))


def module(directory: Path) -> Module:
    """Every top-level block of the module's *.tf files, by kind (resource, locals, ...)."""
    merged: Module = {}
    for file in sorted(directory.glob("*.tf")):
        for kind, blocks in load(file).items():
            merged.setdefault(kind, []).extend(blocks)
    return merged


def labelled(mod: Module, kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(type, name) → body of each `resource`/`data` block."""
    return {
        (rtype, name): body
        for block in mod.get(kind, [])
        for rtype, named in block.items()
        for name, body in named.items()
    }


def local_values(mod: Module) -> dict[str, Any]:
    return {k: v for block in mod.get("locals", []) for k, v in block.items()}


def expr(value: Any) -> str:
    """An expression as text without whitespace, for comparing the pinned wiring."""
    return re.sub(r"\s+", "", str(value))


def dynamic(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    for block in body.get("dynamic", []):
        if name in block:
            return dict(block[name])
    return None


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value


# --- the checks: each returns its problems --------------------------------------------------------


def registry_policy() -> list[str]:
    """What the registry itself must say for the Terraform's wiring to cover it."""
    problems = []
    for stage in STAGES:
        data = stage_data(stage)
        for key, value in data.items():
            if isinstance(value, dict) and "subscription" in value and key not in CONSUMER_KEYS:
                problems.append(f"registry consumer {key!r} has no subscription in the Terraform")
        for family, rules in data["bigtable"]["families"].items():
            if set(rules) - GC_RULES:
                problems.append(f"GC rule of {family} not mapped: {sorted(set(rules) - GC_RULES)}")
        identities = [*(f["name"] for f in data["functions"]), "worker", "push"]
        identities += [h["name"] for h in data["http_functions"] if stage in h["stages"]]
        for name in identities:
            account = f"etl-{name.replace('_', '-')}-{stage}"
            if not 6 <= len(account) <= 30:
                problems.append(f"service account id {account!r} is not 6-30 characters")
    if any("prod" in h["stages"] for h in stage_data("prod")["http_functions"]):
        problems.append("the registry deploys an HTTP function (the simulator) in prod")
    return problems


EXPECTED_LOCALS = {
    "functions": "{for f in local.pipeline.functions : f.name => f}",
    "http_functions": (
        "{for f in local.pipeline.http_functions : f.name => f if contains(f.stages, var.stage)}"
    ),
}
SUBSCRIPTION_SOURCES = (
    "{for f in local.pipeline.functions : f.subscription => {topic = f.trigger_topic, "
    "push_to = f.name, ack_deadline_seconds = f.ack_deadline_seconds, "
    "minimum_backoff_seconds = f.minimum_backoff_seconds, "
    "maximum_backoff_seconds = f.maximum_backoff_seconds, "
    "dead_letter_topic = f.dead_letter_topic, max_delivery_attempts = f.max_delivery_attempts}}",
    f"{{for c in [{', '.join(f'local.pipeline.{k}' for k in CONSUMER_KEYS)}] : c.subscription => "
    "{topic = c.topic, push_to = null, ack_deadline_seconds = c.ack_deadline_seconds, "
    "minimum_backoff_seconds = try(c.minimum_backoff_seconds, null), "
    "maximum_backoff_seconds = try(c.maximum_backoff_seconds, null), "
    "dead_letter_topic = try(c.dead_letter_topic, null), "
    "max_delivery_attempts = try(c.max_delivery_attempts, null)}}",
)

DEPLOYED_FUNCTION_SOURCES = (
    "{for name, f in local.functions : name => {description = ",
    "timeout_seconds = f.ack_deadline_seconds, max_instances = var.function_max_instances, "
    'concurrency = f.concurrency, ingress = "ALLOW_INTERNAL_ONLY"}}',
    "{for name, f in local.http_functions : name => {description = ",
)


def wiring(root: Path) -> list[str]:
    """The locals and resources that turn the registry's data into resources, as pinned."""
    mod = module(root / "stage")
    values = local_values(mod)
    problems = [
        f"local.{name} is not {want}"
        for name, want in EXPECTED_LOCALS.items()
        if expr(values.get(name)) != expr("${" + want + "}")
    ]
    for name, sources in (
        ("subscriptions", SUBSCRIPTION_SOURCES),
        ("deployed_functions", DEPLOYED_FUNCTION_SOURCES),
    ):
        problems += [
            f"local.{name} does not take {source}"
            for source in sources
            if expr(source) not in expr(values.get(name))
        ]
    resources = labelled(mod, "resource")
    problems += _subscription_wiring(resources)
    problems += _function_wiring(resources)
    problems += _table_wiring(resources)
    return problems


SOURCES = {
    "local.pipeline.functions": ("functions",),
    "local.functions": ("functions",),
    "local.pipeline.http_functions": ("http_functions",),
    "local.http_functions": ("http_functions",),
    f"[{', '.join(f'local.pipeline.{k}' for k in CONSUMER_KEYS)}]": CONSUMER_KEYS,
}
"""What each comprehension of the locals iterates, as keys of the registry's data."""


def data_fields(root: Path) -> list[str]:
    """Every registry field the locals read (outside `try`) is in every stage's data: a field the
    registry drops or renames fails here, before any provider evaluates the module."""
    values = local_values(module(root / "stage"))
    text = re.sub(r"try\([^()]*\)", "", " ".join(str(values[k]) for k in values))
    problems = []
    for stage in STAGES:
        data = json.loads((root / "stage" / "stages" / f"{stage}.pipeline.json").read_text())
        problems += _comprehension_fields(text, data, stage)
        for path in re.findall(r"local\.pipeline((?:\.\w+)+)", text):
            node: Any = data
            for key in path.strip(".").split("."):
                node = node.get(key) if isinstance(node, dict) else None
            if node is None:
                problems.append(f"{stage}: the registry has no {path.strip('.')}")
    return problems


def _comprehension_fields(text: str, data: dict[str, Any], stage: str) -> list[str]:
    problems = []
    for segment in text.split("{for ")[1:]:
        head = re.match(r"(?:\w+, )?(\w+) in (.+?) : ", segment)
        if head is None or head.group(2) not in SOURCES:
            problems.append(f"a comprehension iterates something unknown: {segment[:60]}")
            continue
        name, entries = head.group(1), _entries(data, SOURCES[head.group(2)])
        for field in set(re.findall(rf"\b{name}\.(\w+)", segment.split("{for ")[0])):
            problems += [
                f"{stage}: {entry.get('name') or entry.get('subscription')} has no {field}"
                for entry in entries
                if field not in entry
            ]
    return problems


def _entries(data: dict[str, Any], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    found = [data[key] for key in keys]
    return found[0] if len(keys) == 1 else found


def _only(resources: dict[tuple[str, str], Any], rtype: str, names: set[str]) -> list[str]:
    found = {name for kind, name in resources if kind == rtype}
    return [] if found == names else [f"{rtype} resources are {sorted(found)}, not {sorted(names)}"]


def _subscription_wiring(resources: dict[tuple[str, str], Any]) -> list[str]:
    problems = _only(resources, "google_pubsub_subscription", {"this"})
    problems += _only(resources, "google_pubsub_topic", {"this"})
    sub = resources.get(("google_pubsub_subscription", "this"), {})
    want = {
        "for_each": "${local.subscriptions}",
        "ack_deadline_seconds": "${each.value.ack_deadline_seconds}",
    }
    problems += [f"subscription {k} is not {v}" for k, v in want.items() if sub.get(k) != v]
    retry = dynamic(sub, "retry_policy") or {}
    if "each.value.minimum_backoff_seconds" not in str(retry.get("for_each")) or retry.get(
        "content"
    ) != [
        {
            "minimum_backoff": "${retry_policy.value.minimum_backoff_seconds}s",
            "maximum_backoff": "${retry_policy.value.maximum_backoff_seconds}s",
        }
    ]:
        problems.append(f"subscription retry_policy is {retry}")
    dead = dynamic(sub, "dead_letter_policy") or {}
    content = (dead.get("content") or [{}])[0]
    if (
        "each.value.dead_letter_topic" not in str(dead.get("for_each"))
        or content.get("max_delivery_attempts")
        != "${dead_letter_policy.value.max_delivery_attempts}"
    ):
        problems.append("subscriptions lost their dead-letter policy")
    push = dynamic(sub, "push_config") or {}
    if "google_cloudfunctions2_function.this[each.value.push_to]" not in str(push) or (
        "oidc_token" not in str(push)
    ):
        problems.append("functions' subscriptions do not push to them with an OIDC token")
    return problems


def _function_wiring(resources: dict[tuple[str, str], Any]) -> list[str]:
    problems = _only(resources, "google_cloudfunctions2_function", {"this"})
    body = resources.get(("google_cloudfunctions2_function", "this"), {})
    if body.get("for_each") != "${local.deployed_functions}":
        problems.append("the function resource is not one per local.deployed_functions")
    if (body.get("build_config") or [{}])[0].get("entry_point") != "${each.key}":
        problems.append("a function's entry point is not the registry's name")
    if "event_trigger" in body:
        problems.append("the functions have an Eventarc trigger besides their push subscription")
    if (body.get("service_config") or [{}])[0].get("ingress_settings") != "${each.value.ingress}":
        problems.append("the functions' ingress is not local.deployed_functions'")
    return problems


def _table_wiring(resources: dict[tuple[str, str], Any]) -> list[str]:
    table = resources.get(("google_bigtable_table", "events"), {})
    problems = []
    if table.get("name") != "${local.pipeline.bigtable.table}":
        problems.append("the table is not the registry's")
    if expr(table.get("deletion_protection")) != expr(
        '${var.deletion_protection ? "PROTECTED" : "UNPROTECTED"}'
    ):
        problems.append("the table's deletion protection does not follow var.deletion_protection")
    families = dynamic(table, "column_family") or {}
    if families.get("for_each") != "${local.pipeline.bigtable.families}":
        problems.append("the table's column families are not the registry's")
    gc = resources.get(("google_bigtable_gc_policy", "families"), {})
    if gc.get("for_each") != "${local.pipeline.bigtable.families}" or gc.get("max_version") != [
        {"number": "${each.value.max_versions}"}
    ]:
        problems.append("the GC rules are not the registry's")
    return problems


def stage_settings(root: Path) -> list[str]:
    problems = []
    for stage in STAGES:
        settings = load(root / "stage" / "stages" / f"{stage}.tfvars")
        if settings.get("stage") != stage:
            problems.append(f"stages/{stage}.tfvars deploys stage {settings.get('stage')!r}")
        if settings.get("deletion_protection") is not (stage == "prod"):
            problems.append(f"stages/{stage}.tfvars: deletion_protection must be {stage == 'prod'}")
    worker = labelled(module(root / "stage"), "resource").get(
        ("google_cloud_run_v2_service", "worker"), {}
    )
    if worker.get("deletion_protection") != "${var.deletion_protection}":
        problems.append("the worker's deletion protection does not follow var.deletion_protection")
    if worker.get("ingress") != "INGRESS_TRAFFIC_INTERNAL_ONLY":
        problems.append("the worker's service accepts traffic from outside the project")
    instance = labelled(module(root / "project"), "resource").get(
        ("google_bigtable_instance", "shared"), {}
    )
    if instance.get("deletion_protection") is not True:
        problems.append("the shared Bigtable instance (prod's data) is not protected")
    return problems


def nothing_public(root: Path) -> list[str]:
    problems = []
    for directory in ("stage", "project"):
        resources = labelled(module(root / directory), "resource")
        for (rtype, name), body in resources.items():
            if re.search(r"_iam_(binding|policy)$", rtype):
                problems.append(f"{rtype}.{name}: authoritative IAM replaces others' grants")
            if any(p in s for s in strings(body) for p in PUBLIC):
                problems.append(f"{rtype}.{name} grants to the public")
            if body.get("invoker_iam_disabled") not in (None, False):
                problems.append(f"{rtype}.{name} lets anyone invoke it")
        bucket = resources.get(("google_storage_bucket", "source"))
        if bucket is not None and bucket.get("public_access_prevention") != "enforced":
            problems.append("the source bucket does not enforce public access prevention")
    return problems


def one_provider(root: Path) -> list[str]:
    problems = []
    for directory in ("stage", "project"):
        mod = module(root / directory)
        required = {
            name
            for block in mod.get("terraform", [])
            for p in block.get("required_providers", [])
            for name in p
        }
        providers = {name for block in mod.get("provider", []) for name in block}
        types = {t for kind in ("resource", "data") for t, _ in labelled(mod, kind)}
        if required != {"google"} or not providers <= {"google"}:
            problems.append(f"{directory}: providers {sorted(required | providers)}, not google")
        problems += [
            f"{directory}: {t} is not Google's" for t in types if not t.startswith("google_")
        ]
    return problems


def shared_instance(root: Path) -> list[str]:
    default = next(
        block["bigtable_instance"]["default"]
        for block in module(root / "project")["variable"]
        if "bigtable_instance" in block
    )
    wanted = {stage_data(stage)["bigtable"]["instance"] for stage in STAGES}
    return [] if wanted == {default} else [f"project instance {default} is not the registry's"]


CHECKS: tuple[Callable[[Path], list[str]], ...] = (
    wiring,
    data_fields,
    stage_settings,
    nothing_public,
    one_provider,
    shared_instance,
)


def problems(root: Path) -> list[str]:
    return [problem for check in CHECKS for problem in check(root)]


# --- the tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_the_terraform_is_the_registry_and_nothing_public(
    check: Callable[[Path], list[str]],
) -> None:
    assert check(TERRAFORM) == []


def test_the_registry_is_within_what_the_terraform_maps() -> None:
    assert registry_policy() == []


def test_prod_has_no_http_function_and_dev_has_the_simulator() -> None:
    prod, dev = stage_data("prod"), stage_data("dev")
    assert [h["name"] for h in prod["http_functions"] if "prod" in h["stages"]] == []
    assert [h["name"] for h in dev["http_functions"] if "dev" in h["stages"]] != []


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A copy of deploy/terraform to break."""
    return Path(shutil.copytree(TERRAFORM, tmp_path / "terraform"))


def _replace(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, f"mutation target not found: {old!r}"
        return text.replace(old, new)

    return edit


MUTATIONS: dict[str, tuple[str, str, Callable[[str], str]]] = {
    # name: (what the checks must report, file of the copy, edit)
    "a function filtered out": (
        "local.functions is not",
        "stage/main.tf",
        _replace("f.name => f }", 'f.name => f if f.name != "daily_peak" }'),
    ),
    "the worker's subscription dropped": (
        "local.subscriptions does not take",
        "stage/main.tf",
        _replace(
            "[local.pipeline.worker, local.pipeline.dead_letter_reader]",
            "[local.pipeline.dead_letter_reader]",
        ),
    ),
    "a field the registry dropped": (
        "dev: deadletter-reader-dev has no minimum_backoff_seconds",
        "stage/main.tf",
        _replace(
            "minimum_backoff_seconds = try(c.minimum_backoff_seconds, null)",
            "minimum_backoff_seconds = c.minimum_backoff_seconds",
        ),
    ),
    "the dead-letter policy removed": (
        "lost their dead-letter policy",
        "stage/pubsub.tf",
        _replace('dynamic "dead_letter_policy"', 'dynamic "dead_letter_policy_gone"'),
    ),
    "the backoff hard-coded": (
        "subscription retry_policy is",
        "stage/pubsub.tf",
        _replace('"${retry_policy.value.maximum_backoff_seconds}s"', '"600s"'),
    ),
    "the ack deadline hard-coded": (
        "subscription ack_deadline_seconds is not",
        "stage/pubsub.tf",
        _replace(
            "ack_deadline_seconds = each.value.ack_deadline_seconds", "ack_deadline_seconds = 10"
        ),
    ),
    "prod gains the simulator through the filter": (
        "local.http_functions is not",
        "stage/main.tf",
        _replace(" if contains(f.stages, var.stage)", ""),
    ),
    "a hand-written simulator": (
        "google_cloudfunctions2_function resources are",
        "stage/functions.tf",
        lambda text: text + '\nresource "google_cloudfunctions2_function" "simulator" {\n}\n',
    ),
    "prod unprotected": (
        "prod.tfvars: deletion_protection must be True",
        "stage/stages/prod.tfvars",
        _replace("deletion_protection  = true", "deletion_protection  = false"),
    ),
    "Pub/Sub functions opened to all traffic": (
        "local.deployed_functions does not take",
        "stage/main.tf",
        _replace('ingress         = "ALLOW_INTERNAL_ONLY"', 'ingress         = "ALLOW_ALL"'),
    ),
    "a public invoker": (
        "grants to the public",
        "stage/iam.tf",
        _replace("member   = google_service_account.push.member", 'member   = "allUsers"'),
    ),
    "a second provider": (
        "stage: providers ['archive', 'google']",
        "stage/versions.tf",
        _replace(
            "  required_providers {",
            '  required_providers {\n    archive = { source = "hashicorp/archive" }',
        ),
    ),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_each_check_fails_on_a_broken_copy(copy: Path, mutation: str) -> None:
    expected, relative, edit = MUTATIONS[mutation]
    target = copy / relative
    target.write_text(edit(target.read_text()))
    found = problems(copy)
    assert any(expected in problem for problem in found), found
