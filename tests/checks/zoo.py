"""A zoo of other people's gradient code: correct, and with the slips they make.

What `gradcheck` is measured on (tests/checks/test_blackbox_zoo.py runs one seed
of each family; tools/blackbox_campaign.py runs thousands). Each family is a
function (seed, bug) -> Case that draws small sizes and values from
np.random.default_rng(seed) and writes f and its gradient the way the course or
library the family is named after writes them: column-major Coursera deep nets
with a parameters dict, a logistic-regression propagate(), row-major CS231n
layers checked through a fixed upstream gradient (f = sum(forward(x) * dout)), a
micrograd-style scalar autograd, numpy float32 functions, scaled losses and
params, planted one-element errors, and the cases of issue 17 verbatim.

bug None is the correct code; any other bug is one of the family's `bugs`. A
Case says where the bug shows (`planted`): the array (and, for a planted
one-element error, the element) that a check which localises it must name.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np

from checks import Report, gradcheck

Where = tuple[str | int, tuple[int, ...] | None]  # (array key or list position, element)
Builder = Callable[[int, "str | None"], "Case"]


@dataclass(frozen=True)
class Case:
    """One check to run: gradcheck(f, grad, params, method=method).

    grad None: f returns (value, grads). planted: where the bug shows, one entry per
    array it makes wrong ((key, None)) or the one planted element ((key, index)).
    reference: for a buggy case, the correct gradient code."""

    name: str
    f: Callable[[Any], Any]
    grad: Callable[[Any], Any] | None
    params: Any
    bug: str | None
    planted: tuple[Where, ...] = ()
    method: str = "auto"
    # The correct code's grad (f, when grad is None) for the same params: what a slip
    # is measured against (a slip may change nothing at a point, e.g. behind dead relus).
    reference: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class Family:
    """Cases of one kind: build(seed, bug) for bug None or one of bugs.

    fixed: the case is verbatim from the issue and the seed is ignored."""

    name: str
    dtype: str
    build: Builder
    bugs: tuple[str, ...]
    fixed: bool = False


def _sizes(rng: np.random.Generator, low: int, high: int, count: int) -> list[int]:
    return [int(n) for n in rng.integers(low, high + 1, size=count)]


PLANTED = {"planted 1e-3": 1e-3, "planted 1e-7": 1e-7, "planted 1e-6": 1e-6,
           "NaN in one element": np.nan}


def _plant(case: Case, bug: str | None, seed: int) -> Case:
    """case (correct, dict params) with bug planted in one element of its gradient at
    case.params: that element times (1 + PLANTED[bug]), or NaN. The element is drawn
    at random among those at least half their array's largest magnitude (an error of
    1e-7 in a tiny element is no error a check should be asked to see)."""
    if bug is None:
        return case
    assert case.grad is not None
    grads = case.grad(case.params)
    rng = np.random.default_rng([seed, 17])
    key = str(rng.choice(sorted(grads)))
    g = np.asarray(grads[key])
    candidates = np.argwhere(np.abs(g) >= 0.5 * np.max(np.abs(g)))
    index = tuple(int(i) for i in candidates[rng.integers(len(candidates))])
    wrong = {**grads, key: g.copy()}
    wrong[key][index] = g[index] * (1 + PLANTED[bug])  # NaN stays NaN

    def grad(p: Any) -> dict[str, Any]:
        return {k: v.copy() for k, v in wrong.items()}  # wrong only at params, as checked

    return replace(case, grad=grad, bug=bug, planted=((key, index),), reference=case.grad)


# --- Coursera-style deep net: columns are examples, dict params W1, b1, ... ----------

KEEP_PROB, LAMBD = 0.8, 0.7
# Each slip of the deep net and the arrays it makes wrong.
COURSERA_SLIPS = {"missing 1/m": ("W1", "W2", "W3"), "reg factor": ("W1", "W2", "W3"),
                  "W.T -> W": ("W1", "b1"), "dropout /keep_prob": ("W1", "b1", "W2", "b2"),
                  "sigma'(a)": ("W1", "b1", "W2", "b2")}


def _coursera(seed: int, bug: str | None, hidden: str) -> Case:
    """[n_x, h, h, 1] with relu (or tanh) hidden layers, inverted dropout with fixed
    masks on them, sigmoid output, cross-entropy + lambd/(2m) sum ||W||^2."""
    rng = np.random.default_rng(seed)
    n_x, h, m = _sizes(rng, 2, 6, 3)
    h, m = h + 1, m + 2  # enough units and examples that a slip rarely hides behind relus
    dims = [n_x, h, h, 1]
    X = rng.normal(size=(n_x, m))
    Y = (rng.random((1, m)) < 0.5).astype(np.float64)
    params = {}
    for l in range(1, 4):
        params[f"W{l}"] = rng.normal(size=(dims[l], dims[l - 1])) * np.sqrt(2 / dims[l - 1])
        params[f"b{l}"] = 0.1 * rng.normal(size=(dims[l], 1))
    D = {l: (rng.random((h, m)) < KEEP_PROB).astype(np.float64) for l in (1, 2)}
    g, g_prime = ((lambda Z: np.maximum(0, Z), lambda Z: (Z > 0).astype(np.float64))
                  if hidden == "relu" else (np.tanh, lambda Z: 1 - np.tanh(Z) ** 2))

    def forward(p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        cache: dict[str, Any] = {"A0": X}
        A = X
        for l in (1, 2):
            Z = p[f"W{l}"] @ A + p[f"b{l}"]
            cache[f"Z{l}"], cache[f"G{l}"] = Z, g(Z)
            A = cache[f"G{l}"] * D[l] / KEEP_PROB
            cache[f"A{l}"] = A
        AL = 1 / (1 + np.exp(-(p["W3"] @ A + p["b3"])))
        cross_entropy = -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m
        L2 = LAMBD / (2 * m) * sum(np.sum(np.square(p[f"W{l}"])) for l in (1, 2, 3))
        cache["AL"] = AL
        return cross_entropy + L2, cache

    def backward(p: dict[str, Any], cache: dict[str, Any], bug: str | None) -> dict[str, Any]:
        grads = {}
        dZ = cache["AL"] - Y
        for l in (3, 2, 1):
            dW = dZ @ cache[f"A{l - 1}"].T
            grads[f"dW{l}"] = (dW if bug == "missing 1/m" else dW / m) + (
                LAMBD / (2 * m) if bug == "reg factor" else LAMBD / m) * p[f"W{l}"]
            grads[f"db{l}"] = np.sum(dZ, axis=1, keepdims=True) / m
            if l == 1:
                break
            dA = (p[f"W{l}"] if bug == "W.T -> W" and l == 2 else p[f"W{l}"].T) @ dZ
            dA = dA * D[l - 1] if bug == "dropout /keep_prob" else dA * D[l - 1] / KEEP_PROB
            at = cache[f"G{l - 1}"] if bug == "sigma'(a)" else cache[f"Z{l - 1}"]
            dZ = dA * g_prime(at)
        return grads

    def f(p: dict[str, Any]) -> Any:
        return forward(p)[0]

    def grad(p: dict[str, Any], slip: str | None = bug) -> dict[str, Any]:
        grads = backward(p, forward(p)[1], slip)
        return {name: grads["d" + name] for name in p}  # dW1 is the gradient of W1

    if bug == "W.T -> W":
        assert params["W2"].shape[0] == params["W2"].shape[1]  # the slip must run
    return Case(f"coursera {hidden} seed={seed}", f, grad, params, bug,
                tuple((k, None) for k in COURSERA_SLIPS.get(bug or "", ())),
                reference=lambda p: grad(p, None))


# --- logistic regression: propagate(w, b) -> (cost, grads) ---------------------------


def _logistic(seed: int, bug: str | None, balanced: bool) -> Case:
    """propagate as the Coursera notebook writes it, w of size 1e-3, b = 0; labels
    random, or exactly half ones (A - Y then nearly cancels in db)."""
    rng = np.random.default_rng(seed)
    n, k = _sizes(rng, 2, 5, 2)
    m = 2 * k
    X = rng.normal(size=(n, m))
    Y = (rng.permutation(m) < k if balanced else rng.random(m) < 0.5).astype(np.float64)
    Y = Y.reshape(1, m)

    def propagate(p: dict[str, Any], bug: str | None = bug) -> tuple[Any, dict[str, Any]]:
        A = 1 / (1 + np.exp(-(p["w"].T @ X + p["b"])))
        cost = -np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)) / m
        dw = X @ (A - Y).T
        return cost, {"w": dw if bug == "missing 1/m" else dw / m,
                      "b": np.sum(A - Y, keepdims=True) / m}

    params = {"w": 1e-3 * rng.normal(size=(n, 1)), "b": np.zeros((1, 1))}
    return Case(f"logistic {'balanced' if balanced else 'random'} seed={seed}", propagate,
                None, params, bug, (("w", None),) if bug else (),
                reference=lambda p: propagate(p, None))


# --- CS231n-style layers: rows are examples, f = sum(forward(x, ...) * dout) ----------


def _upstream(name: str, forward: Callable[..., Any], backward: Callable[..., list[Any]],
              params: list[np.ndarray], rng: np.random.Generator, bug: str | None) -> Case:
    """f = sum(forward(*params) * dout) for a fixed random dout, and its gradient
    backward(dout, *params, bug=bug): how CS231n checks a layer against an upstream
    gradient. The bug, if any, shows in dx."""
    dout = rng.normal(size=np.shape(forward(*params)))

    def f(p: list[Any]) -> Any:
        return np.sum(forward(*p) * dout)

    return Case(name, f, lambda p: backward(dout, *p, bug=bug), params, bug,
                ((0, None),) if bug else (), reference=lambda p: backward(dout, *p, bug=None))


def _affine(seed: int, bug: str | None) -> Case:
    rng = np.random.default_rng(seed)
    N, D, M = _sizes(rng, 1, 5, 3)
    D, M = (D + 1, D + 1) if bug == "dx = dout @ w" else (D, M)  # square w: the slip runs

    def backward(dout: Any, x: Any, w: Any, b: Any, bug: str | None) -> list[Any]:
        dx = dout @ w if bug == "dx = dout @ w" else dout @ w.T
        return [dx, x.T @ dout, np.sum(dout, axis=0)]

    params = [rng.normal(size=(N, D)), rng.normal(size=(D, M)), rng.normal(size=M)]
    return _upstream(f"affine seed={seed}", lambda x, w, b: x @ w + b, backward, params, rng,
                     bug)


def _relu(seed: int, bug: str | None) -> Case:
    rng = np.random.default_rng(seed)
    N, D = _sizes(rng, 1, 6, 2)
    params = [rng.normal(size=(N, D))]
    return _upstream(f"relu seed={seed}", lambda x: np.maximum(0, x),
                     lambda dout, x, bug: [dout * (x > 0)], params, rng, bug)


BN_EPS = 1e-5


def _batchnorm(seed: int, bug: str | None, by_hand: bool) -> Case:
    """Batchnorm in train mode, the staged backward (dxhat, dvar, dmu); N = 2 every
    third seed. by_hand: var = mean((x - mu)^2) instead of np.var (which takes |x|^2
    of complex input, so f is then not complex-safe)."""
    rng = np.random.default_rng(seed)
    N = 2 if seed % 3 == 0 else int(rng.integers(3, 9))
    D = int(rng.integers(1, 5))

    def variance(x: Any, mu: Any) -> Any:
        return np.mean((x - mu) ** 2, axis=0) if by_hand else np.var(x, axis=0)

    def forward(x: Any, gamma: Any, beta: Any) -> Any:
        mu = np.mean(x, axis=0)
        return gamma * (x - mu) / np.sqrt(variance(x, mu) + BN_EPS) + beta

    def backward(dout: Any, x: Any, gamma: Any, beta: Any, bug: str | None) -> list[Any]:
        mu = np.mean(x, axis=0)
        var = variance(x, mu)
        xhat = (x - mu) / np.sqrt(var + BN_EPS)
        dxhat = dout * gamma
        dvar = np.sum(dxhat * (x - mu) * -0.5 * (var + BN_EPS) ** -1.5, axis=0)
        dmu = (np.sum(-dxhat / np.sqrt(var + BN_EPS), axis=0)
               + dvar * np.mean(-2 * (x - mu), axis=0))
        dx = dxhat / np.sqrt(var + BN_EPS) + dvar * 2 * (x - mu) / N
        dx = dx if bug == "missing mean term" else dx + dmu / N
        return [dx, np.sum(dout * xhat, axis=0), np.sum(dout, axis=0)]

    params = [rng.normal(size=(N, D)) * rng.uniform(0.5, 3) + rng.normal(size=D),
              rng.normal(size=D), rng.normal(size=D)]
    return _upstream(f"batchnorm {'by hand' if by_hand else 'np.var'} N={N} seed={seed}",
                     forward, backward, params, rng, bug)


def _softmax_loss(x: Any, y: np.ndarray, divide: bool = True) -> tuple[Any, Any]:
    """CS231n's softmax_loss: mean over rows of -log softmax(x)[y], and dx."""
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1
    return loss, dx / N if divide else dx


