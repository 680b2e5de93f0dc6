#!/usr/bin/env bash
# `./tern k8s-check`: the Helm chart on a real Kubernetes API server, without Docker. Builds etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from the Go module proxy (this
# folder's go.mod pins them) and kwok, once, into .tools/k8s/; starts them on loopback with fake nodes; installs
# KEDA's CRDs (from KEDA's module); then for the two-lane example values:
#   1. `helm install --dry-run=server`: every object, hooks included, accepted by the API server (with KEDA's
#      ScaledObject and TriggerAuthentication schemas, and again without KEDA: the CPU HPA fallback);
#   2. `helm install` (hooks left out: the topics Job needs a real Kafka) and waits until every Deployment's
#      pods are scheduled on the fake nodes and reported running by kwok;
#   3. `helm upgrade` to marketing in Deployments of its own (examples/marketing-apart.yaml), and waits again.
# Both namespaces enforce the restricted Pod Security Standard, so a pod that could run as root or escalate
# is refused by the API server itself.
# The control plane is stopped at the end; its data and logs stay in .local/k8s-check/.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
# shellcheck source=scripts/toolchain.sh
source "$root/scripts/toolchain.sh"
here=$root/tools/k8s/cluster
bin=$root/.tools/k8s
work=$root/.local/k8s-check
chart=$root/deploy/helm/tern
values=$chart/examples/two-lanes.yaml
KWOK_VERSION=v0.8.0
KEDA_VERSION=v2.21.0
etcd_port=23790
api_port=26443

log() { printf '[k8s-check] %s\n' "$*" >&2; }
go_cmd=$(command -v go || echo /usr/local/go/bin/go)

build() {
  local stamp
  stamp="$(sha1sum "$here/go.mod" "$0" | sha1sum | cut -c1-12)"
  if [ "$(cat "$bin/.stamp" 2>/dev/null)" = "$stamp" ]; then return; fi
  log "building the control plane from the Go module proxy into .tools/k8s (about 8 minutes the first time)"
  local started=$SECONDS
  mkdir -p "$bin"
  (
    cd "$here"
    # The version a release build stamps in: clients (helm's kubeVersion check among them) read it.
    local version=v1.34.4 stamped=()
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      stamped+=("-X $pkg.gitVersion=$version" "-X $pkg.gitMajor=1" "-X $pkg.gitMinor=34")
    done
    "$go_cmd" build -ldflags "${stamped[*]}" -o "$bin/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
    "$go_cmd" build -o "$bin/etcd" go.etcd.io/etcd/server/v3
  )
  GOBIN=$bin "$go_cmd" install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  echo "$stamp" >"$bin/.stamp"
  log "built in $((SECONDS - started)) s"
}

pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all EXIT

start() {
  local name=$1
  shift
  "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
}

