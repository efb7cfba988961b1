#!/usr/bin/env bash
# Schemathesis against a started `insightsim serve`: property-based requests generated from
# /openapi.json (valid and invalid data, and stateful sequences along the document's links),
# checked for server errors, response schema, status code, content type and response header
# conformance. Zero failures expected; each failure it ever found is a regression test in
# simulator/tests/it/ (see the README).
#
#   scripts/schemathesis.sh            # what .ci/run does
#
# Installs a pinned Schemathesis into target/ci-venv (a local folder) on first use, builds the
# release binary, serves on a free loopback port, and stops the server on exit. Bounded: at most
# MAX_EXAMPLES cases per operation and MAX_TIME seconds in all (defaults fit 2 cores in a few
# minutes). Writes a JUnit report to target/schemathesis/junit.xml and prints how many requests
# were sent.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION="4.32.5"
MAX_EXAMPLES="${MAX_EXAMPLES:-60}"
MAX_TIME="${MAX_TIME:-240}"
SEED="${SEED:-42}"
venv="target/ci-venv"
out="target/schemathesis"

if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    echo "==> installing schemathesis $SCHEMATHESIS_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

echo "==> cargo build --release --locked (insightsim)"
cargo build --release --locked --quiet --bin insightsim

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
base="http://127.0.0.1:$port"
mkdir -p "$out"
# The call limit is off so that generated requests reach the routes instead of a 429 (which is
# described, and tested in simulator/tests/it/routes.rs); the schedule runs as usual.
target/release/insightsim serve --addr "127.0.0.1:$port" --rate-limit off >"$out/serve.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    if curl -fsS "$base/_sim/health" >/dev/null 2>&1; then break; fi
    sleep 0.1
done
curl -fsS "$base/_sim/health" >/dev/null

echo "==> schemathesis against $base/openapi.json (max $MAX_EXAMPLES examples per operation, ${MAX_TIME}s)"
# One worker: with two, Hypothesis parses lambda sources from two threads at once and CPython
# 3.11 can fail inside ast.parse ("AST constructor recursion depth mismatch"), a crash of the
# tool, not a finding (seen once in a .ci/run on 2026-12-01).
set +e
"$venv/bin/st" --no-color run --report-dir "$out" "$base/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --mode all \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "$MAX_EXAMPLES" \
    --max-time "$MAX_TIME" \
    --seed "$SEED" \
    --workers 1 \
    --request-timeout 10 \
    --header "Authorization: Bearer schemathesis" \
    --suppress-health-check all \
    --report junit --report-junit-path "$out/junit.xml" \
    >"$out/output.txt" 2>&1
status=$?
set -e
tail -n 40 "$out/output.txt"
# The requests that reached the API, as the server counted them (its journal of /v1 calls).
requests="$(curl -fsS "$base/_sim/state" | python3 -c 'import json, sys; j = json.load(sys.stdin)["journal"]; print(j["entries"] + j["dropped"])')"
cases="$(sed -n 's/^ *\([0-9][0-9]*\) generated.*/\1/p' "$out/output.txt" | tail -n 1)"
summary="$(grep -E '^ *[0-9]+ generated' "$out/output.txt" | tail -n 1)"
passed="$(echo "$summary" | sed -n 's/.* \([0-9][0-9]*\) passed.*/\1/p')"
failed="$(echo "$summary" | sed -n 's/.* \([0-9][0-9]*\) failed.*/\1/p')"
echo "schemathesis: $cases test cases, $requests requests to /v1 (exit $status)"
echo "schemathesis: ${passed:-0} passed, ${failed:-0} failed"
exit "$status"
