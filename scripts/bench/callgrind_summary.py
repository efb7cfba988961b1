#!/usr/bin/env python3
"""Instructions per request by function, from a callgrind output file.

Usage: callgrind_summary.py CALLGRIND_OUT REQUESTS [TOP]

callgrind_annotate splits a function's cost by the source file of each inlined piece; this script
adds the pieces up by function (the `fn=` of the callgrind format), so that a function's figure
includes everything inlined into it. It prints:

- the total instructions per request;
- the groups of docs/performance.md (inclusive cost of the entry points named in GROUPS, per
  request), and the allocator's own cost (malloc, free, realloc, ... themselves) per request;
- the TOP functions by self cost and by inclusive cost, per request.

Inclusive cost is the function's own instructions plus those of the calls it makes; a recursive
function counts its inner calls twice, which none of the functions listed here is.
"""

import re
import subprocess
import sys
from collections import defaultdict

# (label, regex on the function name): inclusive cost of every function matching, per request.
# The entry points are listed outermost first; a row's cost includes the rows indented under it.
GROUPS = [
    ("connection tasks (hyper's Dispatcher::poll_catch, all below)", r"^hyper::proto::h1::dispatch::Dispatcher<.*>::poll_catch$"),
    ("  hyper: read and parse the request head", r"^hyper::proto::h1::conn::Conn<.*>::poll_read_head$"),
    ("  simulator: api::handle (auth, limiter, journal, routing, query, body)", r"^simulator::api::handle$"),
    ("    call limiter (Limiter::check)", r"^simulator::rate_limit::limiter::Limiter::check$"),
    ("    journal (Journal::record)", r"^simulator::journal::Journal::record$"),
    ("    get_items (query, page, body)", r"^simulator::api::v1::get_items$"),
    ("      ?proxy= lookup (api::query_param)", r"^simulator::api::query_param$"),
    ("      OData options parse (odata::options::parse_options)", r"^simulator::odata::options::parse_options$"),
    ("      execute (query::execute)", r"^simulator::query::execute$"),
    ("      write the body (query::write_page)", r"^simulator::query::write_page$"),
    ("  simulator: response head from ApiResponse (server::to_http)", r"^simulator::server::to_http$"),
    ("  hyper: encode the response head", r"^<hyper::proto::h1::role::Server as hyper::proto::h1::Http1Transaction>::encode$"),
    ("  hyper: flush to the socket (Buffered::poll_flush)", r"^hyper::proto::h1::io::Buffered<.*>::poll_flush$"),
]

ALLOCATOR = re.compile(
    r"^(malloc|free|realloc|calloc|_int_malloc|_int_free|_int_realloc|malloc_consolidate|"
    r"unlink_chunk.*|cfree|__libc_malloc|__libc_free|__libc_realloc|"
    r"__rustc::__rust_alloc|__rustc::__rust_dealloc|__rustc::__rust_realloc|"
    r"__rustc::__rdl_alloc|__rustc::__rdl_dealloc|__rustc::__rdl_realloc|tcache_.*|arena_.*|"
    r"sysmalloc|alloc_perturb|_int_free_merge_chunk|_int_free_create_chunk|_int_free_maybe_consolidate|"
    r"mi_.*|_mi_.*)$"
)
MEMCPY = re.compile(r"^__mem(cpy|move|set)_.*")


