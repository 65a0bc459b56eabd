"""How long gradcheck takes, exhaustive and with directions=, against f's own cost.

    python tools/blackbox_performance.py [--sizes 1000,10000,100000,1000000] [--deep]

For f = sum(tanh(W X)) with W (n, 100) (P = 100 n params) and X (100, 8), prints per P:
the time of one evaluation of f at complex input (f alone), the exhaustive check
(measured up to MEASURED elements; beyond, its rate over the first MEASURED elements
times P, marked "~"), the ratio of the exhaustive check to P evaluations of f alone
(the engine's overhead: 1.0 would be nothing but f), and directions=4, with a 1e-6
relative error planted in one element found and named by bisection. --deep adds a
Coursera-size deep net, [12288, 20, 7, 5, 1] with m = 10 (245,973 params), checked
with directions=4. Prints the processor. Development tool, not installed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from checks import gradcheck

MEASURED = 2_000  # exhaustive checks are timed over this many elements at most


class Enough(Exception):
    """Raised by the progress callback to stop a long exhaustive check early."""


def tanh_layer(P: int) -> tuple[Callable[[Any], Any], Callable[[Any], Any], list[np.ndarray]]:
    rng = np.random.default_rng(0)
    W, X = rng.normal(size=(P // 100, 100)) / 10, rng.normal(size=(100, 8))

    def f(p: list[Any]) -> Any:
        return np.sum(np.tanh(p[0] @ X))

    def grad(p: list[np.ndarray]) -> list[np.ndarray]:
        return [(1 - np.tanh(p[0] @ X) ** 2) @ X.T]

    return f, grad, [W]


def f_alone(f: Callable[[Any], Any], params: list[np.ndarray], repeat: int = 20) -> float:
    """Seconds per evaluation of f at complex input, as the exhaustive check calls it."""
    moved = [q.astype(np.complex128) for q in params]
    start = time.perf_counter()
    for _ in range(repeat):
        f([q.copy() for q in moved])
    return (time.perf_counter() - start) / repeat


def exhaustive(f: Callable[[Any], Any], grad: Callable[[Any], Any],
               params: list[np.ndarray]) -> tuple[float, bool]:
    """Seconds for the exhaustive check, and whether it was extrapolated: past
    MEASURED elements, the time before the first progress call (the survey) plus
    the rate between the first call and the MEASURED-th element times P."""
    P = sum(q.size for q in params)
    marks: list[tuple[int, float]] = []

    def stop(done: int, total: int) -> None:
        marks.append((done, time.perf_counter()))
        if done >= MEASURED and total > MEASURED:
            raise Enough

    start = time.perf_counter()
    try:
        gradcheck(f, grad, params, progress=stop)
    except Enough:
        (d0, t0), (d1, t1) = marks[0], marks[-1]
        return (t0 - start) + (t1 - t0) / (d1 - d0) * (P - d0), True
    return time.perf_counter() - start, False


def planted(grad: Callable[[Any], Any], at: tuple[int, ...]) -> Callable[[Any], Any]:
    def wrong(p: list[np.ndarray]) -> list[np.ndarray]:
        g = grad(p)[0].copy()
        g[at] *= 1 + 1e-6
        return [g]
    return wrong


def row(P: int) -> str:
    f, grad, params = tanh_layer(P)
    one = f_alone(f, params)
    full, guessed = exhaustive(f, grad, params)
    start = time.perf_counter()
    assert gradcheck(f, grad, params, directions=4).ok
    fast = time.perf_counter() - start
    at = (params[0].shape[0] // 2, 37)
    start = time.perf_counter()
    report = gradcheck(f, planted(grad, at), params, directions=4)
    found = time.perf_counter() - start
    named = [e.index for e in report.mismatches] == [at]
    return (f"{P:>9,} {one * 1e3:>10.3f} {('~' if guessed else '') + f'{full:.1f}':>12} "
            f"{full / (P * one):>7.2f} {fast:>10.2f} {full / fast:>9.0f}x {found:>10.2f} "
            f"{'yes' if named else 'NO':>6}")


def deep() -> str:
    """The Coursera-size net, relu hidden layers and a sigmoid output, directions=4."""
    rng = np.random.default_rng(0)
    sizes, m = [12288, 20, 7, 5, 1], 10
    X, Y = rng.normal(size=(sizes[0], m)), rng.integers(0, 2, (1, m)).astype(float)
    params = {}
    for l in range(1, len(sizes)):
        params[f"W{l}"] = rng.normal(size=(sizes[l], sizes[l - 1])) / np.sqrt(sizes[l - 1])
        params[f"b{l}"] = np.zeros((sizes[l], 1))
    L = len(sizes) - 1

    def both(p: dict[str, Any]) -> Any:
        A, caches = X, []
        for l in range(1, L + 1):
            Z = p[f"W{l}"] @ A + p[f"b{l}"]
            caches.append((A, Z))
            A = 1 / (1 + np.exp(-Z)) if l == L else np.maximum(Z, 0)
        cost = -np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A))
        dZ, grads = (A - Y) / m, {}
        for l in range(L, 0, -1):
            A_prev, Z = caches[l - 1]
            if l < L:
                dZ = dZ * (Z > 0)
            grads[f"W{l}"], grads[f"b{l}"] = dZ @ A_prev.T, dZ.sum(axis=1, keepdims=True)
            dZ = p[f"W{l}"].T @ dZ
        return cost, grads

    P = sum(q.size for q in params.values())
    start = time.perf_counter()
    report = gradcheck(both, None, params, directions=4)
    return (f"Coursera-size net {sizes}, m = {m}, P = {P:,}: directions=4 "
            f"{time.perf_counter() - start:.1f} s, ok = {report.ok}")


def processor() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown processor"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--deep", action="store_true")
    args = parser.parse_args()
    print(f"{processor()}; times in seconds (f alone in ms)")
    print(f"{'P':>9} {'f alone ms':>10} {'exhaustive':>12} {'ratio':>7} {'dirs=4':>10} "
          f"{'speedup':>10} {'find 1e-6':>10} {'named':>6}")
    for P in (int(s) for s in args.sizes.split(",")):
        print(row(P), flush=True)
    if args.deep:
        print(deep())


if __name__ == "__main__":
    main()
