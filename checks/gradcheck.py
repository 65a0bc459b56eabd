"""gradcheck: any analytic gradient of f(list of arrays) -> float against numerics.

Error model (tolerance of element k of params[p]):
  tol_k = gamma(dtype) * G_p + numeric_k + atol + rtol * G_p
where G_p = max(|analytic|, |numeric|) over the array params[p] (the array's
scale, so tiny elements neither fail falsely nor escape), gamma(dtype) = 64 u
the round-off allowed to the analytic gradient in the params' dtype (u = 2^-53
for float64, 2^-24 for float32), and numeric_k the error of the numerical
derivative: 64 u_64 G_p for complex step (no cancellation, so only round-off of
the same kind), and for finite differences the truncation error estimated by
step halving plus the round-off of f (16 u_64 |f|) divided by the step.
The reference is always computed in float64 (complex128). rtol and atol
default to 0 and only ever widen the tolerance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from backprop import Array
from backprop import validate as v
from checks.numeric import U64, Method, check_method, choose_method, combine, probe
from checks.report import Report, compare


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


def _evaluate(f: Callable[[list[Array]], Any], params: list[Array], p: int,
              index: tuple[int, ...], offsets: Array) -> Array:
    """f at params with params[p][index] moved by each offset (on copies)."""
    values = []
    for offset in offsets:
        moved = [q.copy() for q in params]
        if np.iscomplexobj(offset):
            moved[p] = moved[p].astype(np.complex128)
        moved[p][index] += offset
        values.append(_scalar(f(moved), f"params[{p}][{index}] + {offset}",
                              real=not np.iscomplexobj(offset)))
    return np.array(values)


def _complex_safe(f: Callable[[list[Array]], Any], params: list[Array]) -> tuple[bool, str]:
    """checks.numeric.probe along a seeded random direction of every params[p]."""
    rng = np.random.default_rng(0)
    u = [rng.standard_normal(q.shape) for q in params]

    def along(method: Method) -> tuple[Array, Array]:
        h = method.step(U64)
        if method.complex_step:
            value = f([q + 1j * h * d for q, d in zip(params, u, strict=True)])
            number = _scalar(value, "params + ih*u")
            real = not np.iscomplexobj(np.asarray(value))
            return np.array([number.real if real else number]), np.zeros(1, dtype=bool)
        values = [_scalar(f([q + c * h * d for q, d in zip(params, u, strict=True)]), "probe",
                          real=True) for c in method.offsets]
        return np.array(values), np.zeros(1, dtype=bool)

    return probe(along, lambda values: 16 * U64 * np.abs(values[0]),
                 lambda derivative: 64 * U64 * np.abs(derivative))


def check_tolerances(rtol: float, atol: float) -> None:
    """rtol and atol: finite numbers >= 0 (TypeError for a non-number)."""
    v.check_number(rtol, "rtol")
    v.check_number(atol, "atol")


def _check_params(params: Any) -> list[Array]:
    """params as float copies: a non-empty list of non-empty finite real arrays."""
    if isinstance(params, (np.ndarray, str, bytes)) or not isinstance(params, Sequence):
        raise TypeError(f"params must be a list of arrays, got {type(params).__name__}"
                        + (" (wrap a single array as [array])"
                           if isinstance(params, np.ndarray) else ""))
    if not params:
        raise ValueError("params is empty: give at least one array to differentiate")
    originals = [v.as_float_array(q, f"params[{p}]") for p, q in enumerate(params)]
    for p, q in enumerate(originals):
        if q.size == 0:
            raise ValueError(f"params[{p}] has no elements (shape {q.shape}): nothing to check")
    return originals


def _check_grad(g: Any, originals: list[Array]) -> list[Array]:
    """grad's result as float64 arrays, one per params[p] and of its shape."""
    if isinstance(g, (np.ndarray, str, bytes)) or not isinstance(g, Sequence):
        raise TypeError(f"grad must return a list of {len(originals)} arrays, "
                        f"got {type(g).__name__}")
    if len(g) != len(originals):
        raise ValueError(f"grad must return a list of {len(originals)} arrays (one per "
                         f"params[p]), got {len(g)}")
    analytic = []
    for p, (gp, q) in enumerate(zip(g, originals, strict=True)):
        try:
            gp = np.asarray(gp)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"grad returned something that is not an array for "
                             f"params[{p}]: {exc}") from None
        if gp.dtype.kind not in "biuf":
            raise TypeError(f"grad returned dtype {gp.dtype} for params[{p}], "
                            "expected real numbers")
        if gp.shape != q.shape:
            raise ValueError(f"grad returned an array of shape {gp.shape} for params[{p}], "
                             f"expected {q.shape}, the shape of params[{p}]")
        analytic.append(gp.astype(np.float64))
    return analytic


