#!/usr/bin/env bash
# Install the pinned agent CLIs into .tools/ (git-ignored): the Codex CLI (scripts/install-codex.sh), Claude
# Code and the Gemini CLI, for the real-agent tests and `make agents`. Idempotent: a CLI already at its pinned
# version is left alone. Prints the binaries' paths, one a line. Needs only node (20+) and npm.
set -euo pipefail
CLAUDE_VERSION="${CXO_CLAUDE_VERSION:-2.1.332}"
GEMINI_VERSION="${CXO_GEMINI_VERSION:-0.61.0}"
root=$(cd "$(dirname "$0")/.." && pwd)
prefix="$root/.tools"
bash "$root/scripts/install-codex.sh"
if ! command -v npm >/dev/null; then
  echo "install-agents: npm not found: install Node.js 20+ (apt-get install nodejs npm)" >&2
  exit 1
fi
# install <package> <version> <binary>: npm-installs the pinned package unless `<binary> --version` says it is.
install() {
  local package=$1 version=$2 bin="$prefix/node_modules/.bin/$3" got
  if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -qF "$version"; then
    echo "$bin"
    return
  fi
  mkdir -p "$prefix"
  # --include=optional: native parts come as optional dependencies; an npmrc with omit=optional would drop them.
  npm install --silent --no-audit --no-fund --save-exact --include=optional --prefix "$prefix" \
    "$package@$version" >&2
  if ! got=$("$bin" --version 2>&1) || ! echo "$got" | grep -qF "$version"; then
    echo "install-agents: $bin does not run as $package $version: $got" >&2
    exit 1
  fi
  echo "$3 $got" >&2
  echo "$bin"
}
install @anthropic-ai/claude-code "$CLAUDE_VERSION" claude
install @google/gemini-cli "$GEMINI_VERSION" gemini
