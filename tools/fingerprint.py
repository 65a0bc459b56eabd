"""Fingerprint every number the checker produces, to prove a refactor changes none.

    python tools/fingerprint.py OUT.jsonl [--cases 600]
    python tools/fingerprint.py --compare BEFORE.jsonl AFTER.jsonl

Writes one JSON line per (case, what): floats as float.hex, arrays as the
sha256 of their bytes with shape and dtype, reports as their full text and as
Report.as_dict() with every float in hex. Only public names are used, so the
same script runs on the tree before and after a refactor. The cases: seeded
random networks (every activation and cost, depth 1-4, float32 and float64),
the README's examples, planted errors, gradcheck, and the backprop-check CLI.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

from backprop import ACTIVATIONS, COSTS, Gradients, Network, loop, vectorized
from checks import check_network, gradcheck
from checks.cli import main as cli_main
from checks.network import error_scales, tolerances

# Written out, not imported: this script also runs on trees from before backprop.HIDDEN.
HIDDEN = [name for name, act in ACTIVATIONS.items() if not act.output_only]


def exact(value: Any) -> Any:
    """value with every float as its hex string and every array as a digest."""
    if isinstance(value, float):
        return value.hex()
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        return {"shape": list(data.shape), "dtype": str(data.dtype),
                "sha256": hashlib.sha256(data.tobytes()).hexdigest()}
    if isinstance(value, dict):
        return {k: exact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [exact(v) for v in value]
    if isinstance(value, np.generic):
        return exact(value.item())
    return value


def gradients(g: Gradients) -> Any:
    return {f: [exact(np.asarray(a)) for a in getattr(g, f)] for f in ("delta", "dW", "db")}


def report(r: Any) -> Any:
    return {"text": str(r), "dict": exact(r.as_dict()),
            "ratios": [exact(b.ratios) for b in r.blocks]}


def random_case(rng: np.random.Generator, dtype: Any) -> tuple[Network, Any, Any]:
    L = int(rng.integers(1, 5))
    sizes = [int(n) for n in rng.integers(1, 9, size=L + 1)]
    cost = str(rng.choice(list(COSTS)))
    output = COSTS[cost].requires or str(rng.choice(list(ACTIVATIONS)))
    if output == "softmax" and sizes[-1] == 1 and cost == "quadratic":
        output = "sigmoid"
    acts = [str(rng.choice(HIDDEN)) for _ in range(L - 1)] + [output]
    net = Network.random(sizes, acts, cost, seed=int(rng.integers(2**32)), dtype=dtype,
                         scale=float(rng.uniform(0.1, 3.0)))
    m = int(rng.integers(1, 9))
    X = rng.uniform(-2, 2, (sizes[0], m))
    if cost == "quadratic":
        Y = rng.uniform(-2, 2, (sizes[-1], m))
    elif cost == "cross_entropy":
        Y = rng.uniform(0, 1, (sizes[-1], m))
    else:
        Y = rng.dirichlet(np.ones(sizes[-1]), size=m).T
    return net, X.astype(dtype), Y.astype(dtype)


def readme_cases() -> Iterator[tuple[str, Network, Any, Any]]:
    net = Network.random([4, 8, 3], activations=["tanh", "sigmoid"], cost="cross_entropy", seed=0)
    X = np.random.default_rng(0).normal(size=(4, 5))
    Y = np.random.default_rng(1).uniform(size=(3, 5))
    yield "readme-api", net, X, Y
    rng = np.random.default_rng(0)
    relu = Network.random([6, 16, 16, 4], activations=["relu", "leaky_relu", "softmax"],
                          cost="categorical_cross_entropy", seed=3)
    yield "relu-softmax", relu, rng.normal(size=(6, 7)), rng.dirichlet(np.ones(4), size=7).T
    big = Network.random([30, 20, 10], activations=["tanh", "softplus"], seed=5,
                         dtype=np.float32)
    yield "float32-medium", big, rng.normal(size=(30, 9)).astype(np.float32), \
        rng.normal(size=(10, 9)).astype(np.float32)


def cases(n: int) -> Iterator[tuple[str, Network, Any, Any]]:
    yield from readme_cases()
    rng = np.random.default_rng(20261201)
    for k in range(n):
        dtype = np.float64 if k % 2 == 0 else np.float32
        net, X, Y = random_case(rng, dtype)
        yield f"random-{k}", net, X, Y


def planted(g: Gradients, k: int) -> Gradients:
    """g with one element of one array moved by a relative 1e-6 (float64) step."""
    fields = {f: [np.array(a, dtype=np.float64, copy=True) for a in getattr(g, f)]
              for f in ("delta", "dW", "db")}
    field = ("delta", "dW", "db")[k % 3]
    arrays = fields[field]
    l = k % len(arrays)
    flat = arrays[l].reshape(-1)
    flat[k % flat.size] = flat[k % flat.size] * (1 + 1e-6) + 1e-12
    return Gradients(**fields)


def describe_case(name: str, net: Network, X: Any, Y: Any, k: int) -> Iterator[tuple[str, Any]]:
    yield "network", repr(net)
    yield "tolerances", gradients(tolerances(net, X, Y))
    yield "tolerances-sigma-prime-of-z", gradients(tolerances(net, X, Y,
                                                              cached_derivatives=False))
    E, u = error_scales(net, X, Y)
    yield "error_scales", {"E": gradients(E), "u": exact(float(u))}
    g_vec, g_loop = vectorized.backprop(net, X, Y), loop.backprop(net, X, Y)
    yield "vectorized", gradients(g_vec)
    yield "loop", gradients(g_loop)
    yield "check-vectorized", report(check_network(net, X, Y))
    yield "check-loop", report(check_network(net, X, Y, impl="loop",
                                             cached_derivatives=False))
    bad = planted(g_vec, k)
    yield "check-planted", report(check_network(net, X, Y, impl=lambda *_: bad))
    if k % 5 == 0:
        for method in ("richardson", "central", "complex_step"):
            yield f"check-{method}", report(check_network(net, X, Y, method=method))
        yield "check-directions", report(check_network(net, X, Y, directions=2, seed=k))
        yield "check-directions-planted", report(check_network(
            net, X, Y, impl=lambda *_: bad, directions=3, seed=k))
        yield "check-planted-richardson", report(check_network(
            net, X, Y, impl=lambda *_: bad, method="richardson"))


def gradcheck_cases() -> Iterator[tuple[str, Any]]:
    rng = np.random.default_rng(1)
    A = rng.normal(size=(4, 3))
    x = rng.normal(size=(3, 2))

    def f(p: list[Any]) -> Any:
        return np.sum(np.tanh(A @ p[0]) ** 2) + np.sum(p[1] ** 3)

    def grad(p: list[Any]) -> list[Any]:
        t = np.tanh(A @ p[0])
        return [A.T @ (2 * t * (1 - t**2)), 3 * p[1] ** 2]

    def wrong(p: list[Any]) -> list[Any]:
        g = grad(p)
        g[0][1, 1] *= 1 + 1e-7
        return g

    def f_abs(p: list[Any]) -> Any:  # drops Im: not complex-safe
        return np.sum(np.abs(p[0]) ** 3)

    def grad_abs(p: list[Any]) -> list[Any]:
        return [3 * p[0] * np.abs(p[0])]

    params = [x, rng.normal(size=(5,))]
    for method in ("auto", "complex_step", "richardson", "central"):
        yield f"gradcheck-{method}", report(gradcheck(f, grad, params, method=method))
        yield f"gradcheck-wrong-{method}", report(gradcheck(f, wrong, params, method=method))
    yield "gradcheck-step", report(gradcheck(f, grad, params, method="complex_step", step=1e-3))
    yield "gradcheck-abs-auto", report(gradcheck(f_abs, grad_abs, [x]))
    yield "gradcheck-rtol", report(gradcheck(f, wrong, params, rtol=1e-6, atol=1e-9))


def cli_cases() -> Iterator[tuple[str, Any]]:
    argvs = [[], ["--dtype", "float32"], ["--json"], ["--method", "richardson"],
             ["--sizes", "4,8,3", "--activations", "tanh,sigmoid", "--cost", "cross_entropy"],
             ["--sizes", "5,6,4", "--activations", "relu,softmax",
              "--cost", "categorical_cross_entropy", "--impl", "loop", "--batch", "3"]]
    for argv in argvs:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli_main(argv)
        yield "cli " + " ".join(argv), {"status": status, "stdout": out.getvalue()}


def write(path: str, n: int) -> None:
    with open(path, "w") as out:
        def emit(case: str, what: str, value: Any) -> None:
            out.write(json.dumps({"case": case, "what": what, "value": value},
                                 sort_keys=True) + "\n")

        for k, (name, net, X, Y) in enumerate(cases(n)):
            for what, value in describe_case(name, net, X, Y, k):
                emit(name, what, value)
        for what, value in gradcheck_cases():
            emit("gradcheck", what, value)
        for what, value in cli_cases():
            emit("cli", what, value)


def compare(before: str, after: str) -> int:
    def load(path: str) -> dict[tuple[str, str], Any]:
        with open(path) as f:
            rows = [json.loads(line) for line in f]
        return {(r["case"], r["what"]): r["value"] for r in rows}

    old, new = load(before), load(after)
    differ = [key for key in old if old[key] != new.get(key)]
    extra = [key for key in new if key not in old]
    print(f"{len(old)} fingerprints before, {len(new)} after: {len(differ)} differ, "
          f"{len(extra)} new")
    for key in differ[:20]:
        print("  differs:", *key)
    return 1 if differ or extra else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--cases", type=int, default=600)
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args(argv)
    if args.compare:
        return compare(*args.paths)
    write(args.paths[0], args.cases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
