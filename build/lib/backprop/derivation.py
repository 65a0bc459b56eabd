"""BP1-BP4 in the plainest matrix form, with every step a replaceable piece.

    z[l] = W[l] @ a[l] + b[l],  a[l+1] = sigma[l](z[l])           forward
    BP1  delta[L-1] = dC/da ⊙ sigma'(z[L-1])   (or the cost's a - y)
    BP2  delta[l]   = (W[l+1].T @ delta[l+1]) ⊙ sigma'(z[l])
    BP3  db[l]      = mean over the columns of delta[l]
    BP4  dW[l]      = delta[l] @ a[l].T / m

This is the checker's own model of a correct backprop, not a third
implementation for users (`backprop.vectorized` is the fast one): no input
checks, no in-place tricks, every intermediate a new array in the dtype of
the arrays passed in. Two things can be swapped:

  steps     `Steps`: the equations themselves (bp1 ... bp4) and `backward`,
            g ⊙ sigma'(z[l]). The tests' mutant catalogue replaces one step
            with a slip; `backward_from_cached_a` takes sigma' from a instead.
  rounding  called on every intermediate as rounding(name, l, value) and
            its result used in its place: the error model's sampled re-runs
            (checks.sampled) move each value by a random fraction of its
            local rounding bound. Names: "z", "a", "sigma_prime", "dC_da",
            "delta_L", "W_T_delta", "times_sigma_prime", "dW", "db".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from backprop._types import Array
from backprop.activations import Activation
from backprop.costs import Cost
from backprop.network import Gradients

Rounding = Callable[[str, int, Array], Array]


def exact(name: str, l: int, value: Array) -> Array:
    """The rounding hook that leaves every intermediate as computed."""
    return value


@dataclass(frozen=True)
class Pass:
    """One run of the template: the network, its forward pass, the steps and the hook."""

    W: Sequence[Array]
    sigma: Sequence[Activation]
    cost_fn: Cost
    Y: Array
    z: list[Array]
    a: list[Array]
    steps: Steps
    rounding: Rounding

    @property
    def L(self) -> int:
        return len(self.W)

    @property
    def m(self) -> int:
        return int(self.Y.shape[1])


def sigma_prime(p: Pass, l: int) -> Array:
    """sigma'(z[l]) from the registry."""
    return p.rounding("sigma_prime", l, p.sigma[l].sigma_prime(p.z[l]))


def backward(p: Pass, l: int, g: Array) -> Array:
    """g ⊙ sigma'(z[l]); for softmax the vector-Jacobian product J^T g."""
    if p.sigma[l].elementwise:
        return g * sigma_prime(p, l)
    return p.sigma[l].backward(p.z[l], g)


def backward_from_cached_a(p: Pass, l: int, g: Array) -> Array:
    """g ⊙ sigma'(z[l]) computed from the cached a[l+1] where the activation has a
    rule for it (Activation.backward_from_a: 1 - a^2, a (1 - a)), else from z."""
    rule = p.sigma[l].backward_from_a
    if rule is None:
        return backward(p, l, g)
    return rule(p.a[l + 1].copy(), g.copy())


def output_delta(p: Pass) -> Array:
    """BP1: delta^L = dC/da^L ⊙ sigma'(z^L), or the cost's simplification a^L - y."""
    L, r = p.L, p.rounding
    if p.cost_fn.delta is not None:
        return r("delta_L", L - 1, p.cost_fn.delta(p.a[L], p.Y))
    g = r("dC_da", L - 1, p.cost_fn.dC_da(p.a[L], p.Y))
    return r("delta_L", L - 1, p.steps.backward(p, L - 1, g))


def hidden_delta(p: Pass, l: int, delta_next: Array) -> Array:
    """BP2: delta^l = ((W^{l+1})^T delta^{l+1}) ⊙ sigma'(z^l)."""
    t = p.rounding("W_T_delta", l, p.W[l + 1].T @ delta_next)
    return p.rounding("times_sigma_prime", l, p.steps.backward(p, l, t))


def bias_gradient(p: Pass, l: int, delta: Array) -> Array:
    """BP3: dC/db^l = delta^l, averaged over the m examples."""
    return p.rounding("db", l, delta.mean(axis=1, keepdims=True))


def weight_gradient(p: Pass, l: int, delta: Array) -> Array:
    """BP4: dC/dW^l = delta^l (a^{l-1})^T, averaged over the m examples."""
    return p.rounding("dW", l, delta @ p.a[l].T / p.m)


@dataclass(frozen=True)
class Steps:
    """The replaceable steps; each default is the correct equation."""

    backward: Callable[[Pass, int, Array], Array] = backward
    bp1: Callable[[Pass], Array] = output_delta
    bp2: Callable[[Pass, int, Array], Array] = hidden_delta
    bp3: Callable[[Pass, int, Array], Array] = bias_gradient
    bp4: Callable[[Pass, int, Array], Array] = weight_gradient


CORRECT = Steps()
FROM_CACHED_A = Steps(backward=backward_from_cached_a)


def backprop(W: Sequence[Array], b: Sequence[Array], sigma: Sequence[Activation],
             cost_fn: Cost, X: Array, Y: Array, steps: Steps = CORRECT,
             rounding: Rounding = exact) -> Gradients:
    """delta, dW and db of C = mean_x C_x for X (n_0, m), Y (n_L, m), step by step."""
    z: list[Array] = []
    a: list[Array] = [X]
    for l, (W_l, b_l, sigma_l) in enumerate(zip(W, b, sigma, strict=True)):
        z.append(rounding("z", l, W_l @ a[l] + b_l))
        a.append(rounding("a", l, sigma_l.sigma(z[l])))
    p = Pass(W, sigma, cost_fn, Y, z, a, steps, rounding)
    L = p.L
    delta = [steps.bp1(p)] * L
    for l in range(L - 2, -1, -1):
        delta[l] = steps.bp2(p, l, delta[l + 1])
    dW, db = [], []
    for l in range(L):
        dW.append(steps.bp4(p, l, delta[l]))
        db.append(steps.bp3(p, l, delta[l]))
    return Gradients(delta=delta, dW=dW, db=db)
