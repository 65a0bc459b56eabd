"""gradcheck: any analytic gradient of f(params) -> float against numerics.

params is a list of arrays, or a dict name -> array (f and grad then receive
dicts, and the report names each array by its key).

Error model (tolerance of element k of params[p]):
  tol_k = gamma(dtype) * G_p + numeric_k + atol + rtol * G_p
where G_p = max(|analytic|, |numeric|) over the array params[p] (the array's
scale, so tiny elements neither fail falsely nor escape), gamma(dtype) = 64 u
the round-off allowed to the analytic gradient in the params' dtype (u = 2^-53
for float64, 2^-24 for float32), and numeric_k the error of the numerical
derivative: 64 u_64 G_p for complex step (no cancellation, so only round-off of
the same kind); for finite differences `checks.numeric.Reading.error`: 4x the
truncation error estimated by step halving, the round-off of f (16 u_64 |f|)
divided by the step, and half the jump test J (a kink at x too small to be
seen moves the estimate by half its jump).
The reference is always computed in float64 (complex128). rtol and atol
default to 0 and only ever widen the tolerance.

Kinks (relu, max, |x|). A finite difference whose stencil reaches a kink is
wrong by up to half the jump of f' there. Such an element is skipped, "not
differentiable here", never failed: when its jump test fires
(`Reading.kinked`), or when it would fail and its estimate at a quarter of the
step is not where step halving predicts (`checks.numeric.steady`). Complex
step evaluates f on the real point's side of every kink, so only a kink at x
itself (z exactly 0) can fool it: an element that would fail is then read by
central differences, whose stencil is 8e-6 wide, and skipped if they show a
kink. The tests look at f alone, so a wrong gradient away from kinks still fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from backprop import Array
from backprop import validate as v
from checks.engine.probe import probe
from checks.engine.stencils import (
    CENTRAL,
    COMPLEX_STEP,
    U64,
    Method,
    Reading,
    check_method,
    choose_method,
    read,
    steady,
)
from checks.report import Block, Report, compare

Params = Sequence[Any] | Mapping[str, Any]
Call = Callable[[list[Array]], Any]


@dataclass(frozen=True)
class _Layout:
    """How the user's params came: a list (keys None) or a dict (its keys, in order)."""

    keys: tuple[str, ...] | None

    def pack(self, arrays: list[Array]) -> list[Array] | dict[str, Array]:
        """The arrays as the user's f and grad take them."""
        return list(arrays) if self.keys is None else dict(zip(self.keys, arrays, strict=True))

    def name(self, p: int) -> str:
        """Array p in the report: params[p], or its key."""
        return f"params[{p}]" if self.keys is None else self.keys[p]

    def where(self, p: int) -> str:
        """Array p in an error message: params[p] or params['key']."""
        return f"params[{p}]" if self.keys is None else f"params[{self.keys[p]!r}]"


def _scalar(value: Any, what: str, *, real: bool = False) -> complex:
    """f's value as a Python number, or TypeError/ValueError saying what was wrong.

    real: the input was real, so the value must be too (a zero imaginary part
    is accepted: f may compute in complex arithmetic).
    """
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"f must return a scalar number, got {type(value).__name__} "
                        f"at {what}: {exc}") from None
    if array.size != 1 or array.dtype.kind not in "biufc":
        raise TypeError(f"f must return a scalar number, got {type(value).__name__} "
                        f"of shape {array.shape} and dtype {array.dtype} at {what}")
    number = complex(array.reshape(()))
    if not np.isfinite(number):
        shown = number.real if number.imag == 0 else number
        raise ValueError(f"f returned {shown} at {what}; it must be finite")
    if real and number.imag != 0:
        raise ValueError(f"f returned the complex value {number} at real {what}; "
                         "f must be real-valued")
    return number


def _pair(out: Any) -> tuple[Any, Any]:
    """(value, grads) from an f that returns both (grad None)."""
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError("grad is None, so f must return a pair (value, grads), got "
                        f"{type(out).__name__}" + (f" of length {len(out)}"
                                                    if isinstance(out, (tuple, list)) else ""))
    return out[0], out[1]


