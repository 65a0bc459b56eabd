"""What a run prints (checks.cli.render): the table's a - y rows and their legend, the
summary of a failing sweep, the JSON object and its documented shape, the --plot choice."""

import json
import re
import textwrap

import pytest

from checks.cli import main, render
from tests.cli.common import ONE_NETWORK, plant_bp4_slip


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
    assert set(data) == {"ok", "settings", "equations", "reports"}
    assert data["ok"] is False
    assert set(data["settings"]) == {"sizes", "activations", "cost", "batch", "dtype", "seed",
                                     "method", "directions", "delta", "labels", "impl",
                                     "json", "plot"}
    assert all(set(row) == EQUATION_KEYS for row in data["equations"].values())
    assert len(data["equations"]["BP4"]["failures"]) == 3 * 4 + 4 * 2  # all of dW doubled
    (report,) = data["reports"]
    assert set(report) == REPORT_KEYS and report["impl"] == "mybackprop:backprop"
    assert all(set(block) == BLOCK_KEYS for block in report["blocks"])
    bp4 = next(b for b in report["blocks"] if b["name"] == "dW[1]")
    assert set(bp4["mismatches"][0]) == ELEMENT_KEYS
    assert bp4["mismatches"][0]["where"] == "BP4 dW[1][j=0, i=0]"


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
