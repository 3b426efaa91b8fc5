#!/usr/bin/env bash
# Installs chDB (the ClickHouse engine as a library, libchdb.so) for the tests on the current ClickHouse
# (tests/FlowPolicy.IntegrationTests, [Trait("server", "current")]), from npm into a cache, once:
#   ${XDG_CACHE_HOME:-~/.cache}/flowpolicy/chdb-VERSION/node_modules/@chdb/lib-linux-x64-gnu/libchdb.so
# A second run finds it and does nothing. The version must match ChdbSession.PinnedVersion.
set -euo pipefail
version=26.5.3
cache="${XDG_CACHE_HOME:-$HOME/.cache}/flowpolicy/chdb-$version"
lib="$cache/node_modules/@chdb/lib-linux-x64-gnu/libchdb.so"
[ -f "$lib" ] && exit 0
if ! command -v npm >/dev/null 2>&1; then
  echo "install-chdb: npm is needed to install chDB $version (apt-get install nodejs npm)" >&2
  exit 2
fi
echo "install-chdb: installing @chdb/lib-linux-x64-gnu@$version (about 150 MB download) into $cache" >&2
mkdir -p "$cache"
# --ignore-scripts: the package's files are all we need; nothing of it runs at install time.
npm install --prefix "$cache" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error "@chdb/lib-linux-x64-gnu@$version" >/dev/null
[ -f "$lib" ] || { echo "install-chdb: $lib missing after npm install" >&2; exit 3; }
