"""Fewer garbage-collector passes while an ingest or a measures recompute runs.

An ingest holds each decoded Graph page (thousands of small dicts) while it is parsed and written, so with
CPython's default thresholds those dicts survive young collections, get promoted, and trigger full collections
that walk every long-lived object of the process (SDK classes, SQLAlchemy metadata) again and again: about a
fifth of the Teams ingest's CPU (bench_ingest_teams: 0.58 s of 2.66 s in the Teams phase, 0.42 s of it in five
full passes). Nearly all of that garbage is freed by reference counting anyway; the collector only has cycles to
find. So, for the length of a run: the objects that exist before it are frozen (never scanned again until the
run ends) and young collections wait for more allocations.

A measures recompute is the same story with pandas objects and the packed result rows (750,000 tuples at district
scale): the collector's passes took about 0.25 s of a 5 s incremental run (perf: ``gc_collect_main``).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Container allocations (net of frees) before a young collection; CPython's default is 700.
INGEST_GEN0_THRESHOLD = 20_000

_depth = 0
_saved: tuple[int, ...] = ()
_lock = threading.Lock()  # a recompute may run on a worker thread while an ingest runs on the event loop


@contextmanager
def fewer_gc_passes(gen0_threshold: int = INGEST_GEN0_THRESHOLD) -> Iterator[None]:
    """Freeze the existing heap and raise the young-generation threshold; both are restored on exit.

    Re-entrant and safe for overlapping runs, on one event loop or on several threads: only the outermost run
    changes and restores the process-wide settings.
    """
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(max(gen0_threshold, _saved[0]), *_saved[1:])
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.set_threshold(*_saved)
                gc.unfreeze()
