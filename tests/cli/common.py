"""What the tests of backprop-check share: one network's options, and the user's code
written where --impl imports it from."""

import sys
import textwrap

# A student's own backprop (the README's first example): its own sigmoid, only
# net.weights and net.biases read, and BP1 as delta^L = a^L - y, which is right for
# sigmoid + cross_entropy networks and for no other.
STUDENT = """\
import numpy as np
from backprop import Gradients

def sigmoid(z):
    return 1 / (1 + np.exp(-z))

def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))

def backprop(net, X, Y):
    zs, activations = [], [X]
    for W, b in zip(net.weights, net.biases):                  # forward pass
        zs.append(W @ activations[-1] + b)
        activations.append(sigmoid(zs[-1]))
    delta = [activations[-1] - Y]                              # BP1 (cross-entropy)
    for l in range(len(zs) - 2, -1, -1):                       # BP2
        delta.insert(0, (net.weights[l + 1].T @ delta[0]) * sigmoid_prime(zs[l]))
    m = X.shape[1]
    dW = [d @ a.T / m for d, a in zip(delta, activations)]     # BP4
    db = [d.mean(axis=1, keepdims=True) for d in delta]        # BP3
    return Gradients(delta=delta, dW=dW, db=db)
"""

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
