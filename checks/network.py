"""check_network: every delta[l], dW[l] and db[l] of a backprop against numerical derivatives.

What is differentiated, and how (index convention of `backprop`):
  delta[l][j, x] = dC_x / dz[l][j, x]   perturb z[l][j, x], run the network onward
                                        from layer l, difference the cost C_x of example x
  db[l][j]       = dC / db[l][j]        perturb b[l][j]: z[l][j, :] moves by the step
  dW[l][j, i]    = dC / dW[l][j, i]     perturb W[l][j, i]: z[l][j, :] moves by step * a[l][i, :]
Perturbing a parameter of layer l changes only row j of z[l] (z = W a + b), so the
unperturbed prefix is computed once and many perturbations run onward together as
one batched pass; every numerical derivative is still a difference (or imaginary
part) of genuinely perturbed costs, never derived from a numerical delta via BP3/BP4.

Error model (tolerance per element k):
  tol_k = gamma(dtype) * s_k + gamma(float64) * s_k + numeric_k
where s_k is the same derivative computed with absolute values everywhere
(|W|, |sigma'(z)| + 4u, |a| + |y|, ...): the sum of the magnitudes of every term
that rounding can touch, so a cancellation-prone element gets a wide tolerance and a
well-conditioned one a tight one, whatever its size. gamma(dtype) = u * K with u the
unit roundoff of the dtype and K = sum of layer widths + 4(L + 1) + m, the length of
the longest chain of roundings (dot products, activations, the batch mean) that reaches
an element. The first term bounds the analytic gradient's own round-off (float32
networks are judged by float32 rounding), the second the numerical reference's, which
is always computed in float64 (complex128). numeric_k is zero for complex step; for
finite differences it is the truncation estimated by step halving plus the
round-off of the cost values divided by the step.

Kinks: an element is skipped ("not differentiable here") when some z that its
perturbed evaluation actually moves lies at a kink of its activation, within the step
of one, or within the rounding radius gamma * (|W| |a| + |b|) of one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from backprop import Gradients, Network, loop, vectorized
from backprop._types import Array
from backprop.activations import Activation
from backprop.network import check_XY, forward_arrays, per_example_cost
from checks.numeric import COMPLEX_STEP, METHODS, RICHARDSON, Method, combine
from checks.report import Block, Report, compare

Impl = Callable[[Network, Array, Array], Gradients]
U64 = float(np.finfo(np.float64).eps) / 2
CHUNK_BYTES = 32 * 2**20
TINY = float(np.finfo(np.float64).tiny)


@dataclass
class _Reference:
    """The network in float64 with its forward pass and the error-model scales."""

    net: Network
    W: list[Array]
    b: list[Array]
    X: Array
    Y: Array
    z: list[Array]
    a: list[Array]
    gamma: float
    gamma64: float
    r_z: list[Array]
    s_a: list[Array]
    s_delta: list[Array]

    @property
    def L(self) -> int:
        return len(self.W)


# Every registered elementwise activation has |sigma''| <= CURVATURE |sigma'|
# (tanh: 2|a| sigma'; sigmoid: |1 - 2a| sigma'; softplus: (1 - sigma) sigma'), so
# an error dz in z moves sigma'(z) by at most CURVATURE |dz| relative.
# tests/test_activations.py checks the bound for every registry entry.
CURVATURE = 2.0


def _reference(net: Network, X: Array, Y: Array) -> _Reference:
    W = [w.astype(np.float64) for w in net.weights]
    b = [v.astype(np.float64) for v in net.biases]
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    trace = forward_arrays(W, b, net.sigma, X64)
    u = float(np.finfo(net.dtype).eps) / 2
    K = sum(net.sizes) + 4 * (net.L + 1) + X.shape[1]
    gamma = u * K
    # zabs[l]: the sum of the absolute terms of z[l]; a dot product of length n
    # is off by at most about n u times it, so gamma * zabs bounds the forward
    # error of z, and r_z is the rounding radius used for kinks.
    zabs = [np.abs(W_l) @ np.abs(a_l) + np.abs(b_l)
            for W_l, b_l, a_l in zip(W, b, trace.a, strict=False)]
    # s_a[l]: error scale of a[l]: its magnitude plus what the error of z moves it by.
    s_a = [np.abs(X64)] + [
        np.abs(a) + _abs_backward(sigma, z, zabs_l)
        for sigma, z, a, zabs_l in zip(net.sigma, trace.z, trace.a[1:], zabs, strict=True)
    ]
    return _Reference(net, W, b, X64, Y64, trace.z, trace.a, gamma, U64 * K,
                      [gamma * z for z in zabs], s_a,
                      _abs_deltas(net, W, trace.z, s_a, zabs, Y64, u))


def _abs_backward(sigma: Activation, z: Array, g: Array) -> Array:
    """The magnitude of every term of the vjp J_sigma(z)^T g, for g >= 0.

    Elementwise: |sigma'(z)| g. Otherwise (softmax) the terms of
    a * (g - sum_k a_k g_k): a * (g + sum_k a_k g_k), which, unlike |J|^T g,
    does not vanish where a -> 1 while the rounding of the formula does not.
    """
    if sigma.elementwise:
        return np.abs(sigma.sigma_prime(z)) * g
    a = np.abs(sigma.sigma(z))
    return a * (g + np.sum(a * g, axis=-2, keepdims=True))


def _abs_deltas(net: Network, W: list[Array], z: list[Array], s_a: list[Array],
                zabs: list[Array], Y: Array, u: float) -> list[Array]:
    """Backprop with absolute values: the error scale s of every delta element.

    Each sigma' factor becomes |sigma'| (1 + CURVATURE zabs) + 4u: its size, the
    change an error of z makes to it, and the few ulps of absolute error of a
    derivative computed from a cached activation (1 - a^2 when a rounds to 1).
    """
    L = len(W)

    def sigma_prime_scale(l: int, g: Array) -> Array:
        sigma = net.sigma[l]
        if sigma.elementwise:
            return g * (np.abs(sigma.sigma_prime(z[l])) * (1 + CURVATURE * zabs[l]) + 4 * u)
        return _abs_backward(sigma, z[l], g) * (1 + CURVATURE * zabs[l]) + 4 * u * g

    s: list[Array] = [z[0]] * L
    magnitude = s_a[L] + np.abs(Y)
    if net.cost_fn.delta is None:
        dC_da = net.cost_fn.dC_da(net.sigma[L - 1].sigma(z[L - 1]), Y)
        s[L - 1] = sigma_prime_scale(L - 1, np.abs(dC_da) + magnitude)
    else:
        s[L - 1] = magnitude
    for l in range(L - 2, -1, -1):
        s[l] = sigma_prime_scale(l, np.abs(W[l + 1]).T @ s[l + 1])
    return s


def _onward(ref: _Reference, l: int, dZ: Array, method: Method) -> tuple[Array, Array]:
    """Per-example costs with z[l] moved by each offset times dZ, and the kink flags.

    dZ: (K, n_l, m), one perturbation per k. Returns C: (S, K, m) for the
    method's S offsets, and kinked: (K, m), True where a z that the perturbation
    moves lies at, or within the step or rounding radius of, a kink.
    """
    offsets = np.asarray(method.offsets)
    if method.complex_step:
        z = ref.z[l] + 1j * dZ[None]
    else:
        z = ref.z[l] + offsets[:, None, None, None] * dZ[None]
    kinked = np.zeros(dZ.shape[:1] + dZ.shape[2:], dtype=bool)
    net = ref.net
    l2 = l
    while True:
        if net.sigma[l2].kinks:
            kinked |= _near_kink(net.sigma[l2].kinks, z, ref.z[l2], ref.r_z[l2],
                                 method.complex_step)
        a = net.sigma[l2].sigma(z)
        if l2 == ref.L - 1:
            return per_example_cost(net.cost_fn, z, a, ref.Y), kinked
        l2 += 1
        z = ref.W[l2] @ a + ref.b[l2]


def _near_kink(kinks: tuple[float, ...], z: Array, base: Array, radius: Array,
               complex_step: bool) -> Array:
    if complex_step:
        moved = np.imag(z[0]) != 0
        lo = hi = np.real(z[0])
    else:
        moved = np.any(z != base, axis=0)
        lo, hi = np.minimum(z.min(axis=0), base), np.maximum(z.max(axis=0), base)
    near: Array = np.zeros(moved.shape, dtype=bool)
    for kink in kinks:
        near = near | ((lo - radius <= kink) & (kink <= hi + radius))
    return np.any(near & moved, axis=-2)


def _numeric(ref: _Reference, l: int, targets: Callable[[Array], tuple[Array, Array]],
             K: int, method: Method, per_example: bool) -> tuple[Array, Array, Array]:
    """Numerical derivatives of K targets in layer l, in chunks that fit in memory.

    targets(ks) gives, for targets ks, the perturbations of z[l] for one step
    (len(ks), n_l, m) and the steps h ((len(ks), m) if per_example else (len(ks),)).
    Returns derivative, numerical error estimate and kink flags, each (K, m)
    if per_example (the cost C_x of each column) else (K,) (the batch mean C).
    """
    n, m = ref.z[l].shape
    width = n + sum(W.shape[0] for W in ref.W[l:])
    chunk = max(1, CHUNK_BYTES // (len(method.offsets) * width * m * 16))
    shape = (K, m) if per_example else (K,)
    d, err, kinked = np.empty(shape), np.empty(shape), np.empty(shape, dtype=bool)
    # Round-off of one cost value C_x: a few ulps of the terms it adds up.
    noise = 16 * U64 * np.sum(np.abs(ref.z[-1]) + np.abs(ref.a[-1]) + np.abs(ref.Y), axis=0)
    for start in range(0, K, chunk):
        ks = np.arange(start, min(K, start + chunk))
        dZ, h = targets(ks)
        C, kink = _onward(ref, l, dZ, method)
        eps = np.abs(np.real(C[0])) * 16 * U64 + noise
        if not per_example:
            C, eps, kink = C.mean(axis=-1), eps.mean(axis=-1), np.any(kink, axis=-1)
        d_k, trunc = combine(method, C, h)
        rounding = 0.0 if method.complex_step else eps * method.weight_sum / h
        # Underflow: a change of f smaller than the smallest normal number is lost,
        # which for complex step (h ~ 1e-20) means derivatives below ~1e-288.
        rounding = rounding + 4 * TINY / h
        d[ks], err[ks], kinked[ks] = d_k, 4 * trunc + rounding, kink
    return d, err, kinked


def _layer_blocks(ref: _Reference, g: Gradients, l: int, method: Method) -> list[Block]:
    """Compare delta[l] (BP1 or BP2), db[l] (BP3) and dW[l] (BP4) with their numerics."""
    n, m = ref.z[l].shape
    n_prev = ref.a[l].shape[0]
    h0 = method.step(U64)
    gamma = ref.gamma + ref.gamma64

    def scaled(values: Array) -> Array:
        return np.full(values.shape, h0) if method.complex_step else h0 * np.maximum(
            1.0, np.abs(values))

    def delta_targets(js: Array) -> tuple[Array, Array]:
        h = scaled(ref.z[l][js])
        dZ = np.zeros((len(js), n, m))
        dZ[np.arange(len(js)), js, :] = h
        return dZ, h

    def b_targets(js: Array) -> tuple[Array, Array]:
        h = scaled(ref.b[l][js, 0])
        dZ = np.zeros((len(js), n, m))
        dZ[np.arange(len(js)), js, :] = h[:, None]
        return dZ, h

    def W_targets(ks: Array) -> tuple[Array, Array]:
        j, i = np.divmod(ks, n_prev)
        h = scaled(ref.W[l][j, i])
        dZ = np.zeros((len(ks), n, m))
        dZ[np.arange(len(ks)), j, :] = h[:, None] * ref.a[l][i, :]
        return dZ, h

    s = ref.s_delta[l]
    blocks = []
    d, err, kinked = _numeric(ref, l, delta_targets, n, method, per_example=True)
    equation = "BP1" if l == ref.L - 1 else "BP2"
    blocks.append(compare(equation, f"delta[{l}]", l, method.name, g.delta[l], d,
                          gamma * s + err, kinked, ("j", "x")))
    d, err, kinked = _numeric(ref, l, b_targets, n, method, per_example=False)
    blocks.append(compare("BP3", f"db[{l}]", l, method.name, g.db[l], d[:, None],
                          (gamma * s.mean(axis=1) + err)[:, None], kinked[:, None],
                          ("j", "0")))
    d, err, kinked = _numeric(ref, l, W_targets, n * n_prev, method, per_example=False)
    s_W = (s @ ref.s_a[l].T / m).reshape(-1)
    blocks.append(compare("BP4", f"dW[{l}]", l, method.name, g.dW[l],
                          d.reshape(n, n_prev), (gamma * s_W + err).reshape(n, n_prev),
                          kinked.reshape(n, n_prev), ("j", "i")))
    return blocks


def _complex_safe(ref: _Reference) -> tuple[bool, str]:
    """Probe: complex step and Richardson along one seeded random direction of z[0].

    The direction runs through every layer's activation and the cost, so a
    function that drops or mishandles Im(z) (abs, norm, conj, a real cast)
    shows up as a disagreement larger than Richardson's own error estimate.
    """
    rng = np.random.default_rng(0)
    dZ = rng.standard_normal((1, *ref.z[0].shape))
    try:
        with np.errstate(all="ignore"):
            C, kinked = _onward(ref, 0, dZ * COMPLEX_STEP.step(U64), COMPLEX_STEP)
    except (TypeError, ValueError) as exc:
        return False, f"the network raised {type(exc).__name__} on complex input: {exc}"
    if not np.iscomplexobj(C):
        return False, "the cost came back real for complex input"
    cs, _ = combine(COMPLEX_STEP, C, COMPLEX_STEP.step(U64))
    h = RICHARDSON.step(U64)
    C_r, kinked_r = _onward(ref, 0, dZ * h, RICHARDSON)
    rich, trunc = combine(RICHARDSON, C_r, h)
    scale = np.sum(np.abs(dZ[0]) * ref.s_delta[0], axis=0)
    noise = 16 * U64 * np.sum(np.abs(ref.z[-1]) + np.abs(ref.a[-1]), axis=0)
    tol = 4 * trunc + noise * RICHARDSON.weight_sum / h + 2 * ref.gamma64 * scale
    bad = (np.abs(cs - rich) > tol) & ~kinked & ~kinked_r
    if np.any(bad):
        x = int(np.argmax(bad[0]))
        return False, (f"complex step disagreed with Richardson on example {x} "
                       f"({cs[0, x]:.6g} vs {rich[0, x]:.6g}): a function drops Im(z)")
    return True, "complex-safe: complex step agreed with Richardson on a random direction"


def _choose_method(ref: _Reference, method: str) -> tuple[Method, str]:
    if not isinstance(method, str):
        raise TypeError(f"method must be a name, got {method!r}")
    if method == "auto":
        safe, why = _complex_safe(ref)
        if safe:
            return COMPLEX_STEP, f"auto: {why}"
        return RICHARDSON, f"auto: complex step unusable ({why}); fell back to Richardson"
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: auto, {', '.join(METHODS)}")
    return METHODS[method], "requested"


def _implementation(impl: Any) -> tuple[Impl, str]:
    if isinstance(impl, str):
        if impl == "vectorized":
            return vectorized.backprop, "vectorized.backprop"
        if impl == "loop":
            return loop.backprop, "loop.backprop"
        raise ValueError(f"impl must be 'vectorized', 'loop' or a callable, got {impl!r}")
    if callable(impl):
        return impl, getattr(impl, "__qualname__", repr(impl))
    raise TypeError(f"impl must be 'vectorized', 'loop' or a callable, got {impl!r}")


def _as_gradients(g: Any, net: Network, m: int, name: str) -> Gradients:
    """The analytic gradients as float64 arrays, after checking counts and shapes."""
    for field in ("delta", "dW", "db"):
        if not hasattr(g, field):
            raise TypeError(f"{name} must return Gradients(delta, dW, db), got {type(g).__name__}")
    sizes = net.sizes
    shapes = {
        "delta": [(n, m) for n in sizes[1:]],
        "dW": [W.shape for W in net.weights],
        "db": [(n, 1) for n in sizes[1:]],
    }
    out: dict[str, list[Array]] = {}
    for field, expected in shapes.items():
        arrays = getattr(g, field)
        if len(arrays) != net.L:
            raise ValueError(f"{name} returned {len(arrays)} arrays in {field}, "
                             f"but the network has {net.L} layers")
        out[field] = []
        for l, (array, shape) in enumerate(zip(arrays, expected, strict=True)):
            value = np.asarray(array)
            if value.dtype.kind not in "biuf":
                raise TypeError(f"{name} returned {field}[{l}] of dtype {value.dtype}, "
                                "expected real floats")
            if value.shape != shape:
                raise ValueError(f"{name} returned {field}[{l}] with shape {value.shape}, "
                                 f"expected {shape}")
            out[field].append(value.astype(np.float64))
    return Gradients(delta=out["delta"], dW=out["dW"], db=out["db"])


def check_network(net: Network, X: Any, Y: Any, impl: str | Impl = "vectorized", *,
                  method: str = "auto") -> Report:
    """Check delta, dW and db of every layer of `impl` against numerical derivatives.

    impl: "vectorized", "loop", or a callable (net, X, Y) -> Gradients (your own
    backprop). method: "auto" (complex step when the network is complex-safe,
    else Richardson), "complex_step", "richardson" or "central".
    Each mismatch is reported under its equation: BP1 (delta of the output
    layer), BP2 (delta of the others), BP3 (db), BP4 (dW). The tolerance of each
    element comes from the error model in this module's docstring.

    Nothing passed in is modified: the implementation receives copies.
    Raises TypeError/ValueError for bad arguments or a malformed result of impl.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a backprop.Network, got {type(net).__name__}")
    X, Y = check_XY(net, X, Y)
    fn, name = _implementation(impl)
    clone = Network(net.weights, net.biases, list(net.activations), net.cost)
    g = _as_gradients(fn(clone, X.copy(), Y.copy()), net, X.shape[1], name)
    ref = _reference(net, X, Y)
    chosen, reason = _choose_method(ref, method)
    blocks = [b for l in range(net.L - 1, -1, -1) for b in _layer_blocks(ref, g, l, chosen)]
    return Report(blocks, chosen.name, reason, title=f"check_network({name}) {net!r}")


def error_scales(net: Network, X: Any, Y: Any) -> tuple[Gradients, float]:
    """The error model's scales s (abs-value backprop) for delta, dW, db, and gamma.

    Any two correct computations of the gradients in the network's dtype
    differ by at most about 2 gamma s, element by element.
    """
    X, Y = check_XY(net, X, Y)
    ref = _reference(net, X, Y)
    m = X.shape[1]
    s = ref.s_delta
    return Gradients(delta=s, dW=[s[l] @ ref.s_a[l].T / m for l in range(net.L)],
                     db=[d.mean(axis=1, keepdims=True) for d in s]), ref.gamma
