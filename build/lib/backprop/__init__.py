"""Backpropagation for multilayer perceptrons, written twice: `loop` and `vectorized`.

Index convention (the only one in this package): lists are 0-based per layer.
W[l], b[l], z[l], delta[l], dW[l], db[l] belong to layer l+1 of the derivation;
a[0] is the input X and a[l+1] = sigma(z[l]). BP4 reads dW[l] = delta[l] @ a[l].T / m.
Batches are (n, m) arrays with one column per example; the batch cost is the mean.

`Array` is the type of every array here (a numpy array of floats; complex while
the checker takes a complex step); `backprop.validate` holds the input checks of
the public entry points, which `checks` uses for its own.
"""

from backprop import derivation, loop, vectorized
from backprop._types import Array
from backprop.activations import ACTIVATIONS, HIDDEN, Activation
from backprop.arrays import ArrayId, backward_order
from backprop.costs import COSTS, Cost
from backprop.network import Gradients, Network, Trace, cost, forward

__all__ = [
    "ACTIVATIONS",
    "COSTS",
    "HIDDEN",
    "Activation",
    "Array",
    "ArrayId",
    "Cost",
    "Gradients",
    "Network",
    "Trace",
    "backward_order",
    "cost",
    "derivation",
    "forward",
    "loop",
    "vectorized",
]
