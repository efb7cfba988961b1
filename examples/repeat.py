#!/usr/bin/env python3
"""Runs `insightsim run` several times and tabulates the verdicts, to find flaky ones.

    python3 examples/repeat.py --runs 5 --out /tmp/runs/py-cmd -- \\
        target/release/insightsim run --flow-cmd "python3 examples/python/flow.py" --snapshots /tmp/snaps

Each run gets `--json <out>/run-K.json` appended; its stdout and stderr go to `<out>/run-K.out`
and `<out>/run-K.err`. At the end it prints, per case, the verdict of every run (`P` pass, `F`
fail, `N` non-strict, `S` skipped), whether the verdicts differ, the wall time per case
(min/median/max over the runs) and the failing checks; the same table is written to
`<out>/summary.md`.

`--busy N` keeps N busy loops running (other processes, at normal priority) for the duration of
the runs, to see how verdicts hold up on a loaded machine; they are stopped at the end.
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

LETTER = {"pass": "P", "fail": "F", "non-strict": "N", "skipped": "S"}


def busy_loops(n: int) -> list[subprocess.Popen[bytes]]:
    loop = "while True: pass"
    return [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(n)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, required=True, help="a folder for the reports")
    parser.add_argument("--busy", type=int, default=0, help="busy loops to run alongside")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- insightsim run ...")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the insightsim run command after --")
    args.out.mkdir(parents=True, exist_ok=True)

    loops = busy_loops(args.busy)
    runs: list[dict] = []
    try:
        for k in range(1, args.runs + 1):
            report = args.out / f"run-{k}.json"
            load_before = os.getloadavg()[0]
            started = time.monotonic()
            with open(args.out / f"run-{k}.out", "wb") as out, open(args.out / f"run-{k}.err", "wb") as err:
                code = subprocess.call(command + ["--json", str(report)], stdout=out, stderr=err)
            wall = time.monotonic() - started
            data = json.loads(report.read_text()) if report.exists() else {"cases": []}
            load = f"{load_before:.1f}..{os.getloadavg()[0]:.1f}"
            runs.append({"code": code, "wall": wall, "load": load, "cases": {c["id"]: c for c in data.get("cases", [])}})
            summary = data.get("summary", {})
            print(f"run {k}: exit {code}, {wall:.1f} s, load average {load}, {summary}", flush=True)
    finally:
        for p in loops:
            p.send_signal(signal.SIGTERM)
            p.wait()

    ids = sorted({i for r in runs for i in r["cases"]})
    lines = [
        f"command: `{' '.join(command)}`" + (f" with {args.busy} busy loop(s)" if args.busy else ""),
        "",
        "| case | " + " ".join(f"r{k}" for k in range(1, len(runs) + 1)) + " | flaky | wall s min/med/max | failing checks |",
        "|---|---|---|---|---|",
    ]
    for case_id in ids:
        verdicts, walls, checks = [], [], set()
        for r in runs:
            c = r["cases"].get(case_id)
            if c is None:
                verdicts.append("-")
                continue
            verdicts.append(LETTER.get(c.get("outcome", ""), "?"))
            if c.get("outcome") != "skipped":
                walls.append(float(c.get("duration", 0.0)))
            for f in c.get("failures", []):
                checks.add(f.get("check", "?"))
        if set(verdicts) == {"S"}:
            continue
        flaky = "yes" if len(set(verdicts)) > 1 else ""
        wall = f"{min(walls):.2f}/{statistics.median(walls):.2f}/{max(walls):.2f}" if walls else ""
        lines.append(f"| {case_id} | {' '.join(verdicts)} | {flaky} | {wall} | {', '.join(sorted(checks))} |")
    skipped = [i for i in ids if all(LETTER.get(r["cases"].get(i, {}).get("outcome", ""), "") == "S" for r in runs)]
    lines.append("")
    lines.append(f"skipped in every run: {len(skipped)}; runs: " + ", ".join(f"exit {r['code']} in {r['wall']:.0f} s (load {r['load']})" for r in runs))
    text = "\n".join(lines) + "\n"
    (args.out / "summary.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
