"""`make bench`: run every benchmark in this folder, one after another, each in its own process.

Each benchmark prints its figures as a ratio against a baseline measured in the same run. Separate
processes keep one benchmark's memory and caches from colouring the next one's peak RSS and timings.
``python -m benchmarks NAME ...`` runs only the named ones (e.g. ``bench_measures``).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = argv or sorted(p.stem for p in here.glob("bench_*.py"))
    failed = []
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", f"benchmarks.{name}"])
        print(f"=== {name}: exit {code} after {time.perf_counter() - started:.0f}s ===", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"\nFailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
