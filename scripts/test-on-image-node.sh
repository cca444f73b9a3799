#!/usr/bin/env bash
# Runs the compiled tests (build first) on the Docker image's Node, as pinned exactly in
# scripts/image-node/package.json, so that a runtime difference fails before a release.
# Arguments go to scripts/run-tests.js (file filters). The pinned Node is installed from the npm
# registry, its only source, into .tmp/image-node; the system Node is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.tmp/image-node
bin="$PWD/$dir/node_modules/.bin"
want="v$(node -p "require('./scripts/image-node/package.json').dependencies.node")"
have() { "$bin/node" --version 2>/dev/null || true; }
if [ "$(have)" != "$want" ]; then
  rm -rf "$dir"
  mkdir -p "$dir"
  cp scripts/image-node/package.json scripts/image-node/package-lock.json "$dir/"
  # The binary comes from node's preinstall script, so scripts must run whatever npm's config says.
  (cd "$dir" && npm ci --ignore-scripts=false --no-audit --no-fund)
fi
if [ "$(have)" != "$want" ]; then
  echo "test-on-image-node: $dir holds Node '$(have)', not $want" >&2
  exit 1
fi
echo "tests on the image's Node $want"
# First on PATH as well: tests start Node as process.execPath, and npm (`#!/usr/bin/env node`)
# then runs on it too, as in the image's build stage.
PATH="$bin:$PATH" exec "$bin/node" scripts/run-tests.js "$@"
