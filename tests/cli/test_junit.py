"""--junit-xml (checks.cli.junit): a JUnit XML report a CI reporter reads, its failures
above 0 exactly when the exit status is 1, each failure's message the diagnosis."""

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from checks.cli import main, render
from checks.cli.run import IDENTITY
from tests.cli.common import user_module

# One tiny network whose cost has a - y: one check per implementation and its identity check.
TINY = ["--sizes", "2,1", "--activations", "sigmoid", "--cost", "cross_entropy", "--batch", "2"]


def _suite(path):
    """The file's <testsuite>, after checking that <testsuites> agrees with it."""
    root = ET.parse(path).getroot()  # raises ParseError unless well-formed XML
    assert root.tag == "testsuites"
    (suite,) = root
    assert suite.tag == "testsuite" and suite.get("name") == "backprop-check"
    for key in ("tests", "failures", "errors", "skipped"):
        assert root.get(key) == suite.get(key), key
    assert float(suite.attrib["time"]) >= 0
    return suite


def test_a_passing_run_writes_one_testcase_per_check_and_identity_check_without_failures(
        tmp_path, capsys):
    path = tmp_path / "report.xml"
    assert main([*TINY, "--junit-xml", str(path)]) == 0
    suite = _suite(path)
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "0", "0")
    cases = suite.findall("testcase")
    assert [c.get("classname") for c in cases] == [
        "backprop-check.vectorized", "backprop-check.loop", "backprop-check.identity"]
    net = ("Network(sizes=[2, 1], activations=['sigmoid'], cost='cross_entropy', "
           "dtype=float64)")
    assert [c.get("name") for c in cases] == [net, net, f"{net}: {render.LABELS[IDENTITY]}"]
    assert all(c.find("failure") is None for c in cases)
    assert float(cases[0].attrib["time"]) > 0
    settings = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert settings["sizes"] == "2,1" and settings["seed"] == "0"
    assert "backprop-check: 1 network x 2 implementations" in capsys.readouterr().out


PLANTED_BUG = """
    from backprop import Gradients, vectorized

    def backprop(net, X, Y):
        g = vectorized.backprop(net, X, Y)
        dW = [w.copy() for w in g.dW]
        dW[0] = dW[0] * 1.01  # a slip in dW[0] only
        return Gradients(g.delta, dW, g.db)
"""


def test_a_failing_run_as_a_user_runs_it_writes_the_diagnosis_as_the_failure_message(
        tmp_path, monkeypatch):
    user_module(tmp_path, monkeypatch, "mynet", PLANTED_BUG)
    result = subprocess.run(
        [sys.executable, "-m", "checks", *TINY, "--impl", "mynet:backprop", "--json",
         "--junit-xml", "backprop-check.xml"],
        cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["ok"] is False  # --json's stdout is still the JSON alone
    suite = _suite(tmp_path / "backprop-check.xml")
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    user, identity = suite.findall("testcase")
    assert user.get("classname") == "backprop-check.mynet:backprop"
    assert identity.find("failure") is None  # the identity check does not run the user's code
    failure = user.find("failure")
    assert failure.get("type") == "mismatch"
    assert failure.get("message") == (
        "BP4 at layer 0: dW[0] != your delta[0] @ a[0].T / m (every element is 1.01 times "
        "the numerical value); 2 of 5 elements mismatched")
    # The text is the full report, unicode and XML's special characters intact.
    assert failure.text.startswith("check_network(backprop) Network(sizes=[2, 1]")
    assert "BP4 dW[0][j=0, i=0]: analytic=" in failure.text and "> tolerance" in failure.text
    assert identity.get("name").endswith("a − y = general BP1 (identity check)")


def test_junit_xml_into_a_missing_directory_exits_2_before_checking(tmp_path, capsys):
    for path, message in ((tmp_path / "no" / "r.xml", "does not exist"),
                          (tmp_path, "is a directory")):
        with pytest.raises(SystemExit) as exc:
            main([*TINY, "--junit-xml", str(path)])
        assert exc.value.code == 2
        captured = capsys.readouterr()
        assert message in captured.err and "usage: backprop-check" in captured.err
        assert captured.out == ""
    assert not (tmp_path / "no").exists()