def _svm_loss(x: Any, y: np.ndarray, divide: bool = True) -> tuple[Any, Any]:
    """CS231n's svm_loss: mean over rows of sum_j max(0, x_j - x_y + 1), j != y, and dx."""
    N = x.shape[0]
    margins = np.maximum(0, x - x[np.arange(N), y][:, None] + 1.0)
    margins[np.arange(N), y] = 0
    loss = np.sum(margins) / N
    positive = (margins > 0).astype(np.float64)
    dx = positive.copy()
    dx[np.arange(N), y] -= np.sum(positive, axis=1)
    return loss, dx / N if divide else dx


def _loss_layer(seed: int, bug: str | None, svm: bool) -> Case:
    rng = np.random.default_rng(seed)
    N, C = _sizes(rng, 1, 6, 2)
    C += 1
    y = rng.integers(C, size=N)
    loss = _svm_loss if svm else _softmax_loss
    params = [rng.normal(size=(N, C)) * rng.uniform(0.01, 3)]
    return Case(f"{'svm' if svm else 'softmax'} loss seed={seed}",
                lambda p: loss(p[0], y)[0],
                lambda p: [loss(p[0], y, divide=bug != "dscores not /N")[1]],
                params, bug, ((0, None),) if bug else (),
                reference=lambda p: [loss(p[0], y)[1]])


