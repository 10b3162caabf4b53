"""What the simulated district costs to build: roster, every class's activity, and the streamed ground truth.

Run: .venv/bin/python -m benchmarks.bench_generate [--scale small|district] [--seed N]

The baseline is the ``small`` scale measured in the same run: the district figures are given per class (and
per person for the roster) as a RATIO to the small scale's, so a flat ratio near 1 means the cost grows
linearly. Peak memory comes from ``resource.getrusage`` (the process high-water mark), reported after the
roster and after writing the whole truth, against the memory the roster alone needed.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from simulator.generate import generate_district, iter_class_activity, school_days
from simulator.truth import write_truth


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def measure(scale: str, seed: int, walk: bool) -> dict[str, float]:
    t0 = time.perf_counter()
    district = generate_district(seed, scale)  # type: ignore[arg-type]
    roster_s = time.perf_counter() - t0
    roster_rss = peak_rss_mb()
    classes, people = len(district.classes), len(district.people)
    days = len(school_days(district.calendar))
    events = 0
    walk_s = float("nan")
    if walk:  # the district run skips this pass: write_truth walks every class anyway
        t0 = time.perf_counter()
        for a in iter_class_activity(district):
            events += len(a.messages) + len(a.submissions) + len(a.form_responses) + len(a.notebook_edits)
            events += sum(len(m.reactions) for m in a.messages)
        walk_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "truth.json"
        t0 = time.perf_counter()
        write_truth(district, path)
        truth_s = time.perf_counter() - t0
        truth_mb = os.path.getsize(path) / 2**20
    return {
        "classes": classes,
        "days": days,
        "people": people,
        "events": events,
        "roster_s": roster_s,
        "roster_rss_mb": roster_rss,
        "walk_s": walk_s,
        "truth_s": truth_s,
        "truth_mb": truth_mb,
        "peak_rss_mb": peak_rss_mb(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("small", "district"), default="district")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    base = measure("small", args.seed, walk=True)
    per_class_walk = base["walk_s"] / base["classes"]
    per_class_truth = base["truth_s"] / base["classes"]
    print(f"small (baseline): {base['classes']:.0f} classes, {base['people']:.0f} people, {base['events']:.0f} events")
    print(
        f"  roster {base['roster_s']:.3f} s; activity walk {base['walk_s']:.2f} s "
        f"({per_class_walk * 1000:.1f} ms/class)"
    )
    print(
        f"  truth {base['truth_s']:.2f} s ({per_class_truth * 1000:.1f} ms/class), {base['truth_mb']:.1f} MB; "
        f"truth/walk = {base['truth_s'] / base['walk_s']:.2f}x; peak RSS {base['peak_rss_mb']:.0f} MB"
    )
    if args.scale == "small":
        return
    big = measure("district", args.seed, walk=False)
    per_person = (big["roster_s"] / big["people"]) / (base["roster_s"] / base["people"])
    per_class = (big["truth_s"] / big["classes"]) / per_class_truth
    per_class_day = per_class / (big["days"] / base["days"])  # the district term is longer than the small one
    print(f"district: {big['classes']:.0f} classes, {big['people']:.0f} people")
    print(f"  roster {big['roster_s']:.2f} s = {per_person:.2f}x the small scale's time per person")
    print(f"  peak RSS after roster {big['roster_rss_mb']:.0f} MB")
    print(
        f"  truth (every class generated and streamed) {big['truth_s']:.1f} s = {per_class:.2f}x the small scale's "
        f"time per class, {per_class_day:.2f}x per class-school-day; {big['truth_mb']:.0f} MB of JSON"
    )
    print(
        f"  peak RSS after truth {big['peak_rss_mb']:.0f} MB = {big['peak_rss_mb'] / big['roster_rss_mb']:.2f}x "
        f"the roster's (budget 2048 MB)"
    )


if __name__ == "__main__":
    main()
