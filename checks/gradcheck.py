"""gradcheck: any analytic gradient of f(params) -> float against numerics.

Every element ends verified; verified as a subgradient at a kink (the analytic
value between f's one-sided derivatives there); mismatched; or unverified, with
the reason (f too noisy there, a kink too close to resolve, a grad that differs
between two calls at the same params: grad is called twice) and the smallest
error the check could have seen there. The error model is measured from f
(`checks.engine.blackbox`; the rule in `checks.engine.elements`): f's noise (its
round-off, float32 or float64, or any other noise), the finite-difference step
that balances it against truncation, and tolerances that hold where a gradient
is small next to the terms that made it.

params is a list of arrays, or a dict name -> array (f and grad then receive
dicts, and the report names each array by its key). This module is the front
door: it checks params, f's value and grad's result, and names the arrays. The
numerical derivatives, their tolerance (the error model) and the kink tests are
the black-box engine's, `checks.engine.blackbox`, which it shares with any other
check of a function known only as f.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from backprop import Array
from backprop import validate as v
from checks.engine import patterns
from checks.engine.blackbox import BlackBox, Survey, best_step, check_tolerances, survey
from checks.engine.elements import Elements, NotComplexSafe, unit_roundoff
from checks.engine.stencils import RICHARDSON, check_method
from checks.report import Report

Params = Sequence[Any] | Mapping[str, Any]


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


def _scalar(value: Any, what: str, real: bool = False) -> complex:
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


def _check_options(f: Any, grad: Any, method: Any, rtol: float, atol: float,
                   step: Any, accept_unverified: Any) -> float | None:
    """f a callable; grad a callable, or None when f returns (value, grads); a
    known method; rtol, atol >= 0; step None or > 0 (returned as a float);
    accept_unverified a bool."""
    if not isinstance(accept_unverified, bool):
        raise TypeError(f"accept_unverified must be True or False, got {accept_unverified!r}")
    for what, fn in (("f", f), ("grad", grad)):
        if not callable(fn) and not (what == "grad" and fn is None):
            raise TypeError(f"{what} must be a callable taking a list of arrays, "
                            f"got {type(fn).__name__}"
                            + (" (or None, if f returns (value, grads))" if what == "grad"
                               else ""))
    check_method(method)
    check_tolerances(rtol, atol)
    return None if step is None else v.check_number(step, "step", positive=True)


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


def _check_grad(g: Any, layout: _Layout, originals: list[Array]) -> tuple[
        list[Array], list[float]]:
    """grad's result as float64 arrays, one per params[p] and of its shape, and each
    one's unit roundoff (its dtype's or the params', whichever is coarser)."""
    analytic, u_a = [], []
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
        u_a.append(unit_roundoff(q.dtype, gp.dtype))
    return analytic, u_a


def gradcheck(
    f: Callable[[Any], Any],
    grad: Callable[[Any], Any] | None,
    params: Params,
    *,
    method: str = "auto",
    rtol: float = 0.0,
    atol: float = 0.0,
    step: float | None = None,
    accept_unverified: bool = False,
) -> Report:
    """Compare grad(params) with numerical derivatives of f, element by element.

    params: a list of arrays, or a dict name -> array. f: params (list or dict
    alike) -> real scalar. grad: params -> the gradients, a list of arrays of
    params' shapes (df/dparams[p]) or a dict with params' keys. grad None: f
    returns both, (value, grads), as a loss function in a training loop does;
    f is then called for every numerical evaluation, and only the value used.
    Reports name arrays params[p], or by their keys: `grad W1[i0=3, i1=7]`.

    Verdicts and error model: the module docstring. The report is ok only when
    no element mismatched and none is unverified, unless accept_unverified=True;
    rtol/atol can only widen the tolerances.

    method: "auto" (complex step if the probe finds f complex-safe along every
    params array, else Richardson), "complex_step", "richardson" or "central".
    A complex-step estimate that fails an element is confirmed in real
    arithmetic first (if that sides with grad, f is not complex-safe, and all is
    read again by Richardson). step: the base step h instead of the measured one
    (times max(1, |x|) rounded up to a power of two for finite differences; a
    chosen complex step is also taken at 2h to estimate its truncation error).

    f and grad receive copies; params are never modified.
    Raises TypeError/ValueError for bad arguments (each message names the
    argument), a non-scalar, complex or non-finite f, an f that does not return
    a pair when grad is None, or a grad with the wrong type, count, keys or
    shapes of arrays. A NaN in grad is a mismatch of that element, not an error.
    """
    step = _check_options(f, grad, method, rtol, atol, step, accept_unverified)
    layout, originals = _check_params(params)
    work = [q.astype(np.float64) for q in originals]

    def call(arrays: list[Array]) -> Any:
        out = f(layout.pack(arrays))
        return out if grad is not None else _pair(out)[0]

    center = _scalar(call([q.copy() for q in work]), "params", real=True).real
    (analytic, u_a), (again, _) = (_analytic(f, grad, layout, originals) for _ in range(2))
    box = BlackBox(call, _scalar, work, tuple(layout.where(p) for p in range(len(work))))
    found, names = survey(box, method, step, center), [layout.name(p) for p in range(len(work))]
    for _ in range(2):
        try:
            blocks = Elements(box, found, center, rtol, atol).check(analytic, u_a, names,
                                                                     "grad", again)
            break
        except NotComplexSafe as exc:  # raised by complex step only: once at most
            found = _in_real_arithmetic(box, found, str(exc))
    return Report(blocks, found.method.name, _reason(found), title="gradcheck",
                  accept_unverified=accept_unverified, notes=patterns.notes(blocks, work))


def _analytic(f: Callable[[Any], Any], grad: Callable[[Any], Any] | None, layout: _Layout,
              originals: list[Array]) -> tuple[list[Array], list[float]]:
    """grad at copies of params (`_check_grad`)."""
    mine = layout.pack([q.copy() for q in originals])
    return _check_grad(grad(mine) if grad is not None else _pair(f(mine))[1], layout, originals)


def _in_real_arithmetic(box: BlackBox, found: Survey, why: str) -> Survey:
    """The survey redone for Richardson, after complex step was caught disagreeing
    with real arithmetic where f is smooth."""
    steps = tuple(best_step(box, p, RICHARDSON, found.eps) for p in range(len(box.work)))
    return Survey(RICHARDSON, f"complex step unusable ({why}); read in real arithmetic "
                  "(Richardson)", found.noise, found.eps, steps)


def _reason(found: Survey) -> str:
    """The report's header: why this method, and f's measured noise."""
    measured = "measured" if found.noise.accepted else "at most, measured"
    return (f"{found.reason}; f's noise {found.noise.s:.1e} ({measured} along a random "
            "direction)")