REG = 0.05


def _two_layer(seed: int, bug: str | None, batchnorm: bool) -> Case:
    """CS231n's TwoLayerNet: affine - [batchnorm] - relu - affine - softmax, with
    0.5 reg sum W^2; weight scale log-uniform in [1e-3, 1] (small: near-uniform
    softmax, whose db2 nearly cancels)."""
    rng = np.random.default_rng(seed)
    N, D, H, C = _sizes(rng, 2, 5, 4)
    X, y = rng.normal(size=(N, D)), rng.integers(C, size=N)
    scale = 10 ** rng.uniform(-3, 0)
    params = {"W1": scale * rng.normal(size=(D, H)), "b1": scale * rng.normal(size=H)}
    if batchnorm:
        params |= {"gamma1": 1 + 0.1 * rng.normal(size=H), "beta1": 0.1 * rng.normal(size=H)}
    params |= {"W2": scale * rng.normal(size=(H, C)), "b2": scale * rng.normal(size=C)}

    def forward(p: dict[str, Any], bug: str | None = bug) -> tuple[Any, dict[str, Any]]:
        z = X @ p["W1"] + p["b1"]
        cache: dict[str, Any] = {"z": z}
        if batchnorm:
            mu, var = np.mean(z, axis=0), np.var(z, axis=0)
            cache["xhat"] = (z - mu) / np.sqrt(var + BN_EPS)
            cache["var"] = var
            z = p["gamma1"] * cache["xhat"] + p["beta1"]
        cache["pre"], cache["h"] = z, np.maximum(0, z)
        loss, dscores = _softmax_loss(cache["h"] @ p["W2"] + p["b2"], y,
                                      divide=bug != "dscores not /N")
        reg = 0.5 * REG * (np.sum(p["W1"] * p["W1"]) + np.sum(p["W2"] * p["W2"]))
        return loss + reg, {**cache, "dscores": dscores}

    def grad(p: dict[str, Any], bug: str | None = bug) -> dict[str, Any]:
        cache = forward(p, bug)[1]
        dscores = cache["dscores"]
        grads = {"W2": cache["h"].T @ dscores + REG * p["W2"], "b2": np.sum(dscores, axis=0)}
        dz = (dscores @ p["W2"].T) * (cache["pre"] > 0)
        if batchnorm:
            grads |= {"gamma1": np.sum(dz * cache["xhat"], axis=0), "beta1": np.sum(dz, axis=0)}
            dxhat = dz * p["gamma1"]
            # the compact form of batchnorm's dx; the mean term is the -mean(dxhat) one
            dz = (dxhat - np.mean(dxhat * cache["xhat"], axis=0) * cache["xhat"]
                  - (0 if bug == "missing mean term" else np.mean(dxhat, axis=0)))
            dz = dz / np.sqrt(cache["var"] + BN_EPS)
        grads |= {"W1": X.T @ dz + REG * p["W1"], "b1": np.sum(dz, axis=0)}
        return {name: grads[name] for name in p}

    shows = {"dscores not /N": tuple(params), "missing mean term": ("W1", "b1")}
    return Case(f"two-layer{' batchnorm' if batchnorm else ''} seed={seed}",
                lambda p: forward(p)[0], grad, params, bug,
                tuple((k, None) for k in shows.get(bug or "", ())),
                reference=lambda p: grad(p, None))


