#!/usr/bin/env bash
# Generates src/gen from the .proto files with buf (protoc-compatible compiler, from the npm registry)
# and ts-proto. `--check` regenerates into a scratch copy and fails if the committed code differs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
buf=node_modules/.bin/buf
"$buf" lint
if [ "${1:-}" = --check ]; then
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  cp -r buf.yaml buf.gen.yaml tern node_modules "$scratch"/ 2>/dev/null || true
  (cd "$scratch" && "$OLDPWD/$buf" generate)
  if ! diff -r src/gen "$scratch/src/gen"; then
    echo "proto/src/gen is out of date: run 'pnpm --filter @tern/contracts generate' and commit" >&2
    exit 1
  fi
else
  "$buf" generate
fi
