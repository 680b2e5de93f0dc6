#!/usr/bin/env bash
# The image's application tree, built from the repository into OUT: the services and the packages they use
# (proto, libs), compiled, with production dependencies only and no sources or tests. The Dockerfile runs it;
# tools/k8s/test/image.spec.ts runs it on a copy of the repository and starts every service from OUT.
#   deploy/docker/build-runtime.sh OUT
set -euo pipefail
out=${1:?usage: build-runtime.sh OUT}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# The services and the workspace packages they use: for the build with every dependency (compilers, types),
# then again from nothing with production dependencies only (--filter-prod follows no devDependencies, so
# libs/testing and tools/ are left out).
services='{./services/*}...'
pnpm --filter "$services" install --frozen-lockfile --prefer-offline --reporter=silent
node node_modules/typescript7/bin/tsc -b services/*/tsconfig.build.json
rm -rf node_modules proto/node_modules libs/*/node_modules services/*/node_modules
pnpm --filter-prod "$services" install --frozen-lockfile --prefer-offline --prod --reporter=silent
mkdir -p "$out"
cp -a package.json node_modules "$out/"
for pkg in proto libs/* services/*; do
  [ -d "$pkg/dist" ] || continue # a package no service uses (libs/testing) was not built
  mkdir -p "$out/$pkg"
  cp -a "$pkg/package.json" "$pkg/dist" "$out/$pkg/"
  [ ! -d "$pkg/node_modules" ] || cp -a "$pkg/node_modules" "$out/$pkg/"
done
# The gRPC services load their .proto files and descriptors at run time.
cp -a proto/tern proto/google "$out/proto/"
mkdir -p "$out/proto/src/gen" && cp proto/src/gen/descriptors.binpb "$out/proto/src/gen/"