# --- micrograd-style scalar autograd ---------------------------------------------------


class Value:
    """A scalar and its gradient, micrograd's way: each op returns a new Value and
    records, beside its forward rule, how to pass out.grad back to its operands."""

    def __init__(self, data: Any, children: tuple[Value, ...] = ()) -> None:
        self.data = data
        self.grad = 0.0
        self._backward: Callable[[], None] = lambda: None
        self._prev = set(children)

    def _receive(self, amount: Any) -> None:
        """Gradients from every use of a node add up (the multivariate chain rule)."""
        self.grad += amount

    def _new(self, data: Any, *children: Value) -> Value:
        return type(self)(data, children)

    def __add__(self, other: Any) -> Value:
        other = other if isinstance(other, Value) else self._new(other)
        out = self._new(self.data + other.data, self, other)

        def _backward() -> None:
            self._receive(out.grad)
            other._receive(out.grad)

        out._backward = _backward
        return out

    def __mul__(self, other: Any) -> Value:
        other = other if isinstance(other, Value) else self._new(other)
        out = self._new(self.data * other.data, self, other)

        def _backward() -> None:
            self._receive(other.data * out.grad)
            other._receive(self.data * out.grad)

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        e = math.exp(2 * self.data)
        out = self._new((e - 1) / (e + 1), self)

        def _backward() -> None:
            self._receive((1 - out.data ** 2) * out.grad)

        out._backward = _backward
        return out

    def relu(self) -> Value:
        out = self._new(0 if self.data < 0 else self.data, self)

        def _backward() -> None:
            self._receive((out.data > 0) * out.grad)

        out._backward = _backward
        return out

    def exp(self) -> Value:
        out = self._new(math.exp(self.data), self)

        def _backward() -> None:
            self._receive(out.data * out.grad)

        out._backward = _backward
        return out

    def __neg__(self) -> Value:
        return self * -1

    def __sub__(self, other: Any) -> Value:
        return self + (-other)

    def __radd__(self, other: Any) -> Value:
        return self + other

    def __rmul__(self, other: Any) -> Value:
        return self * other

    def backward(self) -> None:
        """Chain rule in reverse topological order, from d self / d self = 1."""
        topo: list[Value] = []
        visited: set[int] = set()

        def build(v: Value) -> None:
            if id(v) not in visited:
                visited.add(id(v))
                for child in v._prev:
                    build(child)
                topo.append(v)

        build(self)
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()


