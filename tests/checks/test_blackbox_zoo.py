"""gradcheck on other people's code (the zoo of tests/checks/zoo.py), one seed each:
correct code is verified in every element, each slip is caught and named where it
is, the issue's two silent passes fail, and its minimal logistic case passes.

The thousands of seeds that measure false alarms and detection rates are
tools/blackbox_campaign.py's; this is the fast subset of the default run. The cases
that the current black-box engine gets wrong are marked xfail (strict) with what
issue 17 says is wrong; each mark goes when the engine is fixed.
"""

import numpy as np
import pytest

from tests.checks.zoo import FAMILIES, Case, run_check, visible, where_caught

XFAIL: dict[tuple[str, str | None], str] = {
}


def marked(family: str, bug: str | None):
    reason = XFAIL.get((family, bug))
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(family, bug, id=family + (f"-{bug}" if bug else ""), marks=marks)


def first_visible(family: str, bug: str) -> Case:
    """The case of the first seed at which the bug changes the gradient (a slip behind
    relus that are all dead changes nothing, and no check could see it)."""
    for seed in range(10):
        case = FAMILIES[family].build(seed, bug)
        if visible(case):
            return case
    raise AssertionError(f"{family}: the bug {bug!r} changes nothing at seeds 0-9")


@pytest.mark.parametrize("family, bug", [marked(name, None) for name in FAMILIES])
def test_correct_code_passes_with_every_element_verified(family, bug):
    case = FAMILIES[family].build(0, bug)
    report = run_check(case)
    assert report.ok and report.skipped == 0 and report.checked > 0, f"{case.name}\n{report}"


@pytest.mark.parametrize("family, bug", [marked(name, bug) for name, f in FAMILIES.items()
                                         for bug in f.bugs])
def test_each_bug_is_caught_in_the_array_it_makes_wrong(family, bug):
    case = first_visible(family, bug)
    report = run_check(case)
    localised, _ = where_caught(case, report)
    assert not report.ok, f"{case.name}, bug {bug!r} passed:\n{report}"
    assert localised, f"{case.name}, bug {bug!r}: not blamed at {case.planted}:\n{report}"


def test_a_nan_in_the_gradient_blames_that_element_only():
    case = FAMILIES["f64_complex_safe"].build(0, "NaN in one element")
    report = run_check(case)
    localised, others = where_caught(case, report)
    assert localised and not others, f"NaN planted at {case.planted}:\n{report}"


def test_the_zoo_plants_what_it_says():
    """A planted error is in the gradient at the named element, and nowhere else."""
    case = FAMILIES["f64_complex_safe"].build(3, "planted 1e-7")
    assert case.grad is not None and case.reference is not None
    (key, index), = case.planted
    wrong, right = case.grad(case.params), case.reference(case.params)
    for name in right:
        expected = right[name].copy()
        if name == key:
            expected[index] *= 1 + 1e-7
        np.testing.assert_allclose(wrong[name], expected, rtol=0, atol=0,
                                   err_msg=f"{name}: planted at {case.planted}")
    assert wrong[key][index] != right[key][index]
