"""The options (checks.cli.parse): a bad one exits 2 with the usage banner and a message
naming the option, before anything is checked."""

import sys

import pytest

from checks.cli import main
from checks.cli.parse import build_parser, chosen, parse


@pytest.mark.parametrize("argv", [["--batch", "0"], ["--sizes", "3,x,2"], ["--cost", "nope"],
                                  ["--impl", "no_such_module:f"], ["--activations", "nope"]])
def test_bad_usage_exits_2_with_a_message(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage: backprop-check" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--batch", "0"], "--batch must be >= 1, got 0"),
    (["--sizes", "3"], "--sizes: sizes needs an input and an output width"),
    (["--sizes", "3,0,2"], "sizes[1] = 0: every layer needs at least 1 neuron"),
    (["--sizes", "3,x,2"], "--sizes must be comma-separated integers"),
    (["--sizes", "3,4,2", "--activations", "tanh,tanh,tanh"],
     "--activations tanh,tanh,tanh has 3 names, but --sizes 3,4,2 has 2 layers"),
    (["--sizes", "3,2", "--activations", "tanh,tanh"],
     "--activations tanh,tanh has 2 names, but --sizes 3,2 has 1 layer:"),
    (["--activations", "tanh,tanh,tanh,tanh"],
     "--activations tanh,tanh,tanh,tanh has 4 names, but the sweep's depths are 1-3"),
    (["--activations", "nope"], "--activations: unknown activation 'nope'"),
    (["--activations", "tanh,nope", "--cost", "quadratic"],
     "--activations: unknown activation 'nope'"),
    (["--sizes", "3,4,2", "--activations", "softmax,tanh"],
     "--activations softmax,tanh: activations[0] of [3, 4, 2] is 'softmax', which may only "
     "be the output layer"),
    (["--activations", "softmax"], "one name means every layer"),
    (["--sizes", "3,4,2", "--activations", "tanh,tanh", "--cost", "cross_entropy"],
     "--cost cross_entropy requires a 'sigmoid' output layer, but --activations tanh,tanh "
     "ends in 'tanh'"),
    (["--activations", ""], "--activations is empty"),
    (["--sizes", "3,2", "--seed", "-1"], "--seed must be >= 0, got -1"),
    (["--dtype", "float16"], "invalid choice: 'float16'"),
    (["--method", "five-point"], "invalid choice: 'five-point'"),
    (["--impl", "no_such_module:backprop"], "cannot import 'no_such_module'"),
    (["--directions", "0"], "--directions must be >= 1, got 0"),
    (["--directions", "x"], "argument --directions: invalid int value: 'x'"),
    (["--sizes", "3,,2"], "--sizes '3,,2' has an empty item (item 2)"),
    (["--sizes", "3,2,"], "--sizes '3,2,' has an empty item (item 3)"),
    (["--sizes", "²,2"], "--sizes must be comma-separated integers, got '²,2'"),
    (["--impl", "./no_such_file.py:backprop"], "--impl './no_such_file.py:backprop': no such "
     "file 'no_such_file.py' (relative to "),
    (["--impl", "/no/such/dir/mine.py:backprop"], "no such file '/no/such/dir/mine.py'"),
    # Too large for memory: the checker's own MemoryError, named as a usage error.
    (["--sizes", "2,1", "--batch", str(10**15)],
     f"not enough memory to check --batch {10**15} and --sizes 2,1: give a smaller"),
    (["--sizes", f"3,{10**15},2"],
     f"not enough memory to check --batch 4 and --sizes 3,{10**15},2"),
    (["--sizes", f"3,{10**25},2"], f"--sizes 3,{10**25},2: too large for memory"),
    (["--sizes", "2,1", "--batch", str(10**25)], f"--batch {10**25}: Maximum allowed dimension"),
])
def test_cli_bad_usage_exits_2_naming_the_option(argv, fragment, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert fragment in err and "usage: backprop-check" in err, err


def test_plot_without_matplotlib_exits_2_saying_how_to_install_it(tmp_path, capsys,
                                                                  monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(SystemExit) as exc:
        main(["--sizes", "3,4,2", "--plot", str(tmp_path / "x.png")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--plot needs matplotlib, which is not installed: pip install matplotlib\n" in err


def test_plot_into_a_missing_directory_exits_2_before_checking(tmp_path, capsys):
    pytest.importorskip("matplotlib")  # without it, --plot exits 2 for that reason first
    with pytest.raises(SystemExit) as exc:
        main(["--plot", str(tmp_path / "no" / "x.png")])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert "does not exist" in captured.err and captured.out == ""


def test_help_says_what_each_option_does_and_each_exit_status(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse's line breaks undone
    options = text.partition("options:")[2]
    for option, says in [("--dtype", "(default float64)"), ("--seed", "seed + k (default 0)"),
                         ("--method", "default auto"), ("--impl", "PATH/TO/FILE.py:FUNCTION")]:
        # the option's own entry: other entries may name it too (--labels names --impl)
        entries = [e.partition(" --")[0] for e in options.split(option + " ")[1:]]
        assert any(says in e for e in entries), option
    for status in ("0 verified", "1 a mismatch (non-finite gradients included)",
                   "2 bad usage", "3 your code failed", "4 an internal error of backprop-check",
                   "130 interrupted"):
        assert status in text, status


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--labels", "--cost", "quadratic"], "--labels fits only --cost categorical_cross_entropy "
     "(class labels stand for its one-hot targets), got --cost quadratic"),
    (["--delta", "sum"], "argument --delta: invalid choice: 'sum'"),
])
def test_labels_with_another_cost_and_an_unknown_delta_exit_2_naming_them(argv, fragment,
                                                                          capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert fragment in err and "usage: backprop-check" in err, err


def test_labels_narrow_the_sweep_to_the_cost_that_takes_them():
    parser = build_parser()
    with_labels = chosen(parse(parser, ["--labels"]))
    assert with_labels == chosen(parse(parser, ["--cost", "categorical_cross_entropy"]))
    assert with_labels and {cost for _, _, cost in with_labels} == {"categorical_cross_entropy"}
    assert chosen(parse(parser, ["--labels", "--activations", "tanh"])) == chosen(
        parse(parser, ["--activations", "tanh", "--cost", "categorical_cross_entropy"]))
