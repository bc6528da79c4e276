#!/usr/bin/env bash
# Makes `docker` and `docker compose` (v2) usable on a fresh Debian/Ubuntu
# machine, non-interactively, as root (CI). Safe to run again: each step is
# skipped when already done.
#   1. installs the distribution's engine (apt package docker.io) if dockerd is missing;
#   2. starts dockerd (systemd when it runs, else in the background, logging to
#      /var/log/dockerd.log) and waits until `docker info` answers;
#   3. if `docker compose` is missing (Debian 12 ships only docker-compose v1),
#      builds the v2 CLI plugin with Go from emulators/tools/compose (a pinned
#      github.com/docker/compose/v2 release whose client negotiates down to the
#      Debian daemon's API 1.41) and installs it to
#      ${DOCKER_CONFIG:-~/.docker}/cli-plugins/docker-compose.
#      Without Go, or if that build fails, falls back to Debian's docker-compose v1.
# Environment: GO (go binary), DOCKER_WAIT_SECONDS (default 60).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export DEBIAN_FRONTEND=noninteractive
log() { echo "install-docker: $*" >&2; }

as_root() {
  if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi
}

install_engine() {
  if command -v dockerd >/dev/null; then
    return
  fi
  log "installing docker.io with apt"
  as_root apt-get update -q
  as_root apt-get install -y -q docker.io
}

start_daemon() {
  if docker info >/dev/null 2>&1; then
    return
  fi
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
    log "starting docker with systemctl"
    as_root systemctl start docker
  elif ! pgrep -x dockerd >/dev/null; then
    log "starting dockerd in the background (log: /var/log/dockerd.log)"
    as_root sh -c 'nohup dockerd >/var/log/dockerd.log 2>&1 &'
  fi
  local deadline=$((SECONDS + ${DOCKER_WAIT_SECONDS:-60}))
  until docker info >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      log "docker did not answer within ${DOCKER_WAIT_SECONDS:-60}s; tail of /var/log/dockerd.log:"
      tail -n 20 /var/log/dockerd.log >&2 || true
      exit 1
    fi
    sleep 0.5
  done
}

# compose_version prints the docker/compose/v2 version pinned in tools/compose.
compose_version() {
  awk '$1 == "github.com/docker/compose/v2" { print $2 }' "$here/tools/compose/go.mod"
}

install_compose_plugin() {
  if docker compose version >/dev/null 2>&1; then
    return
  fi
  local go=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
  local version plugins
  version=$(compose_version)
  plugins=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
  if [[ -x $go ]]; then
    log "building docker compose $version from its Go module (a few minutes on a cold cache)"
    mkdir -p "$plugins"
    if (cd "$here/tools/compose" && CGO_ENABLED=0 "$go" build -trimpath \
      -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$version" \
      -o "$plugins/docker-compose" github.com/docker/compose/v2/cmd); then
      return
    fi
    log "building docker compose failed"
  else
    log "no Go toolchain (set GO=/path/to/go) to build docker compose v2"
  fi
  log "falling back to Debian's docker-compose v1: use 'docker-compose', not 'docker compose'"
  as_root apt-get install -y -q docker-compose
}

install_engine
start_daemon
install_compose_plugin
docker version --format 'install-docker: client {{.Client.Version}} (API {{.Client.APIVersion}}), daemon {{.Server.Version}} (API {{.Server.APIVersion}})' >&2
docker compose version >&2 2>/dev/null || docker-compose version >&2
