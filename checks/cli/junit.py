"""--junit-xml: a backprop-check run as a JUnit XML report, for CI test reporters.

The common schema of Jenkins, GitLab (artifacts:reports:junit) and GitHub's JUnit
reporters: one <testsuites> holding one <testsuite name="backprop-check">, whose
properties are the settings given, with a <testcase> per network x implementation
(classname "backprop-check.<impl>", name the network's repr, time its check's seconds)
and one per identity check of a network whose cost has a - y (classname
"backprop-check.identity", untimed). A failed check's testcase holds
<failure type="mismatch" message="<the diagnosis in one line>"> whose text is the
full report, so the file's failures count is above 0 exactly when the run's verdict
is a mismatch (exit status 1).
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

from backprop import Network
from checks.cli.parse import Settings
from checks.cli.render import LABELS
from checks.cli.run import IDENTITY, Tally
from checks.report import Report, headline

SUITE = "backprop-check"  # the testsuite's name, and the prefix of each classname


def testsuites(tally: Tally, settings: Settings) -> ET.Element:
    """<testsuites> with the run's one <testsuite>: a testcase per check, each identity
    check included; tests, failures and time summed over them."""
    suite = ET.Element("testsuite", name=SUITE)
    properties = ET.SubElement(suite, "properties")
    for key, value in dataclasses.asdict(settings).items():
        if value is not None:
            ET.SubElement(properties, "property", name=key, value=str(value))
    cases: list[ET.Element] = []
    for checked in tally.networks:
        cases.extend(_testcase(check.label, check.net, check.report, check.seconds)
                     for check in checked.checks)
        if checked.identity is not None:
            cases.append(_testcase("identity", checked.net, checked.identity, None))
    suite.extend(cases)
    failures = sum(case.find("failure") is not None for case in cases)
    seconds = sum(check.seconds for check in tally.checks)
    suite.attrib.update(tests=str(len(cases)), failures=str(failures), errors="0",
                        skipped="0", time=f"{seconds:.3f}")
    root = ET.Element("testsuites", name=SUITE, tests=str(len(cases)),
                      failures=str(failures), errors="0", skipped="0", time=f"{seconds:.3f}")
    root.append(suite)
    return root


def _testcase(what: str, net: Network, report: Report, seconds: float | None) -> ET.Element:
    """One check as a testcase: what is the implementation's label, or "identity" for
    the identity check (its name then ends in the table's label of that row)."""
    name = repr(net) if what != "identity" else f"{net!r}: {LABELS[IDENTITY]}"
    case = ET.Element("testcase", classname=f"{SUITE}.{what}", name=name)
    if seconds is not None:
        case.set("time", f"{seconds:.3f}")
    if not report.ok:
        failure = ET.SubElement(case, "failure", message=headline(report), type="mismatch")
        failure.text = str(report)
    return case


def write(path: str, tally: Tally, settings: Settings) -> None:
    """The run's JUnit XML report written to path (UTF-8, with the XML declaration)."""
    tree = ET.ElementTree(testsuites(tally, settings))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
