"""Input checks for the public entry points: clear errors, raised from our own code.

Every message names the argument, what was given and what was expected, so a
user never has to read a traceback from inside numpy. TypeError means the
kind of thing is wrong (a string for an array, complex numbers, a float for a
count); ValueError means the kind is right but the value is not (a shape, a
NaN, a name that is not registered). The checks of a call's network and batch
(check_net, check_X, check_XY) build on these, in backprop.inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from backprop._types import Array

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def float_dtype(value: Any, name: str = "dtype") -> np.dtype[Any]:
    """float32 or float64 as a numpy dtype, from anything np.dtype understands."""
    try:
        dtype = np.dtype(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be float32 or float64, got {value!r}") from None
    if dtype not in FLOATS:
        raise TypeError(f"{name} must be float32 or float64, got {dtype}")
    return dtype


def as_float_array(value: Any, name: str, dtype: Any = None, copy: bool = True,
                   check_finite: bool = True) -> Array:
    """A real floating C-ordered array of value, or TypeError/ValueError naming `name`.

    dtype: the dtype of the result; by default the value's own if it is a float
    (float16 and longdouble are refused, not silently converted), else float64.
    Values must be finite and must fit in the dtype (casting 1e300 to float32
    would overflow to inf). copy: always a copy (True), or value itself when it
    already is such an array (False: for inputs only read, the hot path of backprop).
    check_finite False leaves that check to the caller (require_finite), who may
    fold it into a pass it makes anyway.
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a numeric array, got {type(value).__name__}")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"{name} must be a numeric array (nested lists of equal length "
                        f"or an ndarray), got {type(value).__name__}: {exc}") from None
    if array.dtype.kind == "c":
        raise TypeError(f"{name} must be real, got complex dtype {array.dtype}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype}")
    if dtype is None:
        dtype = array.dtype if array.dtype.kind == "f" else np.float64
    dtype = float_dtype(dtype, f"the dtype of {name}")
    with np.errstate(over="ignore"):
        cast = (np.array(array, dtype=dtype, order="C") if copy
                else np.asarray(array, dtype=dtype, order="C"))
    if check_finite:
        require_finite(value, cast, name)
    return cast


def require_finite(value: Any, cast: Array, name: str) -> None:
    """ValueError naming the first element of cast that is NaN or inf, and whether
    it was so in value or overflowed when cast to cast's dtype."""
    if np.isfinite(cast).all():
        return
    array = np.asarray(value)
    bad = _first(~np.isfinite(cast))
    if array.dtype.kind == "f" and not np.isfinite(array[bad]):
        raise ValueError(f"{name} must be finite, but {name}{_at(bad)} = {array[bad]}")
    raise ValueError(f"{name}{_at(bad)} = {array[bad]} does not fit in {cast.dtype} "
                     f"(largest {np.finfo(cast.dtype).max:.3g})")


def _first(mask: Array) -> tuple[int, ...]:
    """The index of the first True element of mask."""
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _at(index: tuple[int, ...]) -> str:
    return f"[{', '.join(map(str, index))}]"


def as_matrix(value: Any, name: str, rows: int, dtype: Any, what: str,
              copy: bool = True, check_finite: bool = True) -> Array:
    """A (rows, m) float matrix with m >= 1; `what` says where `rows` comes from.
    copy and check_finite as in as_float_array."""
    array = as_float_array(value, name, dtype, copy, check_finite)
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D with one column per example, shape ({rows}, m); "
            f"got shape {array.shape}"
        )
    if array.shape[0] != rows:
        hint = (f" (it looks transposed: pass {name}.T)" if array.shape[1] == rows else "")
        raise ValueError(
            f"{name} has {counted(array.shape[0], 'row')}, but {what} has "
            f"{counted(rows, 'neuron')}: "
            f"{name} must be ({rows}, m), one column per example{hint}"
        )
    if array.shape[1] == 0:
        raise ValueError(f"{name} is an empty batch (shape {array.shape}): need m >= 1")
    return array


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """'1 layer', '2 layers': n and the noun in the number it takes (plural: when it
    is not the noun + 's')."""
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def as_names(value: Any, name: str, count: int) -> list[str]:
    """A list of `count` strings, from one string or a sequence of them."""
    if isinstance(value, str):
        return [value] * count
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{name} must be a name or a list of names, got {value!r}")
    if len(value) != count:
        raise ValueError(
            f"{name} has {counted(len(value), 'entry', 'entries')}, but the network has "
            f"{counted(count, 'layer')}: "
            "give one name per layer, or one name for every layer"
        )
    return list(value)


def check_layer_sizes(sizes: Any) -> list[int]:
    """Layer sizes [n_0, ..., n_L]: at least two, each an integer >= 1."""
    if isinstance(sizes, np.ndarray) and sizes.ndim == 1:
        sizes = sizes.tolist()
    if not isinstance(sizes, Sequence) or isinstance(sizes, str):
        raise TypeError(f"sizes must be a list of layer widths, got {sizes!r}")
    if len(sizes) < 2:
        raise ValueError(f"sizes needs an input and an output width, got {list(sizes)}")
    for l, n in enumerate(sizes):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"sizes[{l}] must be an integer, got {n!r}")
        if n < 1:
            raise ValueError(f"sizes[{l}] = {n}: every layer needs at least 1 neuron")
    return [int(n) for n in sizes]


def check_number(value: Any, name: str, *, positive: bool = False) -> float:
    """A finite real number >= 0 (> 0 if positive), as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    number = float(value)
    if not np.isfinite(number) or number < 0 or (positive and number == 0):
        raise ValueError(f"{name} must be a finite number {'>' if positive else '>='} 0, "
                         f"got {value!r}")
    return number


def check_seed(seed: Any, name: str = "seed", *, optional: bool = True) -> int | None:
    """A seed for np.random.default_rng: an integer >= 0 (or None if optional)."""
    if seed is None and optional:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be an integer >= 0{' or None' if optional else ''}, "
                        f"got {seed!r}")
    if seed < 0:
        raise ValueError(f"{name} must be >= 0, got {seed}")
    return int(seed)
