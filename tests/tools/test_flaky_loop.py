"""tools/flaky_loop.py reruns pytest under the conditions of a flaky run and keeps the failures."""

from tools import flaky_loop


def test_primed_stack_leaves_the_bp1_cases_that_once_failed_green(tmp_path, capsys):
    """--prime puts signalling NaNs where OpenBLAS's float32 kernel reads them: before
    backprop.blas, test_bp1_in_its_general_form_is_forgiven_its_rounding[18] and [71]
    failed on every such run ("invalid value encountered in matmul")."""
    code = flaky_loop.main(["--runs", "1", "--prime", "--out", str(tmp_path), "--",
                            "tests/checks/test_checker.py", "-k", "bp1_in_its_general_form"])
    out = capsys.readouterr().out
    assert code == 0 and "1 runs, 0 failed" in out, out + "".join(
        p.read_text() for p in tmp_path.iterdir())
