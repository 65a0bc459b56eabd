"""Forward tangents against complex evaluations: the same numbers, the same verdicts?

    python -m tools.tangent_agreement [--cases 600]

For the seeded cases of tools/fingerprint.py, computes every numerical
derivative of check_network twice with the complex step: with forward tangents
(checks.netcheck.tangent, the default) and by evaluating the network in complex
arithmetic for each perturbation (tangents=False, the path before them). Prints
the largest difference relative to each element's tolerance, and relative to
its scale: the sum of the absolute values of the terms the derivative adds up
(the same tangents with |W|, |c|, |change| and the magnitude of delta^L's terms
at the output; tests/checks/scales.py, which the tangent tests share), in
float64 ulps.

Also each side against the gradients in extended precision (tools.calibrate),
in the same ulps, for float64 networks: the largest is the float64 reference's
own rounding (its forward pass, which the error model allows for), the same on
both sides. (For float32 networks the extended-precision gradients take BP1 as
a - y, which assumes targets summing to 1, and float32 targets do so only to
4e-8: they are left out.)

Then runs check_network both ways on the fingerprint's checks (correct
gradients, the loop with cached_derivatives=False, a planted error, directional
mode) and counts the reports whose verdict, blocks, skipped or mismatched
elements or findings differ.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from backprop import Array, Gradients, Network, loop, vectorized
from checks import check_network
from checks.engine.stencils import COMPLEX_STEP, U64
from checks.netcheck import perturb
from checks.network import analyse
from checks.report import Report
from tests.checks.scales import scales
from tools.calibrate import precise_gradients
from tools.fingerprint import cases, planted


def float64(g: Gradients) -> Gradients:
    return Gradients(*([a.astype(np.float64) for a in getattr(g, f)]
                       for f in ("delta", "dW", "db")))


Worst = dict[str, float]


def numbers(net: Network, X: Array, Y: Array) -> Worst:
    """The largest |new - old| over every element of one case (those at a kink left
    out), relative to its tolerance and in ulps of its scale; and of each side
    against the gradients in extended precision, in ulps of its scale."""
    model = analyse(net, X, Y, cached_derivatives=False)
    g = float64(vectorized.backprop(net, X, Y))
    new = perturb.check_arrays(model, g, COMPLEX_STEP)
    old = perturb.check_arrays(model, g, COMPLEX_STEP, tangents=False)
    precise = precise_gradients(net, X, Y)
    worst = dict.fromkeys(("tolerance", "ulps", "new vs precise", "old vs precise"), 0.0)
    for b_new, b_old, scale in zip(new, old, scales(model, g), strict=True):
        assert b_new.numeric is not None and b_old.numeric is not None
        assert b_new.tolerance is not None and b_new.ratios is not None
        assert b_new.id is not None
        smooth = ~np.isnan(b_new.ratios)  # kinks: skipped, their numbers unused
        diff = np.where(smooth, np.abs(b_new.numeric - b_old.numeric), 0.0)
        worst["tolerance"] = max(worst["tolerance"], float(np.max(diff / b_new.tolerance)))
        exact = b_new.id.of(precise).astype(np.float64)
        for key, d in (("ulps", diff), ("new vs precise", np.abs(b_new.numeric - exact)),
                       ("old vs precise", np.abs(b_old.numeric - exact))):
            d = np.where(smooth, d, 0.0)
            assert np.all((d == 0) | (scale > 0)), "a difference where every term is 0"
            with np.errstate(divide="ignore", invalid="ignore"):
                ulps = np.where(d == 0, 0.0, d / (U64 * scale))
            worst[key] = max(worst[key], float(np.max(ulps)))
    return worst


def outline(r: Report) -> Any:
    """What a report decides, without the last bits of its numbers."""
    return (r.ok, r.method, r.method_reason,
            [(b.name, b.ok, b.checked, [e.index for e in b.skipped],
              [e.index for e in b.mismatches], b.follows_from) for b in r.blocks],
            [(f.id, f.slip is not None) for f in r.findings])


def checks(net: Network, X: Array, Y: Array, k: int) -> Iterator[Callable[[], Report]]:
    """The check_network calls of tools/fingerprint.py's describe_case."""
    bad = planted(vectorized.backprop(net, X, Y), k)
    yield lambda: check_network(net, X, Y)
    yield lambda: check_network(net, X, Y, impl=loop.backprop, cached_derivatives=False)
    yield lambda: check_network(net, X, Y, impl=lambda *_: bad)
    if k % 5 == 0:
        yield lambda: check_network(net, X, Y, method="complex_step")
        yield lambda: check_network(net, X, Y, directions=2, seed=k)
        yield lambda: check_network(net, X, Y, impl=lambda *_: bad, directions=3, seed=k)


def verdicts(net: Network, X: Array, Y: Array, k: int) -> tuple[int, int]:
    """(reports compared, reports that differ) for one case."""
    compared = differ = 0
    new_path = perturb.check_arrays
    old_path = functools.partial(new_path, tangents=False)
    for run in checks(net, X, Y, k):
        new = outline(run())
        perturb.check_arrays = old_path
        try:
            old = outline(run())
        finally:
            perturb.check_arrays = new_path
        compared += 1
        differ += new != old
    return compared, differ


MEASURES = {
    "tolerance": "|tangents - complex evaluation| / tolerance",
    "ulps": "|tangents - complex evaluation| in float64 ulps of the scale",
    "new vs precise": "|tangents - extended precision| in ulps of the scale",
    "old vs precise": "|complex evaluation - extended precision| in ulps of the scale",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=600)
    args = parser.parse_args(argv)
    worst: dict[tuple[str, str], tuple[float, str]] = {}
    compared = differ = 0
    for k, (name, net, X, Y) in enumerate(cases(args.cases)):
        for measure, value in numbers(net, X, Y).items():
            key = (measure, np.dtype(net.dtype).name)
            if value >= worst.get(key, (-1.0, ""))[0]:
                worst[key] = (value, name)
        c, d = verdicts(net, X, Y, k)
        compared, differ = compared + c, differ + d
    print(f"{k + 1} cases, every element of delta, dW and db; the largest (and its case):")
    for measure, text in MEASURES.items():
        found = [f"{dtype} networks {worst[measure, dtype][0]:.3g} ({worst[measure, dtype][1]})"
                 for dtype in ("float64", "float32") if (measure, dtype) in worst
                 and (dtype == "float64" or "precise" not in measure)]
        print(f"  {text}: {', '.join(found)}")
    print(f"reports compared: {compared}, differing in verdict, blocks, skipped or "
          f"mismatched elements or findings: {differ}")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
