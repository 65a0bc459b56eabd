"""Activation functions, each carrying its own derivative: a^l = sigma(z^l).

Every function here is *complex-safe*: it is built from analytic operations
(exp, log1p, tanh, arithmetic) and branches only on the real part, so the
complex-step derivative Im sigma(z + ih) / h equals sigma'(z) to rounding.
That is what lets `checks` verify gradients to a few units of rounding.
No abs(), no comparison of complex numbers, nothing that drops Im(z).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from backprop._types import Array


@dataclass(frozen=True)
class Activation:
    """An activation sigma with its derivative.

    sigma(z) and sigma_prime(z) map an array z of shape (n, m) to the same shape.
    For an elementwise activation, sigma_prime(z)[j, x] = sigma'(z_jx).
    For softmax (elementwise=False) a unit depends on its whole column, so
    sigma_prime(z) returns the Jacobian per example, shape (n, n, m):
    sigma_prime(z)[k, j, x] = d a_kx / d z_jx.

    kinks lists the points where sigma is not differentiable (relu: 0.0); the
    checker checks elements whose value depends on a z at, or within the
    finite-difference step of, a kink as subgradients (between the one-sided
    derivatives).

    curvature bounds |sigma''(z)| / |sigma'(z)| (tanh: 2, sigmoid and softplus:
    1, piecewise-linear: 0). The checker's error model uses it to bound how much
    a rounding error in z moves sigma'(z); the tests verify it for every entry.

    backward_from_a(a, g), when given, is g ⊙ sigma'(z) computed from the cached
    activation a = sigma(z) instead of from z (tanh: 1 - a^2), as
    `vectorized.backprop` does in hidden layers: it multiplies g in place and
    returns it, and may overwrite a (its scratch). sigma_into, when given, is a
    numpy ufunc computing sigma, so that sigma_into(z, out=a) writes into a with
    no temporary. The tests check both against sigma and sigma_prime.
    """

    name: str
    sigma: Callable[[Array], Array]
    sigma_prime: Callable[[Array], Array]
    kinks: tuple[float, ...] = ()
    elementwise: bool = True
    output_only: bool = False
    curvature: float = 2.0
    backward_from_a: Callable[[Array, Array], Array] | None = None
    sigma_into: Callable[..., Array] | None = None

    def backward(self, z: Array, g: Array) -> Array:
        """Vector-Jacobian product J_sigma(z)^T g, column by column: the ⊙ of BP1/BP2.

        Elementwise: g * sigma'(z). Softmax: a * (g - sum_k a_k g_k), which is
        J^T g for J = diag(a) - a a^T, without forming J.
        """
        if self.elementwise:
            return g * self.sigma_prime(z)
        a = self.sigma(z)
        return a * (g - np.sum(a * g, axis=-2, keepdims=True))


def _real_nonneg(z: Array) -> Array:
    """Mask Re(z) >= 0: branching on the real part keeps the complex step exact."""
    return np.real(z) >= 0


def _sigmoid(z: Array) -> Array:
    # 1 / (1 + e^-z) for Re z >= 0 and e^z / (1 + e^z) otherwise: the exponent
    # always has a non-positive real part, so nothing overflows, and tiny
    # outputs keep full relative precision.
    pos = _real_nonneg(z)
    e = np.exp(np.where(pos, -z, z))
    return np.where(pos, 1.0, e) / (1.0 + e)


def _sigmoid_prime(z: Array) -> Array:
    # sigma(z) * sigma(-z) rather than a(1 - a): 1 - a loses all precision
    # once a rounds to 1, sigma(-z) does not.
    return _sigmoid(z) * _sigmoid(-z)


def _tanh_prime(z: Array) -> Array:
    # sech^2 z = 4 e^{-2|z|} / (1 + e^{-2|z|})^2: no overflow for large |z|
    # and full relative precision where 1 - tanh^2 would round to 0.
    e = np.exp(np.where(_real_nonneg(z), -z, z)) ** 2
    return 4.0 * e / (1.0 + e) ** 2


def _relu(z: Array) -> Array:
    return np.where(np.real(z) > 0, z, 0.0 * z)


def _relu_prime(z: Array) -> Array:
    # The derivative at the kink z = 0 is taken as 0, the slope on its left: a subgradient.
    return np.where(np.real(z) > 0, 1.0, 0.0).astype(z.real.dtype)


LEAKY_SLOPE = 0.01


def _leaky_relu(z: Array) -> Array:
    return np.where(np.real(z) > 0, z, LEAKY_SLOPE * z)


def _leaky_relu_prime(z: Array) -> Array:
    return np.where(np.real(z) > 0, 1.0, LEAKY_SLOPE).astype(z.real.dtype)


def softplus(z: Array) -> Array:
    """softplus(z) = ln(1 + e^z), complex-safe (also the stable cross-entropy's -ln sigmoid)."""
    # ln(1 + e^z) = max(z, 0) + ln(1 + e^{-|z|}), written with the real-part
    # branch so it is complex-safe and never overflows.
    if np.iscomplexobj(z):
        return _softplus_complex(z)
    pos = z >= 0
    return np.where(pos, z, 0.0) + np.log1p(np.exp(np.where(pos, -z, z)))


def _softplus_complex(z: Array) -> Array:
    """The same formula for z = x + iy, in real arithmetic (the checker's hot loop)."""
    re, im = softplus_parts(np.real(z), np.imag(z))
    return re + 1j * im


# Below this |Im z|, cos(Im z) rounds to exactly 1 and sin(Im z), atan(t) (|t| <= |Im z|)
# to exactly Im z, t in float64 (the dropped terms are below 2^-60 relative).
_SMALL_IM = 2.0**-30


def softplus_parts(x: Array, y: Array) -> tuple[Array, Array]:
    """Re and Im of softplus(x + iy) = ln(1 + e^{x + iy}), for real arrays x, y.

    s = -|x| -+ iy and w = e^s = e^{-|x|} (cos + i sin)(Im s), exactly. Then
    ln(1 + w) = ln|1 + w| + i arg(1 + w) with ln|1 + w| = log1p(Re w) + O(Im(w)^2):
    exact to rounding for the Im ~ 1e-20 of a complex step. (numpy's complex
    log1p computes log(1 + w) and loses the real part once |w| < 1e-8, which
    would spoil every later layer's complex-step derivative.) When every |y| is
    below 2^-30, cos, sin and arctan2 are the identity to the last bit and are
    skipped: the same numbers, several times faster.
    """
    pos = x >= 0
    s_im = np.where(pos, -y, y)
    e = np.exp(np.where(pos, -x, x))
    if y.size and float(np.max(np.abs(y))) < _SMALL_IM:
        w_re, w_im = e, e * s_im
        arg = w_im / (1.0 + w_re)
    else:
        w_re, w_im = e * np.cos(s_im), e * np.sin(s_im)
        arg = np.arctan2(w_im, 1.0 + w_re)
    return np.where(pos, x, 0.0) + np.log1p(w_re), np.where(pos, y, 0.0) + arg


def _identity(z: Array) -> Array:
    return z.copy()


def _ones(z: Array) -> Array:
    return np.ones(z.shape, dtype=z.real.dtype)


def _softmax(z: Array) -> Array:
    # Shifting each column by a real constant leaves softmax unchanged and
    # keeps exp from overflowing; the shift is real so Im(z) is untouched.
    e = np.exp(z - np.max(np.real(z), axis=-2, keepdims=True))
    return e / np.sum(e, axis=-2, keepdims=True)


def _softmax_jacobian(z: Array) -> Array:
    """J[k, j, x] = d a_k / d z_j = a_k (1[k == j] - a_j), per example column x."""
    a = _softmax(z)
    n = z.shape[0]
    eye = np.eye(n, dtype=z.real.dtype)[:, :, None]
    return a[:, None, :] * (eye - a[None, :, :])


def _tanh_backward_from_a(a: Array, g: Array) -> Array:
    # g ⊙ tanh'(z) = g ⊙ (1 - a^2). Near saturation 1 - a^2 is only accurate to a
    # few u absolute, which the checker's error model allows for (curvature 4 |a| u).
    np.multiply(a, a, out=a)
    np.subtract(1.0, a, out=a)
    g *= a
    return g


def _sigmoid_backward_from_a(a: Array, g: Array) -> Array:
    # g ⊙ sigmoid'(z) = g ⊙ a ⊙ (1 - a): a few u absolute, as for tanh.
    g *= a
    np.subtract(1.0, a, out=a)
    g *= a
    return g


def _relu_backward_from_a(a: Array, g: Array) -> Array:
    # relu(z) > 0 exactly when z > 0 (and relu'(0) is taken as 0, as in sigma_prime).
    g *= np.greater(a, 0.0, out=a)
    return g


def _leaky_relu_backward_from_a(a: Array, g: Array) -> Array:
    # leaky_relu(z) > 0 exactly when z > 0: sigma' is 1 there and LEAKY_SLOPE elsewhere.
    positive = a > 0.0
    a.fill(LEAKY_SLOPE)
    np.copyto(a, 1.0, where=positive)
    g *= a
    return g


ACTIVATIONS: dict[str, Activation] = {
    act.name: act
    for act in (
        Activation("sigmoid", _sigmoid, _sigmoid_prime, curvature=1.0,
                   backward_from_a=_sigmoid_backward_from_a),
        Activation("tanh", np.tanh, _tanh_prime, curvature=2.0,
                   backward_from_a=_tanh_backward_from_a, sigma_into=np.tanh),
        Activation("relu", _relu, _relu_prime, kinks=(0.0,), curvature=0.0,
                   backward_from_a=_relu_backward_from_a),
        Activation("leaky_relu", _leaky_relu, _leaky_relu_prime, kinks=(0.0,), curvature=0.0,
                   backward_from_a=_leaky_relu_backward_from_a),
        Activation("softplus", softplus, _sigmoid, curvature=1.0),
        Activation("identity", _identity, _ones, curvature=0.0),
        Activation(
            "softmax", _softmax, _softmax_jacobian, elementwise=False, output_only=True
        ),
    )
}
HIDDEN: tuple[str, ...] = tuple(name for name, act in ACTIVATIONS.items() if not act.output_only)
"""The activations a hidden layer may have (every one but the output-only softmax)."""
