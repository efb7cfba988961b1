#!/usr/bin/env python3
"""Reproduction for examples/FINDINGS.md: a flow whose subscription the API refuses (400).

It subscribes the way a hand-written client might get it wrong, logs the API's answer to stderr,
and keeps running, as many real flows do:

- by default it sends the segment under the key `segment` instead of `segmentName`, so only the
  segment subscription is refused;
- with `REFUSE=all` in the environment it gives a `NotificationUrl` that is not on loopback, so
  every subscription is refused.

    target/release/insightsim run --flow-cmd "python3 examples/repro/refused-subscription.py" \
        --filter segment/fires-once-per-upward-crossing
    REFUSE=all target/release/insightsim run --flow-cmd "python3 examples/repro/refused-subscription.py" \
        --filter segment/fires-once-per-upward-crossing

What a user needs to see at once: the 400 and its message (it is on this flow's stderr).
"""

import json
import os
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


host, port = os.environ["INSIGHTSIM_FLOW_ADDR"].rsplit(":", 1)
server = ThreadingHTTPServer((host, int(port)), Hook)
threading.Thread(target=server.serve_forever, daemon=True).start()
hook = f"http://{host}:{port}/hook"
if os.environ.get("REFUSE") == "all":
    hook = "http://example.com/hook"  # the mistake: not where the flow listens, and not loopback
base = f"{os.environ['INSIGHTSIM_API_URL']}/v1/instances/{os.environ['INSIGHTSIM_INSTANCE_ID']}"
for sub in json.loads(os.environ.get("INSIGHTSIM_SUBSCRIPTIONS", "[]")):
    inputs = dict(sub.get("inputs") or {})
    if "segmentName" in inputs:
        inputs["segment"] = inputs.pop("segmentName")  # the mistake
    body = json.dumps(dict(inputs, NotificationUrl=hook)).encode()
    request = urllib.request.Request(
        f"{base}/triggers/{sub['trigger']}/subscriptions",
        data=body,
        method="POST",
        headers={
            "Authorization": f"Bearer {os.environ['INSIGHTSIM_TOKEN']}",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request) as answer:
            print(f"subscribed to {sub['trigger']}: {answer.status}", file=sys.stderr, flush=True)
    except urllib.error.HTTPError as e:
        answer = e.read().decode()
        print(f"subscription to {sub['trigger']} refused: {e.code} {answer}", file=sys.stderr, flush=True)
threading.Event().wait()
