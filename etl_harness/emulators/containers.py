"""Our emulator images as throwaway containers (testcontainers), for `--etl-emulators=docker`.

The images are the ones `docker compose build` makes from `emulators/`; build them first.
Readiness is the same real RPC as for the native binaries, not a log line. The containers read
etl.toml (mounted read-only) with `--seed`, like the compose stack, and the Pub/Sub one serves its
admin API.

Nothing outlives a killed run. testcontainers' reaper (Ryuk) is on, as testcontainers ships it:
it removes the containers once the process that started them is gone, however it ended
(`TESTCONTAINERS_RYUK_DISABLED=true` turns it off; its image must be present or pullable). Each
container also carries its owner's pid and start time in a label, and every start first removes
the containers whose owner no longer runs: with the reaper off, a `kill -9`'d run's containers go
at the next start.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import warnings
from collections.abc import Iterator
from typing import Any

from etl_harness.emulators.native import ADMIN_PORT, identity, wait_ready
from etl_harness.emulators.pair import ADMIN_ENV, BIGTABLE, PUBSUB, EmulatorError, Hosts
from etl_harness.etl_toml import find, load
from etl_harness.local import Local

SEED_IN_CONTAINER = "/etc/etl/etl.toml"
OWNER_LABEL = "org.etl-pipeline.owner"
"""`<pid>:<create time>` of the process that started the container."""


def owner_label(pid: int | None = None) -> str:
    """This process's (or `pid`'s) value for `OWNER_LABEL`."""
    pid = os.getpid() if pid is None else pid
    found = identity(pid)
    if found is None:
        raise EmulatorError(f"process {pid} is not running")
    return f"{pid}:{found[1]!r}"


def owner_alive(label: str) -> bool:
    """Whether the process a label names still runs (same pid, same start time). A value this
    module did not write counts as alive: what cannot be judged is left alone."""
    written = re.fullmatch(r"([0-9]+):([0-9]+\.[0-9]+)", label)
    if written is None:
        return True
    wanted = (int(written[1]), float(written[2]))
    found = identity(wanted[0])
    return found is not None and found[1] == wanted[1]


@contextlib.contextmanager
def docker_client() -> Iterator[Any]:
    """docker-py's client from the environment (DOCKER_HOST, else the local socket), closed after
    the block; `EmulatorError` when no daemon answers."""
    import docker

    with warnings.catch_warnings():
        # docker-py leaves a failed connect's socket open (docker/docker-py#3356): collected here,
        # quietly, instead of surfacing as a ResourceWarning in whatever code runs next.
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            client = docker.from_env()
        except docker.errors.DockerException as exc:
            reason = str(exc)
        else:
            reason = ""
        gc.collect()
    if reason:
        raise EmulatorError(f"no Docker daemon answers: {reason}")
    try:
        yield client
    finally:
        client.close()


def sweep_orphans(client: Any) -> list[str]:
    """Remove the containers of ours whose owner no longer runs; their names."""
    removed = []
    for container in client.containers.list(all=True, filters={"label": OWNER_LABEL}):
        if not owner_alive(container.labels.get(OWNER_LABEL, "")):
            container.remove(force=True)
            removed.append(container.name)
    return removed


def ensure_reaper(client: Any, config: Any) -> None:
    """Ryuk's image present (pulled if need be) unless the reaper is off; else one clear error."""
    if config.ryuk_disabled:
        return
    import docker.errors

    try:
        client.images.get(config.ryuk_image)
    except docker.errors.ImageNotFound:
        try:
            client.images.pull(config.ryuk_image)
        except docker.errors.APIError as exc:
            raise EmulatorError(
                f"testcontainers' reaper image {config.ryuk_image} is not here and cannot be "
                f"pulled ({exc.explanation or exc}): pull it, point RYUK_CONTAINER_IMAGE at a "
                "copy, or set TESTCONTAINERS_RYUK_DISABLED=true (a killed run's containers are "
                "then removed at the next start)"
            ) from None


@contextlib.contextmanager
def emulator_containers(local: Local) -> Iterator[Hosts]:
    """Both emulators in containers on random host ports, for the block."""
    from testcontainers.core.config import testcontainers_config
    from testcontainers.core.container import DockerContainer

    with docker_client() as client:
        sweep_orphans(client)
        ensure_reaper(client, testcontainers_config)
    owner = owner_label()
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
                .with_kwargs(labels={OWNER_LABEL: owner})
            )
            if kind is PUBSUB:  # push to http://localhost:PORT/... reaches the Docker host
                command += f" --push-localhost-alias=host.docker.internal --admin-port={ADMIN_PORT}"
                container = container.with_exposed_ports(ADMIN_PORT).with_kwargs(
                    labels={OWNER_LABEL: owner},
                    extra_hosts={"host.docker.internal": "host-gateway"},
                )
            container = container.with_command(command)
            stack.enter_context(container)
            address = _address(container, kind.default_port)
            wait_ready(kind, address, alive=lambda: True, timeout=60)
            env[kind.env_var] = address
            if kind is PUBSUB:
                env[ADMIN_ENV] = _address(container, ADMIN_PORT)
        yield Hosts(env[PUBSUB.env_var], env[BIGTABLE.env_var], "docker", env.get(ADMIN_ENV))


def _address(container: object, inner_port: int) -> str:
    host = container.get_container_host_ip()  # type: ignore[attr-defined]
    port = container.get_exposed_port(inner_port)  # type: ignore[attr-defined]
    return f"{host}:{port}"
