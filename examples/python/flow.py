#!/usr/bin/env python3
"""An example flow for the Customer Insights connector, written with Python's standard library only.

It does the three jobs of insightsim's reference flows, so the conformance suite grades it with
the same cases:

* ``datasource-refresh-failed``: post a message to a Teams channel;
* ``segment-threshold-crossed``: e-mail the data owners the new member count and the first ten
  members, fetched through the API;
* ``full-refresh-completed`` (a successful scheduled refresh): export every customer page by page
  (``$top``/``$skip``) to an HTTP endpoint, waiting out every ``429`` for its ``Retry-After``.

It runs in two ways:

* **Started by the harness** (``insightsim run --flow-cmd "python3 examples/python/flow.py"``): it
  reads the ``INSIGHTSIM_*`` environment, listens on ``INSIGHTSIM_FLOW_ADDR`` and subscribes to
  the triggers listed in ``INSIGHTSIM_SUBSCRIPTIONS``, as Power Automate does when a flow is
  turned on.
* **Started by you** (``python3 examples/python/flow.py --listen 127.0.0.1:7070``, then
  ``insightsim run --flow-url http://127.0.0.1:7070/hook --triggers ...``): it listens where you
  say, calls the API and the sinks at the addresses the harness serves them on (by default
  ``127.0.0.1:8080`` and ``127.0.0.1:8081``), and subscribes to nothing: the harness subscribes
  its URL for each case.

Either way it answers every delivery ``202 Accepted`` at once and does the work on a background
thread, and it acts once per ``eventId``: the connector delivers at least once (retries,
duplicates, late replays and redeliveries all carry the same ``eventId``).

``python3 examples/python/flow.py --help`` lists the options.
"""

from __future__ import annotations

import argparse
import email.utils
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# The triggers this flow handles, and the payload fields each of its jobs needs. A delivery of
# another trigger, or one without these fields, is answered 400 (the connector does not retry it).
REQUIRED_FIELDS = {
    "datasource-refresh-failed": ("eventId", "dataSourceName", "friendlyName"),
    "segment-threshold-crossed": ("eventId", "segmentName", "threshold", "entityCount"),
    "full-refresh-completed": ("eventId", "jobId", "jobStatus"),
}

PAGE_SIZE = 100  # rows per page ($top): the API's default maximum page size
FIRST_MEMBERS = 10  # members listed in the e-mail
EMAIL_TO = "data-owners@contoso.com"
DELIVERY_BYTES_MAX = 1 << 20  # the largest delivery body read
CALL_TIMEOUT_S = 100  # one API or sink call; longer counts as a connection failure

STARTED = time.monotonic()


