"""The run (checks.cli.run): which rows each check is tallied into, --directions, and the
identity check of the a - y costs (checks.netcheck.identity) as the CLI runs it."""

import json

import pytest

from checks.cli import main
from tests.cli.common import ONE_NETWORK, plant_bp4_slip


@pytest.mark.parametrize("sizes", ["3,2", "3,4,3"])
def test_the_a_minus_y_row_accepts_float32_targets_that_sum_to_1_in_float32(sizes, capsys):
    """A float32 Y whose columns sum to 1 in float32 is off by ~1e-8 in float64; the
    identity a - y = J^T dC/da needs the sum exactly 1, so the row renormalises."""
    argv = ["--dtype", "float32", "--cost", "categorical_cross_entropy", "--sizes", sizes,
            "--batch", "8"]
    assert main(argv) == 0, capsys.readouterr().out


def test_directions_checks_projections_and_passes_a_correct_network(capsys):
    assert main([*ONE_NETWORK, "--directions", "4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["settings"]["directions"] == 4
    blocks = [b for r in data["reports"] for b in r["blocks"]]
    assert {b["method"] for b in blocks} == {"complex_step/dir"}
    assert all(b["name"].endswith("·u") for b in blocks)
    assert {m for row in data["equations"].values() for m in row["methods"]} == {
        "complex_step/dir"}


def test_directions_still_names_the_element_of_a_planted_bug(tmp_path, capsys, monkeypatch):
    plant_bp4_slip(tmp_path, monkeypatch)
    assert main([*ONE_NETWORK, "--impl", "mybackprop:backprop", "--directions", "4"]) == 1
    out = capsys.readouterr().out
    assert "BP4 dW[1][j=" in out and "FAILED" in out
    # Every dW failed along its directions and was then checked element by element.
    table = out[out.index("\nbackprop-check: "):].splitlines()
    method = {line.split()[0]: line.split()[2] for line in table if line.startswith("BP")}
    assert method == {"BP1": "complex_step/dir", "BP2": "complex_step/dir",
                      "BP3": "complex_step/dir", "BP4": "complex_step"}


def test_a_one_unit_softmax_is_checked_without_a_warning_from_the_identity_check(capsys):
    """Its a is exactly 1, so the identity check's rounding scale divided by 1 - a = 0
    (a RuntimeWarning from the checker's own code, an error under -W error)."""
    assert main(["--sizes", "3,1", "--activations", "softmax", "--cost",
                 "categorical_cross_entropy"]) == 0, capsys.readouterr().out
