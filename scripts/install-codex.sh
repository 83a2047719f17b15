#!/usr/bin/env bash
# Install the pinned Codex CLI into .tools/ (git-ignored), for the real-agent tests and `make codex`.
# Idempotent: does nothing when the pinned version is already there. Prints the binary's path.
# Needs only node (18+) and npm; the native binary comes from the npm registry as the optional
# dependency @openai/codex-<platform> (an npm alias of @openai/codex@<version>-<platform>).
set -euo pipefail
VERSION="${CXO_CODEX_VERSION:-0.169.0}"
root=$(cd "$(dirname "$0")/.." && pwd)
prefix="$root/.tools"
bin="$prefix/node_modules/.bin/codex"
if [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null | awk '{print $NF}')" = "$VERSION" ]; then
  echo "$bin"
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "install-codex: npm not found: install Node.js 18+ (apt-get install nodejs npm)" >&2
  exit 1
fi
mkdir -p "$prefix"
# --include=optional: the platform binary is an optional dependency; an npmrc with omit=optional would drop it.
npm install --silent --no-audit --no-fund --save-exact --include=optional --prefix "$prefix" \
  "@openai/codex@$VERSION" >&2
if ! got=$("$bin" --version 2>&1) || [ "$(echo "$got" | awk '{print $NF}')" != "$VERSION" ]; then
  echo "install-codex: $bin does not run as codex $VERSION (is @openai/codex-$(node -p 'process.platform+"-"+process.arch') \
under $prefix/node_modules?): $got" >&2
  exit 1
fi
echo "$got" >&2
echo "$bin"
