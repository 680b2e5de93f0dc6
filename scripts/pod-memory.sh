#!/usr/bin/env bash
# pod-memory.sh MIB NAME COMMAND...: runs COMMAND in a memory cgroup of its own, tern-pod-NAME, limited to MIB
# MiB as a pod's memory limit would (`./tern up` and `./tern bench` with TERN_POD_MEMORY_MIB). Node sizes V8's
# heap from that limit, so the services run with the heaps the chart's pods give them (operations.md,
# Kubernetes). Needs root and the memory controller (cgroup v2, or v1's at /sys/fs/cgroup/memory).
set -euo pipefail
mib=${1:-} name=${2:-}
if ! [[ $mib =~ ^[1-9][0-9]*$ && $name =~ ^[a-z0-9-]+$ && $# -gt 2 ]]; then
  echo "usage: pod-memory.sh MIB NAME COMMAND... (MIB a whole number, NAME of a-z, 0-9 and -)" >&2
  exit 2
fi
shift 2
if [[ -f /sys/fs/cgroup/cgroup.controllers ]] && grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
  group=/sys/fs/cgroup/tern-pod-$name limit_file=memory.max
elif [[ -d /sys/fs/cgroup/memory ]]; then
  group=/sys/fs/cgroup/memory/tern-pod-$name limit_file=memory.limit_in_bytes
else
  echo "[pod-memory] no memory cgroup controller on this machine" >&2
  exit 2
fi
# A group left by an earlier run and now empty is made anew, so its peak is this run's.
[[ -d $group && -z $(cat "$group/cgroup.procs") ]] && rmdir "$group"
mkdir -p "$group"
echo $((mib * 1024 * 1024)) >"$group/$limit_file"
echo $$ >"$group/cgroup.procs"
exec "$@"
