#!/usr/bin/env bash
# Local infrastructure for Tern, started natively (no Docker): Apache Kafka (KRaft, single node),
# ClickHouse and Redis. Everything lives under $TERN_DATA_DIR (default .local/ in the repo).
#
#   deploy/local/infra.sh up      start what is not running yet and wait until it is ready
#   deploy/local/infra.sh down    stop what this script started
#   deploy/local/infra.sh status  one line per component
#   deploy/local/infra.sh env     the TERN_* variables that point tests and services here
#   deploy/local/infra.sh stop|kill kafka|clickhouse|redis
#                                 stop one component (kill: SIGKILL, a crash); `up` starts it again with its
#                                 data as it was left (the fault drills use these)
#
# Prerequisites (installed by scripts/setup.sh): java 17, clickhouse-server, redis-server, and the
# Kafka jars in $TERN_DATA_DIR/kafka/libs.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
data=${TERN_DATA_DIR:-$root/.local}
kafka_port=${TERN_KAFKA_PORT:-19092}
controller_port=${TERN_KAFKA_CONTROLLER_PORT:-19093}
# The broker's TLS + SASL listener; its user "tern" and this password are local only, public on purpose.
kafka_secure_port=${TERN_KAFKA_SECURE_PORT:-19094}
kafka_sasl_password=tern-local-kafka-password
ch_http_port=${TERN_CLICKHOUSE_HTTP_PORT:-18123}
ch_tcp_port=${TERN_CLICKHOUSE_TCP_PORT:-19000}
redis_port=${TERN_REDIS_PORT:-16379}
kafka_heap=${TERN_KAFKA_HEAP:-768m}
# The broker's KRaft metadata log, in memory (/dev/shm) where the machine has it; its partitions' data stays
# on disk. The controller syncs the metadata log to disk at every commit, and on ext4 a sync waits for the
# journal, which carries whatever else the machine is writing: under the tests' load its events took up to
# 1.5 s, once 11 s, and topics created meanwhile had no leader for over 30 s. A reboot empties /dev/shm: the
# broker's storage is then formatted again (local topics and records are lost; `./tern up` makes its topics).
if [ -n "${TERN_KAFKA_METADATA_DIR:-}" ]; then
  kafka_metadata=$TERN_KAFKA_METADATA_DIR
elif [ -d /dev/shm ] && [ -w /dev/shm ]; then
  kafka_metadata=/dev/shm/tern-kafka-metadata-$(printf '%s' "$data" | sha1sum | cut -c1-12)
else
  kafka_metadata=$data/kafka/metadata
fi

log() { printf '[infra] %s\n' "$*" >&2; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # name seconds command...
  local name=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "$name did not become ready in ${seconds}s"
      return 1
    fi
    sleep 0.5
  done
}

render() { # template output
  sed -e "s#@DATA_DIR@#$data#g" -e "s#@KAFKA_METADATA_DIR@#$kafka_metadata#g" -e "s#@KAFKA_PORT@#$kafka_port#g" \
    -e "s#@CONTROLLER_PORT@#$controller_port#g" \
    -e "s#@KAFKA_SECURE_PORT@#$kafka_secure_port#g" -e "s#@KAFKA_SASL_PASSWORD@#$kafka_sasl_password#g" \
    -e "s#@CLICKHOUSE_HTTP_PORT@#$ch_http_port#g" -e "s#@CLICKHOUSE_TCP_PORT@#$ch_tcp_port#g" "$1" >"$2"
}

# JVM options shared by the broker and its storage tool. A bounded heap: the machine also runs ClickHouse,
# Redis and six services.
kafka_jvm=(java -Xms256m "-Xmx$kafka_heap" -XX:+UseG1GC -Djava.awt.headless=true
  "-Dkafka.logs.dir=$data/kafka/log" "-Dlog4j2.configurationFile=$data/kafka/log4j2.properties"
  -cp "$data/kafka/libs/*")

# A local CA and the broker's certificate for 127.0.0.1 (made once, kept with the data).
kafka_tls() {
  local dir=$data/tls
  [ -f "$dir/kafka.pem" ] && return
  mkdir -p "$dir"
  (
    cd "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -subj "/CN=Tern local CA" -days 3650 -out ca.crt 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout kafka.key -subj "/CN=localhost" -out kafka.csr 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >kafka.ext
    openssl x509 -req -in kafka.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -extfile kafka.ext \
      -out kafka.crt 2>/dev/null
    # Kafka's PEM keystore: the private key (PKCS#8, unencrypted) and the certificate chain in one file.
    cat kafka.key kafka.crt >kafka.pem
  )
}

kafka_up() {
  local pidf=$data/kafka/kafka.pid
  if pid_alive "$pidf"; then log "kafka already running (pid $(cat "$pidf"))"; return; fi
  if port_open "$kafka_port"; then log "port $kafka_port is taken by another process"; return 1; fi
  [ -d "$data/kafka/libs" ] || { log "no Kafka jars in $data/kafka/libs: run scripts/setup.sh"; return 1; }
  mkdir -p "$data/kafka/log" "$data/kafka/data"
  kafka_tls
  render "$here/kafka/server.properties" "$data/kafka/server.properties"
  cp "$here/kafka/log4j2.properties" "$data/kafka/log4j2.properties"
  if [ ! -f "$data/kafka/data/meta.properties" ] || [ ! -f "$kafka_metadata/meta.properties" ]; then
    [ -f "$data/kafka/data/meta.properties" ] &&
      log "the broker's metadata log ($kafka_metadata) is gone (a reboot empties /dev/shm): so are its topics"
    log "formatting Kafka storage"
    rm -rf "$data/kafka/data" "$kafka_metadata"
    mkdir -p "$data/kafka/data" "$kafka_metadata"
    "${kafka_jvm[@]}" kafka.tools.StorageTool format -t "$("${kafka_jvm[@]}" kafka.tools.StorageTool random-uuid)" \
      -c "$data/kafka/server.properties" >"$data/kafka/log/format.log" 2>&1
  fi
  log "starting kafka on 127.0.0.1:$kafka_port"
  # Its pauses in a log of their own: a stalled broker says whether it was collecting garbage.
  "${kafka_jvm[@]}" "-Xlog:gc:file=$data/kafka/log/gc.log:time,uptime:filecount=2,filesize=20m" \
    kafka.Kafka "$data/kafka/server.properties" >"$data/kafka/log/stdout.log" 2>&1 &
  echo $! >"$pidf"
}

