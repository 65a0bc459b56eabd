"""What a run prints (checks.cli.render): the table's a - y rows and their legend, the
summary of a failing sweep, the JSON object and its documented shape, the --plot choice."""

import json
import re
import textwrap

import pytest

from checks.cli import main, render
from checks.cli.run import IDENTITY, SIMPLIFIED, Row
from tests.cli.common import ONE_NETWORK, STUDENT, plant_bp4_slip, user_module


def test_the_a_minus_y_rows_and_their_legend_appear_only_for_costs_that_have_it(capsys):
    assert main(["--cost", "quadratic", "--activations", "tanh", "--impl", "loop"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("backprop-check: 3 networks x 1 implementation (loop), ")
    assert "a − y" not in out and render.LEGEND not in out
    assert main(["--cost", "cross_entropy", "--sizes", "3,2", "--impl", "loop"]) == 0
    out = capsys.readouterr().out
    assert "\nbackprop-check: 1 network x 1 implementation (loop), " in out
    table = out[out.index("\nbackprop-check: "):]
    assert "\nBP1 (cost with a − y) " in table
    assert re.search(r"^BP1 +\d", table, flags=re.MULTILINE) is None  # no plain BP1 row
    assert out.count(render.LEGEND) == 1


def test_a_failing_sweep_names_each_failing_network_once_with_its_first_broken_equation(
        tmp_path, capsys, monkeypatch):
    (tmp_path / "sumbackprop.py").write_text(textwrap.dedent("""
        from backprop import Gradients, vectorized

        def backprop(net, X, Y):
            g = vectorized.backprop(net, X, Y)
            return Gradients(g.delta, [w * X.shape[1] for w in g.dW], g.db)  # BP4: no 1/m
    """))
    monkeypatch.chdir(tmp_path)
    assert main(["--impl", "sumbackprop:backprop", "--activations", "tanh",
                 "--cost", "quadratic"]) == 1
    out = capsys.readouterr().out
    assert "Failed: 3 checks (network x implementation)" in out
    for sizes in ("[3, 2]", "[3, 4, 2]", "[3, 5, 4, 3]"):
        assert out.count(f"Network(sizes={sizes},") == 1, out
    assert out.count("a missing 1/m") >= 3 and "analytic=" not in out


def test_json_output_has_ok_settings_and_equations(capsys):
    assert main(["--sizes", "3,4,2", "--activations", "tanh", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True
    assert data["settings"]["sizes"] == "3,4,2"
    assert set(data["equations"]) == {"BP1", "BP2", "BP3", "BP4"}
    # "arrays" counts the arrays compared; its former duplicate "networks" is gone.
    assert all(row["arrays"] > 0 and "networks" not in row for row in data["equations"].values())
    assert data["reports"][0]["blocks"][0]["checked"] > 0


ELEMENT_KEYS = {"where", "index", "analytic", "numeric", "error", "tolerance"}


BLOCK_KEYS = {"equation", "name", "layer", "method", "checked", "skipped", "worst_error",
              "tolerance_at_worst", "worst_error_over_tolerance", "mismatches",
              "skipped_elements"}


REPORT_KEYS = {"network", "impl", "ok", "title", "method", "method_reason", "checked",
               "skipped", "mismatched", "blocks", "diagnosis"}


EQUATION_KEYS = {"arrays", "checked", "skipped", "worst_error_over_tolerance",
                 "worst_error", "methods", "failures"}


def test_json_has_the_shape_documented_in_the_cli_docstring(tmp_path, capsys, monkeypatch):
    plant_bp4_slip(tmp_path, monkeypatch)
    assert main([*ONE_NETWORK, "--impl", "mybackprop:backprop", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"schema", "ok", "settings", "equations", "reports", "non_finite"}
    assert data["schema"] == 2 and data["ok"] is False and data["non_finite"] == []
    assert set(data["settings"]) == {"sizes", "activations", "cost", "batch", "dtype", "seed",
                                     "method", "directions", "delta", "labels", "impl",
                                     "json", "plot", "junit_xml"}
    assert all(set(row) == EQUATION_KEYS for row in data["equations"].values())
    assert len(data["equations"]["BP4"]["failures"]) == 3 * 4 + 4 * 2  # all of dW doubled
    (report,) = data["reports"]
    assert set(report) == REPORT_KEYS and report["impl"] == "mybackprop:backprop"
    assert all(set(block) == BLOCK_KEYS for block in report["blocks"])
    bp4 = next(b for b in report["blocks"] if b["name"] == "dW[1]")
    assert set(bp4["mismatches"][0]) == ELEMENT_KEYS
    assert bp4["mismatches"][0]["where"] == "BP4 dW[1][j=0, i=0]"


def test_json_equations_are_keyed_by_the_tables_labels(capsys):
    argv = ["--sizes", "3,2", "--cost", "cross_entropy", "--impl", "loop"]
    assert main(argv) == 0
    table_rows = {line.split("  ")[0].strip() for line in capsys.readouterr().out.splitlines()}
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == 2
    assert list(data["equations"]) == [render.LABELS[SIMPLIFIED], render.LABELS[IDENTITY],
                                       "BP3", "BP4"]
    assert set(data["equations"]) <= table_rows


NON_FINITE_GRADIENTS = """
    import numpy as np
    from backprop import Gradients, vectorized

    def backprop(net, X, Y):
        g = vectorized.backprop(net, X, Y)
        return Gradients([np.full_like(d, np.nan) for d in g.delta],
                         [np.full_like(w, np.inf) for w in g.dW], g.db)
"""


def _reject(token):
    raise ValueError(f"{token} is not JSON")


def test_json_is_strict_with_nan_and_inf_gradients_as_null_and_their_paths_listed(
        tmp_path, capsys, monkeypatch):
    user_module(tmp_path, monkeypatch, "nangrads", NON_FINITE_GRADIENTS)
    assert main(["--sizes", "2,1", "--activations", "sigmoid", "--cost", "cross_entropy",
                 "--batch", "2", "--impl", "nangrads:backprop", "--json"]) == 1
    data = json.loads(capsys.readouterr().out, parse_constant=_reject)
    assert data["ok"] is False
    delta, db, dW = data["reports"][0]["blocks"]
    assert [delta["name"], db["name"], dW["name"]] == ["delta[0]", "db[0]", "dW[0]"]
    assert delta["mismatches"][0]["analytic"] is None and dW["worst_error"] is None
    assert delta["mismatches"][0]["numeric"] is not None  # only non-finite values are null
    assert "reports[0].blocks[0].mismatches[0].analytic" in data["non_finite"]
    assert "reports[0].blocks[2].worst_error" in data["non_finite"]
    assert "equations.BP4.worst_error_over_tolerance" in data["non_finite"]
    assert 'equations["BP1 (cost with a − y)"].worst_error' in data["non_finite"]
    assert all(db[key] is not None for key in ("worst_error", "worst_error_over_tolerance"))
    assert not any(path.startswith("reports[0].blocks[1].") for path in data["non_finite"])


def test_plot_writes_a_heatmap_of_the_failing_network(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    plant_bp4_slip(tmp_path, monkeypatch)
    assert main([*ONE_NETWORK, "--impl", "mybackprop:backprop", "--json",
                 "--plot", "heat.png"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["plot"] == {"path": "heat.png", "report": 0}
    assert (tmp_path / "heat.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_chooses_the_first_failure_else_the_deepest_network():
    assert render.plotted([True, True, False, False], [1, 3, 2, 3]) == 2
    assert render.plotted([True] * 4, [1, 3, 2, 3]) == 1


def _rows(out):
    """The table's rows by label: [arrays, method, worst err/tol, worst error, rel. error,
    checked, skipped, verdict], as strings."""
    table = out[out.index("backprop-check: "):].splitlines()
    start = next(k for k, line in enumerate(table) if line.startswith("equation"))
    rows = {}
    for line in table[start + 1:]:
        if not line.startswith(("BP", "a − y")):
            break
        number = r" +(\S*\d\S*|inf|nan|-)"
        row = re.fullmatch(rf"(.+?) {{2,}}(\d+) (.+?){number * 3} +(\d+) +(\d+)  (.+)", line)
        assert row is not None, line
        rows[row[1]] = list(row.groups()[1:])
    return rows


def test_rows_of_arrays_not_given_say_so_instead_of_verified(tmp_path, capsys, monkeypatch):
    # delta returned for the network of depth 1 only: BP1 is given once, not given twice.
    user_module(tmp_path, monkeypatch, "somedelta", """
        from backprop import vectorized

        def backprop(net, X, Y):
            g = vectorized.backprop(net, X, Y)
            return {"delta": g.delta if net.L == 1 else None, "dW": g.dW, "db": g.db}
    """)
    assert main(["--activations", "tanh", "--cost", "quadratic", "--impl",
                 "somedelta:backprop"]) == 0
    out = capsys.readouterr().out
    rows = _rows(out)
    assert rows["BP1"][0] == "1" and rows["BP1"][-1] == "verified (2 not given)"
    assert rows["BP2"][0] == "0" and rows["BP2"][-1] == "not given"
    assert rows["BP2"][2:5] == ["-", "-", "-"], rows["BP2"]  # no numbers, not zeros
    assert rows["BP4"][-1] == "verified"
    assert out.rstrip().splitlines()[-1] == (
        "verified: every element given within its error-model tolerance (not given: BP1, BP2)")


def test_an_inf_gradient_is_told_apart_from_a_zero_numerical_derivative(
        tmp_path, capsys, monkeypatch):
    user_module(tmp_path, monkeypatch, "infdw", """
        from backprop import vectorized

        def backprop(net, X, Y):
            g = vectorized.backprop(net, X, Y)
            g.dW[0][0, 0] = float("inf")
            return g
    """)
    assert main(["--sizes", "3,2", "--activations", "sigmoid", "--cost", "quadratic",
                 "--impl", "infdw:backprop"]) == 1
    out = capsys.readouterr().out
    assert render.NONFINITE_LEGEND in out and render.ZERO_LEGEND not in out, out


def test_rows_wrong_only_because_of_a_broken_bp1_say_they_follow_from_it(
        tmp_path, capsys, monkeypatch):
    # The student's a - y under the quadratic cost: BP1 broken, the rest follows from it.
    user_module(tmp_path, monkeypatch, "mybackprop", STUDENT)
    assert main(["--sizes", "3,4,2", "--activations", "sigmoid", "--cost", "quadratic",
                 "--impl", "mybackprop:backprop"]) == 1
    out = capsys.readouterr().out
    rows = _rows(out)
    assert rows["BP1"][-1] == "8 MISMATCHED"
    for equation in ("BP2", "BP3", "BP4"):
        assert rows[equation][-1].endswith("MISMATCHED (follow from BP1)"), rows[equation]
    # rel. error: |analytic - numeric| / |numeric| at the row's worst element, the first
    # element the report lists for delta[1] (worst error / tolerance first).
    worst = re.search(r"BP1 delta\[1\]\[j=\d, x=\d\]: analytic=(\S+) numeric=(\S+) "
                      r"error=(\S+) > tolerance \S+ \(relative error (\S+)\)", out)
    assert worst is not None, out
    analytic, numeric, error, relative = (float(v) for v in worst.groups())
    assert rows["BP1"][3] == f"{error:.2e}" and rows["BP1"][4] == worst.group(4)
    assert relative == pytest.approx(abs(analytic - numeric) / abs(numeric), rel=0.05)


def test_a_verdict_counts_what_follows_from_a_broken_delta_and_what_was_not_given():
    assert render.verdict(Row("BP4", arrays=4, failures=["e"] * 5, follow={"BP1": 3})) == (
        "5 MISMATCHED (3 follow from BP1)")
    assert render.verdict(Row("BP3", arrays=4, not_given=2, failures=["e"] * 2,
                              follow={"BP1": 1, "BP2": 1})) == (
        "2 MISMATCHED (follow from BP1, BP2; 2 not given)")
    assert render.verdict(Row("BP2", not_given=3)) == "not given"
