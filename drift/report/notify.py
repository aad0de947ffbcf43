"""`--notify URL`: one JSON POST when a run has news, never a flood, never a crash.

Sent only when a finding is new, updated or resolved, or a target (or engine) could not be
scanned. The body is generic JSON (`changes`, `errors`, `summary`) with a Slack-compatible
`text` field, so the same URL shape works for Slack/Mattermost incoming webhooks and for any
receiver of your own. At most 50 changes are listed; `truncated` says how many more there were.

`send` never raises and never waits more than `timeout` seconds in all: a failed POST comes back
as one line for the caller to print, after the run has been recorded.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from drift.render.report_common import changes, describe, errors, open_count, severity_of, state_counts

MAX_CHANGES = 50
TEXT_LINES = 10  # lines of the chat message; the full list is in `changes`
SCHEMA = "drift.notify/v1"


def _change(f: dict[str, Any]) -> dict[str, Any]:
    keys = ("state", "engine", "target", "target_kind", "category", "manager", "name", "expected", "actual", "fix")
    return {
        **{k: f.get(k) for k in keys},
        "severity": severity_of(f),
        "fingerprint": f.get("fingerprint"),
        "first_seen": f.get("first_seen"),
    }


def _slack(text: str) -> str:
    """Slack mrkdwn: &, < and > are control characters (links, mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _text(
    doc: dict[str, Any], news: list[dict[str, Any]], trouble: list[dict[str, str]], heading: str | None = None
) -> str:
    run = doc.get("run") or {}
    counts = state_counts(doc)
    head = ", ".join(f"{counts[s]} {s}" for s in ("new", "updated", "resolved") if counts[s]) or "no finding changed"
    if trouble:
        head += f", {len(trouble)} could not be scanned"
    title = "baseline recorded" if run.get("first_run") else head
    heading = heading or f"drift report run {run.get('id')} ({run.get('status')})"
    lines = [f"{heading}: {title}; {open_count(doc)} open"]
    lines += [f"• error {e['engine']}/{e['target'] or '(engine)'}: {e['error']}" for e in trouble[:TEXT_LINES]]
    room = max(TEXT_LINES - len(trouble), 0)
    lines += [f"• {f.get('state')} [{severity_of(f)}] {f.get('target')}: {describe(f)}" for f in news[:room]]
    hidden = len(news) - min(len(news), room)
    if hidden:
        lines.append(f"… and {hidden} more")
    return _slack("\n".join(lines))


def payload(doc: dict[str, Any], *, heading: str | None = None) -> dict[str, Any] | None:
    """The JSON body for this run, or None when there is nothing to tell.

    A first run (the baseline) lists no finding: everything already there would be "new", and
    on a fleet that is a flood. It says how many findings the baseline recorded, in one message.
    """
    news, trouble = changes(doc), errors(doc)
    if not news and not trouble:
        return None
    run = doc.get("run") or {}
    listed = [] if run.get("first_run") else news
    return {
        "schema": SCHEMA,
        "text": _text(doc, listed, trouble, heading),
        "run": {k: run.get(k) for k in ("id", "status", "started", "finished", "first_run", "exit_code")},
        "summary": doc.get("summary") or {},
        "changes": [_change(f) for f in listed[:MAX_CHANGES]],
        "truncated": max(len(listed) - MAX_CHANGES, 0),
        "errors": trouble[:MAX_CHANGES],
    }


def _where(url: str) -> str:
    """scheme://host[:port] only: webhook paths and queries often hold a secret token."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")


def _post(url: str, body: bytes, timeout: float) -> str | None:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", "User-Agent": "drift-notify"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # scheme checked by send()
            response.read(65536)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:
        return str(getattr(exc.reason, "strerror", None) or exc.reason)
    except (OSError, ValueError) as exc:
        return str(exc) or type(exc).__name__
    return None


def send(
    url: str,
    doc: dict[str, Any],
    *,
    timeout: float = 10.0,
    extra: dict[str, Any] | None = None,
    heading: str | None = None,
) -> str | None:
    """POST the run's news to `url`. None when posted (or nothing to send), else a one-line error.
    `extra`: keys added to the body, `heading`: the message's first words (`drift watch` says
    which rescan it was)."""
    try:
        scheme = urllib.parse.urlsplit(url).scheme
        where = _where(url)
    except ValueError:
        return "notify: the URL cannot be parsed; give an http:// or https:// URL"
    if scheme not in ("http", "https"):
        return f"notify: {scheme or 'no'} scheme in the URL; give an http:// or https:// URL"
    body = payload(doc, heading=heading)
    if body is None:
        return None
    body.update(extra or {})
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    outcome: list[str | None] = []
    # The whole POST (DNS, connect, a server that answers one byte at a time) within `timeout`.
    worker = threading.Thread(target=lambda: outcome.append(_post(url, data, timeout)), daemon=True)
    worker.start()
    worker.join(timeout + 1.0)
    if not outcome:
        return f"notify: POST to {where} did not finish within {timeout:g} s; the run is recorded"
    error = outcome[0]
    if error is None:
        return None
    return f"notify: POST to {where} failed: {' '.join(error.split())}; the run is recorded"
