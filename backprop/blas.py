"""OpenBLAS's false "invalid value" flag in float32 matrix products, and a context that ignores it.

OpenBLAS's float32 matrix-vector kernel (sgemv: what numpy's matmul calls when one
operand has a single column or row, as W @ a for one example or delta @ 1 for BP3)
can compute on an uninitialised stack slot, in SIMD lanes whose results it then
discards. Measured with numpy 2.4's OpenBLAS 0.3.31 on an AMD EPYC: an inner
dimension of 5 with 4k + 2 or 4k + 3 outputs. When those stack bits happen to read as
a signalling NaN, the CPU's invalid flag is raised and numpy warns "invalid value
encountered in matmul", though every number returned is right (bit for bit the
numbers of a clean stack). What is on the stack depends on what ran before in the
process, so the warning comes and goes; under `filterwarnings = error` (ours, and
many a user's CI) it failed a test now and then. tests/backprop/test_blas.py puts
the signalling NaN there on purpose.

Nothing the checked passes (vectorized.backprop, feedforward.forward and cost)
compute can be invalid for real: the batch is finite and the overflow guard
(backprop.overflow) keeps every value below overflow, so there is no inf to multiply
by 0 or to subtract from itself. derivation.backprop checks nothing, but a real
invalid operation leaves a NaN in what it computes, which its caller sees in the
result. So float32 passes run with numpy's invalid check off. float64 (OpenBLAS's
dgemv, never seen to do this) and complex passes run as before, for one comparison.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np


def sgemv_invalid_ignored(dtype: Any) -> contextlib.AbstractContextManager[Any]:
    """np.errstate(invalid="ignore") for a float32 pass (module docstring), else nothing."""
    if dtype == np.float32:
        return np.errstate(invalid="ignore")
    return contextlib.nullcontext()
