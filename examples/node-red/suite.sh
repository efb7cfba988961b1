#!/usr/bin/env bash
# Runs the whole conformance suite against the example Node-RED flow, as .ci/run does:
# starts Node-RED (installing node-red@4 with npm into the cache folder on first use, see run.sh)
# with the API and the sinks on free ports, runs `insightsim run --flow-url` against it, stops it.
#
#   examples/node-red/suite.sh [EXTRA insightsim run FLAGS...]
#
# BIN is the insightsim binary (default: target/debug/insightsim, built by `cargo test`).
# SNAPSHOTS is the snapshot folder (default: examples/node-red/snapshots, the committed ones;
# with CI=true a missing or different snapshot fails). The exit code is `insightsim run`'s.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
bin="${BIN:-target/debug/insightsim}"
snapshots="${SNAPSHOTS:-examples/node-red/snapshots}"
[[ -x "$bin" ]] || { echo "suite.sh: no insightsim binary at $bin; build it (cargo build) or set BIN" >&2; exit 2; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
api="127.0.0.1:$(free_port)"
sinks="127.0.0.1:$(free_port)"

trap 'bash "$here/run.sh" stop || true' EXIT
hook="$(INSIGHTSIM_API_URL="http://$api" INSIGHTSIM_SINKS_URL="http://$sinks" bash "$here/run.sh" start)"

"$bin" run --flow-url "$hook" \
    --triggers datasource-refresh-failed,segment-threshold-crossed,full-refresh-completed \
    --sim-addr "$api" --sinks-addr "$sinks" \
    --flow-name node-red-example --snapshots "$snapshots" "$@"
