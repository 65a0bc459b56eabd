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
from typing import Any

import numpy as np

from backprop import Array
from checks.engine import patterns
from checks.engine.blackbox import BlackBox, survey
from checks.engine.elements import Ticker, judge
from checks.engine.params import (
    Layout,
    check_directions,
    check_grad,
    check_options,
    check_params,
    scalar,
)
from checks.report import Report

Params = Sequence[Any] | Mapping[str, Any]


def _pair(out: Any) -> tuple[Any, Any]:
    """(value, grads) from an f that returns both (grad None)."""
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError("grad is None, so f must return a pair (value, grads), got "
                        f"{type(out).__name__}" + (f" of length {len(out)}"
                                                    if isinstance(out, (tuple, list)) else ""))
    return out[0], out[1]


def _check_options(f: Any, grad: Any, method: Any, rtol: float, atol: float,
                   step: Any, accept_unverified: Any, directions: Any, progress: Any) -> tuple[
                       float | None, int | None]:
    """f a callable; grad a callable, or None when f returns (value, grads);
    directions None or >= 1 (returned as an int); the rest as params.check_options."""
    for what, fn in (("f", f), ("grad", grad)):
        if not callable(fn) and not (what == "grad" and fn is None):
            raise TypeError(f"{what} must be a callable taking a list of arrays, "
                            f"got {type(fn).__name__}"
                            + (" (or None, if f returns (value, grads))" if what == "grad"
                               else ""))
    return (check_options(method, rtol, atol, step, accept_unverified, progress),
            check_directions(directions))


def gradcheck(
    f: Callable[[Any], Any],
    grad: Callable[[Any], Any] | None,
    params: Params,
    *,
    method: str = "auto",
    rtol: float = 0.0,
    atol: float = 0.0,
    step: float | None = None,
    directions: int | None = None,
    accept_unverified: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Compare grad(params) with numerical derivatives of f, element by element.

    params: a list of arrays, or a dict name -> array. f: params (list or dict
    alike) -> real scalar. grad: params -> the gradients, a list of arrays of
    params' shapes (df/dparams[p]) or a dict with params' keys. grad None: f
    returns both, (value, grads), as a loss function in a training loop does;
    f is then called for every numerical evaluation, and only the value used.
    Reports name arrays params[p], or by their keys: `grad W1[i0=3, i1=7]`.

    Verdicts and error model: the module docstring. The report is ok only when
    nothing mismatched or is unverified, unless accept_unverified=True.

    method: "auto" (complex step if the probe finds f complex-safe along every
    params array, else Richardson), "complex_step", "richardson" or "central".
    A complex-step estimate that fails an element is confirmed in real
    arithmetic first (if that sides with grad, f is not complex-safe, and all is
    read again by Richardson). directions=k: each array checked along k seeded
    random directions, an array that fails localised by bisection to its wrong
    elements (`checks.engine.directions`); the floor printed is the projection's.
    step: the base step h instead of the measured one (a chosen complex step is
    also taken at 2h to estimate its truncation error). progress(done, total), if
    given, is called as elements are checked, often enough for a time estimate.

    f and grad receive copies; rtol/atol only widen tolerances. Raises
    TypeError/ValueError for bad arguments (each message names the argument), a
    non-scalar, complex or non-finite f, an f that does not return a pair when
    grad is None, or a grad with the wrong type, count, keys or shapes of arrays.
    A NaN in grad is a mismatch of that element, not an error.
    """
    step, directions = _check_options(f, grad, method, rtol, atol, step, accept_unverified,
                                      directions, progress)
    layout, originals = check_params(params)
    work = [q.astype(np.float64) for q in originals]

    def call(arrays: list[Array]) -> Any:
        out = f(layout.pack(arrays))
        return out if grad is not None else _pair(out)[0]

    center = scalar(call([q.copy() for q in work]), "params", real=True).real
    (analytic, u_a), (again, _) = (_analytic(f, grad, layout, originals) for _ in range(2))
    box = BlackBox(call, scalar, work, tuple(layout.where(p) for p in range(len(work))))
    found, names = survey(box, method, step, center), [layout.name(p) for p in range(len(work))]
    ticker = Ticker(progress, 0 if directions else sum(q.size for q in work))
    blocks, found = judge(box, found, center, rtol, atol, analytic, u_a, names, "grad", again,
                          directions, ticker)
    return Report(blocks, found.method.name, found.header(), title="gradcheck",
                  accept_unverified=accept_unverified, notes=patterns.notes(blocks, work))


def _analytic(f: Callable[[Any], Any], grad: Callable[[Any], Any] | None, layout: Layout,
              originals: list[Array]) -> tuple[list[Array], list[float]]:
    """grad at copies of params (`check_grad`)."""
    mine = layout.pack([q.copy() for q in originals])
    return check_grad(grad(mine) if grad is not None else _pair(f(mine))[1], layout, originals)
