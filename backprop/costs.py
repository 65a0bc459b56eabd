"""Per-example costs C_x, each carrying dC_x/da^L: the input to BP1.

The batch cost is the mean over the m example columns (see `backprop.cost`).
Like the activations, every cost is complex-safe: no abs, no norm, no conj.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from backprop._types import Array
from backprop.activations import softplus, softplus_parts


@dataclass(frozen=True)
class Cost:
    """A per-example cost with its gradient with respect to the output activations.

    value(a, y) -> (m,) per-example costs C_x for a, y of shape (n_L, m).
    dC_da(a, y) -> (n_L, m): column x is dC_x/da^L for example x.
    requires names the only output activation this cost may follow (or None).
    value_z(z, y), when given, computes the same C_x from z^L directly, stably
    where a^L saturates (log-sigmoid, log-softmax).
    delta(a, y), when given, is the simplified BP1 for the required output:
    delta^L = a^L - y; the tests prove it equals the general BP1.
    targets says which Y the cost accepts: "real" (any), "probabilities" (each
    y in [0, 1]) or "distributions" (each column in [0, 1] and summing to 1).
    """

    name: str
    value: Callable[[Array, Array], Array]
    dC_da: Callable[[Array, Array], Array]
    requires: str | None = None
    value_z: Callable[[Array, Array], Array] | None = None
    delta: Callable[[Array, Array], Array] | None = None
    targets: str = "real"

    def sample_targets(self, u: Array) -> Array:
        """Valid targets Y for this cost from u, uniform in [0, 1], of Y's shape.

        real: 4u - 2, in [-2, 2]; probabilities: u; distributions: 0.01 + 0.99 u,
        normalised over each column. What the CLI, the hypothesis strategies
        and the tools draw their Y from.
        """
        if self.targets == "probabilities":
            return u.copy()
        if self.targets == "distributions":
            w = 0.01 + 0.99 * u
            return w / w.sum(axis=0, keepdims=True)
        return 4 * u - 2

    @property
    def takes_labels(self) -> bool:
        """Whether integer class labels, one per example, may stand for Y (`one_hot`): for
        a cost whose targets are distributions (categorical cross-entropy), the classes."""
        return self.targets == "distributions"


def one_hot(labels: Array, n: int, dtype: npt.DTypeLike = np.float64) -> Array:
    """The targets Y (n, m) that integer class labels (m,) in 0..n-1 stand for: column x
    is 1 in row labels[x], 0 elsewhere."""
    Y = np.zeros((n, len(labels)), dtype=dtype)
    Y[labels, np.arange(len(labels))] = 1
    return Y


def _quadratic(a: Array, y: Array) -> Array:
    """C_x = 1/2 sum_j (a_j - y_j)^2."""
    return 0.5 * np.sum((a - y) ** 2, axis=-2)


def _quadratic_dC_da(a: Array, y: Array) -> Array:
    return a - y


def _cross_entropy(a: Array, y: Array) -> Array:
    """C_x = -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)]."""
    return -np.sum(y * np.log(a) + (1.0 - y) * np.log(1.0 - a), axis=-2)


def _cross_entropy_z(z: Array, y: Array) -> Array:
    # With a = sigmoid(z): -ln a = softplus(-z) and -ln(1 - a) = softplus(z),
    # so C_x = sum_j softplus(z_j) - y_j z_j, finite however saturated a is.
    if np.iscomplexobj(z):  # real and imaginary parts apart: real arithmetic is faster
        x, t = np.real(z), np.imag(z)
        re, im = softplus_parts(x, t)
        return np.sum(re - y * x, axis=-2) + 1j * np.sum(im - y * t, axis=-2)
    return np.sum(softplus(z) - y * z, axis=-2)


def _cross_entropy_dC_da(a: Array, y: Array) -> Array:
    # d/da of -[y ln a + (1 - y) ln(1 - a)] = -y/a + (1 - y)/(1 - a) = (a - y) / (a (1 - a)).
    return (a - y) / (a * (1.0 - a))


def _categorical_cross_entropy(a: Array, y: Array) -> Array:
    """C_x = -sum_j y_j ln a_j."""
    return -np.sum(y * np.log(a), axis=-2)


def _categorical_cross_entropy_z(z: Array, y: Array) -> Array:
    # ln softmax(z)_j = z_j - logsumexp(z); the shift by the real column max
    # keeps exp finite and leaves Im(z) untouched.
    shift = np.max(np.real(z), axis=-2, keepdims=True)
    lse = shift + np.log(np.sum(np.exp(z - shift), axis=-2, keepdims=True))
    return np.sum(y * (lse - z), axis=-2)


def _categorical_cross_entropy_dC_da(a: Array, y: Array) -> Array:
    return -y / a


def _a_minus_y(a: Array, y: Array) -> Array:
    return a - y


COSTS: dict[str, Cost] = {
    cost.name: cost
    for cost in (
        Cost("quadratic", _quadratic, _quadratic_dC_da),
        Cost(
            "cross_entropy",
            _cross_entropy,
            _cross_entropy_dC_da,
            requires="sigmoid",
            value_z=_cross_entropy_z,
            delta=_a_minus_y,
            targets="probabilities",
        ),
        Cost(
            "categorical_cross_entropy",
            _categorical_cross_entropy,
            _categorical_cross_entropy_dC_da,
            requires="softmax",
            value_z=_categorical_cross_entropy_z,
            delta=_a_minus_y,
            targets="distributions",
        ),
    )
}
