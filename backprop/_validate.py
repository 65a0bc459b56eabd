"""Input checks for the public entry points: clear errors, raised from our own code.

Every message names the argument, what was given and what was expected, so a
user never has to read a traceback from inside numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from backprop._types import Array


def as_float_array(value: Any, name: str, dtype: Any = None) -> Array:
    """A real floating copy of value, or TypeError/ValueError naming `name`."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a numeric array, got {type(value).__name__}")
    try:
        array = np.array(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array: {exc}") from None
    if array.dtype.kind == "c":
        raise TypeError(f"{name} must be real, got complex dtype {array.dtype}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype}")
    if dtype is None:
        dtype = array.dtype if array.dtype.kind == "f" else np.float64
    if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"{name} must be float32 or float64, got dtype {np.dtype(dtype)}")
    array = np.array(array, dtype=dtype, order="C")
    if not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(
            f"{name} must be finite, but {name}[{', '.join(map(str, bad))}] = "
            f"{array[tuple(bad)]}"
        )
    return array


def as_matrix(value: Any, name: str, rows: int, dtype: Any, what: str) -> Array:
    """A (rows, m) float matrix with m >= 1; `what` says where `rows` comes from."""
    array = as_float_array(value, name, dtype)
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D with one column per example, shape ({rows}, m); "
            f"got shape {array.shape}"
        )
    if array.shape[0] != rows:
        raise ValueError(f"{name} has {array.shape[0]} rows, but {what} has {rows}")
    if array.shape[1] == 0:
        raise ValueError(f"{name} is an empty batch (shape {array.shape}): need m >= 1")
    return array


def as_names(value: Any, name: str, count: int) -> list[str]:
    """A list of `count` strings, from one string or a sequence of them."""
    if isinstance(value, str):
        return [value] * count
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{name} must be a name or a list of names, got {value!r}")
    if len(value) != count:
        raise ValueError(
            f"{name} has {len(value)} entries, but the network has {count} layers"
        )
    return list(value)


def check_layer_sizes(sizes: Any) -> list[int]:
    """Layer sizes [n_0, ..., n_L]: at least two, each an integer >= 1."""
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
