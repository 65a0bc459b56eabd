"""Measure gradcheck on other people's code: false alarms, silent passes, bugs caught.

    nice python tools/blackbox_campaign.py [--seeds 82] [--families a,b] [--quick]
                                           [--show] [--workers 2]
    nice python tools/blackbox_campaign.py --case coursera_relu:7          # one report
    nice python tools/blackbox_campaign.py --case "coursera_relu:7:W.T -> W"

Runs every family of tests/checks/zoo.py over seeds 0 .. K-1 (a family verbatim
from the issue once), the correct code and each of its bugs, through the public
gradcheck(f, grad, params, method=case.method) with its default tolerances, and
prints one table. What counts (a report that is ok must mean every element was
verified):

- false alarm: correct code and the report not ok, or gradcheck raised;
- silent pass: the report ok with an element unverified (skipped) or none checked,
  counted over correct and buggy runs alike;
- caught: buggy code and the report not ok, counted over the runs where the bug is
  visible: where it changes the gradient at the checked point (`zoo.visible`: a slip
  behind relus that are all dead, or a missing 1/N when N = 1, changes nothing
  there, and no check could see it);
- complex step: of the correct runs, those checked by complex step (method "auto"
  chose it: the probe found f complex-safe);
- localised: the planted element (for a one-element error) or one of the arrays
  the slip makes wrong is among the mismatches; for a planted element, "others"
  counts the runs where a correct element was blamed too.

Every false alarm and silent pass is listed with its family, seed and bug, so that
`--case family:seed[:bug]` reproduces it; `--show` adds the report's first lines.
Warnings that f raises (a ComplexWarning from the complex-safety probe) are
silenced here: the campaign counts verdicts, not warnings.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

if __package__ in (None, ""):  # run as a script from a checkout: tests/ must be importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from tests.checks.zoo import (
    FAMILIES,
    OPTIONAL_FAMILIES,
    Family,
    optional_families,
    run_check,
    visible,
    where_caught,
)

DEFAULT_SEEDS = 82  # 25 seeded families x 82 + 3 verbatim cases >= 2,000 correct checks
QUICK_SEEDS = 4
SHOWN_LINES = 8


@dataclass(frozen=True)
class Job:
    family: str
    seed: int
    bug: str | None

    def spec(self) -> str:
        """family:seed[:bug], as --case takes it."""
        return f"{self.family}:{self.seed}" + (f":{self.bug}" if self.bug else "")


@dataclass(frozen=True)
class Outcome:
    """What one check said, reduced to what the table counts."""

    job: Job
    method: str  # the method gradcheck chose ("" when it raised)
    ok: bool
    checked: int
    skipped: int
    raised: str | None
    visible: bool  # the bug changes the gradient at params (always, for correct code)
    localised: bool
    others: bool  # a mismatch beyond the planted element
    head: str  # the report's first lines (or the exception)
    seconds: float
    worst_ratio: float = 0.0  # the largest error / tolerance of any element checked
    floor: float | None = None  # the weakest array's detection floor (Block.floor)

    @property
    def silent(self) -> bool:
        return self.ok and (self.skipped > 0 or self.checked == 0)

    @property
    def false_alarm(self) -> bool:
        return self.job.bug is None and (self.raised is not None or not self.ok)


def run(job: Job) -> Outcome:
    start = time.perf_counter()
    case = known()[job.family].build(job.seed, job.bug)
    shows = visible(case)
    try:
        report = run_check(case)
    except Exception as exc:  # a correct f that gradcheck cannot take is a false alarm
        text = f"raised {type(exc).__name__}: {exc}"
        return Outcome(job, "", False, 0, 0, text, shows, False, False, text,
                       time.perf_counter() - start)
    localised, others = where_caught(case, report)
    head = "\n".join(str(report).splitlines()[:SHOWN_LINES])
    floors = [b.floor for b in report.blocks if b.floor is not None]
    return Outcome(job, report.method, report.ok, report.checked, report.skipped, None, shows,
                   localised, others, head, time.perf_counter() - start,
                   max((b.worst_ratio for b in report.blocks), default=0.0),
                   max(floors) if floors else None)


def known() -> dict[str, Family]:
    """The zoo's families and the optional ones whose package imports here."""
    return FAMILIES | optional_families()[0]


def jobs(families: Iterable[Family], seeds: int) -> list[Job]:
    return [Job(f.name, seed, bug) for f in families for seed in range(1 if f.fixed else seeds)
            for bug in (None, *f.bugs)]


def caught(o: Outcome) -> bool:
    return o.job.bug is not None and not o.ok and o.raised is None


