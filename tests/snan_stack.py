"""Signalling NaNs on OpenBLAS's stack before every test: `pytest -p tests.snan_stack`.

What made a test fail now and then in a long run (backprop.blas): a float32
matrix-vector product raised the CPU's invalid flag on stack garbage left by earlier
code. Put there before each test, the garbage turns "now and then" into "every time"
for the first such product a test computes (tests/backprop/test_blas.py uses it on
backprop's passes; tools/flaky_loop.py --prime runs the whole suite under it).
"""

import numpy as np
import pytest


def leave_signalling_nans_on_the_stack() -> None:
    """float32 matrix-vector products of signalling NaNs taken with a stride: OpenBLAS
    copies the vector into a buffer on its stack, where the kernel of a later product
    finds the bits. Vectors of many lengths, so that the bits reach whatever depth
    the later product's frame lies at."""
    x = np.empty(2 * 512, np.float32)
    x.view(np.uint32)[...] = 0x7F800001  # a signalling NaN
    with np.errstate(all="ignore"):
        for n in range(32, 513, 16):
            np.ones((7, n), np.float32) @ x[:2 * n:2]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    leave_signalling_nans_on_the_stack()
    return (yield)
