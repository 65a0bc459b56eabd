"""BP1-BP4 as one executable statement: the plain matrix form, every step replaceable.

    z[l] = W[l] @ a[l] + b[l],  a[l+1] = sigma[l](z[l])           forward
    BP1  delta[L-1] = dC/da ⊙ sigma'(z[L-1])   (or the cost's a - y)
    BP2  delta[l]   = (W[l+1].T @ delta[l+1]) ⊙ sigma'(z[l])
    BP3  db[l]      = mean over the columns of delta[l]
    BP4  dW[l]      = delta[l] @ a[l].T / m

This is the readable statement of the derivation, each equation one small
function: `vectorized` is the tuned kernel (in place, sigma' from the cached
a) and `loop` the scalar reading, both tested against it. No input checks, no
in-place tricks, every intermediate a new array in the dtype of the arrays
passed in. What runs it: the error model's sampled deviations
(checks.netcheck.sampled), the diagnosis's local checks and its recognition
of slips (checks.netcheck.diagnose), the catalogue of slips that the tests
plant (backprop.slips), calibration and the benchmarks' reference. Two things
can be swapped:

  steps     `Steps`: the equations themselves (bp1 ... bp4) and `backward`,
            g ⊙ sigma'(z[l]). A slip of backprop.slips replaces one step;
            `backward_from_cached_a` takes sigma' from a instead.
  rounding  called on every intermediate as rounding(name, l, value) and
            its result used in its place: the error model's sampled re-runs
            move each value by a random fraction of its local rounding bound.
            Names: "z", "a", "sigma_prime", "dC_da", "delta_L", "W_T_delta",
            "times_sigma_prime", "dW", "db".

`local(p, array, upstream)` runs the one equation that computes an array from
the delta it is built from (`built_from`): how the diagnosis checks each
equation on an implementation's own numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from backprop._types import Array
from backprop.activations import Activation
from backprop.arrays import ArrayId
from backprop.blas import sgemv_invalid_ignored
from backprop.costs import Cost
from backprop.network import Gradients

Rounding = Callable[[str, int, Array], Array]


def exact(name: str, l: int, value: Array) -> Array:
    """The rounding hook that leaves every intermediate as computed."""
    return value


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


def general_output_delta(p: Pass) -> Array:
    """BP1 in its general form: delta^L = dC/da^L ⊙ sigma'(z^L) (J^T dC/da for softmax),
    whatever the cost: what a - y simplifies, and what checks.netcheck.identity checks it
    against."""
    L, r = p.L, p.rounding
    g = r("dC_da", L - 1, p.cost_fn.dC_da(p.a[L], p.Y))
    return r("delta_L", L - 1, p.steps.backward(p, L - 1, g))


def output_delta(p: Pass) -> Array:
    """BP1: the cost's simplification a^L - y where it has one, else the general form."""
    if p.cost_fn.delta is not None:
        return p.rounding("delta_L", p.L - 1, p.cost_fn.delta(p.a[p.L], p.Y))
    return general_output_delta(p)


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


@dataclass(frozen=True)
class Pass:
    """One run of the statement: the network, its forward pass, the steps and the hook.

    Built by `backprop` from its own forward pass, or directly from given arrays
    (z[l] (n_{l+1}, m), a[0] = X, a[l+1] = sigma(z[l])) to run single steps on them.
    """

    W: Sequence[Array]
    sigma: Sequence[Activation]
    cost_fn: Cost
    Y: Array
    z: Sequence[Array]
    a: Sequence[Array]
    steps: Steps = CORRECT
    rounding: Rounding = exact

    @property
    def L(self) -> int:
        return len(self.W)

    @property
    def m(self) -> int:
        return int(self.Y.shape[1])


def built_from(array: ArrayId) -> ArrayId | None:
    """The delta an array is computed from: delta[l+1] for BP2, delta[l] for BP3 and
    BP4, None for BP1 (the forward pass alone)."""
    if array.equation == "BP1":
        return None
    if array.equation == "BP2":
        return ArrayId("delta", array.layer + 1, array.L)
    return ArrayId("delta", array.layer, array.L)


def local(p: Pass, array: ArrayId, upstream: Array | None) -> Array:
    """array's equation run by p.steps on a given upstream (the value of
    built_from(array); None for BP1) instead of on the pass's own delta."""
    l = array.layer
    if array.equation == "BP1":
        return p.steps.bp1(p)
    assert upstream is not None, f"{array.name} is computed from a delta"
    if array.equation == "BP2":
        return p.steps.bp2(p, l, upstream)
    if array.equation == "BP3":
        return p.steps.bp3(p, l, upstream)
    return p.steps.bp4(p, l, upstream)


def backprop(W: Sequence[Array], b: Sequence[Array], sigma: Sequence[Activation],
             cost_fn: Cost, X: Array, Y: Array, steps: Steps = CORRECT,
             rounding: Rounding = exact) -> Gradients:
    """delta, dW and db of C = mean_x C_x for X (n_0, m), Y (n_L, m), step by step."""
    with sgemv_invalid_ignored(X.dtype):  # OpenBLAS's false flag: see backprop.blas
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