class OverwritingValue(Value):
    """The slip: `self.grad = ...` where micrograd writes `+=`; a node used twice
    keeps only the last use's gradient."""

    def _receive(self, amount: Any) -> None:
        self.grad = amount


def _micrograd(seed: int, bug: str | None) -> Case:
    """An MLP of Values, n_in -> H (tanh or relu) -> 1, over m examples; loss squared
    error, or Poisson (exp(out) - y out) for the exp op."""
    rng = np.random.default_rng(seed)
    n_in, H, m = _sizes(rng, 1, 3, 3)
    H += 1
    X, y = rng.normal(size=(m, n_in)), rng.uniform(0, 2, size=m)
    hidden, poisson = ("tanh", "relu")[seed % 2], seed // 2 % 2 == 1
    params = {"W1": rng.normal(size=(H, n_in)), "b1": 0.1 * rng.normal(size=H),
              "w2": rng.normal(size=H) / np.sqrt(H), "b2": 0.1 * rng.normal(size=1)}
    def loss(p: dict[str, Any], bug: str | None = bug) -> tuple[Value, dict[str, np.ndarray]]:
        cls = OverwritingValue if bug == "grad = not +=" else Value
        leaves = {k: np.array([cls(v) for v in np.ravel(a)], dtype=object).reshape(a.shape)
                  for k, a in p.items()}
        total: Value = cls(0.0)
        for x, target in zip(X, y, strict=True):
            h = [getattr(sum((w * xi for w, xi in zip(row, x, strict=True)), b), hidden)()
                 for row, b in zip(leaves["W1"], leaves["b1"], strict=True)]
            out = sum((w * hj for w, hj in zip(leaves["w2"], h, strict=True)), leaves["b2"][0])
            r = out - target
            total = total + (out.exp() - target * out if poisson else r * r)
        return total * (1.0 / m), leaves

    def grad(p: dict[str, Any], bug: str | None = bug) -> dict[str, Any]:
        value, leaves = loss(p, bug)
        value.backward()
        return {k: np.vectorize(lambda v: v.grad, otypes=[np.float64])(a)
                for k, a in leaves.items()}

    return Case(f"micrograd {hidden} {'poisson' if poisson else 'squared'} seed={seed}",
                lambda p: loss(p)[0].data, grad, params, bug,
                tuple((k, None) for k in params) if bug else (),
                reference=lambda p: grad(p, None))


# --- small tanh nets: float32 as a framework computes, float64 with planted errors ------

