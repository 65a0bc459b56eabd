"""check_vjp on a layer's backward pass: a correct vector-Jacobian product passes for
every cotangent, a slip is caught at the input element it breaks, the caller's own
cotangent is checked too, extra cotangents cost no evaluations of f, outputs may be a
list or a dict, and bad input is named.

The layer zoo over many seeds is tools/vjp_campaign.py's; the engine is
test_engine.py's and test_blackbox_model.py's.
"""

from typing import Any

import numpy as np
import pytest

from checks import assert_vjp, check_vjp


def affine(seed: int, square: bool = False) -> dict[str, np.ndarray]:
    """CS231n's affine layer's params, row-major: x (N, D), w (D, M), b (M,)."""
    rng = np.random.default_rng(seed)
    N, D = 4, 5
    M = D if square else 3
    return {"x": rng.normal(size=(N, D)), "w": rng.normal(size=(D, M)), "b": rng.normal(size=M)}


def forward(p: dict[str, Any]) -> Any:
    return p["x"] @ p["w"] + p["b"]


def backward(p: dict[str, np.ndarray], dout: np.ndarray) -> dict[str, np.ndarray]:
    return {"x": dout @ p["w"].T, "w": p["x"].T @ dout, "b": dout.sum(axis=0)}


def test_a_correct_layer_passes_for_every_cotangent():
    report = check_vjp(forward, backward, affine(0))
    assert report.ok and report.skipped == 0, str(report)
    assert [b.equation for b in report.blocks] == ["vjp v0"] * 3 + ["vjp v1"] * 3
    assert report.checked == 2 * (20 + 15 + 3)


def test_a_slip_is_caught_at_the_input_it_breaks():
    def slip(p: dict[str, np.ndarray], dout: np.ndarray) -> dict[str, np.ndarray]:
        return backward(p, dout) | {"x": dout @ p["w"]}  # w for w.T: runs when w is square

    report = check_vjp(forward, slip, affine(1, square=True))
    assert not report.ok
    assert {b.name for b in report.blocks if b.mismatches} == {"x"}, str(report)
    assert "vjp v0 x[i0=" in str(report)


def test_the_callers_cotangent_is_checked_besides_the_random_ones():
    params = affine(2)
    dout = np.ones((4, 3))
    report = check_vjp(forward, backward, params, cotangent=dout)
    assert report.ok and [b.equation for b in report.blocks][-1] == "vjp v", str(report)

    def only_for_ones(p: dict[str, np.ndarray], v: np.ndarray) -> dict[str, np.ndarray]:
        g = backward(p, v)
        return g | {"b": g["b"] + (0.0 if np.all(v == 1) else 1.0)}

    report = check_vjp(forward, only_for_ones, params, cotangent=dout)
    assert {b.equation for b in report.blocks if b.mismatches} == {"vjp v0", "vjp v1"}


def test_more_cotangents_cost_no_more_evaluations_of_f():
    params, calls = affine(3), [0]

    def counted(p: dict[str, Any]) -> Any:
        calls[0] += 1
        return forward(p)

    check_vjp(counted, backward, params)
    two = calls[0]
    calls[0] = 0
    check_vjp(counted, backward, params, cotangent=np.ones((4, 3)))
    assert calls[0] == two, (two, calls[0])
    assert two <= 38 + 60, two  # one per element, and the survey's few dozen


def test_outputs_may_be_a_list_or_a_dict_of_arrays():
    params = affine(4)

    def two(p: dict[str, Any]) -> Any:
        return {"y": forward(p), "s": np.sum(p["x"] ** 2, axis=1)}

    def two_back(p: dict[str, np.ndarray], v: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        g = backward(p, v["y"])
        return g | {"x": g["x"] + 2 * p["x"] * v["s"][:, None]}

    assert_vjp(two, two_back, params)
    assert_vjp(lambda p: [forward(p)], lambda p, v: backward(p, v[0]), params)


def test_bad_input_is_named():
    params = affine(5)
    with pytest.raises(ValueError, match="cotangent must be shaped like f's output"):
        check_vjp(forward, backward, params, cotangent=np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"params\['w'\]"):
        check_vjp(forward, lambda p, v: backward(p, v) | {"w": v}, params)
    with pytest.raises(TypeError, match="vjp must be a callable"):
        check_vjp(forward, None, params)  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="vjp v0 b"):
        assert_vjp(forward, lambda p, v: backward(p, v) | {"b": 2 * v.sum(axis=0)}, params)


def test_directions_mode_names_a_wrong_element_by_bisection():
    from checks import gradcheck

    rng = np.random.default_rng(0)
    W, x = rng.normal(size=(20, 30)) / 5, rng.normal(size=30)

    def f(p: list[Any]) -> Any:
        return np.sum(np.tanh(p[0] @ x))

    def grad(p: list[np.ndarray]) -> list[np.ndarray]:
        return [np.outer(1 - np.tanh(p[0] @ x) ** 2, x)]

    def wrong(p: list[np.ndarray]) -> list[np.ndarray]:
        g = grad(p)[0].copy()
        g[7, 11] *= 1 + 1e-6
        return [g]

    right = gradcheck(f, grad, [W], directions=4)
    assert right.ok and right.checked == 4 and right.blocks[0].method == "complex_step x4"
    floor = right.blocks[0].floor
    assert floor is not None and floor < 1e-9, floor  # a projection's floor, stated
    report = gradcheck(f, wrong, [W], directions=4)
    assert [e.index for e in report.mismatches] == [(7, 11)], str(report)
    layer = check_vjp(forward, backward, affine(6), directions=2)
    assert layer.ok and layer.checked == 2 * 3 * 2, str(layer)
    with pytest.raises(ValueError, match="directions must be a positive integer"):
        gradcheck(f, grad, [W], directions=0)


def test_progress_is_reported_as_elements_are_checked():
    seen: list[tuple[int, int]] = []
    check_vjp(forward, backward, affine(7), progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (2 * 38, 2 * 38), seen
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_a_wrong_input_element_is_traced_to_the_outputs_it_sits_in():
    def slip(p: dict[str, np.ndarray], dout: np.ndarray) -> dict[str, np.ndarray]:
        g = backward(p, dout)
        g["x"][2, 1] += 0.5 * dout[2, 0]  # a wrong dx[2, 1], from output [2, 0] alone
        return g

    report = check_vjp(forward, slip, affine(8))
    text = str(report)
    assert "x: the error at x[2, 1] sits in output f[2, 0] (of 12)" in text, text
    assert text.count("x: only one element is wrong, [2, 1]") == 1, text


def test_cs231n_grads_dx_dw_db_are_read_as_the_gradients_of_x_w_b():
    report = check_vjp(forward, lambda p, dout: {"d" + k: v for k, v in backward(p, dout).items()},
                       affine(0))
    assert report.ok, str(report)
    assert [b.name for b in report.blocks[:3]] == ["x", "w", "b"]