def _complex_safe(call: Call, work: list[Array]) -> tuple[bool, str]:
    """checks.numeric.probe along a seeded random direction of every params[p]."""
    rng = np.random.default_rng(0)
    u = [rng.standard_normal(q.shape) for q in work]

    def along(method: Method) -> tuple[Array, Array]:
        h = method.step(U64)
        if method.complex_step:
            value = call([q + 1j * h * d for q, d in zip(work, u, strict=True)])
            number = _scalar(value, "params + ih*u")
            real = not np.iscomplexobj(np.asarray(value))
            return np.array([number.real if real else number]), np.zeros(1, dtype=bool)
        values = [_scalar(call([q + c * h * d for q, d in zip(work, u, strict=True)]), "probe",
                          real=True) for c in method.offsets]
        return np.array(values), np.zeros(1, dtype=bool)

    return probe(along, lambda values: 16 * U64 * np.abs(values[0]),
                 lambda derivative: 64 * U64 * np.abs(derivative))


def check_tolerances(rtol: float, atol: float) -> None:
    """rtol and atol: finite numbers >= 0 (TypeError for a non-number)."""
    v.check_number(rtol, "rtol")
    v.check_number(atol, "atol")


def _check_params(params: Any) -> tuple[_Layout, list[Array]]:
    """params as float copies: a non-empty list, or dict with string keys, of
    non-empty finite real arrays."""
    if isinstance(params, Mapping):
        bad = [k for k in params if not isinstance(k, str) or not k]
        if bad:
            raise (TypeError if bad[0] != "" else ValueError)(
                f"params' keys must be non-empty strings (they name the arrays in the "
                f"report), got {bad[0]!r}")
        layout = _Layout(tuple(params))
        arrays = list(params.values())
    elif isinstance(params, (np.ndarray, str, bytes)) or not isinstance(params, Sequence):
        raise TypeError(f"params must be a list of arrays, got {type(params).__name__}"
                        + (" (wrap a single array as [array])" if isinstance(params, np.ndarray)
                           else " (or a dict name -> array)"))
    else:
        layout, arrays = _Layout(None), list(params)
    if not arrays:
        raise ValueError("params is empty: give at least one array to differentiate")
    originals = [v.as_float_array(q, layout.where(p)) for p, q in enumerate(arrays)]
    for p, q in enumerate(originals):
        if q.size == 0:
            raise ValueError(f"{layout.where(p)} has no elements (shape {q.shape}): "
                             "nothing to check")
    return layout, originals


def _grad_arrays(g: Any, layout: _Layout, n: int) -> list[Any]:
    """grad's result as one entry per params[p], in order: a list of n, or a dict
    with exactly params' keys."""
    if layout.keys is None:
        if isinstance(g, (np.ndarray, str, bytes)) or not isinstance(g, Sequence):
            raise TypeError(f"grad must return a list of {n} arrays, got {type(g).__name__}")
        if len(g) != n:
            raise ValueError(f"grad must return a list of {n} arrays (one per params[p]), "
                             f"got {len(g)}")
        return list(g)
    if not isinstance(g, Mapping):
        raise TypeError(f"grad must return a dict with the keys of params "
                        f"({', '.join(layout.keys)}), got {type(g).__name__}")
    missing = [k for k in layout.keys if k not in g]
    if missing:
        raise ValueError(f"grad returned no gradient for params[{missing[0]!r}]")
    extra = [k for k in g if k not in layout.keys]
    if extra:
        raise ValueError(f"grad returned a gradient for {extra[0]!r}, which is not a key "
                         "of params")
    return [g[k] for k in layout.keys]


