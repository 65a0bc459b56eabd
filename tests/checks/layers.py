"""A CS231n-style layer zoo: each layer's forward pass and its backward pass, correct
and with the slip students make, for check_vjp.

What `check_vjp` is measured on (tests/checks/test_layers.py runs seed 0 of each
layer; tools/vjp_campaign.py runs many). Row-major as CS231n writes it: x (N, D),
one row per example; images (N, C, H, W). Each layer is a function (seed, slip) ->
Case that draws small sizes and values from np.random.default_rng(seed): f(params)
is the forward pass (a loss layer returns its loss as a 0-d array), vjp(params,
dout) the backward pass, the gradients of <dout, f(params)> shaped like params
(a dict: x and the layer's own params).

slip None is the correct code; any other slip is one of the layer's `slips`. A Case
says where the slip shows (`planted`): the input array that a check which localises
it must name; `wrong_elements` finds the elements of it that the slip makes wrong.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from checks import Report, check_vjp

Params = dict[str, Any]
Builder = Callable[[int, "str | None"], "Case"]


@dataclass(frozen=True)
class Case:
    """One check to run: check_vjp(f, vjp, params).

    planted: the arrays the slip makes wrong (keys of params). reference: the correct
    backward pass, for a case with a slip (what the slip is measured against)."""

    name: str
    f: Callable[[Params], Any]
    vjp: Callable[[Params, Any], Params]
    params: Params
    slip: str | None
    planted: tuple[str, ...] = ()
    reference: Callable[[Params, Any], Params] | None = None


@dataclass(frozen=True)
class Layer:
    """Cases of one layer: build(seed, slip) for slip None or one of slips."""

    name: str
    build: Builder
    slips: tuple[str, ...]


def _case(name: str, f: Callable[[Params], Any],
          backward: Callable[[Params, Any, str | None], Params], params: Params,
          slip: str | None, planted: str = "x") -> Case:
    """The Case of a layer whose backward takes the slip as its last argument."""
    return Case(name, f, lambda p, dout: backward(p, dout, slip), params, slip,
                (planted,) if slip else (), reference=lambda p, dout: backward(p, dout, None))


# --- affine: out = x w + b --------------------------------------------------------------


def _affine(seed: int, slip: str | None) -> Case:
    rng = np.random.default_rng(seed)
    N, D, M = (int(n) for n in rng.integers(1, 6, size=3))
    if slip:  # the slip runs only when w is square, and changes dx only when D > 1
        D = M = max(D, 2)

    def forward(p: Params) -> Any:
        return p["x"] @ p["w"] + p["b"]

    def backward(p: Params, dout: Any, slip: str | None) -> Params:
        dx = dout @ p["w"] if slip == "dx = dout @ w" else dout @ p["w"].T
        return {"x": dx, "w": p["x"].T @ dout, "b": np.sum(dout, axis=0)}

    params = {"x": rng.normal(size=(N, D)), "w": rng.normal(size=(D, M)),
              "b": rng.normal(size=M)}
    return _case(f"affine ({N}, {D}) x ({D}, {M}) seed={seed}", forward, backward, params, slip)


# --- relu: out = max(0, x) ----------------------------------------------------------------


def _relu(seed: int, slip: str | None) -> Case:
    rng = np.random.default_rng(seed)
    N, D = (int(n) for n in rng.integers(2, 6, size=2))

    def backward(p: Params, dout: Any, slip: str | None) -> Params:
        return {"x": dout if slip == "passes x < 0" else dout * (p["x"] > 0)}

    params = {"x": rng.normal(size=(N, D))}
    return _case(f"relu ({N}, {D}) seed={seed}", lambda p: np.maximum(0, p["x"]), backward,
                 params, slip)


# --- batchnorm (train mode) and layernorm ---------------------------------------------------

EPS = 1e-5


def _batchnorm(seed: int, slip: str | None) -> Case:
    """out = gamma xhat + beta, xhat = (x - mu) / sqrt(var + eps) over the batch (axis 0),
    var by np.var (so f is not complex-safe); the staged backward (dxhat, dvar, dmu).
    N = 2 every third seed: xhat is then +-1 nearly, and dx nearly cancels."""
    rng = np.random.default_rng(seed)
    N = 2 if seed % 3 == 0 else int(rng.integers(3, 9))
    D = int(rng.integers(1, 5))

    def forward(p: Params) -> Any:
        x = p["x"]
        return p["gamma"] * (x - np.mean(x, axis=0)) / np.sqrt(np.var(x, axis=0) + EPS) + p["beta"]

    def backward(p: Params, dout: Any, slip: str | None) -> Params:
        x, gamma = p["x"], p["gamma"]
        mu, var = np.mean(x, axis=0), np.var(x, axis=0)
        xhat = (x - mu) / np.sqrt(var + EPS)
        dxhat = dout * gamma
        dvar = np.sum(dxhat * (x - mu) * -0.5 * (var + EPS) ** -1.5, axis=0)
        dmu = np.sum(-dxhat / np.sqrt(var + EPS), axis=0) + dvar * np.mean(-2 * (x - mu), axis=0)
        dx = dxhat / np.sqrt(var + EPS) + dvar * 2 * (x - mu) / N
        if slip != "missing mean term":
            dx = dx + dmu / N
        return {"x": dx, "gamma": np.sum(dout * xhat, axis=0), "beta": np.sum(dout, axis=0)}

    params = {"x": rng.normal(size=(N, D)) * rng.uniform(0.5, 3) + rng.normal(size=D),
              "gamma": rng.normal(size=D), "beta": rng.normal(size=D)}
    return _case(f"batchnorm ({N}, {D}) seed={seed}", forward, backward, params, slip)


def _layernorm(seed: int, slip: str | None) -> Case:
    """out = gamma xhat + beta, xhat normalised over the features of each row (axis 1),
    var written as mean((x - mu)^2) (complex-safe); the compact backward
    dx = (D dxhat - sum dxhat - xhat sum(dxhat xhat)) / (D sqrt(var + eps))."""
    rng = np.random.default_rng(seed)
    N, D = int(rng.integers(1, 6)), int(rng.integers(2, 7))

    def normalised(x: Any) -> tuple[Any, Any]:
        centred = x - np.mean(x, axis=1, keepdims=True)
        std = np.sqrt(np.mean(centred**2, axis=1, keepdims=True) + EPS)
        return centred / std, std

    def backward(p: Params, dout: Any, slip: str | None) -> Params:
        xhat, std = normalised(p["x"])
        dxhat = dout * p["gamma"]
        mean_term = 0 if slip == "missing mean term" else np.sum(dxhat, axis=1, keepdims=True)
        dx = (D * dxhat - mean_term - xhat * np.sum(dxhat * xhat, axis=1, keepdims=True)) / (
            D * std)
        return {"x": dx, "gamma": np.sum(dout * xhat, axis=0), "beta": np.sum(dout, axis=0)}

    params = {"x": rng.normal(size=(N, D)) * rng.uniform(0.5, 3) + rng.normal(size=(N, 1)),
              "gamma": rng.normal(size=D), "beta": rng.normal(size=D)}
    return _case(f"layernorm ({N}, {D}) seed={seed}",
                 lambda p: p["gamma"] * normalised(p["x"])[0] + p["beta"], backward, params, slip)


# --- losses: a 0-d output, so dout is a 0-d array ---------------------------------------------


def _softmax_loss(x: Any, y: Any) -> tuple[Any, Any]:
    """mean over rows of -log softmax(x)[y], and dscores without its 1/N."""
    N = x.shape[0]
    shifted = x - np.max(x.real, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    dscores = np.exp(log_probs)
    dscores[np.arange(N), y] -= 1
    return -np.sum(log_probs[np.arange(N), y]) / N, dscores


def _svm_loss(x: Any, y: Any) -> tuple[Any, Any]:
    """mean over rows of sum_{j != y} max(0, x_j - x_y + 1), and dscores without its 1/N."""
    N = x.shape[0]
    margins = x - x[np.arange(N), y][:, None] + 1.0
    positive = (margins.real > 0) & (np.arange(x.shape[1]) != y[:, None])
    dscores = positive.astype(np.float64)
    dscores[np.arange(N), y] -= np.sum(positive, axis=1)
    return np.sum(np.where(positive, margins, 0)) / N, dscores


def _loss(seed: int, slip: str | None, svm: bool) -> Case:
    """N >= 2 rows, so that the missing 1/N changes dscores."""
    rng = np.random.default_rng(seed)
    N, C = int(rng.integers(2, 7)), int(rng.integers(2, 7))
    y = rng.integers(C, size=N)
    loss = _svm_loss if svm else _softmax_loss

    def backward(p: Params, dout: Any, slip: str | None) -> Params:
        dscores = loss(p["x"], y)[1]
        return {"x": dout * (dscores if slip == "dscores not /N" else dscores / N)}

    params = {"x": rng.normal(size=(N, C)) * rng.uniform(0.1, 3)}
    return _case(f"{'svm' if svm else 'softmax'} loss ({N}, {C}) seed={seed}",
                 lambda p: np.asarray(loss(p["x"], y)[0]), backward, params, slip)


# --- dropout with a fixed mask (inverted: kept units divided by p) -----------------------------


def _dropout(seed: int, slip: str | None) -> Case:
    rng = np.random.default_rng(seed)
    N, D = (int(n) for n in rng.integers(2, 6, size=2))
    p_keep = float(rng.uniform(0.3, 0.9))
    mask = (rng.random((N, D)) < p_keep) / p_keep

    def backward(p: Params, dout: Any, slip: str | None) -> Params:
        return {"x": dout * (mask * p_keep if slip == "missing /p" else mask)}

    return _case(f"dropout ({N}, {D}) p={p_keep:.2f} seed={seed}", lambda p: p["x"] * mask,
                 backward, {"x": rng.normal(size=(N, D))}, slip)


# --- naive convolution and max pooling (N, C, H, W) --------------------------------------------

PAD, K = 1, 3  # 3x3 kernels, stride 1, pad 1: out is H x W


def _conv_forward(p: Params) -> Any:
    """out[n, f, i, j] = sum_{c, a, b} xpad[n, c, i + a, j + b] w[f, c, a, b] + b[f]."""
    x, w = p["x"], p["w"]
    xpad = np.pad(x, ((0, 0), (0, 0), (PAD, PAD), (PAD, PAD)))
    N, _, H, W = x.shape
    out = np.zeros((N, w.shape[0], H, W), dtype=np.result_type(x, w, p["b"]))
    for i in range(H):
        for j in range(W):
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", xpad[:, :, i:i + K, j:j + K], w) + p["b"]
    return out


def _conv(seed: int, slip: str | None) -> Case:
    """N = 2, C = 2, H = W = 5, F = 2; the backward scatters each output's window."""
    rng = np.random.default_rng(seed)
    N, C, H, F = 2, 2, 5, 2

    def backward(p: Params, dout: Any, slip: str | None) -> Params:
        x, w = p["x"], p["w"]
        xpad = np.pad(x, ((0, 0), (0, 0), (PAD, PAD), (PAD, PAD)))
        dxpad, dw = np.zeros_like(xpad), np.zeros_like(w)
        for i in range(H):
            for j in range(H):
                dxpad[:, :, i:i + K, j:j + K] += np.einsum("nf,fchw->nchw", dout[:, :, i, j], w)
                dw += np.einsum("nf,nchw->fchw", dout[:, :, i, j], xpad[:, :, i:i + K, j:j + K])
        if slip == "dw kernel flipped":
            dw = dw[:, :, ::-1, ::-1]
        return {"x": dxpad[:, :, PAD:-PAD, PAD:-PAD], "w": dw, "b": np.sum(dout, axis=(0, 2, 3))}

    params = {"x": rng.normal(size=(N, C, H, H)), "w": rng.normal(size=(F, C, K, K)),
              "b": rng.normal(size=F)}
    return _case(f"conv ({N}, {C}, {H}, {H}) * ({F}, {C}, {K}, {K}) seed={seed}",
                 _conv_forward, backward, params, slip, planted="w")


