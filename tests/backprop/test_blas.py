"""backprop's float32 passes do not pass on OpenBLAS's false "invalid value" flag (backprop.blas).

The flag comes from a signalling NaN left on the stack by whatever ran before: a
test that failed now and then in a long run (test_checker's
test_bp1_in_its_general_form_is_forgiven_its_rounding[18] and [71]). Here it is put
there on purpose, right before each call, so the failure is certain where the BLAS
has the fault, and the test skips where it has not.
"""

import warnings

import numpy as np
import pytest

from backprop import Network, Trace, derivation, feedforward, vectorized
from tests.snan_stack import leave_signalling_nans_on_the_stack


def raises_the_false_flag(product) -> bool:
    """Whether product() warns "invalid value" right after the stack is primed."""
    leave_signalling_nans_on_the_stack()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            product()
        except RuntimeWarning:
            return True
    return False


W = np.random.default_rng(0).uniform(-1, 1, (7, 5)).astype(np.float32)
a = np.random.default_rng(1).uniform(-1, 1, (5, 1)).astype(np.float32)
if not raises_the_false_flag(lambda: W @ a):
    pytest.skip("this machine's BLAS does not raise the false flag: nothing to guard against",
                allow_module_level=True)

# W[0] is (7, 5): W a for one example is a product that raises the flag. (So is
# vectorized's BP3, delta @ 1, for 5 examples: under the same context, but the forward
# pass before it overwrites what is put on the stack here.)
NET = Network.random([5, 7, 3], ["tanh", "sigmoid"], "cross_entropy", seed=0, dtype=np.float32)


PASSES = {
    "vectorized.backprop": lambda X, Y: vectorized.backprop(NET, X, Y),
    "feedforward.forward": lambda X, Y: feedforward.forward(NET, X),
    "feedforward.cost": lambda X, Y: feedforward.cost(NET, X, Y),
    "derivation.backprop": lambda X, Y: derivation.backprop(
        NET.weights, NET.biases, NET.sigma, NET.cost_fn, X, Y),
}


@pytest.mark.parametrize("name", list(PASSES))
def test_float32_passes_ignore_the_false_flag_and_return_the_same_numbers(name):
    rng = np.random.default_rng(2)  # one example: W[0] a[0] is (7, 5) times (5, 1)
    X = rng.uniform(-1, 1, (5, 1)).astype(np.float32)
    Y = rng.uniform(0, 1, (3, 1)).astype(np.float32)
    run = PASSES[name]
    clean = numbers(run(X, Y))
    leave_signalling_nans_on_the_stack()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert numbers(run(X, Y)) == clean


def numbers(result) -> list[bytes]:
    """Every number of a pass's result, bit for bit: a cost, a Trace or Gradients."""
    if isinstance(result, float):
        return [np.float64(result).tobytes()]
    arrays = [*result.z, *result.a] if isinstance(result, Trace) else [
        *result.delta, *result.dW, *result.db]
    return [array.tobytes() for array in arrays]
