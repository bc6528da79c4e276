"""Our emulator images as throwaway containers (testcontainers), for `--emulators=docker`.

The images are the ones `docker compose build` makes from `emulators/`; build them first.
Readiness is the same real RPC as for the native binaries, not a log line. The containers read
etl.toml (mounted read-only) with `--seed`, like the compose stack, and the Pub/Sub one serves its
admin API.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from etl_harness.emulators.native import ADMIN_ENV, ADMIN_PORT, BIGTABLE, PUBSUB, Hosts, wait_ready
from etl_harness.local import Local
from etl_harness.etl_toml import find, load

SEED_IN_CONTAINER = "/etc/etl/etl.toml"

@contextlib.contextmanager
def emulator_containers(local: Local) -> Iterator[Hosts]:
    """Both emulators in containers on random host ports, for the block."""
    from testcontainers.core.config import testcontainers_config
    from testcontainers.core.container import DockerContainer

    # Ryuk (the reaper) is an image pull; the `with` blocks below already remove the containers.
    testcontainers_config.ryuk_disabled = True
    images = {PUBSUB.name: local.pubsub_image, BIGTABLE.name: local.bigtable_image}
    seed = find(local.etl_toml)
    load(seed)  # a bad file fails here, with its line, not inside a container
    project = local.settings.project
    with contextlib.ExitStack() as stack:
        env: dict[str, str] = {}
        for kind in (PUBSUB, BIGTABLE):
            command = (
                f"--host=0.0.0.0 --port={kind.default_port} "
                f"--seed={SEED_IN_CONTAINER} --project={project}"
            )
            container = (
                DockerContainer(images[kind.name])
                .with_exposed_ports(kind.default_port)
                .with_volume_mapping(str(seed.resolve()), SEED_IN_CONTAINER, "ro")
            )
            if kind is PUBSUB:  # push to http://localhost:PORT/... reaches the Docker host
                command += f" --push-localhost-alias=host.docker.internal --admin-port={ADMIN_PORT}"
                container = container.with_exposed_ports(ADMIN_PORT).with_kwargs(
                    extra_hosts={"host.docker.internal": "host-gateway"}
                )
            container = container.with_command(command)
            stack.enter_context(container)
            address = _address(container, kind.default_port)
            wait_ready(kind, address, alive=lambda: True, timeout=60)
            env[kind.env_var] = address
            if kind is PUBSUB:
                env[ADMIN_ENV] = _address(container, ADMIN_PORT)
        yield Hosts(
            env[PUBSUB.env_var], env[BIGTABLE.env_var], "docker", env.get(ADMIN_ENV)
        )


def _address(container: object, inner_port: int) -> str:
    host = container.get_container_host_ip()  # type: ignore[attr-defined]
    port = container.get_exposed_port(inner_port)  # type: ignore[attr-defined]
    return f"{host}:{port}"