def _check_grad(g: Any, layout: _Layout, originals: list[Array]) -> list[Array]:
    """grad's result as float64 arrays, one per params[p] and of its shape."""
    analytic = []
    for p, (gp, q) in enumerate(zip(_grad_arrays(g, layout, len(originals)), originals,
                                    strict=True)):
        where = layout.where(p)
        try:
            gp = np.asarray(gp)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"grad returned something that is not an array for "
                             f"{where}: {exc}") from None
        if gp.dtype.kind not in "biuf":
            raise TypeError(f"grad returned dtype {gp.dtype} for {where}, expected real numbers")
        if gp.shape != q.shape:
            raise ValueError(f"grad returned an array of shape {gp.shape} for {where}, "
                             f"expected {q.shape}, the shape of {where}")
        analytic.append(gp.astype(np.float64))
    return analytic


@dataclass(frozen=True)
class _Numerics:
    """What every element's numerical derivative needs: f as `call` (list -> value),
    the float64 params, the method and base step, f(params), and the tolerances."""

    call: Call
    work: list[Array]
    layout: _Layout
    method: Method
    step: float | None
    center: float
    rtol: float
    atol: float

    def evaluate(self, p: int, index: tuple[int, ...], offsets: Array) -> Array:
        """f with work[p][index] moved by each offset (on copies)."""
        values = []
        for offset in offsets:
            moved = [q.copy() for q in self.work]
            if np.iscomplexobj(offset):
                moved[p] = moved[p].astype(np.complex128)
            moved[p][index] += offset
            values.append(_scalar(self.call(moved), f"{self.layout.where(p)}[{index}] + "
                                  f"{offset}", real=not np.iscomplexobj(offset)))
        return np.array(values)

    def complex_step(self, p: int, index: tuple[int, ...]) -> tuple[float, float]:
        """Im f(x + ih) / h and its error (0 at the method's own h; see gradcheck)."""
        h = COMPLEX_STEP.step(U64) if self.step is None else self.step
        values = self.evaluate(p, index, 1j * h * np.array([1.0] if self.step is None
                                                           else [1.0, 2.0]))
        d = float(values[0].imag / h)
        if self.step is None:
            return d, 0.0
        # Im f(x + ih)/h = f' - h^2 f^(3)/6 + ...: at 2h the error is 4x, the change 3x.
        return d, 4 * abs(d - values[1].imag / (2 * h)) / 3

    def read(self, p: int, index: tuple[int, ...], method: Method,
             shrink: float = 1.0) -> Reading:
        """A finite-difference stencil at element index, at its step / shrink: the
        base step times max(1, |x|) rounded up to a power of two, so x + ch is exact.
        The base step is the user's for the chosen method, else the method's own."""
        base = self.step if self.step is not None and method is self.method else method.step(U64)
        x = float(self.work[p][index])
        h = base * 2.0 ** np.ceil(np.log2(max(1.0, abs(x)))) / shrink
        values = self.evaluate(p, index, h * np.asarray(method.offsets)).real
        return read(method, values, self.center, h)

    def kinked(self, p: int, index: tuple[int, ...], coarse: Reading | None) -> bool:
        """Does a failing element's stencil reach a kink? Its finite-difference
        reading (coarse), or for complex step central differences', read again at
        h/4: the jump test on either, or the two-steps test (`checks.numeric`).

        Complex step is exact on either side of a kink, so only one at x itself
        can make it fail: central's stencil, 8e-6 wide, looks for that one.
        """
        method = self.method if coarse is not None else CENTRAL
        coarse = coarse or self.read(p, index, method)
        fine = self.read(p, index, method, shrink=4.0)
        return coarse.kinked or fine.kinked or not steady(coarse, fine, method.order)

    def block(self, p: int, analytic: Array, dtype: np.dtype[Any]) -> Block:
        """Compare one array's analytic gradient with its numerical derivatives."""
        shape = self.work[p].shape
        numeric, err = np.zeros(shape), np.zeros(shape)
        kinked = np.zeros(shape, dtype=bool)
        readings: dict[tuple[int, ...], Reading] = {}
        for index in np.ndindex(*shape):
            if self.method.complex_step:
                numeric[index], err[index] = self.complex_step(p, index)
            else:
                r = readings[index] = self.read(p, index, self.method)
                numeric[index], err[index], kinked[index] = r.d, r.error, r.kinked
        G = max(float(np.max(np.abs(analytic), initial=0.0)),
                float(np.max(np.abs(numeric), initial=0.0)))
        u_a = float(np.finfo(dtype).eps) / 2
        numeric_round = 64 * U64 * G if self.method.complex_step else 0.0
        tol = 64 * u_a * G + numeric_round + err + self.atol + self.rtol * G
        # Only an element that would fail is examined further (cost), but the
        # verdict depends on f alone.
        for i in np.argwhere(~(np.abs(analytic - numeric) <= tol) & ~kinked):
            index = tuple(int(k) for k in i)
            kinked[index] = self.kinked(p, index, readings.get(index))
        names = tuple(f"i{d}" for d in range(len(shape)))
        return compare("grad", self.layout.name(p), None, self.method.name, analytic,
                       numeric, tol, kinked, names)