def log(message: str) -> None:
    """One line on stderr (the harness shows a flow's stderr with its failures)."""
    elapsed = time.monotonic() - STARTED
    print(f"flow.py +{elapsed:8.3f}s {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


class Config:
    """Where the API, the sinks and the flow's own endpoint are, and how careful it is."""

    def __init__(self, args: argparse.Namespace) -> None:
        env = os.environ.get
        # Started by the harness (--flow-cmd) unless told where to listen.
        self.started_by_harness = args.listen is None
        self.listen = args.listen or env("INSIGHTSIM_FLOW_ADDR") or ""
        self.api_url = (args.api_url or env("INSIGHTSIM_API_URL") or "http://127.0.0.1:8080").rstrip("/")
        if self.api_url.endswith("/v1"):
            self.api_url = self.api_url[: -len("/v1")]
        # Under --flow-url the harness does not say which instance a case runs on; every
        # delivery does (`instanceId`), so that is what the jobs use. This is only a fallback.
        self.instance_id = args.instance_id or env("INSIGHTSIM_INSTANCE_ID")
        self.token = args.token or env("INSIGHTSIM_TOKEN") or "python-example-flow"
        # --sinks-url (the harness's sinks server) wins; then INSIGHTSIM_SINK_*_URL (what
        # --flow-cmd gives); then the address --flow-url serves them at by default.
        sinks = (args.sinks_url or "").rstrip("/")
        paths = {"teams": "/teams/message", "email": "/email/send", "http": "/http"}
        self.sink_urls = {
            sink: (sinks + path if sinks else None)
            or env(f"INSIGHTSIM_SINK_{sink.upper()}_URL")
            or f"http://127.0.0.1:8081{path}"
            for sink, path in paths.items()
        }
        self.retry_margin_s: float = args.retry_margin
        self.act_delay_s: float = args.act_delay
        self.answer_after_work: bool = args.answer_after_work
        self.subscriptions = self._requested_subscriptions()

    def _requested_subscriptions(self) -> list[dict[str, Any]]:
        """What to subscribe to when started by the harness: `INSIGHTSIM_SUBSCRIPTIONS`, or one
        subscription per trigger this flow handles (as `insightsim flow` does without it)."""
        text = os.environ.get("INSIGHTSIM_SUBSCRIPTIONS", "").strip()
        if not text:
            segment = {"segmentName": "HighValueCustomers", "threshold": 1000}
            defaults = {"segment-threshold-crossed": segment}
            return [{"trigger": t, "inputs": defaults.get(t, {})} for t in REQUIRED_FIELDS]
        try:
            requested = json.loads(text)
            if not isinstance(requested, list):
                raise ValueError("not a JSON array")
            return [s for s in requested if isinstance(s, dict) and "trigger" in s]
        except ValueError as e:
            raise SystemExit(
                f"flow.py: INSIGHTSIM_SUBSCRIPTIONS is not a JSON array of subscriptions: {e}"
            )


# --------------------------------------------------------------------------------------------
# HTTP calls: the Customer Insights API and the sinks
# --------------------------------------------------------------------------------------------


class Reply:
    """The answer to one HTTP call. `status` is 0 when there was no answer at all."""

    def __init__(self, status: int, headers: Any = None, body: bytes = b"") -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    def header(self, name: str) -> str | None:
        return self.headers.get(name) if self.headers is not None else None

    def retry_after_s(self) -> float:
        """`Retry-After` in seconds: a number of seconds or an HTTP date; 1 s when absent."""
        value = (self.header("Retry-After") or "").strip()
        if not value:
            return 1.0
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
        except (TypeError, ValueError):
            return 1.0


def http(method: str, url: str, body: Any = None, token: str | None = None) -> Reply:
    """One HTTP call; a JSON body is sent as JSON."""
    data = None
    request = urllib.request.Request(url, method=method)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, data=data, timeout=CALL_TIMEOUT_S) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as e:  # 4xx and 5xx arrive as exceptions
        with e:
            return Reply(e.code, e.headers, e.read())
    except (urllib.error.URLError, OSError) as e:
        log(f"{method} {url} -> no answer: {e}")
        return Reply(0)