POOL = 2  # 2x2 windows, stride 2


def _windows(x: Any) -> Any:
    """x (N, C, H, W) as (N, C, H/2, W/2, 4): each pooling window's elements, row-major."""
    N, C, H, W = x.shape
    blocks = x.reshape(N, C, H // POOL, POOL, W // POOL, POOL).transpose(0, 1, 2, 4, 3, 5)
    return blocks.reshape(N, C, H // POOL, W // POOL, POOL * POOL)


def _max_pool(seed: int, slip: str | None) -> Case:
    """The backward routes dout to the argmax of each window; the slip unravels that
    argmax column-major (row k % 2, column k // 2), so a maximum off the diagonal of
    its window sends the gradient to its mirror image."""
    rng = np.random.default_rng(seed)
    N, C = (int(n) for n in rng.integers(1, 3, size=2))
    H, W = (2 * int(n) for n in rng.integers(2, 4, size=2))  # 4 windows or more

    def forward(p: Params) -> Any:
        windows = _windows(p["x"])
        k = np.argmax(windows.real, axis=-1)[..., None]
        return np.take_along_axis(windows, k, axis=-1)[..., 0]

    def backward(p: Params, dout: Any, slip: str | None) -> Params:
        k = np.argmax(_windows(p["x"]), axis=-1)
        row, col = (k % POOL, k // POOL) if slip == "routed to wrong element" else divmod(k, POOL)
        dx = np.zeros_like(p["x"])
        n, c, i, j = np.indices(k.shape)
        dx[n, c, POOL * i + row, POOL * j + col] = dout
        return {"x": dx}

    params = {"x": rng.normal(size=(N, C, H, W))}
    return _case(f"max pool ({N}, {C}, {H}, {W}) seed={seed}", forward, backward, params, slip)


LAYERS: dict[str, Layer] = {layer.name: layer for layer in [
    Layer("affine", _affine, ("dx = dout @ w",)),
    Layer("relu", _relu, ("passes x < 0",)),
    Layer("batchnorm", _batchnorm, ("missing mean term",)),
    Layer("layernorm", _layernorm, ("missing mean term",)),
    Layer("softmax_loss", lambda s, b: _loss(s, b, svm=False), ("dscores not /N",)),
    Layer("svm_loss", lambda s, b: _loss(s, b, svm=True), ("dscores not /N",)),
    Layer("dropout", _dropout, ("missing /p",)),
    Layer("conv", _conv, ("dw kernel flipped",)),
    Layer("max_pool", _max_pool, ("routed to wrong element",)),
]}


# --- running a case, and what its report says about the slip -----------------------------


def run_check(case: Case) -> Report:
    """check_vjp(f, vjp, params) with its defaults (two seeded random cotangents).

    Warnings that f raises (a ComplexWarning when the complex-safety probe feeds it
    complex input) are silenced: what is measured is the verdict."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return check_vjp(case.f, case.vjp, case.params)


# A slip that changes no element by more than this, relative to the largest element of
# the correct gradient's array, is rounding and no slip at that point.
VISIBLE = 1e-9
PROBES = 2  # random cotangents that wrong_elements tries


def wrong_elements(case: Case) -> dict[str, set[tuple[int, ...]]]:
    """The elements of each params array where the slip changes the vjp for a generic
    cotangent (PROBES random ones, seeded apart from check_vjp's): the elements a
    report may blame. Empty for correct code, and for a slip that changes nothing at
    params (relu's when no x < 0)."""
    if case.slip is None:
        return {}
    assert case.reference is not None, f"{case.name}: a case with a slip needs its reference"
    rng = np.random.default_rng([PROBES, 18])
    shape = np.shape(case.f(case.params))
    wrong: dict[str, set[tuple[int, ...]]] = {key: set() for key in case.params}
    for _ in range(PROBES):
        dout = rng.standard_normal(shape)
        slipped, correct = case.vjp(case.params, dout), case.reference(case.params, dout)
        for key in case.params:
            s, c = np.asarray(slipped[key]), np.asarray(correct[key])
            changed = ~(np.abs(s - c) <= VISIBLE * np.max(np.abs(c)))  # a NaN is a change
            wrong[key] |= {tuple(int(i) for i in index) for index in np.argwhere(changed)}
    return {key: elements for key, elements in wrong.items() if elements}


def where_caught(case: Case, report: Report) -> tuple[bool, int]:
    """(localised, blamed correct): is some mismatched element one that the slip makes
    wrong in a planted array (for a slip of one element: that element); how many
    mismatched elements the slip leaves correct. report.blocks name their params
    array (Block.name)."""
    wrong = wrong_elements(case)
    mismatched = {(block.name, e.index) for block in report.blocks for e in block.mismatches}
    localised = any(key in case.planted and index in wrong.get(key, set())
                    for key, index in mismatched)
    blamed = sum(index not in wrong.get(key, set()) for key, index in mismatched)
    return localised, blamed
