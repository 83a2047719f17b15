#!/usr/bin/env bash
# Install the pinned Codex CLI into .tools/ (git-ignored), for the real-agent tests and `make codex`.
# Idempotent: does nothing when the pinned version is already there. Prints the binary's path.
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
npm install --silent --no-audit --no-fund --prefix "$prefix" "@openai/codex@$VERSION" >&2
"$bin" --version >&2
echo "$bin"
