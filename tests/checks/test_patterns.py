"""The black-box report names the slip when the numbers show it (checks.engine.patterns).

Each pattern is planted in a small array and must be named; a correct array with
noise at the edge of its tolerance, a random wrong array, and a ratio seen in fewer
than two elements must not be. Then the zoo: the slips of other people's code that
a black-box check can see from the numbers are named in gradcheck's report.
"""

import re
from dataclasses import replace

import numpy as np
import pytest

from checks import gradcheck
from checks.engine.patterns import notes, slip
from checks.report import Block, compare
from tests.checks.zoo import FAMILIES, run_check, visible

TOL = 1e-12  # every element's tolerance in the planted arrays


def block(grad: np.ndarray, num: np.ndarray, name: str = "W",
          unverified: np.ndarray | None = None) -> Block:
    """gradcheck's comparison of grad with num, every element's tolerance TOL."""
    names = tuple(f"i{k}" for k in range(num.ndim))
    skip = np.zeros(num.shape, bool) if unverified is None else unverified
    return compare("grad", name, None, "complex_step", grad.astype(np.float64),
                   num.astype(np.float64), np.full(num.shape, TOL), skip, names)


def numerical(seed: int, shape: tuple[int, ...] = (4, 5)) -> np.ndarray:
    """A numerical gradient: values of order 1, read with errors within TOL / 2."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape) + rng.uniform(-TOL / 2, TOL / 2, size=shape)


def named(grad: np.ndarray, num: np.ndarray, x: np.ndarray | None = None) -> str | None:
    b = block(grad, num)
    assert not b.ok, "the planted slip must fail the comparison"
    return slip(b, [b], x)


@pytest.mark.parametrize("c, words", [
    (4.0, "every element is 4 times too large (the numerical one times 4.00): a missing 1/m"),
    (-1.0, "every element has the wrong sign (x -1)"),
    (2.0, "every element is 2 times too large (the numerical one times 2.00): a factor 2 in "
          "a squared term?"),
    (0.5, "every element is half as large (the numerical one times 0.50): a factor 2 in a "
          "squared term?"),
    (1 / 3, "every element is 3 times too small (the numerical one times 0.33): divided by "
            "m once too often?"),
    (-4.0, "every element has the wrong sign and is 4 times too large"),
    (1.37, "every element is 1.37 times the numerical one (the ratio is constant: a scale "
           "factor)"),
    (0.0, "every element is 0, the numerical gradient is not"),
])
def test_a_constant_ratio_is_named_by_its_value(c, words):
    num = numerical(0)
    text = named(c * num, num) or ""
    assert text == words if c in (-1.0, 1.37) else words in text, text


def test_a_ratio_within_rounding_of_a_whole_number_is_named_as_that_number():
    num = numerical(1)
    text = named(4 * num * (1 + 1e-15), num)
    assert text is not None and "4 times too large (the numerical one times 4.00)" in text


def test_a_ratio_that_one_element_breaks_by_more_than_the_tolerances_is_not_named():
    """grad = 4 num holds to (1 + 4) TOL; one element 5.5 TOL off breaks it."""
    num = numerical(16)
    grad = 4 * num
    grad[0, 0] += 5.5 * TOL
    assert named(grad, num) is None
    grad[0, 0] -= 1.0 * TOL
    assert "4 times too large" in (named(grad, num) or "")


def test_unverified_elements_take_part_in_no_relation():
    """An element left unverified (f too noisy there) reads a numerical value far off:
    the ratio of the others is still named."""
    num = numerical(17)
    grad = 4 * num
    num[2, 3] += 0.5
    unverified = np.zeros(num.shape, bool)
    unverified[2, 3] = True
    assert named(grad, num) is None
    b = block(grad, num, unverified=unverified)
    assert "4 times too large" in (slip(b, [b]) or "")


def test_a_ratio_shown_by_one_element_only_is_not_named():
    """num is tiny (well below 10 tolerances) everywhere but one element: any ratio
    fits the rest, so a ratio of 4 there is only 'one element'."""
    num = np.full((3, 3), TOL / 4)
    num[1, 2] = 0.7
    grad = num.copy()
    grad[1, 2] *= 4
    assert named(grad, num) == "only one element is wrong, [1, 2]"


def test_grad_plus_a_term_in_the_params_is_named_with_both_terms():
    """grad = 5 num - 0.2 x: a data term 5 times too large beside an L2 term (the
    Coursera net's missing 1/m with regularization)."""
    num, x = numerical(2), np.random.default_rng(3).normal(size=(4, 5))
    text = named(5 * num - 0.2 * x, num, x)
    assert text is not None and text.startswith("grad = 5 x numerical - 0.2 x W: apart "
                                                 "from a term in W itself"), text
    assert "every element is 5 times too large: a missing 1/m" in text, text


def test_a_regularization_term_off_by_a_multiple_of_the_params_is_named():
    num, x = numerical(4), np.random.default_rng(5).normal(size=(4, 5))
    assert named(num - 0.035 * x, num, x) == (
        "grad = numerical - 0.035 x W: a regularization term with the wrong factor, "
        "or missing?")


def test_a_transposed_square_gradient_is_named():
    num = numerical(6, (4, 4))
    assert named(num.T.copy(), num) == ("grad is the transpose of the numerical gradient: "
                                        "the factors of a product in the wrong order?")


def test_a_gradient_that_is_another_arrays_is_named_by_that_array():
    num_W1, num_W2 = numerical(7, (3, 3)), numerical(8, (3, 3))
    W1, W2 = block(num_W2, num_W1, "W1"), block(num_W2, num_W2, "W2")
    assert W2.ok
    assert slip(W1, [W1, W2]) == ("grad looks like the numerical gradient of W2: gradients "
                                  "swapped, or returned under the wrong name?")


@pytest.mark.parametrize("where, words", [
    ((3, slice(None)), "only row 3 is wrong"),
    ((slice(None), 1), "only column 1 is wrong"),
    ((2, 4), "only one element is wrong, [2, 4]"),
])
def test_a_slip_in_one_row_column_or_element_is_named_by_its_place(where, words):
    num = numerical(9)
    grad = num.copy()
    grad[where] += 0.1
    assert named(grad, num) == words


def test_a_row_with_a_ratio_says_the_ratio_there():
    num = numerical(10)
    grad = num.copy()
    grad[1] *= -1
    assert named(grad, num) == "only row 1 is wrong; there, every element has the wrong sign (x -1)"


def test_a_correct_array_with_noise_at_its_tolerance_is_never_named():
    """Noise up to 1.5 tolerances: a few elements mismatch, scattered; no ratio, no
    term in x, no place."""
    rng = np.random.default_rng(11)
    num, x = numerical(12, (6, 6)), rng.normal(size=(6, 6))
    grad = num + rng.uniform(-1.5 * TOL, 1.5 * TOL, size=num.shape)
    b = block(grad, num)
    assert len({e.index[0] for e in b.mismatches}) > 1 < len({e.index[1] for e in b.mismatches})
    assert slip(b, [b], x) is None
    assert slip(block(num + rng.uniform(-TOL / 2, TOL / 2, size=num.shape), num), [b], x) is None


@pytest.mark.parametrize("seed", range(5))
def test_a_random_wrong_array_has_no_single_pattern(seed):
    rng = np.random.default_rng(seed)
    num, x = numerical(13 + seed, (5, 5)), rng.normal(size=(5, 5))
    assert named(rng.normal(size=(5, 5)), num, x) is None


def test_notes_are_one_per_failing_array_in_order():
    num = numerical(14, (3, 3))
    blocks = [block(num, num, "W1"), block(2 * num, num, "W2"), block(-num, num, "b")]
    found = notes(blocks, [num, num, num])
    assert [n.name for n in found] == ["W2", "b"]
    assert str(found[1]) == "b: every element has the wrong sign (x -1)"


def test_gradchecks_report_lists_the_diagnosis_in_its_text_and_dict():
    x = np.random.default_rng(15).normal(size=(3, 4))
    report = gradcheck(lambda p: np.sum(p["W"] ** 2), lambda p: {"W": 4 * p["W"]}, {"W": x})
    line = ("  W: every element is 2 times too large (the numerical one times 2.00): "
            "a factor 2 in a squared term?")
    assert not report.ok and report.diagnosis == ["Diagnosis:", line], str(report)
    assert line in str(report).splitlines()
    assert report.as_dict()["diagnosis"] == report.diagnosis


# --- the zoo: other people's slips, as gradcheck's report names them ----------------


def first_visible(family: str, bug: str):
    return next(c for c in (FAMILIES[family].build(s, bug) for s in range(10)) if visible(c))


def notes_of(case) -> dict[str, str]:
    return {n.name: n.text for n in run_check(case).notes}


def test_coursera_missing_1_over_m_is_named_m_times_beside_the_regularization():
    case = first_visible("coursera_relu", "missing 1/m")
    said = notes_of(case)
    assert set(said) == {"W1", "W2", "W3"}, said
    times = {re.search(r"every element is (\d+) times too large: a missing 1/m", text)
             for text in said.values()}
    assert None not in times, said
    assert len({t.group(1) for t in times if t}) == 1, f"one m for every array: {said}"


def test_cs231n_dscores_not_divided_by_N_is_named_N_times():
    for family in ("softmax_loss", "svm_loss"):
        case = first_visible(family, "dscores not /N")
        N = case.params[0].shape[0]
        assert f"every element is {N} times too large" in notes_of(case)["params[0]"], family


def test_a_transposed_weight_gradient_is_named_where_w_is_square():
    """dw = dout.T @ x, not x.T @ dout, in the zoo's affine layer with a square w."""
    case = first_visible("affine", "dx = dout @ w")
    assert case.reference is not None and case.params[1].shape[0] == case.params[1].shape[1]

    def grad(p):
        dx, dw, db = case.reference(p)
        return [dx, dw.T, db]

    said = notes_of(replace(case, grad=grad))
    assert said == {"params[1]": "grad is the transpose of the numerical gradient: the "
                                 "factors of a product in the wrong order?"}, said


def test_coursera_W_for_W_T_in_backprop_is_no_transpose_of_a_gradient():
    """dA = W2 @ dZ for W2.T @ dZ makes dW1 and db1 wrong, but no gradient is the
    transpose of its numerical one (nor a ratio, nor in one place): the numbers show
    no single pattern, and the report names none."""
    case = first_visible("coursera_relu", "W.T -> W")
    report = run_check(case)
    assert not report.ok and report.notes == [], str(report)
