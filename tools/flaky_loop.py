"""Run the default `pytest` again and again, as a user would, and keep every failure.

    nice python tools/flaky_loop.py [--runs 20] [--seeds] [--load 2] [--prime] [--out DIR]
                                    [-- PYTEST ARGS...]

Each run is `pytest -q -p no:cacheprovider` from the checkout, plus:
  --seeds     a fresh --hypothesis-seed per run (printed), so that the dev profile's
              random examples differ from run to run reproducibly
  --load K    K busy processes beside the runs, as on a loaded 2-core machine
  --prime     -p tests.snan_stack: signalling NaNs on OpenBLAS's stack before every
              test, which turns the false "invalid value encountered in matmul" of
              float32 products (backprop/blas.py) from now and then into every time
  -- ARGS     passed on to pytest, e.g. `-- -n 2` or `-- tests/checks -x`
A failing run's whole output is kept in DIR (default $TMPDIR/backprop-flaky) as
run-<n>.txt; the table at the end lists each run's seed, status, time and failing
tests. Exit status 1 if any run failed.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUSY = "while True: pass"


def one_run(n: int, args: argparse.Namespace, extra: list[str], out: Path) -> list[str]:
    """Run pytest once; the row of the table: run, seed, status, seconds, failures."""
    seed = random.randrange(2**31) if args.seeds else None
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra]
    if seed is not None:
        command.append(f"--hypothesis-seed={seed}")
    if args.prime:
        command += ["-p", "tests.snan_stack"]
    start = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    failed = [line.split()[1] for line in done.stdout.splitlines()
              if line.startswith(("FAILED ", "ERROR "))]
    if done.returncode != 0:
        (out / f"run-{n}.txt").write_text(" ".join(command) + "\n\n" + done.stdout + done.stderr)
    return [str(n), "-" if seed is None else str(seed), str(done.returncode), f"{seconds:.1f}",
            " ".join(failed) or ("-" if done.returncode == 0 else "(see the output)")]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seeds", action="store_true")
    parser.add_argument("--load", type=int, default=0)
    parser.add_argument("--prime", action="store_true")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "backprop-flaky")
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    args.out.mkdir(parents=True, exist_ok=True)
    busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(args.load)]
    rows = []
    try:
        for n in range(1, args.runs + 1):
            rows.append(one_run(n, args, extra, args.out))
            print(" | ".join(rows[-1]), flush=True)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    failures = sum(row[2] != "0" for row in rows)
    print(f"{len(rows)} runs, {failures} failed; outputs of failed runs in {args.out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
