#!/usr/bin/env bash
# What a user installs: every published package is packed with `npm pack` (from the built
# workspace), and the tarballs are installed into fresh projects outside it, as `npm install`
# would from the registry (third-party packages do come from the registry). Prints, for
# `@pyramid/pyramidnet` alone (with core and units), for `@pyramid/datasets` and `@pyramid/train`
# (the libraries that training programs use) and for the `pyramid` command line, the size of
# node_modules and the number of packages in it.
#
#   npx turbo run build && scripts/install-size.sh [workspace root, default this one]
set -euo pipefail
root="$(cd "${1:-$(dirname "$0")/..}" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/pyramid-install-size-XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tarballs"

# Published workspaces only (the web page's private sources ship inside the CLI).
mapfile -t workspaces < <(cd "$root" && node -e '
  const { readFileSync } = require("node:fs");
  for (const w of require("./package.json").workspaces) {
    if (!JSON.parse(readFileSync(`${w}/package.json`, "utf8")).private) console.log(w);
  }')
(cd "$root" && npm pack --silent --pack-destination "$work/tarballs" "${workspaces[@]/#/--workspace=}" >/dev/null)

tarball() { ls "$work"/tarballs/pyramid-"$1"-*.tgz; }

# Installs the named packages' tarballs into a fresh project and prints one line about it.
measure() {
  local label="$1"; shift
  local project="$work/project-$label"
  mkdir -p "$project"
  echo '{ "name": "install-size", "version": "1.0.0", "private": true }' >"$project/package.json"
  local files=()
  for name in "$@"; do files+=("$(tarball "$name")"); done
  (cd "$project" && npm install --no-audit --no-fund --loglevel=error "${files[@]}" >/dev/null)
  local size count
  size="$(du -sh "$project/node_modules" | cut -f1)"
  # Every installed package, nested ones included: npm's record of the node_modules tree.
  count="$(node -e '
    const tree = require(process.argv[1]).packages;
    console.log(Object.keys(tree).filter((path) => !tree[path].link).length);' "$project/node_modules/.package-lock.json")"
  printf '%-34s %6s  %4s packages\n' "$label" "$size" "$count"
}

echo "install size on $(date -u +%Y-%m-%d), npm $(npm --version), node $(node --version), $(uname -sm)"
# The platform package of the native kernels is an optional dependency of core; on other
# platforms npm skips its tarball as it would skip it from the registry.
measure "@pyramid/pyramidnet" pyramidnet units core cpu-linux-x64-gnu
measure "@pyramid/datasets" datasets core cpu-linux-x64-gnu
measure "@pyramid/train" train datasets pyramidnet units core cpu-linux-x64-gnu
measure "@pyramid/cli" cli train datasets pyramidnet units core cpu-linux-x64-gnu
