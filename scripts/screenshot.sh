#!/usr/bin/env bash
# Renders an HTML report with headless Chromium (Debian's `chromium`) and saves a PNG.
#
#   scripts/screenshot.sh REPORT.html OUT.png [WIDTH HEIGHT]
#
# Installs the `chromium` package with apt-get when it is missing (root). Chromium runs with a
# fresh profile and its background networking off, so it fetches nothing: the report is
# self-contained.
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: scripts/screenshot.sh REPORT.html OUT.png [WIDTH HEIGHT]" >&2
    exit 2
fi
report="$(realpath "$1")"
out="$(realpath -m "$2")"
width="${3:-1100}"
height="${4:-1400}"

if ! command -v chromium >/dev/null 2>&1; then
    echo "==> installing chromium (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --hide-scrollbars \
    --window-size="${width},${height}" --screenshot="$out" "file://$report" 2>/dev/null
test -s "$out"
echo "wrote $out"