clickhouse_up() {
  local pidf=$data/clickhouse/clickhouse.pid
  if pid_alive "$pidf"; then log "clickhouse already running (pid $(cat "$pidf"))"; return; fi
  if port_open "$ch_http_port"; then log "port $ch_http_port is taken by another process"; return 1; fi
  mkdir -p "$data/clickhouse"/{data,tmp,log,user_files,format_schemas}
  render "$here/clickhouse/config.xml" "$data/clickhouse/config.xml"
  cp "$here/clickhouse/users.xml" "$data/clickhouse/users.xml"
  log "starting clickhouse on 127.0.0.1:$ch_http_port (http) / $ch_tcp_port (native)"
  nohup /usr/sbin/clickhouse-server --config-file="$data/clickhouse/config.xml" \
    >"$data/clickhouse/log/stdout.log" 2>&1 &
  echo $! >"$pidf"
}

redis_up() {
  local pidf=$data/redis/redis.pid
  if pid_alive "$pidf"; then log "redis already running (pid $(cat "$pidf"))"; return; fi
  if port_open "$redis_port"; then log "port $redis_port is taken by another process"; return 1; fi
  mkdir -p "$data/redis"
  log "starting redis on 127.0.0.1:$redis_port"
  # Durability settings in redis.conf: an append-only file synced every second, and no eviction.
  nohup redis-server "$here/redis.conf" --port "$redis_port" --dir "$data/redis" \
    --logfile "$data/redis/redis.log" >/dev/null 2>&1 &
  echo $! >"$pidf"
}

# The broker logs this line once the controller quorum is up and the listener accepts requests.
kafka_ready() { port_open "$kafka_port" && grep -q "Kafka Server started" "$data/kafka/log/server.log"; }
clickhouse_ready() { curl -fsS "http://127.0.0.1:$ch_http_port/ping" | grep -q Ok; }
redis_ready() { redis-cli -p "$redis_port" ping | grep -q PONG; }

stop_pid() { # name pidfile
  local name=$1 pidf=$2
  if ! pid_alive "$pidf"; then rm -f "$pidf"; return; fi
  local pid
  pid=$(cat "$pidf")
  log "stopping $name (pid $pid)"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidf"
}

cmd=${1:-up}
case "$cmd" in
up)
  kafka_up
  clickhouse_up
  redis_up
  wait_for kafka 90 kafka_ready || { tail -20 "$data/kafka/log/server.log" >&2; exit 1; }
  wait_for clickhouse 60 clickhouse_ready || { tail -20 "$data/clickhouse/log/error.log" >&2; exit 1; }
  wait_for redis 20 redis_ready
  log "ready: kafka 127.0.0.1:$kafka_port, clickhouse http://127.0.0.1:$ch_http_port, redis 127.0.0.1:$redis_port"
  ;;
down)
  # All at once: each takes a second or two to stop, and none waits for another (one after the other: 7.5 s).
  stop_pid redis "$data/redis/redis.pid" &
  stop_pid clickhouse "$data/clickhouse/clickhouse.pid" &
  stop_pid kafka "$data/kafka/kafka.pid" &
  wait
  ;;
status)
  for c in kafka clickhouse redis; do
    if pid_alive "$data/$c/$c.pid"; then echo "$c running (pid $(cat "$data/$c/$c.pid"))"; else echo "$c stopped"; fi
  done
  ;;
stop | kill)
  component=${2:-}
  case "$component" in kafka | clickhouse | redis) ;; *)
    echo "usage: $0 $cmd kafka|clickhouse|redis" >&2
    exit 2
    ;;
  esac
  pidf=$data/$component/$component.pid
  if [ "$cmd" = kill ] && pid_alive "$pidf"; then
    log "killing $component (pid $(cat "$pidf"))"
    kill -9 "$(cat "$pidf")"
    while pid_alive "$pidf"; do sleep 0.1; done
    rm -f "$pidf"
  else
    stop_pid "$component" "$pidf"
  fi
  ;;
env)
  echo "export TERN_KAFKA_BROKERS=127.0.0.1:$kafka_port"
  echo "export TERN_CLICKHOUSE_URL=http://127.0.0.1:$ch_http_port"
  echo "export TERN_REDIS_URL=redis://127.0.0.1:$redis_port"
  # The broker's TLS + SASL listener, for tests of the clients' security settings.
  echo "export TERN_TEST_KAFKA_SECURE_BROKERS=127.0.0.1:$kafka_secure_port"
  echo "export TERN_TEST_KAFKA_CA_FILE=$data/tls/ca.crt"
  echo "export TERN_TEST_KAFKA_SASL_USERNAME=tern TERN_TEST_KAFKA_SASL_PASSWORD=$kafka_sasl_password"
  ;;
*)
  echo "usage: $0 up|down|status|env|stop COMPONENT|kill COMPONENT" >&2
  exit 2
  ;;
esac
