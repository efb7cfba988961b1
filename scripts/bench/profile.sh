#!/usr/bin/env bash
# Instructions per request, by function, of `insightsim serve` (and of the bare hyper server) under
# the page benchmark's load, counted by valgrind's callgrind. Works without perf events.
#
#   scripts/bench/profile.sh [VARIANT] [SIDE]
#
# VARIANT: fixed-10k (default), random-10k, random-10k-on (random pages, limit on but not binding),
# random-1m, filter-1m, throttled-10k. SIDE: sim (default), bare, or both.
# Environment: SECONDS_MEASURED (default 20): how long wrk loads the server while callgrind counts;
# INSIGHTSIM: another insightsim binary to profile (default: target/release/insightsim, built here);
# OUT: where the files go (default: target/profile/VARIANT); NO_BUILD (set to anything): use the
# binaries already built instead of building them (while another build holds cargo's lock).
#
# What it does: builds the release binary and the benchmark (`cargo bench --bench page_serving
# --no-run`), runs the variant once for 1 s to record its targets and the bare server's corpus
# into target/profile/VARIANT/, then starts the server under callgrind with instrumentation off,
# warms it up with wrk for 2 s, switches instrumentation on, loads it with wrk (2 threads, 50
# connections, the benchmark's Lua script) for SECONDS_MEASURED, dumps the counts and stops the
# server. The instructions counted divided by the requests wrk completed is the cost per request
# (requests in flight when counting starts or stops add an error under 50 requests in tens of
# thousands). callgrind counts user-space instructions only: the kernel's share (socket writes,
# copies) is not in these figures; the benchmark's server CPU time per request (from /proc) is.
# Summaries are written next to the raw files as summary.SIDE.txt.
set -euo pipefail

variant=${1:-fixed-10k}
side=${2:-sim}
seconds=${SECONDS_MEASURED:-20}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

case "$variant" in
  fixed-10k)     bench_variant=fixed-10k;     customers=10000;   limit=off ;;
  random-10k)    bench_variant=random-10k;    customers=10000;   limit=off ;;
  random-10k-on) bench_variant=random-10k;    customers=10000;   limit=1000000/60s ;;
  random-1m)     bench_variant=random-1m;     customers=1000000; limit=off ;;
  filter-1m)     bench_variant=filter-1m;     customers=1000000; limit=off ;;
  throttled-10k) bench_variant=throttled-10k; customers=10000;   limit=1/1d ;;
  *) echo "unknown variant $variant; use fixed-10k, random-10k, random-10k-on, random-1m, filter-1m or throttled-10k" >&2; exit 2 ;;
esac
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install -y valgrind" >&2; exit 2; }

out=${OUT:-target/profile/$variant}
insightsim=${INSIGHTSIM:-target/release/insightsim}
mkdir -p "$out"
if [ -n "${NO_BUILD:-}" ]; then
  bench=$(ls -t target/release/deps/page_serving-* 2>/dev/null | grep -v '\.d$' | head -1)
else
  cargo build --release --bin insightsim
  bench=$(cargo bench --bench page_serving --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "page_serving" and m.get("executable"):
        print(m["executable"])')
fi
[ -n "$bench" ] || { echo "cannot find the page_serving benchmark executable" >&2; exit 1; }

# Records the targets and the corpus (and checks the variant works); wrk comes with it.
"$bench" --variants "$bench_variant" --runs 1 --seconds 1 --warmup-seconds 1 --keep "$out" >/dev/null
targets="$out/$bench_variant.targets"

profile() {
  local name=$1; shift
  local log="$out/$name.stdout" cg="$out/callgrind.$name"
  rm -f "$cg" "$cg".*
  valgrind --tool=callgrind --demangle=no --instr-atstart=no --callgrind-out-file="$cg" "$@" >"$log" 2>"$out/$name.valgrind" &
  local pid=$!
  local addr=""
  for _ in $(seq 1 600); do
    addr=$(grep -o 'listening on http://[0-9.:]*' "$log" 2>/dev/null | head -1 | sed 's|listening on http://||') || true
    [ -n "$addr" ] && break
    sleep 0.5
  done
  [ -n "$addr" ] || { echo "$name did not start under valgrind; see $out/$name.valgrind" >&2; kill "$pid"; exit 1; }
  local wrk=(wrk --threads=2 --connections=50 --timeout=30s --script "$out/load.lua")
  "${wrk[@]}" --duration=2s "http://$addr" -- "$targets" 25 42 bench >/dev/null
  callgrind_control -i on "$pid" >/dev/null
  "${wrk[@]}" --duration="${seconds}s" "http://$addr" -- "$targets" 25 42 bench >"$out/$name.wrk"
  callgrind_control -d "$pid" >/dev/null
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local requests
  requests=$(grep -o '"requests":[0-9]*' "$out/$name.wrk" | cut -d: -f2)
  echo "== $name ($variant): $requests requests under callgrind"
  python3 scripts/bench/callgrind_summary.py "$cg.1" "$requests" 40 | tee "$out/summary.$name.txt"
}

if [ "$side" = sim ] || [ "$side" = both ]; then
  profile sim "$insightsim" serve --addr 127.0.0.1:0 --customers "$customers" \
    --rate-limit "$limit" --tenant "$out/tenant.toml"
fi
if [ "$side" = bare ] || [ "$side" = both ]; then
  profile bare "$bench" --bare-server "$out/$bench_variant.corpus"
fi
