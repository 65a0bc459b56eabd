"""Measure check_vjp on a CS231n-style layer zoo: false alarms, silent passes, slips caught.

    nice python tools/vjp_campaign.py [--seeds 50] [--layers a,b] [--show] [--workers 2]
    nice python tools/vjp_campaign.py --case batchnorm:3                 # one report
    nice python tools/vjp_campaign.py --case "conv:7:dw kernel flipped"

Runs every layer of tests/checks/layers.py over seeds 0 .. K-1, the correct backward
pass and each slip, through the public check_vjp(f, vjp, params) with its defaults
(two seeded random cotangents), and prints one table. What counts (a report that is
ok must mean every element was verified):

- false alarm: correct code and the report not ok, or check_vjp raised;
- silent pass: the report ok with an element unverified (skipped) or none checked,
  counted over correct and slipped runs alike;
- caught: slipped code and the report not ok, counted over the runs where the slip
  is visible (`layers.wrong_elements`: it changes the vjp at params; relu's slip
  changes nothing when no x < 0);
- localised: a mismatched element of the array the slip shows in is one that the
  slip makes wrong (for a slip of one element, that element); "correct element
  blamed" counts the runs where a mismatch falls on an element the slip leaves right;
- worst err/tol: the largest error / tolerance of any element of correct code;
- floor: the median over correct runs of the weakest array's detection floor
  (Block.floor: the smallest error in one element, relative to the array's scale,
  that the check would have caught).

Every false alarm, silent pass, miss, unlocalised catch and run that blames a
correct element is listed with `--case layer:seed[:slip]` to reproduce it; `--show`
adds the report's first lines.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script from a checkout: tests/ must be importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.checks.layers import LAYERS, Layer, run_check, where_caught, wrong_elements
from tools.blackbox_campaign import listing, median_floor, processor

DEFAULT_SEEDS = 50
SHOWN_LINES = 10


@dataclass(frozen=True)
class Job:
    layer: str
    seed: int
    slip: str | None

    def spec(self) -> str:
        """layer:seed[:slip], as --case takes it."""
        return f"{self.layer}:{self.seed}" + (f":{self.slip}" if self.slip else "")


@dataclass(frozen=True)
class Outcome:
    """What one check said, reduced to what the table counts."""

    job: Job
    ok: bool
    checked: int
    skipped: int
    raised: str | None
    visible: bool  # the slip changes the vjp at params (always true of correct code)
    localised: bool
    blamed: int  # mismatched elements that the slip leaves right
    head: str  # the report's first lines (or the exception)
    seconds: float
    worst_ratio: float = 0.0
    floor: float | None = None  # the weakest array's detection floor

    @property
    def silent(self) -> bool:
        return self.ok and (self.skipped > 0 or self.checked == 0)

    @property
    def false_alarm(self) -> bool:
        return self.job.slip is None and (self.raised is not None or not self.ok)

    @property
    def caught(self) -> bool:
        return self.job.slip is not None and not self.ok and self.raised is None


def run(job: Job) -> Outcome:
    start = time.perf_counter()
    case = LAYERS[job.layer].build(job.seed, job.slip)
    shows = job.slip is None or bool(wrong_elements(case))
    try:
        report = run_check(case)
    except Exception as exc:  # a correct layer that check_vjp cannot take is a false alarm
        text = f"raised {type(exc).__name__}: {exc}"
        return Outcome(job, False, 0, 0, text, shows, False, 0, text,
                       time.perf_counter() - start)
    localised, blamed = where_caught(case, report)
    floors = [b.floor for b in report.blocks if b.floor is not None]
    return Outcome(job, report.ok, report.checked, report.skipped, None, shows, localised,
                   blamed, "\n".join(str(report).splitlines()[:SHOWN_LINES]),
                   time.perf_counter() - start,
                   max((b.worst_ratio for b in report.blocks), default=0.0),
                   max(floors) if floors else None)


def jobs(layers: Sequence[Layer], seeds: int) -> list[Job]:
    return [Job(layer.name, seed, slip) for layer in layers for seed in range(seeds)
            for slip in (None, *layer.slips)]


def table(layers: Sequence[Layer], outcomes: Sequence[Outcome]) -> list[str]:
    """One line per layer (its correct runs), one per slip under it."""
    lines = [f"{'layer':<14} {'runs':>5} {'false alarms':>13} {'silent passes':>14} "
             f"{'raised':>7} {'worst err/tol':>13} {'floor':>8}   "
             "per slip: caught / runs, localised / runs"]
    for layer in layers:
        mine = [o for o in outcomes if o.job.layer == layer.name]
        correct = [o for o in mine if o.job.slip is None]
        lines.append(f"{layer.name:<14} {len(correct):>5} "
                     f"{sum(o.false_alarm for o in correct):>13} "
                     f"{sum(o.silent for o in mine):>14} "
                     f"{sum(o.raised is not None for o in mine):>7} "
                     f"{max((o.worst_ratio for o in correct), default=0.0):>13.2g} "
                     f"{median_floor(correct):>8}")
        for slip in layer.slips:
            runs = [o for o in mine if o.job.slip == slip and o.visible]
            hidden = sum(o.job.slip == slip and not o.visible for o in mine)
            blamed = sum(o.blamed > 0 for o in runs)
            lines.append(f"    {slip:<24} caught {sum(o.caught for o in runs):>4} / "
                         f"{len(runs):<4} localised {sum(o.localised for o in runs):>4} / "
                         f"{len(runs):<4}"
                         + (f"; a correct element blamed in {blamed}" if blamed else "")
                         + (f"; {hidden} runs where the slip changes nothing" if hidden else ""))
    return lines


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS,
                        help=f"seeds per layer (default {DEFAULT_SEEDS})")
    parser.add_argument("--layers", default=None,
                        help=f"comma-separated layer names (default: all): {', '.join(LAYERS)}")
    parser.add_argument("--show", action="store_true",
                        help="print the first lines of every listed run's report")
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--case", default=None,
                        help="layer:seed[:slip]: print that one check's full report")
    return parser.parse_args(argv)


def one_case(spec: str) -> None:
    name, seed, *slip = spec.split(":", 2)
    case = LAYERS[name].build(int(seed), slip[0] if slip else None)
    wrong = {key: len(elements) for key, elements in wrong_elements(case).items()}
    print(f"{case.name}  slip={case.slip}  planted={case.planted}  elements it makes wrong={wrong}")
    report = run_check(case)
    print(report)
    if case.slip:
        localised, blamed = where_caught(case, report)
        print(f"localised={localised}  correct elements blamed={blamed}")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    if args.case:
        one_case(args.case)
        return
    names = args.layers.split(",") if args.layers else list(LAYERS)
    unknown = [n for n in names if n not in LAYERS]
    if unknown:
        raise SystemExit(f"unknown layers {unknown}; known: {', '.join(LAYERS)}")
    layers = [LAYERS[n] for n in names]
    todo = jobs(layers, args.seeds)
    start = time.perf_counter()
    if args.workers > 1:
        with multiprocessing.Pool(args.workers) as pool:
            outcomes = list(pool.imap(run, todo, chunksize=4))
    else:
        outcomes = [run(job) for job in todo]
    elapsed = time.perf_counter() - start
    correct = sum(o.job.slip is None for o in outcomes)
    print(f"check_vjp layer campaign: {len(outcomes)} checks ({correct} of correct code), "
          f"{args.seeds} seeds per layer")
    print("\n".join(table(layers, outcomes)))
    print()
    print("\n".join(listing("False alarms", [o for o in outcomes if o.false_alarm], args.show)))
    print("\n".join(listing("Silent passes", [o for o in outcomes if o.silent], args.show)))
    missed = [o for o in outcomes if o.job.slip and o.visible and not o.caught and not o.silent]
    print("\n".join(listing("Slips missed", missed, args.show)))
    unlocalised = [o for o in outcomes if o.caught and o.visible and not o.localised]
    print("\n".join(listing("Slips caught but not localised", unlocalised, args.show)))
    blamed = [o for o in outcomes if o.blamed]
    print("\n".join(listing("Correct elements blamed", blamed, args.show)))
    slowest = max(outcomes, key=lambda o: o.seconds)
    print(f"\nprocessor: {processor()}; {args.workers} worker(s); total {elapsed:.1f} s "
          f"(checks {sum(o.seconds for o in outcomes):.1f} s; slowest "
          f"{slowest.seconds:.2f} s: {slowest.job.spec()})")


if __name__ == "__main__":
    main()
