"""The user's params as a black-box front door takes them: a list of arrays or a dict
name -> array (`Layout`), checked and copied (`check_params`); f's value as one number
(`scalar`); grad's (or a vjp's) result checked against params (`check_grad`).

Shared by gradcheck and check_vjp, so that both name arrays alike (params[p] or the
key) and refuse bad input with the same messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from backprop import Array
from backprop import validate as v
from checks.engine.blackbox import check_tolerances
from checks.engine.elements import unit_roundoff
from checks.engine.stencils import check_method


@dataclass(frozen=True)
class Layout:
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


def scalar(value: Any, what: str, real: bool = False) -> complex:
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


def check_params(params: Any) -> tuple[Layout, list[Array]]:
    """params as float copies: a non-empty list, or dict with string keys, of
    non-empty finite real arrays."""
    if isinstance(params, Mapping):
        bad = [k for k in params if not isinstance(k, str) or not k]
        if bad:
            raise (TypeError if bad[0] != "" else ValueError)(
                f"params' keys must be non-empty strings (they name the arrays in the "
                f"report), got {bad[0]!r}")
        layout = Layout(tuple(params))
        arrays = list(params.values())
    elif isinstance(params, (np.ndarray, str, bytes)) or not isinstance(params, Sequence):
        raise TypeError(f"params must be a list of arrays, got {type(params).__name__}"
                        + (" (wrap a single array as [array])" if isinstance(params, np.ndarray)
                           else " (or a dict name -> array)"))
    else:
        layout, arrays = Layout(None), list(params)
    if not arrays:
        raise ValueError("params is empty: give at least one array to differentiate")
    originals = [v.as_float_array(q, layout.where(p)) for p, q in enumerate(arrays)]
    for p, q in enumerate(originals):
        if q.size == 0:
            raise ValueError(f"{layout.where(p)} has no elements (shape {q.shape}): "
                             "nothing to check")
    return layout, originals


def grad_arrays(g: Any, layout: Layout, n: int) -> list[Any]:
    """grad's result as one entry per params[p], in order: a list of n, or a dict
    with exactly params' keys."""
    if layout.keys is None:
        if isinstance(g, (np.ndarray, str, bytes)) or not isinstance(g, Sequence):
            raise TypeError(f"grad must return a list of {v.counted(n, 'array')}, got "
                            f"{type(g).__name__}")
        if len(g) != n:
            raise ValueError(f"grad must return a list of {v.counted(n, 'array')} (one "
                             f"per params[p]), got {len(g)}")
        return list(g)
    if not isinstance(g, Mapping):
        raise TypeError(f"grad must return a dict with the keys of params "
                        f"({', '.join(layout.keys)}), got {type(g).__name__}")
    keys = grad_keys(g, layout.keys)
    return [g[k] for k in keys]


def grad_keys(g: Mapping[Any, Any], keys: tuple[str, ...]) -> tuple[str, ...]:
    """grad's key for each of params' keys: the same key, or "d" + key when grad's keys
    are exactly those (Coursera's dW1 for W1) and none of them is also a key of params.
    Any other mismatch is a ValueError naming params' key and the keys grad returned."""
    prefixed = tuple("d" + k for k in keys)
    if set(g) == set(prefixed) and not set(prefixed) & set(keys):
        return prefixed
    returned = ", ".join(repr(k) for k in g) or "none"
    missing = [k for k in keys if k not in g]
    if missing:
        hint = (f" (grad returned {'d' + missing[0]!r} for params[{missing[0]!r}]? name "
                f"grad's keys after params' keys, or every one of them 'd' + the key)"
                if "d" + missing[0] in g else "")
        raise ValueError(f"grad returned no gradient for params[{missing[0]!r}]: grad's keys "
                         f"are {returned}{hint}")
    extra = [k for k in g if k not in keys]
    if extra:
        raise ValueError(f"grad returned a gradient for {extra[0]!r}, which is not a key "
                         f"of params ({', '.join(repr(k) for k in keys)})")
    return keys


def check_grad(g: Any, layout: Layout, originals: list[Array]) -> tuple[
        list[Array], list[float]]:
    """grad's result as float64 arrays, one per params[p] and of its shape, and each
    one's unit roundoff (its dtype's or the params', whichever is coarser)."""
    analytic, u_a = [], []
    for p, (gp, q) in enumerate(zip(grad_arrays(g, layout, len(originals)), originals,
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


def check_directions(directions: Any) -> int | None:
    """directions: None (element by element) or a positive integer."""
    if directions is None:
        return None
    if isinstance(directions, bool) or not isinstance(directions, (int, np.integer)):
        raise TypeError(f"directions must be a positive integer or None, got {directions!r}")
    if directions < 1:
        raise ValueError(f"directions must be a positive integer or None, got {directions!r}")
    return int(directions)


def check_progress(progress: Any) -> Any:
    """progress: None or a callable progress(done, total)."""
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable progress(done, total) or None, "
                        f"got {type(progress).__name__}")
    return progress


def check_options(method: Any, rtol: Any, atol: Any, step: Any, accept_unverified: Any,
                  progress: Any) -> float | None:
    """The options gradcheck and check_vjp share: a known method, rtol and atol >= 0,
    a bool accept_unverified, progress None or a callable; step None or > 0
    (returned as a float)."""
    check_method(method)
    check_tolerances(rtol, atol)
    if not isinstance(accept_unverified, bool):
        raise TypeError(f"accept_unverified must be True or False, got {accept_unverified!r}")
    check_progress(progress)
    return None if step is None else v.check_number(step, "step", positive=True)