def _tanh_net(seed: int, bug: str | None, dtype: type = np.float64,
              twist: str | None = None) -> Case:
    """0.5 mean (W2 tanh(W1 X + b1) + b2 - y)^2 over m columns, computed in dtype
    throughout (a float32 f casts its input, as a float32 framework op does).

    twist "var": + 0.5 np.var(tanh(...)); "abs": the loss is sqrt(sum |r|^2) instead.
    Both are smooth in real arithmetic and not complex-safe (|.| of complex input)."""
    rng = np.random.default_rng(seed)
    D, H, m = _sizes(rng, 1, 5, 3)
    X: np.ndarray = rng.normal(size=(D, m)).astype(dtype)
    y: np.ndarray = rng.normal(size=(1, m)).astype(dtype)
    params = {"W1": rng.normal(size=(H, D)) / np.sqrt(D), "b1": 0.1 * rng.normal(size=(H, 1)),
              "W2": rng.normal(size=(1, H)) / np.sqrt(H), "b2": 0.1 * rng.normal(size=(1, 1))}
    params = {k: v.astype(dtype) for k, v in params.items()}

    def forward(p: dict[str, Any]) -> tuple[Any, Any, Any]:
        if dtype == np.float32:
            p = {k: np.asarray(v, dtype=np.float32) for k, v in p.items()}
        a = np.tanh(p["W1"] @ X + p["b1"])
        r = p["W2"] @ a + p["b2"] - y
        if twist == "abs":
            return np.sqrt(np.sum(np.abs(r) ** 2)), a, r
        value = 0.5 * np.sum(r * r) / m
        return (value + 0.5 * np.var(a) if twist == "var" else value), a, r

    def grad(p: dict[str, Any]) -> dict[str, Any]:
        value, a, r = forward(p)
        dout = r / value if twist == "abs" else r / dtype(m)
        da = p["W2"].T @ dout + ((a - np.mean(a)) / a.size if twist == "var" else 0)
        dz = da * (1 - a * a)
        return {"W1": dz @ X.T, "b1": np.sum(dz, axis=1, keepdims=True),
                "W2": dout @ a.T, "b2": np.sum(dout, axis=1, keepdims=True)}

    name = f"tanh net {np.dtype(dtype).name}{f' {twist}' if twist else ''} seed={seed}"
    return _plant(Case(name, lambda p: forward(p)[0], grad, params, None), bug, seed)


def _f32_tanh(seed: int, bug: str | None) -> Case:
    """sum(c * tanh(W x)) in float32, as a float32 torch or JAX op computes it."""
    rng = np.random.default_rng(seed)
    M, D = _sizes(rng, 2, 8, 2)
    x, c = rng.normal(size=D).astype(np.float32), rng.normal(size=M).astype(np.float32)
    params = {"W": (rng.normal(size=(M, D)) / np.sqrt(D)).astype(np.float32)}

    def f(p: dict[str, Any]) -> Any:
        return np.sum(c * np.tanh(np.asarray(p["W"], dtype=np.float32) @ x))

    def grad(p: dict[str, Any]) -> dict[str, Any]:
        t = np.tanh(np.asarray(p["W"], dtype=np.float32) @ x)
        return {"W": (c * (1 - t * t))[:, None] * x[None, :]}

    return _plant(Case(f"float32 tanh(W x) {params['W'].shape} seed={seed}", f, grad, params,
                       None), bug, seed)


# --- scales: a correct case's loss, or its params, multiplied by s ----------------------

SCALES = (1e-300, 1e-290, 1e-100, 1e100)


def _scaled(seed: int, bug: str | None, s: float, of: str) -> Case:
    """of "loss": s f(p), gradient s f'(p). of "params": params s p, and f(q) = g(q / s),
    whose gradient is g'(q / s) / s."""
    base = _tanh_net(seed, None)
    if of == "loss":
        params = base.params

        def f(p: dict[str, Any]) -> Any:
            return s * base.f(p)

        def grad(p: dict[str, Any]) -> dict[str, Any]:
            assert base.grad is not None
            return {k: s * g for k, g in base.grad(p).items()}
    else:
        params = {k: s * v for k, v in base.params.items()}

        def f(p: dict[str, Any]) -> Any:
            return base.f({k: v / s for k, v in p.items()})

        def grad(p: dict[str, Any]) -> dict[str, Any]:
            assert base.grad is not None
            return {k: g / s for k, g in base.grad({k: v / s for k, v in p.items()}).items()}

    return _plant(Case(f"{of} x {s:g} seed={seed}", f, grad, params, None), bug, seed)


# --- issue 17 verbatim ------------------------------------------------------------------


def _issue_minimal_logistic(seed: int, bug: str | None) -> Case:
    """The issue's minimal case (correct): its b cancels to 6e-5 from terms of 0.5."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 4))
    Y = np.array([[1.0, 0, 1, 0]])

    def propagate(p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        A = 1 / (1 + np.exp(-(p["w"].T @ X + p["b"])))
        return (-np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A)),
                {"w": X @ (A - Y).T / 4, "b": np.sum(A - Y, keepdims=True) / 4})

    return Case("issue 17 minimal logistic", propagate, None,
                {"w": 1e-3 * rng.normal(size=(3, 1)), "b": np.zeros((1, 1))}, bug)


def _issue_silent_linear(seed: int, bug: str | None) -> Case:
    """f linear, f(1) = 1e-4: the issue's first silent pass (bug "grad 2d", verbatim)."""
    d = np.array([0.3, -0.7, 0.4 + 1e-4])
    factor = 2 if bug == "grad 2d" else 1
    return Case("issue 17 silent linear", lambda p: np.sum(p["x"] * d),
                lambda p: {"x": factor * d}, {"x": np.ones(3)}, bug,
                (("x", None),) if bug else (), reference=lambda p: {"x": d})


