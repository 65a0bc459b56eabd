"""Backpropagation for multilayer perceptrons: the statement of BP1-BP4 (`derivation`),
written twice more, as scalar loops (`loop`) and as a tuned matrix kernel (`vectorized`);
the common slips of deriving it by hand (`slips`).

Index convention (the only one in this package): lists are 0-based per layer.
W[l], b[l], z[l], delta[l], dW[l], db[l] belong to layer l+1 of the derivation;
a[0] is the input X and a[l+1] = sigma(z[l]). BP4 reads dW[l] = delta[l] @ a[l].T / m.
Batches are (n, m) arrays with one column per example; the batch cost is the mean.

`Array` is the type of every array here (a numpy array of floats; complex while
the checker takes a complex step). Beside the names below, public module paths
for code that builds on the package (as `checks` does):
  backprop.validate     checks of single arguments (arrays, names, sizes, seeds)
  backprop.inputs       check_net, check_X, check_XY: a call's network and batch
  backprop.feedforward  forward_arrays, per_example_cost: forward and cost, unchecked
  backprop.overflow     the overflow guard those checks end with
  backprop.arrays       ArrayId and the mappings keyed by it (results per array)
"""

from backprop import derivation, loop, slips, vectorized
from backprop._types import Array
from backprop.activations import ACTIVATIONS, HIDDEN, Activation
from backprop.arrays import ArrayId, backward_order
from backprop.costs import COSTS, Cost
from backprop.feedforward import cost, forward
from backprop.network import Gradients, Network, Trace

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
    "slips",
    "vectorized",
]