wait_for() {
  local what=$1 seconds=$2
  shift 2
  for _ in $(seq "$seconds"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  log "timed out waiting for $what"
  return 1
}

start_control_plane() {
  rm -rf "$work" && mkdir -p "$work/certs"
  openssl genrsa -out "$work/sa.key" 2048 2>/dev/null
  openssl rsa -in "$work/sa.key" -pubout -out "$work/sa.pub" 2>/dev/null
  local token
  token=$(openssl rand -hex 16)
  echo "$token,admin,admin,system:masters" >"$work/tokens.csv"
  cat >"$work/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{ name: local, cluster: { server: 'https://127.0.0.1:$api_port', insecure-skip-tls-verify: true } }]
users: [{ name: admin, user: { token: '$token' } }]
contexts: [{ name: local, context: { cluster: local, user: admin } }]
current-context: local
EOF
  export KUBECONFIG=$work/kubeconfig
  start etcd "$bin/etcd" --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" --listen-peer-urls http://127.0.0.1:23800 \
    --initial-advertise-peer-urls http://127.0.0.1:23800 --initial-cluster default=http://127.0.0.1:23800
  start kube-apiserver "$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --secure-port "$api_port" --cert-dir "$work/certs" \
    --token-auth-file "$work/tokens.csv" --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$work/sa.pub" \
    --service-account-signing-key-file "$work/sa.key" --service-cluster-ip-range 10.96.0.0/16
  wait_for "the API server" 90 "$bin/kubectl" get --raw /readyz
  start kube-controller-manager "$bin/kube-controller-manager" --kubeconfig "$KUBECONFIG" \
    --leader-elect=false --service-account-private-key-file "$work/sa.key" --use-service-account-credentials=false \
    --controllers '*,-csrsigning,-nodeipam' --secure-port 0
  start kube-scheduler "$bin/kube-scheduler" --kubeconfig "$KUBECONFIG" --leader-elect=false --secure-port 0
  # kwok's own stages: nodes become Ready and stay so, pods on them become Running and Ready.
  local stages
  stages=$("$go_cmd" mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')/kustomize/stage
  for f in node/fast/node-initialize node/heartbeat/node-heartbeat pod/fast/pod-ready pod/fast/pod-complete \
    pod/fast/pod-delete; do
    cat "$stages/$f.yaml"
    echo ---
  done >"$work/kwok-stages.yaml"
  start kwok "$bin/kwok" --kubeconfig "$KUBECONFIG" --config "$work/kwok-stages.yaml" --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake --server-address 127.0.0.1:0
  log "control plane up: $("$bin/kubectl" version -o json | grep -m1 gitVersion | tr -d ' ",')"
}

fake_nodes() {
  for i in 1 2 3; do
    "$bin/kubectl" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: fake-$i
  annotations: { kwok.x-k8s.io/node: fake }
  labels: { type: kwok, kubernetes.io/hostname: fake-$i }
spec: {}
status:
  allocatable: { cpu: '8', memory: 32Gi, pods: '110' }
  capacity: { cpu: '8', memory: 32Gi, pods: '110' }
EOF
  done
  wait_for "kwok to report the nodes ready" 60 sh -c \
    "[ \"\$('$bin/kubectl' get nodes -o jsonpath='{.items[*].status.conditions[?(@.type==\"Ready\")].status}')\" = 'True True True' ]"
}

keda_crds() {
  local dir
  dir=$(cd "$here" && "$go_cmd" mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  "$bin/kubectl" apply --server-side -f "$dir/config/crd/bases/keda.sh_scaledobjects.yaml" \
    -f "$dir/config/crd/bases/keda.sh_triggerauthentications.yaml" >/dev/null
  "$bin/kubectl" wait --for condition=established --timeout 60s crd/scaledobjects.keda.sh crd/triggerauthentications.keda.sh >/dev/null
  log "KEDA $KEDA_VERSION CRDs installed"
}

# The Secrets an operator makes before installing (the example names them): the brokers' CA and the gRPC
# certificate.
operator_secrets() {
  local ns=$1
  "$bin/kubectl" create namespace "$ns" >/dev/null
  # The API server refuses any pod short of the restricted Pod Security Standard in these namespaces.
  "$bin/kubectl" label namespace "$ns" pod-security.kubernetes.io/enforce=restricted >/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/grpc.key" -out "$work/grpc.crt" -days 1 \
    -subj /CN=tern-ingest 2>/dev/null
  "$bin/kubectl" -n "$ns" create secret tls tern-grpc-tls --cert "$work/grpc.crt" --key "$work/grpc.key" >/dev/null
  "$bin/kubectl" -n "$ns" create secret generic kafka-ca --from-file ca.crt="$work/grpc.crt" >/dev/null
}

check() {
  local started=$SECONDS
  operator_secrets tern
  log "helm install --dry-run=server (KEDA present)"
  helm install tern "$chart" -n tern -f "$values" --dry-run=server >"$work/dry-run.yaml"
  grep -q '^kind: ScaledObject' "$work/dry-run.yaml" || { log "no ScaledObject rendered with KEDA present"; exit 1; }
  operator_secrets tern-hpa
  log "helm install --dry-run=server (autoscaling.mode=hpa)"
  helm install tern "$chart" -n tern-hpa -f "$values" --set autoscaling.mode=hpa --dry-run=server \
    >"$work/dry-run-hpa.yaml"
  grep -q '^kind: HorizontalPodAutoscaler' "$work/dry-run-hpa.yaml" || { log "no HPA rendered"; exit 1; }

  log "helm install (without hooks: the topics Job needs a real Kafka)"
  helm install tern "$chart" -n tern -f "$values" --no-hooks >/dev/null
  rolled_out
  log "helm upgrade with marketing in Deployments of its own (examples/marketing-apart.yaml)"
  helm upgrade tern "$chart" -n tern -f "$values" -f "$chart/examples/marketing-apart.yaml" --no-hooks >/dev/null
  rolled_out
  local bulk
  bulk=$("$bin/kubectl" -n tern get deployments -o name | grep -c -- '-bulk$' || true)
  [ "$bulk" = 5 ] || { log "$bulk -bulk Deployments, not 5 (risk, router, a connector per lane)"; exit 1; }
  "$bin/kubectl" -n tern get scaledobjects.keda.sh,triggerauthentications.keda.sh,pdb,services >&2
  log "passed in $((SECONDS - started)) s"
}

# Every Deployment of the release rolled out, its pods scheduled on the fake nodes and running.
rolled_out() {
  local deployments
  deployments=$("$bin/kubectl" -n tern get deployments -o name)
  for d in $deployments; do
    "$bin/kubectl" -n tern rollout status "$d" --timeout 180s >/dev/null
  done
  log "every Deployment rolled out: $(echo "$deployments" | wc -l) Deployments, pods on the fake nodes:"
  "$bin/kubectl" -n tern get pods -o custom-columns=POD:.metadata.name,NODE:.spec.nodeName,PHASE:.status.phase >&2
  local unscheduled
  unscheduled=$("$bin/kubectl" -n tern get pods -o jsonpath='{range .items[?(@.status.phase!="Running")]}{.metadata.name} {end}')
  [ -z "$unscheduled" ] || { log "pods not running: $unscheduled"; exit 1; }
}

build
start_control_plane
fake_nodes
keda_crds
check
