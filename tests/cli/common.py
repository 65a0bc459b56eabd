"""What the tests of backprop-check share: one network's options, and the user's code
written where --impl imports it from."""

import sys
import textwrap

# All three choices given: exactly one network, reported in full.
ONE_NETWORK = ["--sizes", "3,4,2", "--activations", "tanh", "--cost", "quadratic"]
# The smallest network (one layer, one output, two examples): where what is tested is the
# command's handling of the user's code, not the check.
TINY = ["--sizes", "2,1", "--activations", "sigmoid", "--cost", "quadratic", "--batch", "2"]


def plant_bp4_slip(tmp_path, monkeypatch):
    """mybackprop.py in tmp_path, the current directory: --impl mybackprop:backprop is the
    vectorized backprop with every dW doubled (a BP4 slip).

    Written by hand as a user's file --impl imports, not planted from backprop.slips:
    any BP4 slip will do, and this one (in no catalogue entry) is one line of a user's code."""
    (tmp_path / "mybackprop.py").write_text(textwrap.dedent("""
        from backprop import Gradients, vectorized

        def backprop(net, X, Y):
            g = vectorized.backprop(net, X, Y)
            return Gradients(g.delta, [2 * w for w in g.dW], g.db)  # BP4 slip
    """))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "mybackprop", raising=False)  # another test's file


def user_module(tmp_path, monkeypatch, name, source):
    """source written to tmp_path/name.py, importable by --impl name:... in this test only."""
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, name, raising=False)
    return path
