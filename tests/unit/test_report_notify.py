"""`--notify`: the webhook POST, against a real HTTP server on 127.0.0.1 started here."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from drift.report import notify
from tests.unit.report_fixture import quiet_doc, report_doc


class Receiver:
    """A webhook receiver: records every request, answers with `status`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(
                    {"path": self.path, "type": self.headers.get("Content-Type"), "body": json.loads(body)}
                )
                if receiver.delay:
                    threading.Event().wait(receiver.delay)
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/SECRET-TOKEN"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _many_new(n: int) -> dict[str, Any]:
    doc = report_doc()
    template = next(f for f in doc["findings"] if f["state"] == "new")
    doc["findings"] = [{**template, "name": f"pkg{i:03d}", "fingerprint": f"{i:016x}"} for i in range(n)]
    doc["summary"]["by_state"] = {s: (n if s == "new" else 0) for s in doc["summary"]["by_state"]}
    for t in doc["targets"]:
        t.update(status="scanned", error=None)
    doc["run"]["status"] = "complete"
    return doc


def test_posts_changes_and_a_slack_text(receiver: Receiver) -> None:
    assert notify.send(receiver.url, report_doc()) is None
    assert len(receiver.requests) == 1
    req = receiver.requests[0]
    assert req["path"] == "/hooks/T000/SECRET-TOKEN" and req["type"] == "application/json"
    body = req["body"]
    assert body["schema"] == "drift.notify/v1"
    assert [(c["state"], c["target"], c["name"]) for c in body["changes"]] == [
        ("new", "shop-web-1", "curl"),
        ("new", "shop-web-1", "libcurl4"),
        ("new", "shop-web-2", "/etc/passwd<script>alert(1)</script>"),
        ("new", "shop:latest", "tini"),
        ("updated", "shop-web-2", "openssl"),
        ("resolved", "shop-web-2", "/tmp/debug.log"),
        ("resolved", "shop:latest", "apt-get upgrade in RUN"),
    ]
    assert body["truncated"] == 0
    assert body["errors"] == [{"engine": "local", "target": "worker", "error": body["errors"][0]["error"]}]
    text = body["text"]
    assert text.startswith("drift report run 4 (partial): 4 new, 1 updated, 2 resolved, 1 could not be scanned")
    assert "• error local/worker: cannot read" in text
    assert "<script>" not in text and "&lt;script&gt;" in text  # Slack control characters escaped


def test_caps_at_50_changes_with_a_truncated_count(receiver: Receiver) -> None:
    assert notify.send(receiver.url, _many_new(73)) is None
    body = receiver.requests[0]["body"]
    assert len(body["changes"]) == 50 and body["truncated"] == 23
    assert body["changes"][0]["name"] == "pkg000" and body["changes"][-1]["name"] == "pkg049"
    assert body["text"].count("\n• ") == notify.TEXT_LINES
    assert body["text"].endswith("… and 63 more")


def test_a_baseline_is_one_message_that_lists_no_finding(receiver: Receiver) -> None:
    """On a first run every finding already there is 'new': listing them would flood the channel."""
    doc = _many_new(73)
    doc["run"]["first_run"] = True
    assert notify.send(receiver.url, doc) is None
    [request] = receiver.requests
    body = request["body"]
    assert body["changes"] == [] and body["truncated"] == 0 and body["run"]["first_run"] is True
    assert "baseline recorded" in body["text"] and "\n" not in body["text"]


def test_nothing_sent_when_nothing_changed(receiver: Receiver) -> None:
    assert notify.payload(quiet_doc()) is None
    assert notify.send(receiver.url, quiet_doc()) is None
    assert receiver.requests == []


def test_a_target_error_alone_is_sent(receiver: Receiver) -> None:
    doc = quiet_doc()
    doc["targets"][0].update(status="error", error="gone mid-scan")
    assert notify.send(receiver.url, doc) is None
    body = receiver.requests[0]["body"]
    assert body["changes"] == [] and body["errors"][0]["error"] == "gone mid-scan"


def test_server_error_is_one_line_without_the_token(receiver: Receiver) -> None:
    receiver.status = 500
    error = notify.send(receiver.url, report_doc())
    assert len(receiver.requests) == 1
    assert error is not None and "\n" not in error
    assert error.startswith(f"notify: POST to http://127.0.0.1:{receiver.server.server_address[1]} failed: HTTP 500")
    assert "SECRET-TOKEN" not in error


def test_refused_port_is_one_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    error = notify.send(f"http://127.0.0.1:{port}/hook", report_doc(), timeout=5)
    assert error is not None and "\n" not in error
    assert error.startswith(f"notify: POST to http://127.0.0.1:{port} failed:") and "refused" in error.lower()


def test_slow_server_does_not_block_past_the_timeout(receiver: Receiver) -> None:
    receiver.delay = 5.0
    error = notify.send(receiver.url, report_doc(), timeout=0.5)
    assert error is not None and ("timed out" in error or "did not finish" in error)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "not a url"])
def test_only_http_urls(url: str) -> None:
    error = notify.send(url, report_doc())
    assert error is not None and "http://" in error