class Api:
    """Calls the Customer Insights API as one connection (one bearer token)."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def url(self, path: str, instance_id: str | None = None) -> str:
        """`path` below the instance (`data/Customer?$top=100`), below the base when it starts
        with `/`, or as is when absolute (a subscription's `Location`)."""
        if path.startswith(("http://", "https://")):
            return path
        if path.startswith("/"):
            return self.config.api_url + path
        instance = instance_id or self.config.instance_id
        if not instance:
            raise ValueError("no instance id: the delivery has no instanceId and none was configured")
        return f"{self.config.api_url}/v1/instances/{instance}/{path}"

    def call(self, method: str, path: str, body: Any = None, instance_id: str | None = None) -> Reply:
        reply = http(method, self.url(path, instance_id), body, token=self.config.token)
        extra = f" Retry-After {reply.header('Retry-After')}" if reply.status == 429 else ""
        log(f"api {method} {path} -> {reply.status}{extra}")
        return reply

    def call_with_retry(
        self,
        method: str,
        path: str,
        instance_id: str | None,
        throttled_max: int,
        failures_max: int = 5,
        body: Any = None,
    ) -> Reply:
        """Calls until the answer is neither a `429` nor a server error, or the retries run out.

        A `429` is retried after its `Retry-After` (plus `--retry-margin`): never sooner, which
        is what the call limit asks of a client. A `5xx` or a connection failure is retried
        after 1 s, 2 s, 4 s, ...
        """
        throttled = failed = 0
        while True:
            reply = self.call(method, path, body, instance_id)
            if reply.status == 429 and throttled < throttled_max:
                throttled += 1
                wait_s = reply.retry_after_s() + self.config.retry_margin_s
                log(f"throttled: waiting {wait_s:.3f} s before calling again")
                time.sleep(wait_s)
            elif (reply.status == 0 or reply.status >= 500) and failed < failures_max:
                time.sleep(2**failed)
                failed += 1
            else:
                return reply


def post_to_sink(config: Config, sink: str, body: dict[str, Any]) -> bool:
    """Posts to a downstream connector (Teams, e-mail, HTTP); retries a failure three times."""
    for attempt in range(4):
        if attempt:
            time.sleep(2 ** (attempt - 1))
        reply = http("POST", config.sink_urls[sink], body)
        log(f"sink {sink} -> {reply.status}")
        if 200 <= reply.status < 300:
            return True
        if 400 <= reply.status < 500:
            return False  # the sink refuses this message: sending it again will not help
    return False


# --------------------------------------------------------------------------------------------
# The three jobs
# --------------------------------------------------------------------------------------------


def odata_string(value: str) -> str:
    """An OData string literal: quoted, with quotes inside doubled (`'O''Brien'`)."""
    return "'" + value.replace("'", "''") + "'"


def encode(value: str) -> str:
    """Percent-encodes a query value; parentheses stay readable, as in the API's examples."""
    return urllib.parse.quote(value, safe="()")


def teams_on_refresh_failure(config: Config, api: Api, event: dict[str, Any]) -> bool:
    """Posts "Point of Sale (PoS) failed to refresh: <first error>" to the Teams channel."""
    errors = event.get("errors") or []
    detail = "no details"
    if errors and isinstance(errors[0], dict) and errors[0].get("message"):
        detail = errors[0]["message"]
    name = event["dataSourceName"]
    return post_to_sink(
        config,
        "teams",
        {
            "title": "Data source refresh failed",
            "text": f"{event['friendlyName']} ({name}) failed to refresh: {detail}",
            "dataSourceName": name,
            "eventId": event["eventId"],
        },
    )


def email_on_segment_threshold(config: Config, api: Api, event: dict[str, Any]) -> bool:
    """E-mails the data owners the new member count and the segment's first members.

    The members are fetched with `$filter=IsMemberOfSegment('Name')&$top=10`. When they cannot be
    fetched (throttled five times in a row, the API failing), the e-mail still goes out with the
    count, and says why the list is missing.
    """
    name = event["segmentName"]
    count, threshold = event["entityCount"], event["threshold"]
    query = (
        f"data/Customer?$filter={encode('IsMemberOfSegment(' + odata_string(name) + ')')}"
        f"&$top={FIRST_MEMBERS}&$select=CustomerId,FullName,EMail&$count=true"
    )
    reply = api.call_with_retry("GET", query, event.get("instanceId"), throttled_max=5)
    answer = reply.json() if reply.status == 200 else None
    members = answer.get("value") if isinstance(answer, dict) else None
    if not isinstance(members, list):
        members = []

    friendly = event.get("friendlyName")
    body = f"{friendly} ({name})" if friendly else name
    body += f" now has {count} members"
    body += f", above the threshold of {threshold}"
    if event.get("previousCount") is not None:
        body += f" (previously {event['previousCount']})"
    if reply.status != 200:
        body += f".\n\nThe first members could not be fetched: the API answered {reply.status}."
    elif not members:
        body += ".\n\nFirst members: none."
    else:
        body += ".\n\nFirst members:"
        for member in members:
            body += f"\n- {member.get('FullName') or '(no name)'} <{member.get('EMail') or 'no e-mail'}>"
    return post_to_sink(
        config,
        "email",
        {
            "to": EMAIL_TO,
            "subject": f"Segment {name} crossed {threshold}: {count} members",
            "body": body,
            "segmentName": name,
            "entityCount": count,
            "firstMembers": members,
            "eventId": event["eventId"],
        },
    )


def export_on_full_refresh(config: Config, api: Api, event: dict[str, Any]) -> bool:
    """After a successful scheduled full refresh, exports every customer page by page.

    `GET data/Customer?$top=100&$skip=N`, N advancing by the rows received, until a page is
    shorter than `$top`; each page goes to the HTTP sink as `{"page", "skip", "rows",
    "customerIds"}`. A failed or cancelled refresh is not exported (its data is stale). If the
    export cannot finish, a Teams message says where it stopped.
    """
    if event["jobStatus"] != "successful":
        log(f"refresh {event['jobId']} ended {event['jobStatus']}: nothing to export")
        return True
    if event.get("jobSubmissionKind", "scheduled") != "scheduled":
        return True  # the trigger fires for scheduled refreshes only; be safe anyway
    page, skip = 1, 0
    while True:
        path = f"data/Customer?$top={PAGE_SIZE}&$skip={skip}"
        reply = api.call_with_retry("GET", path, event.get("instanceId"), throttled_max=10)
        answer = reply.json()
        rows = answer.get("value") if reply.status == 200 and isinstance(answer, dict) else None
        if not isinstance(rows, list):
            if reply.status:
                reason = f"the API answered {reply.status}"
            else:
                reason = "the API could not be reached"
            return report_export_failure(config, event, page, skip, reason)
        ids = [row.get("CustomerId") for row in rows if isinstance(row, dict)]
        exported = {"page": page, "skip": skip, "rows": len(ids), "customerIds": ids}
        sent = post_to_sink(config, "http", exported)
        if not sent:
            return report_export_failure(config, event, page, skip, "the HTTP endpoint refused the page")
        skip += len(ids)
        if len(ids) < PAGE_SIZE:
            log(f"export done: {skip} customers in {page} page(s)")
            return True
        page += 1


def report_export_failure(
    config: Config, event: dict[str, Any], page: int, skip: int, reason: str
) -> bool:
    job = event["jobId"]
    text = f"The export after full refresh {job} stopped at page {page} ($skip={skip}): {reason}"
    log(text)
    # Handled either way: a redelivery would export the pages already sent again.
    note = {"title": "Customer export failed", "text": text, "jobId": job, "eventId": event["eventId"]}
    post_to_sink(config, "teams", note)
    return True


JOBS = {
    "datasource-refresh-failed": teams_on_refresh_failure,
    "segment-threshold-crossed": email_on_segment_threshold,
    "full-refresh-completed": export_on_full_refresh,
}


# --------------------------------------------------------------------------------------------
# Receiving deliveries
# --------------------------------------------------------------------------------------------


class SeenEvents:
    """The event ids already handled, shared by every thread."""

    def __init__(self) -> None:
        self._ids: set[str] = set()
        self._lock = threading.Lock()

    def first_time(self, event_id: str) -> bool:
        """Records `event_id`; true the first time. Recording before acting (not after) keeps
        out a duplicate that arrives while the first delivery is still being handled."""
        with self._lock:
            if event_id in self._ids:
                return False
            self._ids.add(event_id)
            return True

    def forget(self, event_id: str) -> None:
        """Lets a redelivery be handled again (acting failed)."""
        with self._lock:
            self._ids.discard(event_id)


class Flow:
    """The flow: validates a delivery, answers it, and runs its job in the background."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.api = Api(config)
        self.seen = SeenEvents()

    def receive(self, event: Any) -> tuple[int, threading.Thread | None]:
        """Checks a delivery and starts its job on a thread of its own; returns the status to
        answer (and the job's thread). Job threads are daemons: turning the flow off does not
        wait for an export in progress."""
        if not isinstance(event, dict):
            return 400, None
        trigger = event.get("eventType")
        required = REQUIRED_FIELDS.get(trigger) if isinstance(trigger, str) else None
        if required is None:
            log(f"delivery of {trigger!r}: not a trigger this flow handles -> 400")
            return 400, None
        missing = [f for f in required if event.get(f) is None]
        if missing:
            log(f"delivery of {trigger} without {', '.join(missing)} -> 400")
            return 400, None
        event_id = str(event["eventId"])
        if not self.seen.first_time(event_id):
            log(f"delivery {trigger} event={event_id}: already handled -> 202")
            return 202, None
        log(f"delivery {trigger} event={event_id} -> 202")
        job = threading.Thread(
            target=self.work, args=(trigger, event), name=f"job-{event_id}", daemon=True
        )
        job.start()
        return 202, job

    def work(self, trigger: str, event: dict[str, Any]) -> None:
        event_id = str(event["eventId"])
        try:
            if self.config.act_delay_s:
                time.sleep(self.config.act_delay_s)
            done = JOBS[trigger](self.config, self.api, event)
        except Exception as e:  # a bug or an unexpected answer: log it, keep serving
            log(f"job {trigger} event={event_id} failed: {e!r}")
            done = False
        if not done:
            # Not acted on: a redelivery of the event gets another chance.
            self.seen.forget(event_id)


class DeliveryHandler(BaseHTTPRequestHandler):
    """Answers the connector's `POST`s (any path) and `GET /health` (for start-up scripts)."""

    flow: Flow  # set on the subclass made in `serve`

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > DELIVERY_BYTES_MAX:
            self.answer(413)
            return
        try:
            event = json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            log("delivery body is not JSON -> 400")
            self.answer(400)
            return
        status, job = self.flow.receive(event)
        if job is not None and self.flow.config.answer_after_work:
            job.join()  # hold the delivery open until the job is done
        self.answer(status)

    def do_GET(self) -> None:
        self.answer(200 if self.path == "/health" else 404)

    def answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # deliveries are logged by `Flow.receive`


def subscribe(config: Config, api: Api, notification_url: str) -> list[str]:
    """Registers the requested subscriptions of the triggers this flow handles (a `429` is
    retried after its `Retry-After`); returns their `Location`s. A subscription the API refuses
    stops the flow: it could never act."""
    locations = []
    for sub in config.subscriptions:
        trigger = sub["trigger"]
        if trigger not in JOBS:
            continue
        body = dict(sub.get("inputs") or {}, NotificationUrl=notification_url)
        path = f"triggers/{trigger}/subscriptions"
        reply = api.call_with_retry("POST", path, None, throttled_max=5, body=body)
        if reply.status != 201:
            raise SystemExit(
                f"flow.py: the API refused the subscription to {trigger} ({reply.status}): "
                f"{reply.body.decode(errors='replace')}"
            )
        locations.append(reply.header("Location") or "")
    return locations


def unsubscribe(api: Api, locations: list[str]) -> None:
    """Deletes the subscriptions, as Power Automate does when a flow is turned off."""
    for location in locations:
        if location:
            api.call("DELETE", location)


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise SystemExit(f"flow.py: cannot listen on {value!r}; give host:port, e.g. 127.0.0.1:7070")
    return host, int(port)


def main() -> None:
    parser = argparse.ArgumentParser(
        description="An example Customer Insights flow (Teams on refresh failure, e-mail on a "
        "segment crossing, export after a full refresh) for insightsim's conformance suite.",
        epilog="Without --listen it runs as `insightsim run --flow-cmd` starts it, configured by "
        "the INSIGHTSIM_* environment. With --listen it is a server you start yourself, for "
        "`insightsim run --flow-url http://HOST:PORT/hook`.",
    )
    parser.add_argument(
        "--listen", metavar="HOST:PORT", help="listen here and subscribe to nothing (for --flow-url)"
    )
    parser.add_argument(
        "--api-url",
        help="the simulator's base URL (default: INSIGHTSIM_API_URL, else http://127.0.0.1:8080)",
    )
    parser.add_argument(
        "--sinks-url",
        help="the harness's sinks server (default: INSIGHTSIM_SINK_*_URL, else http://127.0.0.1:8081)",
    )
    parser.add_argument(
        "--instance-id",
        help="the instance, when a delivery does not say (default: INSIGHTSIM_INSTANCE_ID)",
    )
    parser.add_argument(
        "--token", help="the bearer token of the flow's connection (default: INSIGHTSIM_TOKEN)"
    )
    parser.add_argument(
        "--retry-margin", type=float, default=0.0, metavar="SECONDS",
        help="wait this much longer than each Retry-After, as careful clients do (default 0)",
    )
    experiments = parser.add_argument_group(
        "timing experiments (a correct flow may behave so; the suite must still pass it)"
    )
    experiments.add_argument(
        "--act-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long after a delivery before acting",
    )
    experiments.add_argument(
        "--answer-after-work",
        action="store_true",
        help="hold each delivery open until its job is done, then answer 202",
    )
    config = Config(parser.parse_args())

    how = "run it under `insightsim run --flow-cmd`, or give --listen HOST:PORT"
    if not config.listen:
        raise SystemExit(f"flow.py: INSIGHTSIM_FLOW_ADDR is not set; {how}")
    if config.started_by_harness and not config.instance_id:
        raise SystemExit(f"flow.py: INSIGHTSIM_INSTANCE_ID is not set; {how}")
    flow = Flow(config)
    handler = type("Handler", (DeliveryHandler,), {"flow": flow})
    server = ThreadingHTTPServer(parse_listen(config.listen), handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    notification_url = f"http://{host}:{port}/hook"
    log(f"listening for deliveries at {notification_url}")
    serving = threading.Thread(target=server.serve_forever, name="server", daemon=True)
    serving.start()

    locations: list[str] = []
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if config.started_by_harness:
        locations = subscribe(config, flow.api, notification_url)
        log(f"subscribed: {len(locations)} subscription(s)")
    else:
        log(f"API at {config.api_url}, sinks at {config.sink_urls['teams']} (Teams), "
            f"{config.sink_urls['email']} (e-mail), {config.sink_urls['http']} (HTTP)")
    stop.wait()

    log("turning off")
    server.shutdown()
    unsubscribe(flow.api, locations)


if __name__ == "__main__":
    main()
