"""Our emulator images as throwaway containers (testcontainers), for `--emulators=docker`.

The images are the ones `docker compose build` makes from `emulators/`; build them first.
Readiness is the same real RPC as for the native binaries, not a log line.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from etl.emulators import BIGTABLE, PUBSUB, Kind, wait_ready

IMAGES = {
    PUBSUB.name: os.environ.get("ETL_PUBSUB_IMAGE", "etl-pipeline/pubsub-emulator:local"),
    BIGTABLE.name: os.environ.get("ETL_BIGTABLE_IMAGE", "etl-pipeline/bigtable-emulator:local"),
}


@contextlib.contextmanager
def emulator_containers() -> Iterator[dict[str, str]]:
    """Both emulators in containers on random host ports; yields the `*_EMULATOR_HOST` values."""
    # Ryuk (the reaper) is an image pull; the `with` blocks below already remove the containers.
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    from testcontainers.core.container import DockerContainer

    with contextlib.ExitStack() as stack:
        env: dict[str, str] = {}
        for kind in (PUBSUB, BIGTABLE):
            command = f"--host=0.0.0.0 --port={kind.default_port}"
            container = DockerContainer(IMAGES[kind.name]).with_exposed_ports(kind.default_port)
            if kind is PUBSUB:  # push to http://localhost:PORT/... reaches the Docker host
                command += " --push-localhost-alias=host.docker.internal"
                container = container.with_kwargs(
                    extra_hosts={"host.docker.internal": "host-gateway"}
                )
            container = container.with_command(command)
            stack.enter_context(container)
            address = _address(container, kind)
            wait_ready(kind, address, alive=lambda: True, timeout=60)
            env[kind.env_var] = address
        yield env


def _address(container: object, kind: Kind) -> str:
    host = container.get_container_host_ip()  # type: ignore[attr-defined]
    port = container.get_exposed_port(kind.default_port)  # type: ignore[attr-defined]
    return f"{host}:{port}"
