#!/usr/bin/env bash
# Rebuilds librdkafka.redist.1.9.2.nupkg from librdkafka.redist.nuspec.
# The package is a stand-in: it satisfies Confluent.Kafka 1.9.3's dependency on librdkafka.redist 1.9.2
# (missing from our NuGet mirror) without shipping native code; the OS librdkafka is loaded at run time.
# Fixed timestamps keep the archive byte-identical between rebuilds, so a rebuild shows no git diff.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/librdkafka.redist.nuspec" "$work/librdkafka.redist.nuspec"
touch -d '2022-08-01T00:00:00Z' "$work/librdkafka.redist.nuspec"
rm -f "$here/librdkafka.redist.1.9.2.nupkg"
(cd "$work" && TZ=UTC zip -X -q "$here/librdkafka.redist.1.9.2.nupkg" librdkafka.redist.nuspec)
echo "wrote $here/librdkafka.redist.1.9.2.nupkg"