def table(families: Sequence[Family], outcomes: Sequence[Outcome]) -> list[str]:
    """One line per family (its correct runs), one per bug under it."""
    lines = [f"{'family':<24} {'dtype':<8} {'runs':>5} {'false alarms':>13} "
             f"{'silent passes':>14} {'raised':>7} {'complex step':>13} "
             f"{'worst err/tol':>13} {'floor':>8}   per bug: caught / runs, localised / runs"]
    for family in families:
        mine = [o for o in outcomes if o.job.family == family.name]
        correct = [o for o in mine if o.job.bug is None]
        lines.append(f"{family.name:<24} {family.dtype:<8} {len(correct):>5} "
                     f"{sum(o.false_alarm for o in correct):>13} "
                     f"{sum(o.silent for o in mine):>14} "
                     f"{sum(o.raised is not None for o in mine):>7} "
                     f"{sum(o.method == 'complex_step' for o in correct):>13} "
                     f"{max((o.worst_ratio for o in correct), default=0.0):>13.2g} "
                     f"{median_floor(correct):>8}")
        for bug in family.bugs:
            runs = [o for o in mine if o.job.bug == bug and o.visible]
            hidden = sum(o.job.bug == bug and not o.visible for o in mine)
            others = sum(o.others for o in runs)
            lines.append(f"    {bug:<24} caught {sum(caught(o) for o in runs):>4} / "
                         f"{len(runs):<4} localised {sum(o.localised for o in runs):>4} / "
                         f"{len(runs):<4}"
                         + (f"; a correct element blamed too in {others}" if others else "")
                         + (f"; {hidden} runs where the bug changes nothing" if hidden else ""))
    return lines


class Named(Protocol):
    def spec(self) -> str: ...


class Run(Protocol):
    """What median_floor and listing read of a run (this campaign's and vjp_campaign's)."""

    @property
    def job(self) -> Named: ...
    @property
    def checked(self) -> int: ...
    @property
    def skipped(self) -> int: ...
    @property
    def head(self) -> str: ...
    @property
    def floor(self) -> float | None: ...


def median_floor(outcomes: Sequence[Run]) -> str:
    """The median over runs of the weakest array's detection floor (- if none)."""
    floors = [o.floor for o in outcomes if o.floor is not None]
    return f"{float(np.median(floors)):.1e}" if floors else "-"


def listing(title: str, outcomes: Sequence[Run], show: bool) -> list[str]:
    """Each run with its --case spec; show: and the report's first lines."""
    lines = [f"{title}: {len(outcomes)}"]
    for o in outcomes:
        first = o.head.splitlines()[0] if o.head else ""
        lines.append(f"  --case {o.job.spec()!r}  checked={o.checked} skipped={o.skipped}  "
                     f"{first}")
        if show:
            lines.extend("      " + line for line in o.head.splitlines()[1:])
    return lines


def processor() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown processor"


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=None,
                        help=f"seeds per family (default {DEFAULT_SEEDS}; --quick {QUICK_SEEDS})")
    parser.add_argument("--families", default=None,
                        help="comma-separated family names (default: all, with the optional "
                             f"{', '.join(OPTIONAL_FAMILIES)} when its package imports); "
                             f"known: {', '.join(FAMILIES)}")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SEEDS} seeds per family")
    parser.add_argument("--show", action="store_true",
                        help="print the first lines of every false alarm's and silent pass's "
                             "report")
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--case", default=None,
                        help="family:seed[:bug]: print that one check's full report")
    return parser.parse_args(argv)


def one_case(spec: str) -> None:
    name, seed, *bug = spec.split(":", 2)
    case = known()[name].build(int(seed), bug[0] if bug else None)
    print(f"{case.name}  bug={case.bug}  planted={case.planted}")
    print(run_check(case))


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    if args.case:
        one_case(args.case)
        return
    available, notes = optional_families()
    names = args.families.split(",") if args.families else list(FAMILIES | available)
    unknown = [n for n in names if n not in FAMILIES | available]
    if unknown:
        raise SystemExit(f"unknown families {unknown}; known: "
                         f"{', '.join(FAMILIES | available)}" + "".join(f"; {n}" for n in notes))
    families = [(FAMILIES | available)[n] for n in names]
    seeds = args.seeds if args.seeds is not None else (QUICK_SEEDS if args.quick
                                                      else DEFAULT_SEEDS)
    todo = jobs(families, seeds)
    start = time.perf_counter()
    if args.workers > 1:
        with multiprocessing.Pool(args.workers) as pool:
            outcomes = list(pool.imap(run, todo, chunksize=8))
    else:
        outcomes = [run(job) for job in todo]
    elapsed = time.perf_counter() - start
    correct = sum(o.job.bug is None for o in outcomes)
    print(f"gradcheck black-box campaign: {len(outcomes)} checks ({correct} of correct code), "
          f"{seeds} seeds per family")
    print("\n".join(table(families, outcomes)))
    if not args.families:
        print("\n".join(notes))
    print()
    print("\n".join(listing("False alarms", [o for o in outcomes if o.false_alarm], args.show)))
    print("\n".join(listing("Silent passes", [o for o in outcomes if o.silent], args.show)))
    missed = [o for o in outcomes if o.job.bug and o.visible and not caught(o) and not o.silent]
    print("\n".join(listing("Other bugs missed", missed, args.show)))
    slowest = max(outcomes, key=lambda o: o.seconds)
    print(f"\nprocessor: {processor()}; {args.workers} worker(s); total {elapsed:.1f} s "
          f"(slowest check {slowest.seconds:.2f} s: {slowest.job.spec()})")


if __name__ == "__main__":
    main()
