"""`drift watch`'s pure parts: the debounced pending set, what is worth a message, lazy imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from drift.watch.loop import counts, notable
from drift.watch.pending import CATCH_UP, Pending


def test_events_for_one_container_coalesce_and_wait_for_the_last_one() -> None:
    p = Pending(settle=2.0, max_wait=30.0)
    for i in range(10):
        p.note("e", "c1", "web", "exec", now=100.0 + i * 0.5)
    assert p.due(105.0) == []  # 2 s after the last (104.5) is 106.5
    [item] = p.due(106.5)
    assert item.events == 10 and item.trigger() == "exec" and item.name == "web"
    assert len(p) == 0 and p.received == 10


def test_a_container_changed_without_pause_is_still_scanned_by_max_wait() -> None:
    p = Pending(settle=2.0, max_wait=5.0)
    for i in range(100):
        p.note("e", "c1", "web", "exec", now=100.0 + i)  # an exec every second: never 2 s quiet
        if p.due(100.0 + i):
            assert i >= 5
            return
    raise AssertionError("never due")


def test_an_exec_starting_holds_a_waiting_scan_but_starts_none() -> None:
    p = Pending(settle=2.0, max_wait=30.0)
    p.hold("e", "c2", now=100.0)
    assert len(p) == 0
    p.note("e", "c1", "web", "copy", now=100.0)
    p.hold("e", "c1", now=101.5)
    assert p.due(102.5) == [] and len(p.due(103.5)) == 1


def test_the_set_is_bounded_past_its_limit_by_a_catch_up_of_the_engine() -> None:
    p = Pending(settle=1.0, max_wait=10.0, limit=50)
    for i in range(10000):
        p.note("e", f"c{i}", f"n{i}", "exec", now=100.0)
    assert len(p) <= 51
    items = p.due(200.0)
    catch = [d for d in items if d.container == CATCH_UP]
    assert len(catch) == 1 and items[0] is catch[0]  # the catch-up comes first
    assert sum(d.events for d in items) == 10000  # no event lost: each is in a scan that covers it


def test_a_scan_put_back_merges_with_what_came_meanwhile() -> None:
    p = Pending(settle=1.0, max_wait=10.0)
    p.note("e", "c1", "web", "exec", now=100.0)
    [item] = p.due(101.0)
    p.note("e", "c1", "web", "copy", now=101.5)
    p.again(item, now=101.6, delay=4.0)
    assert p.due(102.0) == []
    [merged] = p.due(102.5)
    assert merged.triggers == {"exec": 1, "copy": 1} and merged.attempts == 1


def _doc() -> dict:
    def f(target: str, state: str, path: str) -> dict:
        severity = "high" if "/bin/" in path else "low"
        return {"engine": "default", "target": target, "category": "file", "state": state, "path": path,
                "severity": severity}  # fmt: skip

    return {
        "run": {"id": 3, "first_run": False},
        "targets": [
            {"engine": "default", "name": "old", "status": "scanned", "counts": {"new": 2, "open": 3, "resolved": 1}},
            {"engine": "default", "name": "fresh", "status": "new", "counts": {"new": 1, "open": 1}},
        ],
        "findings": [
            f("old", "new", "/usr/local/bin/tool"),
            f("old", "new", "/srv/note.txt"),
            f("old", "persisting", "/usr/local/bin/other"),
            f("old", "resolved", "/srv/gone.txt"),
            f("fresh", "new", "/usr/local/bin/x"),
        ],
    }


def test_only_changes_named_by_notify_on_of_targets_seen_before_are_posted() -> None:
    doc = _doc()
    assert counts(doc) == {"new": 3, "updated": 0, "resolved": 1, "open": 4}
    default = notable(doc, ("new", "updated"))
    assert [f["path"] for f in default["findings"]] == ["/usr/local/bin/tool", "/srv/note.txt"]
    assert notable(doc, ("severity:high",))["findings"][0]["path"] == "/usr/local/bin/tool"
    assert len(notable(doc, ("severity:high",))["findings"]) == 1
    assert [f["path"] for f in notable(doc, ("resolved",))["findings"]] == ["/srv/gone.txt"]


def test_other_commands_never_import_the_watch() -> None:
    code = "import sys\nfrom drift.cli import app\nprint(sorted(m for m in sys.modules if m.startswith('drift.watch')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['drift.watch', 'drift.watch.cli']"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "xml"], "--format xml: choose text or json"),
        (["--settle", "-1"], "--settle takes a number of seconds >= 0"),
        (["--notify-on", "severity:urgent"], "--notify-on severity:urgent: the level is one of"),
        (["--notify-on", "sometimes"], "--notify-on sometimes: choose from"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "drift", "watch", *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("drift: error: ") and message in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
