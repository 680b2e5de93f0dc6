#!/usr/bin/env bash
# A local three-node Kafka cluster (KRaft, each node broker and controller), beside the single broker of
# infra.sh, for what needs replication: topics with three replicas and min.insync.replicas 2, and brokers that
# can be stopped one at a time while traffic flows (`./tern drill scale-out`). Data under
# $TERN_DATA_DIR/kafka-cluster/<node>.
#
#   deploy/local/kafka-cluster.sh up           start the nodes not running yet, wait until the cluster serves
#   deploy/local/kafka-cluster.sh down         stop every node (their data stays)
#   deploy/local/kafka-cluster.sh stop|kill N  stop node N (1-3) (kill: SIGKILL, a crash); `up` starts it again
#   deploy/local/kafka-cluster.sh env          TERN_KAFKA_CLUSTER_BROKERS, the three bootstrap servers
#   deploy/local/kafka-cluster.sh status       one line per node
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
data=${TERN_DATA_DIR:-$root/.local}
dir=$data/kafka-cluster
nodes=(1 2 3)
port() { echo $((19190 + $1)); }
controller_port() { echo $((19290 + $1)); }
voters=$(for n in "${nodes[@]}"; do printf '%s@127.0.0.1:%s,' "$n" "$(controller_port "$n")"; done)
voters=${voters%,}
brokers=$(for n in "${nodes[@]}"; do printf '127.0.0.1:%s,' "$(port "$n")"; done)
brokers=${brokers%,}

log() { printf '[kafka-cluster] %s\n' "$*" >&2; }
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# The JVM's options for node $1, in `opts`: a small heap each, three nodes share the machine with the rest.
jvm_opts() {
  opts=(-Xms128m "-Xmx${TERN_KAFKA_CLUSTER_HEAP:-384m}" -XX:+UseG1GC -Djava.awt.headless=true
    "-Dkafka.logs.dir=$dir/$1/log" "-Dlog4j2.configurationFile=$data/kafka/log4j2.properties"
    -cp "$data/kafka/libs/*")
}

node_up() {
  local n=$1 d=$dir/$1
  if pid_alive "$d/kafka.pid"; then return; fi
  [ -d "$data/kafka/libs" ] || { log "no Kafka jars in $data/kafka/libs: run scripts/setup.sh"; return 1; }
  [ -f "$data/kafka/log4j2.properties" ] || cp "$here/kafka/log4j2.properties" "$data/kafka/log4j2.properties"
  mkdir -p "$d/log" "$d/data"
  sed -e "s#@NODE@#$n#g" -e "s#@PORT@#$(port "$n")#g" -e "s#@CONTROLLER_PORT@#$(controller_port "$n")#g" \
    -e "s#@VOTERS@#$voters#g" -e "s#@DATA@#$d#g" "$here/kafka-cluster/server.properties" >"$d/server.properties"
  local opts
  jvm_opts "$n"
  if [ ! -f "$d/data/meta.properties" ]; then
    [ -f "$dir/cluster.id" ] || java "${opts[@]}" kafka.tools.StorageTool random-uuid >"$dir/cluster.id"
    java "${opts[@]}" kafka.tools.StorageTool format -t "$(cat "$dir/cluster.id")" -c "$d/server.properties" \
      >"$d/log/format.log" 2>&1
  fi
  log "starting node $n on 127.0.0.1:$(port "$n")"
  # java itself in the background (not a function's subshell), so its pid is the one stop and kill signal.
  java "${opts[@]}" kafka.Kafka "$d/server.properties" >"$d/log/stdout.log" 2>&1 &
  echo $! >"$d/kafka.pid"
}

# Signals the nodes given, waits for them to end, and kills any still there after 30 s (a node whose peers are
# gone cannot finish a controlled shutdown: it waits for a quorum).
nodes_stop() { # signal node...
  local signal=$1 pids=()
  shift
  for n in "$@"; do
    pid_alive "$dir/$n/kafka.pid" || continue
    pids+=("$(cat "$dir/$n/kafka.pid")")
    kill "-$signal" "${pids[-1]}" 2>/dev/null || true
  done
  for _ in $(seq 60); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.5
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for n in "$@"; do rm -f "$dir/$n/kafka.pid"; done
}

# The cluster serves once every node has started and a client sees three brokers.
serving() {
  for n in "${nodes[@]}"; do
    port_open "$(port "$n")" && grep -q "Kafka Server started" "$dir/$n/log/server.log" 2>/dev/null || return 1
  done
}

cmd=${1:-}
case "$cmd" in
up)
  mkdir -p "$dir"
  for n in "${nodes[@]}"; do node_up "$n"; done
  for _ in $(seq 180); do serving && break; sleep 0.5; done
  serving || { log "the cluster did not start; logs in $dir/*/log"; exit 1; }
  log "ready: $brokers"
  ;;
down) nodes_stop TERM "${nodes[@]}" ;;
stop | kill)
  n=${2:?node 1-3}
  nodes_stop "$([ "$cmd" = kill ] && echo KILL || echo TERM)" "$n"
  log "node $n stopped ($cmd)"
  ;;
env) echo "export TERN_KAFKA_CLUSTER_BROKERS=$brokers" ;;
status)
  for n in "${nodes[@]}"; do
    if pid_alive "$dir/$n/kafka.pid"; then echo "node $n: running (127.0.0.1:$(port "$n"))"; else echo "node $n: stopped"; fi
  done
  ;;
*)
  sed -n '2,/^set -euo/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'
  exit 2
  ;;
esac
