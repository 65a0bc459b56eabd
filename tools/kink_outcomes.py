"""What became of the elements check_network used to skip at kinks, from two fingerprints.

    python tools/kink_outcomes.py BEFORE.jsonl AFTER.jsonl

Reads two files of tools/fingerprint.py (before and after a change) and, for every report
that skipped elements in BEFORE, counts them and says what AFTER made of them: checked
(of which verified as subgradients at kinks, or mismatched beyond BEFORE's mismatches) or
still skipped. The backprop-check CLI's table is counted apart (it sums many networks).
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

SUBGRADIENTS = re.compile(r"^Verified as subgradients at kinks: (\d+)", re.MULTILINE)


def load(path: str) -> dict[tuple[str, str], Any]:
    with open(path) as f:
        return {(r["case"], r["what"]): r["value"] for r in map(json.loads, f)}


def cli_skipped(stdout: str) -> tuple[int, int]:
    """(checked, skipped) summed over the rows of a backprop-check table."""
    checked = skipped = 0
    for line in stdout.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[-1] in ("verified", "MISMATCH") and \
                fields[-3].isdigit() and fields[-2].isdigit():
            checked, skipped = checked + int(fields[-3]), skipped + int(fields[-2])
    return checked, skipped


def main(argv: list[str]) -> int:
    before, after = load(argv[0]), load(argv[1])
    reports = skipped = moved = subgradients = mismatched = still = 0
    for key, old in before.items():
        new = after[key]
        if isinstance(old, dict) and "dict" in old and old["dict"].get("skipped"):
            reports += 1
            skipped += old["dict"]["skipped"]
            moved += new["dict"]["checked"] - old["dict"]["checked"]
            still += new["dict"]["skipped"]
            mismatched += new["dict"]["mismatched"] - old["dict"]["mismatched"]
            found = SUBGRADIENTS.search(new["text"])
            subgradients += int(found.group(1)) if found else 0
            print(f"  {key[0]} {key[1]}: {old['dict']['skipped']} skipped before; after: "
                  f"{new['dict']['skipped']} skipped, "
                  f"{int(found.group(1)) if found else 0} subgradients, "
                  f"{new['dict']['mismatched'] - old['dict']['mismatched']} new mismatches")
        elif isinstance(old, dict) and "stdout" in old:
            (c0, s0), (c1, s1) = cli_skipped(old["stdout"]), cli_skipped(new["stdout"])
            if s0:
                print(f"  CLI {key[1]!r}: {s0} skipped before; after: {s1} skipped, "
                      f"{c1 - c0} more checked")
    networks = len({key[0] for key, old in before.items() if isinstance(old, dict)
                    and "dict" in old and old["dict"].get("skipped")})
    print(f"{networks} networks, {reports} reports with kink elements skipped before: "
          f"{skipped} elements; after, {moved} of them checked ({subgradients} verified as "
          f"subgradients, {mismatched} new mismatches), {still} still skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