def _issue_silent_noise(seed: int, bug: str | None) -> Case:
    """sum x^2 + 1e-10 noise: the issue's second silent pass (bug "grad 3x", verbatim)."""
    x = np.random.default_rng(0).normal(size=20)
    noise = np.random.default_rng(1)
    factor = 3 if bug == "grad 3x" else 2
    return Case("issue 17 silent noise",
                lambda p: np.sum(p[0] ** 2) + 1e-10 * noise.standard_normal(),
                lambda p: [factor * p[0]], [x], bug, ((0, None),) if bug else (),
                reference=lambda p: [2 * p[0]])


def _family(name: str, dtype: str, build: Builder, *bugs: str, fixed: bool = False) -> Family:
    return Family(name, dtype, build, bugs, fixed)


FAMILIES: dict[str, Family] = {f.name: f for f in [
    _family("coursera_relu", "float64", lambda s, b: _coursera(s, b, "relu"),
            "missing 1/m", "W.T -> W", "reg factor", "dropout /keep_prob"),
    _family("coursera_tanh", "float64", lambda s, b: _coursera(s, b, "tanh"), "sigma'(a)"),
    _family("logistic_random", "float64", lambda s, b: _logistic(s, b, False), "missing 1/m"),
    _family("logistic_balanced", "float64", lambda s, b: _logistic(s, b, True),
            "missing 1/m"),
    _family("affine", "float64", _affine, "dx = dout @ w"),
    _family("relu", "float64", _relu),
    _family("batchnorm_var", "float64", lambda s, b: _batchnorm(s, b, False),
            "missing mean term"),
    _family("batchnorm_hand", "float64", lambda s, b: _batchnorm(s, b, True),
            "missing mean term"),
    _family("softmax_loss", "float64", lambda s, b: _loss_layer(s, b, False),
            "dscores not /N"),
    _family("svm_loss", "float64", lambda s, b: _loss_layer(s, b, True), "dscores not /N"),
    _family("two_layer", "float64", lambda s, b: _two_layer(s, b, False), "dscores not /N"),
    _family("two_layer_bn", "float64", lambda s, b: _two_layer(s, b, True),
            "missing mean term"),
    _family("micrograd", "float64", _micrograd, "grad = not +="),
    _family("f32_tanh", "float32", _f32_tanh, "planted 1e-3"),
    _family("f32_two_layer", "float32", lambda s, b: _tanh_net(s, b, np.float32),
            "planted 1e-3"),
    _family("f64_complex_safe", "float64", _tanh_net, "planted 1e-7", "NaN in one element"),
    _family("f64_not_complex_safe", "float64",
            lambda s, b: _tanh_net(s, b, twist=("var", "abs")[s % 2]), "planted 1e-6"),
    *[_family(f"scale_{of}_{s:g}", "float64",
              partial(_scaled, s=s, of=of), "planted 1e-6")
      for of in ("loss", "params") for s in SCALES],
    _family("issue_minimal_logistic", "float64", _issue_minimal_logistic, fixed=True),
    _family("issue_silent_linear", "float64", _issue_silent_linear, "grad 2d", fixed=True),
    _family("issue_silent_noise", "float64", _issue_silent_noise, "grad 3x", fixed=True),
]}


# --- optional: a torch custom autograd.Function in float32, through numpy glue ----------


