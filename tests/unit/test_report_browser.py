"""The HTML report in a real headless chromium (Debian's): it loads cleanly and its filters work.

Chromium is installed by scripts/chromium.sh when missing (root, as in CI). Without it the
test skips on a laptop and fails under CI=true, like the engine tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drift.render import report_html
from tests.browser import Browser, find_chromium
from tests.conftest import in_ci
from tests.unit.report_fixture import report_doc

VISIBLE_ROWS = "Array.from(document.querySelectorAll('tr.finding')).filter(r => r.offsetParent !== null)"
VISIBLE_SECTIONS = "Array.from(document.querySelectorAll('section.target')).filter(s => s.offsetParent !== null)"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    binary = find_chromium(install=True)
    if binary is None:
        if in_ci():
            pytest.fail("CI=true and chromium could not be installed (scripts/chromium.sh)")
        pytest.skip("no chromium (run scripts/chromium.sh as root)")
    b = Browser(binary)
    yield b
    b.close()


def _doc_with_traps() -> dict[str, Any]:
    """The fixture plus names that would run code if they were markup."""
    doc = report_doc()
    traps = [
        '<img src=x onerror="window.__pwned=1">',
        "<script>window.__pwned=2</script>",
        '"><svg onload=window.__pwned=3>',
    ]
    template = doc["findings"][0]
    doc["findings"] += [
        {**template, "name": t, "fingerprint": f"trap{i}", "state": "persisting"} for i, t in enumerate(traps)
    ]
    return doc


def _open(browser: Browser, tmp_path: Path, doc: dict[str, Any]) -> None:
    page = tmp_path / "report.html"
    page.write_text(report_html.render(doc), encoding="utf-8")
    browser.events.clear()
    browser.open(page.as_uri())


def _rows(browser: Browser) -> list[list[str]]:
    return browser.eval(f"{VISIBLE_ROWS}.map(r => [r.dataset.state, r.dataset.category, r.dataset.target])")


def test_page_loads_without_console_errors_and_runs_no_injected_code(browser: Browser, tmp_path: Path) -> None:
    doc = _doc_with_traps()
    _open(browser, tmp_path, doc)
    assert browser.problems() == []
    assert browser.eval("typeof window.__pwned") == "undefined"
    assert browser.eval("document.querySelectorAll('img, iframe, object, embed').length") == 0
    # the trap names are on the page as text
    assert browser.eval("document.body.innerText.includes('<script>window.__pwned=2</script>')") is True
    assert len(_rows(browser)) == len(doc["findings"])
    assert (
        browser.eval("document.getElementById('shown').textContent")
        == f"{len(doc['findings'])} of {len(doc['findings'])} findings shown"
    )
    assert browser.eval(
        "document.getElementById('incomplete') !== null && document.getElementById('incomplete').offsetParent !== null"
    )
    assert browser.eval("document.querySelectorAll('svg.chart polyline').length") >= 3
    # the probe: a console error on this page is seen, so the empty list above means something
    browser.eval("console.error('probe')")
    assert browser.problems() == ["console: probe"]


def test_filters_hide_rows(browser: Browser, tmp_path: Path) -> None:
    doc = report_doc()
    _open(browser, tmp_path, doc)
    new = [f for f in doc["findings"] if f["state"] == "new"]

    browser.click('#state-filter .chip[data-state="new"]')
    rows = _rows(browser)
    assert [r[0] for r in rows] == ["new"] * len(new)
    assert (
        browser.eval("document.querySelector('#state-filter .chip[data-state=\"new\"]').getAttribute('aria-pressed')")
        == "true"
    )
    # sections with no new finding are hidden: the worker (only stale) is not shown
    shown_sections = browser.eval(f"{VISIBLE_SECTIONS}.map(s => s.dataset.target)")
    assert sorted(shown_sections) == sorted({f"local/{f['target_kind']}/{f['target']}" for f in new})

    browser.click('#state-filter .chip[data-state="resolved"]')  # a second state adds to the first
    assert sorted({r[0] for r in _rows(browser)}) == ["new", "resolved"]

    browser.eval("(() => { const s = document.getElementById('category-filter'); s.value = 'file';"
                 " s.dispatchEvent(new Event('change')); })()")  # fmt: skip
    rows = _rows(browser)
    assert rows and all(r[1] == "file" and r[0] in ("new", "resolved") for r in rows)

    browser.click("#clear-filters")
    assert len(_rows(browser)) == len(doc["findings"])

    browser.eval("(() => { const s = document.getElementById('target-filter'); s.value = 'local/container/worker';"
                 " s.dispatchEvent(new Event('change')); })()")  # fmt: skip
    assert {r[2] for r in _rows(browser)} == {"local/container/worker"}
    assert browser.eval(f"{VISIBLE_SECTIONS}.map(s => s.dataset.target)") == ["local/container/worker"]
    assert browser.problems() == []


def test_minimum_severity_filter(browser: Browser, tmp_path: Path) -> None:
    from drift.render.report_common import severity_of
    from drift.severity import RANK

    doc = report_doc()
    _open(browser, tmp_path, doc)
    for level in ("medium", "low", "info"):
        browser.eval(f"(() => {{ const s = document.getElementById('severity-filter'); s.value = '{RANK[level]}';"
                     " s.dispatchEvent(new Event('change')); })()")  # fmt: skip
        shown = browser.eval(f"{VISIBLE_ROWS}.map(r => r.dataset.fingerprint)")
        want = [f["fingerprint"] for f in doc["findings"] if RANK[severity_of(f)] <= RANK[level]]
        assert sorted(shown) == sorted(want), level
    browser.click("#clear-filters")
    assert browser.eval("document.getElementById('severity-filter').value") == ""
    assert len(_rows(browser)) == len(doc["findings"])
    assert browser.problems() == []


def test_filters_on_the_replicas_of_a_workload(browser: Browser, tmp_path: Path) -> None:
    """A workload's section counts each replica's finding and answers the target and state filters."""
    from tests.unit.test_report_outputs import _replica_doc

    doc = _replica_doc()
    _open(browser, tmp_path, doc)
    assert browser.eval("document.getElementById('shown').textContent") == "3 of 3 findings shown"
    assert browser.eval("document.querySelectorAll('details.replicas li.replica').length") == 3
    _pick_target(browser, "node-1/container/shop/db-0/app")
    assert browser.eval(f"{VISIBLE_SECTIONS}.map(s => s.dataset.target)") == ["node-1/container/shop/db-0/app"]
    _pick_target(browser, "node-1/container/shop/web/app")
    assert browser.eval(f"{VISIBLE_SECTIONS}.map(s => s.dataset.target)") == ["node-1/container/shop/web/app"]
    assert browser.eval("document.getElementById('shown').textContent") == "3 of 3 findings shown"
    browser.click("#clear-filters")
    browser.click('#state-filter .chip[data-state="persisting"]')
    assert browser.eval(f"{VISIBLE_SECTIONS}.length") == 0
    assert browser.eval("document.getElementById('shown').textContent") == "0 of 3 findings shown"
    assert browser.problems() == []


def _pick_target(browser: Browser, key: str) -> None:
    browser.eval(
        "(() => { const s = document.getElementById('target-filter'); s.value = " + repr(key) + ";"
        " s.dispatchEvent(new Event('change')); })()"
    )
