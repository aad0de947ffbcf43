"""JUnit XML: one test case per finding (failed when it fails the run: --fail-on's categories
and severity); the message starts with its severity."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from drift.render.sarif import _message


def render(result: Any) -> str:
    suite = ET.Element("testsuite", name="drift diff")
    failures = 0
    for f in result.findings:
        case = ET.SubElement(
            suite, "testcase", classname=f"drift.{f.category}", name=f"{f.manager + ':' if f.manager else ''}{f.name}"
        )
        if result.fails(f):
            failures += 1
            failure = ET.SubElement(case, "failure", type=f.category, message=_message(f)[:500])
            failure.text = _message(f)
        else:
            ET.SubElement(case, "skipped", message=_message(f)[:500])
    if not result.findings:
        ET.SubElement(suite, "testcase", classname="drift", name="image matches its description")
    suite.set("tests", str(max(1, len(result.findings))))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(len(result.findings) - failures))
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