def _torch_linear_gelu(seed: int, bug: str | None) -> Case:
    """y = GELU(x W^T + b) as a float32 torch.autograd.Function with its own backward,
    checked as f = sum(y * dout) by glue that turns the arrays into float32 tensors.
    torch is imported here, so that the zoo needs it only for this family."""
    torch = importlib.import_module("torch")
    rng = np.random.default_rng(seed)
    N, D, M = _sizes(rng, 1, 6, 3)

    Function: Any = torch.autograd.Function

    class LinearGELU(Function):  # type: ignore[misc]
        @staticmethod
        def forward(ctx: Any, x: Any, W: Any, b: Any) -> Any:
            z = x @ W.T + b
            ctx.save_for_backward(x, W, z)
            return 0.5 * z * (1 + torch.erf(z / math.sqrt(2)))

        @staticmethod
        def backward(ctx: Any, dout: Any) -> Any:
            x, W, z = ctx.saved_tensors
            # GELU'(z) = Phi(z) + z phi(z)
            Phi = 0.5 * (1 + torch.erf(z / math.sqrt(2)))
            phi = torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
            dz = dout * (Phi + z * phi)
            return dz @ W, dz.T @ x, dz.sum(0)

    params = {"x": rng.normal(size=(N, D)).astype(np.float32),
              "W": (rng.normal(size=(M, D)) / np.sqrt(D)).astype(np.float32),
              "b": (0.1 * rng.normal(size=M)).astype(np.float32)}
    dout = torch.from_numpy(rng.normal(size=(N, M)).astype(np.float32))

    def tensors(p: dict[str, Any], requires_grad: bool = False) -> list[Any]:
        return [torch.tensor(np.asarray(p[k], dtype=np.float32), requires_grad=requires_grad)
                for k in ("x", "W", "b")]

    def f(p: dict[str, Any]) -> Any:
        with torch.no_grad():
            return float((LinearGELU.apply(*tensors(p)) * dout).sum())

    def grad(p: dict[str, Any]) -> dict[str, Any]:
        leaves = tensors(p, requires_grad=True)
        (LinearGELU.apply(*leaves) * dout).sum().backward()
        return {k: t.grad.numpy() for k, t in zip(("x", "W", "b"), leaves, strict=True)}

    return _plant(Case(f"torch linear+GELU float32 seed={seed}", f, grad, params, None), bug,
                  seed)


# Families that need a package the project does not depend on: run by the campaign
# when the package is importable, and left out (with a note) when it is not.
OPTIONAL_FAMILIES: dict[str, tuple[str, Family]] = {
    "torch_linear_gelu": ("torch", Family("torch_linear_gelu", "float32", _torch_linear_gelu,
                                          ("planted 1e-3",))),
}


def optional_families() -> tuple[dict[str, Family], list[str]]:
    """The optional families whose package imports here, and a note for each other."""
    found, notes = {}, []
    for name, (package, family) in OPTIONAL_FAMILIES.items():
        if importlib.util.find_spec(package) is None:
            notes.append(f"{name} skipped: {package} is not importable")
        else:
            found[name] = family
    return found, notes


# --- running a case, and what its report says about the bug -----------------------------


def run_check(case: Case) -> Report:
    """gradcheck(f, grad, params, method=case.method), its tolerances the defaults.

    Warnings that f raises (a ComplexWarning when the complex-safety probe feeds it
    complex input) are silenced: what is measured is the verdict."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gradcheck(case.f, case.grad, case.params, method=case.method)


def where_caught(case: Case, report: Report) -> tuple[bool, bool]:
    """(localised, others): is a planted place among the mismatches (or the elements
    reported nondeterministic: a grad whose result depends on the call is caught
    as that, not as a mismatch); did a correct element of a planted one-element
    error get blamed too. report.blocks come in the order of params, so block p is
    the array list(params)[p] (or params[p])."""
    keys = list(case.params) if isinstance(case.params, dict) else list(range(len(case.params)))
    mismatched = {(keys[p], e.index) for p, block in enumerate(report.blocks)
                  for e in block.mismatches + [s for s in block.skipped
                                               if "nondeterministic" in s.reason]}
    arrays = {key for key, _ in mismatched}
    localised = any((key, index) in mismatched if index is not None else key in arrays
                    for key, index in case.planted)
    elements = {(key, index) for key, index in case.planted if index is not None}
    return localised, bool(elements) and bool(mismatched - elements)


# A bug that changes no element by more than this, relative to the largest element of
# its array, is rounding: a planted 1e-7 changes one element of at least half the
# largest by 5e-8.
VISIBLE = 1e-9


def gradient_arrays(case: Case, code: Any) -> list[np.ndarray]:
    """code's gradient at case.params (code is grad, or f returning (value, grads) when
    case.grad is None), as float64 arrays in the order of params."""
    params = ({k: np.array(v) for k, v in case.params.items()} if isinstance(case.params, dict)
              else [np.array(v) for v in case.params])
    grads = code(params) if case.grad is not None else code(params)[1]
    ordered = [grads[k] for k in case.params] if isinstance(case.params, dict) else grads
    return [np.asarray(g, dtype=np.float64) for g in ordered]


def visible(case: Case) -> bool:
    """Does the bug change the gradient at params: some element by more than VISIBLE
    times its array's largest? (A slip behind relus that are all dead, or a missing
    1/N when N = 1, changes nothing there, and no check could see it.)"""
    if case.bug is None:
        return True
    assert case.reference is not None, f"{case.name}: a buggy case needs its reference"
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        buggy = gradient_arrays(case, case.grad or case.f)
        correct = gradient_arrays(case, case.reference)
    # written so that a NaN counts as a change
    return any(np.any(~(np.abs(b - c) <= VISIBLE * np.max(np.abs(c))))
               for b, c in zip(buggy, correct, strict=True))
