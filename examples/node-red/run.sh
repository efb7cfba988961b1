#!/usr/bin/env bash
# Runs the example Node-RED flow headless, for `insightsim run --flow-url`.
#
#   examples/node-red/run.sh install       install node-red@4 with npm into the cache folder
#   examples/node-red/run.sh start [PORT]  install if needed, start the flow on PORT (default: a
#                                          free port), wait until it answers, print its hook URL
#   examples/node-red/run.sh stop          stop the instance this script started
#   examples/node-red/run.sh status        say whether it runs, and where
#
# Nothing is installed globally and nothing installed by hand is used: Node-RED and npm's own
# download cache live in $INSIGHTSIM_NODE_RED_DIR (default: target/node-red in the repository).
# Only `node`, `npm` (Node.js 18 or later) and `curl` are needed on PATH.
#
# The flow reads, from the environment Node-RED is started with (defaults in brackets):
#   INSIGHTSIM_API_URL     the simulator `insightsim run` serves [http://127.0.0.1:8080]
#   INSIGHTSIM_SINKS_URL   the sinks it serves                   [http://127.0.0.1:8081]
#   INSIGHTSIM_TOKEN       the bearer token of the flow's calls  [node-red-example-flow]
#   RETRY_MARGIN_MS        wait this much longer than each Retry-After [0]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
home="${INSIGHTSIM_NODE_RED_DIR:-$root/target/node-red}"
version="${NODE_RED_VERSION:-4}"
prefix="$home/npm"
run="$home/run"
red="$prefix/node_modules/node-red/red.js"

die() {
    echo "run.sh: $*" >&2
    exit 1
}

installed_version() {
    [[ -f "$prefix/node_modules/node-red/package.json" ]] || return 1
    node -p "require('$prefix/node_modules/node-red/package.json').version"
}

install() {
    command -v node >/dev/null || die "node is not on PATH; install Node.js 18 or later"
    command -v npm >/dev/null || die "npm is not on PATH; install Node.js 18 or later"
    local have
    if have="$(installed_version)" && [[ "$have" == "$version" || "$have" == "$version".* ]]; then
        return 0
    fi
    echo "run.sh: installing node-red@$version into $prefix" >&2
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --cache "$home/npm-cache" --no-audit --no-fund \
        --no-update-notifier --omit=dev --loglevel=error "node-red@$version" >&2
    have="$(installed_version)" || die "npm did not install node-red into $prefix"
    echo "run.sh: node-red $have installed" >&2
}

running_pid() {
    [[ -f "$run/pid" ]] || return 1
    local pid
    pid="$(cat "$run/pid")"
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

free_port() {
    node -e 'const s = require("net").createServer();
             s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

start() {
    local port="${1:-}"
    if running_pid >/dev/null; then
        die "already running (pid $(cat "$run/pid"), http://127.0.0.1:$(cat "$run/port")/hook); stop it first"
    fi
    install
    [[ -n "$port" ]] || port="$(free_port)"
    [[ "$port" =~ ^[0-9]+$ ]] || die "the port must be a number, not \"$port\""
    mkdir -p "$run"
    # A fresh copy of the flow each start: changes made in the editor never touch the example.
    cp "$here/flow.json" "$run/flows.json"
    rm -f "$run/.flows.json.backup" "$run/.config.runtime.json"
    export INSIGHTSIM_API_URL="${INSIGHTSIM_API_URL:-http://127.0.0.1:8080}"
    export INSIGHTSIM_SINKS_URL="${INSIGHTSIM_SINKS_URL:-http://127.0.0.1:8081}"
    export INSIGHTSIM_TOKEN="${INSIGHTSIM_TOKEN:-node-red-example-flow}"
    export RETRY_MARGIN_MS="${RETRY_MARGIN_MS:-0}"
    nohup node "$red" --userDir "$run" --settings "$here/settings.js" --port "$port" flows.json \
        >"$run/node-red.log" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$run/pid"
    echo "$port" >"$run/port"
    # Ready when the flow's own health endpoint answers (the flow is deployed, not just the
    # runtime up). Polling here is start-up plumbing, not a test.
    local deadline=$((SECONDS + ${NODE_RED_START_TIMEOUT_S:-60}))
    until curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$run/node-red.log" >&2
            rm -f "$run/pid"
            die "node-red exited while starting (log above, in $run/node-red.log)"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 30 "$run/node-red.log" >&2
            stop
            die "node-red did not answer on port $port within ${NODE_RED_START_TIMEOUT_S:-60} s"
        fi
        sleep 0.2
    done
    echo "run.sh: node-red (pid $pid) is ready; log in $run/node-red.log" >&2
    echo "http://127.0.0.1:$port/hook"
}

stop() {
    local pid
    if ! pid="$(running_pid)"; then
        rm -f "$run/pid"
        echo "run.sh: not running" >&2
        return 0
    fi
    kill -TERM "$pid"
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "run.sh: node-red (pid $pid) did not stop within 10 s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$run/pid"
    echo "run.sh: stopped node-red (pid $pid)" >&2
}

status() {
    local pid
    if pid="$(running_pid)"; then
        echo "running: pid $pid, hook http://127.0.0.1:$(cat "$run/port")/hook, log $run/node-red.log"
    else
        echo "not running"
        return 1
    fi
}

case "${1:-}" in
    install) install ;;
    start) start "${2:-}" ;;
    stop) stop ;;
    status) status ;;
    *)
        sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
