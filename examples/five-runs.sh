#!/usr/bin/env bash
# Issue 8's acceptance run: each example flow against the whole suite, 5 runs in a row, with two
# busy loops loading the machine for the whole series. The snapshots are recorded by the first
# run into a fresh folder and compared by the next four (a changed one fails its case).
#
#   examples/five-runs.sh [OUT]        (default OUT: target/five-runs)
#
# Series: the Python flow as a command, the Python flow behind a URL, the Node-RED flow behind a
# URL. Each series' verdict matrix is printed and written to OUT/<series>/summary.md (by
# repeat.py). BIN is the insightsim binary (default target/debug/insightsim). Needs python3, and
# node and npm for Node-RED (installed on first use, see node-red/run.sh). Exit 1 if any run of
# any series exited non-zero.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
out="${1:-target/five-runs}"
bin="${BIN:-target/debug/insightsim}"
runs="${RUNS:-5}"
busy="${BUSY:-2}"
triggers=datasource-refresh-failed,segment-threshold-crossed,full-refresh-completed
rm -rf "$out"
mkdir -p "$out"
status=0

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

series() {
    local name="$1"
    shift
    echo "==> $name"
    if ! python3 "$here/repeat.py" --runs "$runs" --busy "$busy" --out "$out/$name" -- "$@"; then
        status=1
    fi
    if grep -q "exit [1-9]" "$out/$name/summary.md"; then
        status=1
    fi
}

series python-cmd "$bin" run --flow-cmd "python3 examples/python/flow.py" \
    --flow-name python-example --snapshots "$out/python-cmd/snapshots"

api="127.0.0.1:$(free_port)"
sinks="127.0.0.1:$(free_port)"
listen="127.0.0.1:$(free_port)"
python3 examples/python/flow.py --listen "$listen" --api-url "http://$api" --sinks-url "http://$sinks" \
    2>"$out/python-url-flow.err" &
flow_pid=$!
trap 'kill "$flow_pid" 2>/dev/null || true; bash "$here/node-red/run.sh" stop >/dev/null 2>&1 || true' EXIT
until python3 -c "import socket,sys; socket.create_connection(('${listen%:*}', ${listen##*:}), 1)" 2>/dev/null; do
    sleep 0.2
done
series python-url "$bin" run --flow-url "http://$listen/hook" --triggers "$triggers" \
    --sim-addr "$api" --sinks-addr "$sinks" --flow-name python-example \
    --snapshots "$out/python-url/snapshots"
kill "$flow_pid" 2>/dev/null || true

api="127.0.0.1:$(free_port)"
sinks="127.0.0.1:$(free_port)"
hook="$(INSIGHTSIM_API_URL="http://$api" INSIGHTSIM_SINKS_URL="http://$sinks" bash "$here/node-red/run.sh" start)"
series node-red "$bin" run --flow-url "$hook" --triggers "$triggers" \
    --sim-addr "$api" --sinks-addr "$sinks" --flow-name node-red-example \
    --snapshots "$out/node-red/snapshots"
bash "$here/node-red/run.sh" stop

exit "$status"