def gradcheck(
    f: Callable[[Any], Any],
    grad: Callable[[Any], Any] | None,
    params: Params,
    *,
    method: str = "auto",
    rtol: float = 0.0,
    atol: float = 0.0,
    step: float | None = None,
) -> Report:
    """Compare grad(params) with numerical derivatives of f, element by element.

    params: a list of arrays, or a dict name -> array. f: params (list or dict
    alike) -> real scalar. grad: params -> the gradients, a list of arrays of
    params' shapes (df/dparams[p]) or a dict with params' keys. grad None: f
    returns both, (value, grads), as a loss function in a training loop does;
    f is then called for every numerical evaluation, and only the value used.
    Reports name arrays params[p], or by their keys: `grad W1[i0=3, i1=7]`.

    method: "auto" (complex step when f is complex-safe, detected by a probe;
    else Richardson), "complex_step", "richardson" or "central". The probe
    tells an f that mishandles complex input from one that has a kink within
    the probe's step, and says which (`checks.numeric.probe`). The tolerance is
    the error model in this module's docstring; rtol/atol can only widen it.
    Finite differences skip elements whose stencil reaches a kink ("not
    differentiable here"), as the module docstring says. step: the base step h
    instead of the method's own (see `checks.numeric`; finite differences scale
    it by max(1, |x|) rounded up to a power of two). A chosen complex step is
    also taken at 2h, and the change estimates its truncation error
    h^2 |f^(3)| / 6, as step halving does for finite differences, so a coarse
    step widens the tolerance honestly.

    f and grad receive copies; params are never modified.
    Raises TypeError/ValueError for bad arguments (each message names the
    argument), a non-scalar, complex or non-finite f, an f that does not return
    a pair when grad is None, or a grad with the wrong type, count, keys or
    shapes of arrays. A NaN in grad is a mismatch, not an error.
    """
    for what, fn in (("f", f), ("grad", grad)):
        if not callable(fn) and not (what == "grad" and fn is None):
            raise TypeError(f"{what} must be a callable taking a list of arrays, "
                            f"got {type(fn).__name__}"
                            + (" (or None, if f returns (value, grads))" if what == "grad"
                               else ""))
    check_method(method)
    check_tolerances(rtol, atol)
    if step is not None:
        step = v.check_number(step, "step", positive=True)
    layout, originals = _check_params(params)
    work = [q.astype(np.float64) for q in originals]

    def call(arrays: list[Array]) -> Any:
        out = f(layout.pack(arrays))
        return out if grad is not None else _pair(out)[0]

    center = _scalar(call([q.copy() for q in work]), "params", real=True).real
    mine = layout.pack([q.copy() for q in originals])
    g = grad(mine) if grad is not None else _pair(f(mine))[1]
    analytic = _check_grad(g, layout, originals)
    chosen, reason = choose_method(method, lambda: _complex_safe(call, work))
    numerics = _Numerics(call, work, layout, chosen, step, center, rtol, atol)
    blocks = [numerics.block(p, analytic[p], q.dtype) for p, q in enumerate(originals)]
    return Report(blocks, chosen.name, reason, title="gradcheck")