def demangle_all(symbols):
    """Demangles Rust symbols (legacy `_ZN...E` and v0 `_R...`) with binutils' c++filt, keeping a
    short hash for legacy symbols so that two instances of one generic function stay apart
    (`name [hash]`), and dropping v0's crate disambiguators (`core[c1f1...]` becomes `core`)."""
    symbols = list(symbols)
    try:
        out = subprocess.run(["c++filt"], input="\n".join(symbols), capture_output=True,
                             text=True, check=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return {s: s for s in symbols}
    names = {}
    for symbol, name in zip(symbols, out):
        name = re.sub(r"\[[0-9a-f]{16}\]", "", name)
        name = re.sub(r"::h([0-9a-f]{4})[0-9a-f]{12}$", r" [\1]", name)
        names[symbol] = name
    return names


def parse(path):
    names = {}
    self_cost = defaultdict(int)
    incl_calls = defaultdict(int)
    calls_of = defaultdict(lambda: defaultdict(int))
    total = 0
    fn = None
    cfn = None
    pending_call = False

    def name_of(spec):
        m = re.match(r"\((\d+)\)(?: (.*))?$", spec)
        if not m:
            return spec
        ident, name = m.group(1), m.group(2)
        if name is not None:
            names[ident] = name
        return names.get(ident, "?")

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("fn="):
                fn = name_of(line[3:])
                continue
            if line.startswith("cfn="):
                cfn = name_of(line[4:])
                continue
            if line.startswith("calls="):
                pending_call = True
                continue
            if line.startswith("totals:") or line.startswith("summary:"):
                total = int(line.split()[1])
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                if len(parts) < 2:
                    continue
                cost = int(parts[1])
                if pending_call:
                    incl_calls[fn] += cost
                    calls_of[fn][cfn] += cost
                    pending_call = False
                else:
                    self_cost[fn] += cost
            # Other lines (fl=, fi=, fe=, ob=, cob=, cfi=, cfl=, headers) change no cost.
    pretty = demangle_all(set(self_cost) | set(incl_calls) | {c for cs in calls_of.values() for c in cs})
    list_self = list(self_cost.items())
    merged_self = defaultdict(int)
    merged_calls = defaultdict(int)
    merged_calls_of = defaultdict(lambda: defaultdict(int))
    for f, v in list_self:
        merged_self[pretty[f]] += v
    for f, v in incl_calls.items():
        merged_calls[pretty[f]] += v
    for f, callees in calls_of.items():
        for c, v in callees.items():
            merged_calls_of[pretty[f]][pretty[c]] += v
    inclusive = {f: merged_self[f] + merged_calls[f] for f in set(merged_self) | set(merged_calls)}
    return total, merged_self, inclusive, merged_calls_of


def base(name):
    """A function's name without the hash `demangle` keeps."""
    return re.sub(r" \[[0-9a-f]{4}\]$", "", name)


def tree(fn, inclusive, self_cost, calls_of, total, requests, depth, seen, cost=None):
    cost = inclusive.get(fn, 0) if cost is None else cost
    share = cost / inclusive[fn] if inclusive.get(fn) else 0
    print(f"  {'  ' * depth}{cost / requests:>9,.0f}  {fn[:140]}  (self {share * self_cost.get(fn, 0) / requests:,.0f})")
    if depth >= 7 or fn in seen:
        return
    seen = seen | {fn}
    # Below the first level a callee's own calls are scaled to this call site's share of it.
    scale = cost / inclusive[fn] if inclusive.get(fn) else 0
    for callee, c in sorted(calls_of.get(fn, {}).items(), key=lambda kv: -kv[1]):
        if c * scale >= 0.005 * total:
            tree(callee, inclusive, self_cost, calls_of, total, requests, depth + 1, seen, c * scale)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path, requests = sys.argv[1], int(sys.argv[2])
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    total, self_cost, inclusive, calls_of = parse(path)
    per = lambda n: n / requests
    print(f"total: {total:,} instructions for {requests:,} requests = {per(total):,.0f} per request")
    print()
    print(f"{'group':<72} {'Ir/request':>11} {'share':>7}")
    tasks = 0
    for label, pattern in GROUPS:
        rx = re.compile(pattern)
        cost = sum(v for k, v in inclusive.items() if rx.search(base(k)))
        tasks = tasks or cost
        print(f"{label:<72} {per(cost):>11,.0f} {100 * cost / total:>6.1f}%")
    outside = max(total - tasks, 0)
    print(f"{'outside the connection tasks (tokio scheduler, I/O driver, accept)':<72} {per(outside):>11,.0f} {100 * outside / total:>6.1f}%")
    alloc = sum(v for k, v in self_cost.items() if ALLOCATOR.match(base(k)))
    copy = sum(v for k, v in self_cost.items() if MEMCPY.match(base(k)))
    print(f"{'allocator, everywhere (self cost of malloc, free, realloc, ...)':<72} {per(alloc):>11,.0f} {100 * alloc / total:>6.1f}%")
    print(f"{'memcpy/memmove/memset, everywhere':<72} {per(copy):>11,.0f} {100 * copy / total:>6.1f}%")
    print()
    print("call tree from the connection task (callees over 0.5 % of the total; self = own instructions):")
    roots = [k for k in inclusive if re.match(r"^hyper::proto::h1::dispatch::Dispatcher<.*>::poll_catch$", base(k))]
    for root in roots:
        tree(root, inclusive, self_cost, calls_of, total, requests, 0, set())
    print()
    print(f"top {top} by self cost (Ir per request):")
    for name, cost in sorted(self_cost.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {per(cost):>9,.0f}  {name[:150]}")
    print()
    print(f"top {top} by inclusive cost (Ir per request):")
    for name, cost in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {per(cost):>9,.0f}  {name[:150]}")


if __name__ == "__main__":
    main()
