"""Measure the checker: the smallest planted error it catches, and its false alarms.

    python -m checks.calibrate [--cases 200] [--seed 0]

For each method and dtype, draws seeded random networks (every activation and
cost, depth 1-4, widths 1-8, batch 1-8, weight scale up to 3), checks the correct
vectorized gradients (any failure is a false alarm), then plants a relative error
r in one element of delta, dW or db whose magnitude is at least 1 % of its array's
largest, for r = 1e-3, 1e-4, ..., and reports the smallest r caught in every case.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

from backprop import ACTIVATIONS, COSTS, Gradients, Network, vectorized
from backprop._types import Array
from checks.network import U64, check_network, error_scales
from checks.report import Block

HIDDEN = [name for name, act in ACTIVATIONS.items() if not act.output_only]
FIELDS = ("delta", "dW", "db")
Element = tuple[str, int, tuple[int, ...]]


def random_case(rng: np.random.Generator, dtype: type = np.float64,
                max_scale: float = 3.0) -> tuple[Network, Array, Array]:
    """A random network and batch, the same population as the hypothesis tests."""
    L = int(rng.integers(1, 5))
    sizes = [int(n) for n in rng.integers(1, 9, size=L + 1)]
    cost = str(rng.choice(list(COSTS)))
    required = COSTS[cost].requires
    output = required or str(rng.choice(list(ACTIVATIONS)))
    if output == "softmax" and sizes[-1] == 1 and cost == "quadratic":
        output = "sigmoid"
    acts = [str(rng.choice(HIDDEN)) for _ in range(L - 1)] + [output]
    net = Network.random(sizes, acts, cost, seed=int(rng.integers(2**32)), dtype=dtype,
                         scale=float(rng.uniform(0.1, max_scale)))
    m = int(rng.integers(1, 9))
    X = rng.uniform(-2, 2, (sizes[0], m))
    if cost == "quadratic":
        Y = rng.uniform(-2, 2, (sizes[-1], m))
    elif cost == "cross_entropy":
        Y = rng.uniform(0, 1, (sizes[-1], m))
    else:
        Y = rng.dirichlet(np.ones(sizes[-1]), size=m).T
    return net, X.astype(dtype), Y.astype(dtype)


def plant(g: Gradients, field: str, l: int, index: tuple[int, ...], rel: float) -> Gradients:
    """g with one element multiplied by (1 + rel)."""
    arrays = {f: [a.copy() for a in getattr(g, f)] for f in FIELDS}
    arrays[field][l][index] *= 1 + rel
    return Gradients(**arrays)


def pick_element(rng: np.random.Generator, g: Gradients, skipped: set[Element],
                 noise: Gradients) -> tuple[str, int, tuple[int, ...]] | None:
    """A random element with |value| >= 1 % of its array's largest, not at a kink.

    Elements no larger than their own rounding bound (`noise`) are left out: such
    a value is rounding noise (a gradient that is zero in exact arithmetic), and
    1 % of it means nothing.
    """
    candidates = []
    for field in FIELDS:
        for l, (a, e) in enumerate(zip(getattr(g, field), getattr(noise, field), strict=True)):
            top = float(np.max(np.abs(a)))
            if top == 0 or not np.isfinite(top):
                continue
            for index in np.argwhere((np.abs(a) >= 0.01 * top) & (np.abs(a) > e)):
                idx = tuple(int(i) for i in index)
                if (field, l, idx) not in skipped:
                    candidates.append((field, l, idx))
    return candidates[int(rng.integers(len(candidates)))] if candidates else None


def skipped_elements(blocks: Sequence[Block]) -> set[Element]:
    """(field, layer, index) of every element a report skipped at a kink."""
    out = set()
    for b in blocks:
        field, l = b.name.split("[")[0], int(b.name.split("[")[1].rstrip("]"))
        out |= {(field, l, e.index) for e in b.skipped}
    return out


def measure(cases: int, seed: int, dtype: type, method: str,
            ladder: Sequence[float]) -> dict[str, object]:
    """False alarms over `cases` correct gradients; caught counts for each planted r."""
    rng = np.random.default_rng(seed)
    false_alarms, caught = 0, dict.fromkeys(ladder, 0)
    tried = 0
    for _ in range(cases):
        net, X, Y = random_case(rng, dtype)
        g = vectorized.backprop(net, X, Y)
        report = check_network(net, X, Y, impl=lambda *_, g=g: g, method=method)
        false_alarms += not report.ok
        E, u = error_scales(net, X, Y)
        noise = Gradients(**{f: [2 * (u + U64) * e for e in getattr(E, f)] for f in FIELDS})
        choice = pick_element(rng, g, skipped_elements(report.blocks), noise)
        if choice is None:
            continue
        tried += 1
        for rel in ladder:
            bad = plant(g, *choice, rel)
            caught[rel] += not check_network(net, X, Y, impl=lambda *_, b=bad: b,
                                             method=method).ok
    smallest = min((r for r in ladder if caught[r] == tried), default=None)
    return {"false_alarms": false_alarms, "cases": cases, "planted": tried,
            "caught": caught, "smallest_caught_everywhere": smallest}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m checks.calibrate", description=__doc__)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    ladder = [10.0**-e for e in range(2, 15)]
    print(f"{'method':<13} {'dtype':<8} {'false alarms':>13} {'smallest r caught':>18}  "
          "caught / planted per r")
    for dtype in (np.float64, np.float32):
        for method in ("complex_step", "richardson", "central"):
            r = measure(args.cases, args.seed, dtype, method, ladder)
            caught = r["caught"]
            assert isinstance(caught, dict)
            detail = " ".join(f"{k:.0e}:{v}" for k, v in caught.items())
            smallest = r["smallest_caught_everywhere"]
            print(f"{method:<13} {np.dtype(dtype).name:<8} "
                  f"{r['false_alarms']:>6} / {r['cases']:<5} "
                  f"{(f'{smallest:.0e}' if smallest else 'none'):>18}  "
                  f"[{r['planted']} planted] {detail}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