def gradcheck(
    f: Callable[[list[Array]], Any],
    grad: Callable[[list[Array]], Sequence[Any]],
    params: Sequence[Any],
    *,
    method: str = "auto",
    rtol: float = 0.0,
    atol: float = 0.0,
    step: float | None = None,
) -> Report:
    """Compare grad(params) with numerical derivatives of f, element by element.

    f: list of arrays -> real scalar. grad: the same list -> list of arrays of
    the same shapes (df/dparams[p]). method: "auto" (complex step when f is
    complex-safe, detected by a probe; else Richardson), "complex_step",
    "richardson" or "central". The tolerance is the error model in this
    module's docstring; rtol/atol can only widen it. step: the base step h
    instead of the method's own (see `checks.numeric`; finite differences scale
    it by max(1, |x|)). A chosen complex step is also taken at 2h, and the
    change estimates its truncation error h^2 |f^(3)| / 6, as step halving does
    for finite differences, so a coarse step widens the tolerance honestly.

    f and grad receive copies; params are never modified.
    Raises TypeError/ValueError for bad arguments (each message names the
    argument), a non-scalar, complex or non-finite f, or a grad with the wrong
    type, count or shapes of arrays. A NaN in grad is a mismatch, not an error.
    """
    for name, fn in (("f", f), ("grad", grad)):
        if not callable(fn):
            raise TypeError(f"{name} must be a callable taking a list of arrays, "
                            f"got {type(fn).__name__}")
    check_method(method)
    check_tolerances(rtol, atol)
    if step is not None:
        step = v.check_number(step, "step", positive=True)
    originals = _check_params(params)
    work = [q.astype(np.float64) for q in originals]
    _scalar(f([q.copy() for q in work]), "params", real=True)
    analytic = _check_grad(grad([q.copy() for q in originals]), originals)
    chosen, reason = choose_method(method, lambda: _complex_safe(f, work))
    blocks = []
    for p, q in enumerate(work):
        u_a = float(np.finfo(originals[p].dtype).eps) / 2
        numeric, err = np.zeros(q.shape), np.zeros(q.shape)
        base = chosen.step(U64) if step is None else step
        for index in np.ndindex(*q.shape):
            h = base if chosen.complex_step else base * max(1.0, abs(float(q[index])))
            offsets = (1j * h * np.array([1.0] if step is None else [1.0, 2.0])
                       if chosen.complex_step else h * np.asarray(chosen.offsets))
            values = _evaluate(f, work, p, index, offsets)
            d, trunc = combine(chosen, values if chosen.complex_step else values.real, h)
            if chosen.complex_step and step is not None:
                # Im f(x + ih)/h = f' - h^2 f^(3)/6 + ...: at 2h the error is 4x, the change 3x.
                trunc = abs(d - values[1].imag / (2 * h)) / 3
            numeric[index] = d
            rounding = 0.0 if chosen.complex_step else (
                16 * U64 * abs(values[0]) * chosen.weight_sum / h)
            err[index] = 4 * trunc + rounding
        G = max(float(np.max(np.abs(analytic[p]), initial=0.0)),
                float(np.max(np.abs(numeric), initial=0.0)))
        numeric_round = 64 * U64 * G if chosen.complex_step else 0.0
        tol = 64 * u_a * G + numeric_round + err + atol + rtol * G
        names = tuple(f"i{d}" for d in range(q.ndim))
        blocks.append(compare("grad", f"params[{p}]", None, chosen.name, analytic[p],
                              numeric, tol, np.zeros(q.shape, dtype=bool), names))
    return Report(blocks, chosen.name, reason, title="gradcheck")
