"""backprop-check, the command line: the main job, its exit codes (0 verified, 1 a mismatch,
2 a usage error), its JSON, --plot and progress. A new test goes here if it runs main() or
the command; what a bad option's message says is tested here too, while the same bad
value passed to the Python API belongs in test_validation.py.
"""

import io
import json
import re
import subprocess
import sys
import textwrap

import pytest

from checks import cli
from checks.cli import _plotted, main


def test_main_job_verifies_every_equation_and_exits_0(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for equation in ("BP1", "BP2", "BP3", "BP4", "δ^L = a^L − y", "a−y = general BP1"):
        assert equation in out
    assert "MISMATCH" not in out and "verified" in out


def test_json_output_has_ok_settings_and_equations(capsys):
    assert main(["--sizes", "3,4,2", "--activations", "tanh", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True
    assert data["settings"]["sizes"] == "3,4,2"
    assert set(data["equations"]) == {"BP1", "BP2", "BP3", "BP4"}
    assert data["reports"][0]["blocks"][0]["checked"] > 0


def test_a_planted_bug_in_a_user_backprop_exits_1_and_names_the_equation(tmp_path, capsys,
                                                                         monkeypatch):
    (tmp_path / "mybackprop.py").write_text(textwrap.dedent("""
        from backprop import Gradients, vectorized

        def backprop(net, X, Y):
            g = vectorized.backprop(net, X, Y)
            return Gradients(g.delta, [2 * w for w in g.dW], g.db)  # BP4 slip
    """))
    monkeypatch.chdir(tmp_path)
    assert main(["--sizes", "3,4,2", "--impl", "mybackprop:backprop"]) == 1
    out = capsys.readouterr().out
    assert "BP4 dW[1][j=0, i=0]" in out and "FAILED" in out


@pytest.mark.parametrize("argv", [["--batch", "0"], ["--sizes", "3,x,2"], ["--cost", "nope"],
                                  ["--impl", "no_such_module:f"], ["--activations", "nope"]])
def test_bad_usage_exits_2_with_a_message(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage: backprop-check" in capsys.readouterr().err


def test_python_dash_m_checks_runs_the_same_command():
    result = subprocess.run([sys.executable, "-m", "checks", "--sizes", "2,3,1", "--impl",
                             "vectorized"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "BP4" in result.stdout


def _plant_bp4_slip(tmp_path, monkeypatch):
    (tmp_path / "mybackprop.py").write_text(textwrap.dedent("""
        from backprop import Gradients, vectorized

        def backprop(net, X, Y):
            g = vectorized.backprop(net, X, Y)
            return Gradients(g.delta, [2 * w for w in g.dW], g.db)  # BP4 slip
    """))
    monkeypatch.chdir(tmp_path)


ELEMENT_KEYS = {"where", "index", "analytic", "numeric", "error", "tolerance"}
BLOCK_KEYS = {"equation", "name", "layer", "method", "checked", "skipped", "worst_error",
              "tolerance_at_worst", "worst_error_over_tolerance", "mismatches",
              "skipped_elements"}
REPORT_KEYS = {"network", "impl", "ok", "title", "method", "method_reason", "checked",
               "skipped", "mismatched", "blocks"}
EQUATION_KEYS = {"networks", "checked", "skipped", "worst_error_over_tolerance",
                 "worst_error", "methods", "failures"}


def test_json_has_the_shape_documented_in_the_cli_docstring(tmp_path, capsys, monkeypatch):
    _plant_bp4_slip(tmp_path, monkeypatch)
    assert main(["--sizes", "3,4,2", "--impl", "mybackprop:backprop", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"ok", "settings", "equations", "reports"}
    assert data["ok"] is False
    assert set(data["settings"]) == {"sizes", "activations", "cost", "batch", "dtype", "seed",
                                     "method", "impl", "json", "plot"}
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
    _plant_bp4_slip(tmp_path, monkeypatch)
    assert main(["--sizes", "3,4,2", "--impl", "mybackprop:backprop", "--json",
                 "--plot", "heat.png"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["plot"] == {"path": "heat.png", "report": 0}
    assert (tmp_path / "heat.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_chooses_the_first_failure_else_the_deepest_network():
    reports = [{"ok": True}, {"ok": True}, {"ok": False}, {"ok": False}]
    assert _plotted(reports, [1, 3, 2, 3]) == 2
    assert _plotted([{"ok": True}] * 4, [1, 3, 2, 3]) == 1


def test_plot_without_matplotlib_exits_2_saying_how_to_install_it(tmp_path, capsys,
                                                                  monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(SystemExit) as exc:
        main(["--sizes", "3,4,2", "--plot", str(tmp_path / "x.png")])
    assert exc.value.code == 2
    assert "pip install -e '.[plot]'" in capsys.readouterr().err


def test_plot_into_a_missing_directory_exits_2_before_checking(tmp_path, capsys):
    pytest.importorskip("matplotlib")  # without it, --plot exits 2 for that reason first
    with pytest.raises(SystemExit) as exc:
        main(["--plot", str(tmp_path / "no" / "x.png")])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert "does not exist" in captured.err and captured.out == ""


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_on_a_terminal_is_one_rewritten_line_on_stderr(monkeypatch, capsys):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["--sizes", "3,4,2", "--impl", "both", "--json"]) == 0
    json.loads(capsys.readouterr().out)  # stdout stays pure JSON
    err = terminal.getvalue()
    assert "\r[1/2] checking vectorized on [3, 4, 2] quadratic" in err
    assert "\r[2/2] checking loop on [3, 4, 2] quadratic" in err
    assert "\n" not in err and err.endswith("\r")  # the line is wiped at the end


def test_progress_off_a_terminal_appears_only_after_progress_after_seconds(monkeypatch,
                                                                            capsys):
    assert main(["--sizes", "3,4,2", "--json"]) == 0
    assert capsys.readouterr().err == ""  # quick and not a terminal: silent
    monkeypatch.setattr(cli, "PROGRESS_AFTER", -1.0)
    assert main(["--sizes", "3,4,2", "--json"]) == 0
    captured = capsys.readouterr()
    json.loads(captured.out)
    first, *_, last = captured.err.splitlines()
    assert first == "[1/2] checking vectorized on [3, 4, 2] quadratic"
    assert re.fullmatch(r"\[2/2\] done in \d+\.\d s", last)


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--batch", "0"], "--batch must be >= 1, got 0"),
    (["--sizes", "3"], "sizes needs an input and an output width"),
    (["--sizes", "3,0,2"], "sizes[1] = 0: every layer needs at least 1 neuron"),
    (["--sizes", "3,x,2"], "--sizes must be comma-separated integers"),
    (["--sizes", "3,4,2", "--activations", "tanh,tanh,tanh"],
     "activations has 3 entries, but the network has 2 layers"),
    (["--activations", "nope"], "unknown activation 'nope'"),
    (["--sizes", "3,4,2", "--activations", "softmax,tanh"], "may only be the output layer"),
    (["--sizes", "3,4,2", "--activations", "tanh,tanh", "--cost", "cross_entropy"],
     "requires a 'sigmoid' output layer"),
    (["--sizes", "3,2", "--seed", "-1"], "seed must be >= 0, got -1"),
    (["--dtype", "float16"], "invalid choice: 'float16'"),
    (["--method", "five-point"], "invalid choice: 'five-point'"),
    (["--impl", "no_such_module:backprop"], "cannot import 'no_such_module'"),
])
def test_cli_bad_usage_exits_2_naming_the_option(argv, fragment, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert fragment in err and "usage: backprop-check" in err, err


def test_cli_user_backprop_with_a_malformed_result_exits_2(tmp_path, monkeypatch, capsys):
    (tmp_path / "issue6_junk_backprop.py").write_text("def backprop(net, X, Y):\n    return None\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["--sizes", "3,4,2", "--impl", "issue6_junk_backprop:backprop"])
    assert info.value.code == 2
    assert "must return Gradients(delta, dW, db), got NoneType" in capsys.readouterr().err


@pytest.mark.parametrize("sizes", ["3,2", "3,4,3"])
def test_the_a_minus_y_row_accepts_float32_targets_that_sum_to_1_in_float32(sizes, capsys):
    """A float32 Y whose columns sum to 1 in float32 is off by ~1e-8 in float64; the
    identity a - y = J^T dC/da needs the sum exactly 1, so the row renormalises."""
    argv = ["--dtype", "float32", "--cost", "categorical_cross_entropy", "--sizes", sizes,
            "--batch", "8"]
    assert main(argv) == 0, capsys.readouterr().out
