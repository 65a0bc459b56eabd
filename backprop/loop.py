"""Backprop read literally from the derivation: loops over examples x and neurons.

Letters as in the derivation: j is a neuron of layer l, k of layer l+1, i of
layer l-1. No matrix products; each equation is one line of sums:

  z_j^l      = sum_i w_ji^l a_i^{l-1} + b_j^l,      a_j^l = sigma(z_j^l)
  BP1 delta_j^L = dC_x/da_j^L * sigma'(z_j^L)       (softmax: sum_k dC_x/da_k J_kj)
  BP2 delta_j^l = sum_k w_kj^{l+1} delta_k^{l+1} * sigma'(z_j^l)
  BP3 dC/db_j^l = (1/m) sum_x delta_j^l
  BP4 dC/dW_ji^l = (1/m) sum_x delta_j^l a_i^{l-1}

The sums run in Python floats (float64); the results come back in the
network's dtype. sigma, sigma' and the cost are taken from the registries and
applied to one example's column at a time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from backprop.activations import Activation
from backprop.costs import Cost
from backprop.inputs import check_XY
from backprop.network import Gradients, Network


def _column(values: list[float]) -> Any:
    return np.array(values, dtype=np.float64).reshape(-1, 1)


def _apply(f: Any, z: list[float]) -> list[float]:
    """An activation (or its derivative) of one example's layer column, as a list."""
    out: list[float] = f(_column(z)).reshape(-1).tolist()
    return out


def _output_delta(sigma_L: Activation, cost_fn: Cost, z: list[float], a: list[float],
                  y: list[float]) -> list[float]:
    """BP1 for one example: delta_j^L = dC_x/da_j^L * sigma'(z_j^L), or a_j - y_j."""
    if cost_fn.delta is not None:
        return _apply(lambda col: cost_fn.delta(col, _column(y)), a)
    dC_da = _apply(lambda col: cost_fn.dC_da(col, _column(y)), a)
    n = len(z)
    if sigma_L.elementwise:
        sigma_prime = _apply(sigma_L.sigma_prime, z)
        return [dC_da[j] * sigma_prime[j] for j in range(n)]
    J = sigma_L.sigma_prime(_column(z))[:, :, 0].tolist()  # J[k][j] = da_k/dz_j
    return [sum(dC_da[k] * J[k][j] for k in range(n)) for j in range(n)]


def backprop(net: Network, X: Any, Y: Any) -> Gradients:
    """Gradients of C = mean_x C_x, one example and one neuron at a time.

    Same signature and result as `vectorized.backprop`; pure.
    """
    X, Y = check_XY(net, X, Y)
    L, n, m = net.L, net.sizes, X.shape[1]
    w = [W.tolist() for W in net.weights]
    b = [b_l[:, 0].tolist() for b_l in net.biases]
    delta_batch = [[[0.0] * m for _ in range(n[l + 1])] for l in range(L)]  # column x: delta
    dW = [[[0.0] * n[l] for _ in range(n[l + 1])] for l in range(L)]
    db = [[0.0] * n[l + 1] for l in range(L)]
    for x in range(m):
        a = [X[:, x].tolist()]
        z: list[list[float]] = []
        for l in range(L):
            z.append([sum(w[l][j][i] * a[l][i] for i in range(n[l])) + b[l][j]
                      for j in range(n[l + 1])])
            a.append(_apply(net.sigma[l].sigma, z[l]))
        delta = [[0.0] * n[l + 1] for l in range(L)]  # delta[l][j]: dC_x/dz_j of this example
        # BP1: delta_j^L = dC_x/da_j^L sigma'(z_j^L)
        delta[L - 1] = _output_delta(net.sigma[L - 1], net.cost_fn, z[L - 1], a[L],
                                     Y[:, x].tolist())
        # BP2: delta_j^l = sum_k w_kj^{l+1} delta_k^{l+1} sigma'(z_j^l)
        for l in range(L - 2, -1, -1):
            sigma_prime = _apply(net.sigma[l].sigma_prime, z[l])
            delta[l] = [sum(w[l + 1][k][j] * delta[l + 1][k] for k in range(n[l + 2]))
                        * sigma_prime[j] for j in range(n[l + 1])]
        for l in range(L):
            for j in range(n[l + 1]):
                delta_batch[l][j][x] = delta[l][j]
                db[l][j] += delta[l][j] / m  # BP3: dC/db_j^l = (1/m) sum_x delta_j^l
                for i in range(n[l]):  # BP4: dC/dw_ji^l = (1/m) sum_x delta_j^l a_i^{l-1}
                    dW[l][j][i] += delta[l][j] * a[l][i] / m
    return Gradients(
        delta=[np.array(d_l, dtype=net.dtype) for d_l in delta_batch],
        dW=[np.array(dW_l, dtype=net.dtype) for dW_l in dW],
        db=[np.array(db_l, dtype=net.dtype).reshape(-1, 1) for db_l in db],
    )
