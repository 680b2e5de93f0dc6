#!/usr/bin/env bash
# Prints the workspace packages (libs/X, services/X, tools/X) with changes against a base: the given ref, or
# the branch's upstream, or HEAD (uncommitted and untracked files). `./tern test --fast` tests these. The chart
# and the image (deploy/helm, deploy/docker) are tested by tools/k8s.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
base=${1:-$(git rev-parse --abbrev-ref --symbolic-full-name '@{upstream}' 2>/dev/null || echo HEAD)}
{
  git diff --name-only "$base"
  git ls-files --others --exclude-standard
} | sed -nE -e 's#^((libs|services|tools)/[^/]+)/.*#\1#p' -e 's#^deploy/(helm|docker)/.*#tools/k8s#p' | sort -u
