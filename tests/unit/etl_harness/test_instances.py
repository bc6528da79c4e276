"""What `etl serve` hands an instance it starts: its own configuration, as a value."""

from __future__ import annotations

from pathlib import Path

from etl.config import Settings
from etl.entrypoints.worker import WorkerOptions
from etl_harness.instances import Spec
from etl_harness.local import Local
from etl_harness.push_auth import Requirement


def test_an_instance_gets_exactly_the_configuration_and_descriptors_serve_runs_with() -> None:
    local = Local(
        settings=Settings(
            project="p-1",
            stage="test",
            instance="inst",
            pubsub_emulator_host="127.0.0.1:1",
            bigtable_emulator_host="127.0.0.1:2",
            functions_host="0.0.0.0",
            pubsub_admin_host=None,
            ledger_horizon_hours=5,
        ),
        state_dir=Path("/tmp/state"),
        etl_toml="/tmp/etl.toml",
        emulators_bin=None,
    )
    required = {
        "a": Requirement("http://localhost:5", "push@p.iam.gserviceaccount.com", "http://c")
    }
    functions = Spec(local, "fanout", lifeline=3, ready=4, sockets={"a": 5}, push_auth=required)
    worker = Spec(local, "worker", 3, 4, worker=WorkerOptions(pull="streaming", batch_size=7))
    assert Spec.from_json(functions.to_json()) == functions
    assert Spec.from_json(worker.to_json()) == worker
