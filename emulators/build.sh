#!/usr/bin/env bash
# Builds the emulator binaries into emulators/bin/ as static Linux executables:
#   bin/pubsub-emulator    Pub/Sub (pstest) with push delivery, seeding, admin API (./cmd/pubsub-emulator)
#   bin/bigtable-emulator  Bigtable (bttest, as in cbtemulator) with seeding, health (./cmd/bigtable-emulator)
#   bin/healthcheck        gRPC health probe for FROM-scratch images (./cmd/healthcheck)
#
# Idempotent: when the Go toolchain, go.mod/go.sum, the Go sources and the
# target platform are unchanged since the last build, it does nothing.
# Environment: GO (go binary; default: go on PATH, else /usr/local/go/bin/go),
# GOOS/GOARCH (default: the host's), FORCE=1 to rebuild anyway.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
if [[ ! -x $GO ]]; then
  echo "build.sh: no Go toolchain found (install Go 1.26+ or set GO=/path/to/go)" >&2
  exit 1
fi

export CGO_ENABLED=0
flags=(-trimpath -ldflags "-s -w")
targets=(
  "pubsub-emulator=./cmd/pubsub-emulator"
  "bigtable-emulator=./cmd/bigtable-emulator"
  "healthcheck=./cmd/healthcheck"
)

# Everything the binaries depend on, hashed: skip the build when it matches.
stamp=$(
  {
    "$GO" version
    "$GO" env GOOS GOARCH
    echo "${flags[*]} ${targets[*]}"
    cat go.mod go.sum
    find cmd internal third_party -name '*.go' ! -name '*_test.go' -print0 | sort -z | xargs -0 cat
  } | sha256sum | cut -d' ' -f1
)
if [[ ${FORCE:-} != 1 && -f bin/.stamp && $(<bin/.stamp) == "$stamp" ]]; then
  all_present=1
  for t in "${targets[@]}"; do [[ -x bin/${t%%=*} ]] || all_present=0; done
  if ((all_present)); then
    echo "build.sh: emulators/bin is up to date"
    exit 0
  fi
fi

mkdir -p bin
rm -f bin/.stamp
for t in "${targets[@]}"; do
  name=${t%%=*} pkg=${t#*=}
  "$GO" build "${flags[@]}" -o "bin/$name" "$pkg"
  echo "build.sh: built emulators/bin/$name ($(du -h "bin/$name" | cut -f1))"
done
echo "$stamp" >bin/.stamp
