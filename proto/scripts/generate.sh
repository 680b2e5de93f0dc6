#!/usr/bin/env bash
# Generates src/gen from the .proto files with buf (a protoc-compatible compiler, from the npm registry) and
# ts-proto, and the descriptor set (src/gen/descriptors.binpb) that strict proto3-JSON parsing reads.
# `--check` generates into a scratch folder and fails if the committed code differs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
buf=node_modules/.bin/buf
"$buf" lint
if [ "${1:-}" = --check ]; then
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  "$buf" generate -o "$scratch"
  "$buf" build -o "$scratch/src/gen/descriptors.binpb"
  if ! diff -r src/gen "$scratch/src/gen"; then
    echo "proto/src/gen is out of date: run 'pnpm generate' and commit the result" >&2
    exit 1
  fi
  echo "proto/src/gen is up to date"
else
  "$buf" generate
  "$buf" build -o src/gen/descriptors.binpb
fi
