"""The prepared term state kept between ingests, so a recompute folds in only the runs that ended since.

Preparing the term reads every event of the store (20M at district scale); folding a new run's events into
a saved ``Prepared`` (``add_activity``) reads only that run. The saved state is trusted only when the store
still holds exactly what it was made from, and is rebuilt from the store otherwise:

- the file carries a token that the store also holds (``measure_snapshots``): a file made from another
  database, or from an older copy of this one, does not match;
- the calendar it was prepared for (term, holidays, time zone, school weekdays) is the current one;
- the roster (classes, memberships, community classes and members) hashes to the same SHA-256;
- no stored event, and no ingest run's record, was deleted or changed since the state read the store: triggers
  move ``events_generation`` on whenever that happens (migration 0009), whoever does it (``forget``, the retention
  purge, an administrator), and the state keeps the number it was made at. Ingest only inserts events, of its
  own running run (graph_ingest/writer.py refuses a run that has ended);
- as many events are stored without an ingest run as when the state was made (counted through
  ``ix_activity_events_run_id``, whose NULLs come first: only they are read);
- a new run is folded only once it has ended (a run still ``running`` may write more events later);
- no event of a new run repeats a network act the state already holds (same class, actor, target, kind,
  object and time under another source id): a from-scratch prepare counts such a pair once, a fold twice. The
  state keeps a hash of each act it holds (``Prepared.act_keys``), so the store is asked only when a new act's
  hash matches one (0.65 s of index probes at district scale otherwise).

These checks run on a worker thread while the state loads and the new runs are read (``_StoreLook``).

Submissions change in place (feedback is returned days after a submission, whenever an ingest first sees it),
so no time window can be sure to catch every change. Instead each submission row carries the run that wrote it
or last really changed it (``submissions.run_id``, migration 0005): a fold reads the submissions of the new
runs through ``ix_submissions_run_id`` and lets each replace its earlier row by id. A changed row leaves the
run it was counted under, so deletions are found by arithmetic: the submissions still under folded runs, plus
the held ones that moved to new runs, must be exactly the ones the state holds. Fewer means some were deleted,
more means rows were written without a run; either rebuilds.

A rebuild made while a run it holds is still running is not saved: that run may still change a submission the
state holds, and the change would carry a run the state counts as folded.

The file is a pickle (protocol 5, its arrays out of band: measures/state_file.py) with the day bitmaps packed
eight to a byte. Pickle runs code when read, so the file is written with mode 0600 in the operator's state
directory and read from nowhere else.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import tempfile
import threading
import time
from concurrent.futures import Future, wait
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, and_, exists, func, make_url, or_, select

from measures import state_file
from measures.frames import (
    ActivityFrames,
    frames_for_runs,
    frames_from_store,
    submission_ids_for_runs,
    submission_run_counts,
)
from measures.prepare import (
    EDGE_KINDS,
    Prepared,
    add_activity,
    code_batch,
    district_days,
    ids_in,
    may_repeat_held_acts,
    prepare,
    submission_rows,
)
from pli_pulse.school_calendar import SchoolCalendar
from store import schema
from store.db import in_background
from store.upsert import upsert

log = logging.getLogger(__name__)

FORMAT_VERSION = 9  # 2: submissions folded by run (no per-row hashes); 3: submissions per folded run;
# 4: acts sorted by day in narrow types, assignments as codes; 5: act keys; 6: submission id hashes;
# 7: ties and pairs in sorted codebooks; 8: the events generation it was made at; 9: acts counted per day and
# class instead of each act's class and teacher flag
FILE_NAME = "term-state.pickle"
NAME = "term"
_BITMAP_DICTS = ("event_bits", "sub_bits")
_BITMAPS = ("m_bits", "d_bits")


@dataclass
class Snapshot:
    token: str
    calendar: SchoolCalendar
    roster: str  # SHA-256 of the roster tables
    runs: dict[int | None, int]  # events held per folded ingest run id (0: it wrote only submissions); None = none
    prepared: Prepared
    saved_at: datetime
    #: the store's ``events_generation`` before the state read it: another number means events changed since
    generation: int
    #: submissions stored under each folded run (and None) when saved: these only ever shrink, as rows move on to
    #: newer runs; growth means a folded run, or a write without a run, changed a submission after the fold
    sub_runs: dict[int | None, int] = field(default_factory=dict)


@dataclass
class StateReport:
    """How the state for a recompute was obtained, and where the time went (seconds per step)."""

    rebuilt: bool
    reason: str
    events_read: int = 0
    runs_folded: tuple[int, ...] = ()
    runs_pending: tuple[int, ...] = ()
    submissions_read: int = 0  # submissions new or changed since the state, folded in
    steps: dict[str, float] = field(default_factory=dict)
    #: after a fold: the district dates whose figures the folded runs can change (None after a rebuild)
    touched: frozenset[date] | None = None


@dataclass
class TermState:
    """The prepared term for a recompute, and the state to save once the figures made from it are stored.

    Saving last is what makes planning by the folded runs safe: a crash before the figures are written leaves
    the old state, so the next recompute folds the same runs again and recomputes the periods they touch. The
    file itself can be written earlier, while the figures are computed (``start_saving``): it only takes the
    old file's place, and its token the store's, in ``keep``.
    """

    prepared: Prepared
    report: StateReport
    pending: Snapshot | None = None
    _saving: StateWrite | None = None

    def start_saving(self, settings) -> None:
        if self.pending is not None and self._saving is None:
            self._saving = StateWrite(settings, self.pending)

    def keep(self, engine: Engine, settings) -> None:
        """Put the saved state in place; the time it adds after the figures are stored is "save state"."""
        if self.pending is None:
            return
        t = time.perf_counter()
        self.start_saving(settings)
        self._saving.finish(engine)
        self.report.steps["save state"] = time.perf_counter() - t
        self.pending = self._saving = None

    def abandon(self) -> None:
        """The figures were not stored: the state written for them must not be used."""
        if self._saving is not None:
            self._saving.abandon()
        self.pending = self._saving = None


def state_dir(settings) -> Path:
    """``measures_state_dir``, else beside a SQLite database file (a demo's store keeps its state), else var/."""
    if settings.measures_state_dir is not None:
        return Path(settings.measures_state_dir)
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).parent / "measures"
    return Path("var/measures")


def state_path(settings) -> Path:
    return state_dir(settings) / FILE_NAME


def discard(settings) -> bool:
    """Delete the saved state (after ``pli-pulse forget``: it may hold the forgotten person's key)."""
    path = state_path(settings)
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed


# --- what the store holds now -----------------------------------------------------------------------------


def _roster_columns():
    """The roster columns the measures are prepared with (measures/frames.py, ``read_roster``)."""
    m, c, cc, cm = schema.memberships.c, schema.classes.c, schema.community_classes.c, schema.community_members.c
    return {
        "classes": (c.class_id, c.school_id, c.is_pli),
        "memberships": (m.class_id, m.person_key, m.role, m.joined_on, m.left_on),
        "community_classes": (cc.community_id, cc.class_id),
        "community_members": (cm.community_id, cm.person_key, cm.role),
    }


def roster_fingerprint(engine: Engine) -> str:
    """SHA-256 over the roster rows as the driver returns them, sorted: any added, removed or changed row changes
    it. Raw rows, because converting 90,000 memberships' dates took most of a fold's store check."""
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for name, columns in _roster_columns().items():
            rows = conn.execute(select(*columns)).cursor.fetchall()
            digest.update(f"{name}:{len(rows)}\n".encode())
            digest.update("\n".join(sorted(map(repr, rows))).encode())
    return digest.hexdigest()


def run_counts(engine: Engine, run_ids: list[int] | None = None) -> dict[int | None, int]:
    """Events per ingest run (None: stored without one), through ``ix_activity_events_run_id``. Given ``run_ids``,
    only those runs are counted, so the cost follows them, not the store."""
    ev = schema.activity_events.c
    stmt = select(ev.run_id, func.count()).group_by(ev.run_id)
    if run_ids is not None:
        stmt = stmt.where(ev.run_id.in_(run_ids))
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return {(None if r is None else int(r)): int(n) for r, n in rows}


def events_generation(engine: Engine) -> int:
    """The number triggers move on when stored events are deleted or changed, or an ingest run's record deleted."""
    with engine.connect() as conn:
        return int(conn.execute(select(schema.events_generation.c.generation)).scalar_one())


def events_without_run(engine: Engine) -> int:
    ev = schema.activity_events.c
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(ev.run_id.is_(None))).scalar_one())


def run_statuses(engine: Engine) -> dict[int, str]:
    runs = schema.ingest_runs.c
    with engine.connect() as conn:
        return {int(r): s for r, s in conn.execute(select(runs.run_id, runs.status))}


def store_token(engine: Engine) -> str | None:
    ms = schema.measure_snapshots.c
    with engine.connect() as conn:
        return conn.execute(select(ms.token).where(ms.name == NAME)).scalar()


def repeats_held_acts(engine: Engine, run_ids: list[int]) -> bool:
    """Whether an event of these runs repeats a network act stored under another source id outside them."""
    if not run_ids:
        return False
    a = schema.activity_events.alias("a")
    b = schema.activity_events.alias("b")
    same = exists().where(
        b.c.class_id == a.c.class_id,
        b.c.occurred_at == a.c.occurred_at,
        b.c.actor_key == a.c.actor_key,
        b.c.kind == a.c.kind,
        b.c.target_key == a.c.target_key,
        or_(b.c.object_id == a.c.object_id, and_(b.c.object_id.is_(None), a.c.object_id.is_(None))),
        b.c.source_id != a.c.source_id,
        or_(b.c.run_id.is_(None), b.c.run_id.notin_(run_ids)),
    )
    stmt = (
        select(a.c.source_id)
        .where(a.c.run_id.in_(run_ids), a.c.tool == "teams", a.c.kind.in_(EDGE_KINDS), a.c.class_id.isnot(None))
        .where(same)
        .limit(1)
    )
    with engine.connect() as conn:
        return conn.execute(stmt).first() is not None


# --- the file ---------------------------------------------------------------------------------------------


def _pack(bits: np.ndarray) -> tuple[tuple[int, ...], np.ndarray]:
    return bits.shape, np.packbits(bits.reshape(-1))


def _unpack(packed: tuple[tuple[int, ...], np.ndarray]) -> np.ndarray:
    shape, data = packed
    count = int(np.prod(shape))
    return np.unpackbits(data, count=count).view(bool).reshape(shape)  # its 0s and 1s are bools: no copy


@dataclass(frozen=True)
class _Narrowed:
    """An integer array saved in 16 or 32 bits because every value fits: the network and submission arrays, which
    make most of a district's file (8M network acts at 20M events), take a half or less of the bytes."""

    values: np.ndarray
    dtype: str  # the type it comes back as


def _narrow(value):
    if not (isinstance(value, np.ndarray) and value.dtype in (np.int32, np.int64) and value.ndim == 1):
        return value
    low, high = (int(value.min()), int(value.max())) if len(value) else (0, 0)
    for dtype in (np.int16, np.int32):
        if (
            np.dtype(dtype).itemsize < value.dtype.itemsize
            and np.iinfo(dtype).min <= low <= high <= np.iinfo(dtype).max
        ):
            return _Narrowed(value.astype(dtype), value.dtype.str)
    return value


def _widen(value):
    return value.values.astype(value.dtype) if isinstance(value, _Narrowed) else value


def _state_dict(p: Prepared) -> dict:
    out = {}
    for f in fields(p):
        value = getattr(p, f.name)
        if f.name == "_channels":
            value = None  # a cache, rebuilt on first use
        elif f.name in _BITMAP_DICTS:
            value = {c: _pack(b) for c, b in value.items()}
        elif f.name in _BITMAPS:
            value = _pack(value)
        elif isinstance(value, dict):
            value = {k: _narrow(v) for k, v in value.items()}
        else:
            value = _narrow(value)
        out[f.name] = value
    return out


#: arrays smaller than this are copied out of the file's buffer when loaded: a fold replaces the big ones, and a
#: small roster array left as a view would keep the whole buffer (the size of the file) alive beside them
_OWN_COPY = 16 << 20


def _own(value):
    value = _widen(value)
    if isinstance(value, np.ndarray) and value.base is not None and value.nbytes < _OWN_COPY:
        return value.copy()
    return value


def _prepared(state: dict) -> Prepared:
    missing = sorted({f.name for f in fields(Prepared)} - set(state))
    if missing:  # a field with a default would come back empty, and the figures with it, without an error
        raise ValueError(f"the saved state lacks {', '.join(missing)}")
    values = {k: ({n: _own(x) for n, x in v.items()} if isinstance(v, dict) else _own(v)) for k, v in state.items()}
    for name in _BITMAP_DICTS:
        values[name] = {c: _unpack(b) for c, b in values[name].items()}
    for name in _BITMAPS:
        values[name] = _unpack(values[name])
    return Prepared(**values)


#: a temporary state file this old was left by a process that died while writing it (a write takes seconds)
STALE_TEMP = timedelta(hours=1)


def _sweep(folder: Path) -> None:
    """Delete temporary state files that a killed process left behind (each as large as the state)."""
    cutoff = time.time() - STALE_TEMP.total_seconds()
    for tmp in folder.glob(".term-state-*.tmp"):
        try:
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
        except FileNotFoundError:  # another process finished or swept it meanwhile
            pass


class StateWrite:
    """The state file written on a worker thread into a temporary file (mode 0600) beside its place.

    The thread only reads the arrays, which nothing changes after the fold (computing figures reads them too),
    and it spends its time in writes that release the GIL: at district scale the 340 MB go to disk while the
    figures are computed and stored, instead of after.
    """

    def __init__(self, settings, snap: Snapshot):
        self.path = state_path(settings)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _sweep(self.path.parent)
        snap.token = secrets.token_hex(16)
        snap.saved_at = datetime.now(UTC)
        self.snap = snap
        fd, self.tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".term-state-", suffix=".tmp")  # 0600
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write, args=(fd,), name="measures-state-write", daemon=True)
        self._thread.start()

    def _write(self, fd: int) -> None:
        snap = self.snap
        try:
            with os.fdopen(fd, "wb") as fh:
                payload = {
                    "format": FORMAT_VERSION,
                    "pandas": pd.__version__,
                    "token": snap.token,
                    "calendar": snap.calendar,
                    "roster": snap.roster,
                    "runs": snap.runs,
                    "sub_runs": snap.sub_runs,
                    "saved_at": snap.saved_at,
                    "generation": snap.generation,
                    "state": _state_dict(snap.prepared),
                }
                state_file.write(fh, payload)
                # On disk before the rename, here on the thread: a power cut then cannot leave a renamed but empty
                # file, and the rename does not start writing 380 MB back on the recompute's thread (0.12-0.15 s,
                # ext4 does so when a rename replaces a file whose data is not on disk yet).
                fh.flush()
                getattr(os, "fdatasync", os.fsync)(fh.fileno())  # macOS has fsync only
        except BaseException as exc:  # raised again in finish, on the caller's thread
            self._error = exc

    def finish(self, engine: Engine) -> Path:
        """Wait for the file, rename it into place, then record its token in the store."""
        self._thread.join()
        try:
            if self._error is not None:
                raise self._error
            os.chmod(self.tmp, 0o600)
            os.replace(self.tmp, self.path)
        except BaseException:
            Path(self.tmp).unlink(missing_ok=True)
            raise
        row = {"name": NAME, "token": self.snap.token, "saved_at": self.snap.saved_at}
        with engine.begin() as conn:
            upsert(conn, schema.measure_snapshots, [row], update=["token", "saved_at"])
        return self.path

    def abandon(self) -> None:
        self._thread.join()
        Path(self.tmp).unlink(missing_ok=True)


def save(engine: Engine, settings, snap: Snapshot) -> Path:
    """Write the file atomically (temp file + rename, mode 0600), then record its token in the store."""
    return StateWrite(settings, snap).finish(engine)


def load(settings) -> tuple[Snapshot | None, str]:
    """The saved state, or None and why not. An unreadable file is a reason to rebuild, never a crash."""
    saved, why = _open(settings)
    return (None, why) if saved is None else _snapshot(settings, saved)


@dataclass(frozen=True)
class _Saved:
    """The saved file opened, its arrays still packed and narrow (cheap: the file is mapped). Its ``runs`` and
    ``generation`` are enough to start reading the new runs while ``_snapshot`` unpacks the rest."""

    runs: dict[int | None, int]
    generation: int
    payload: dict


def _open(settings) -> tuple[_Saved | None, str]:
    path = state_path(settings)
    if not path.exists():
        return None, "no saved state yet"
    try:
        payload = state_file.read(path)
        if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
            found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
            reason = f"saved state {path} has format {found!r}, this version reads {FORMAT_VERSION}"
            log.warning("%s; rebuilding it from the store", reason)
            return None, reason
        if payload.get("pandas") != pd.__version__:  # the held acts' keys are pandas hashes (Prepared.act_keys)
            reason = f"saved state {path} was made with pandas {payload.get('pandas')}, this is {pd.__version__}"
            log.warning("%s; rebuilding it from the store", reason)
            return None, reason
        saved = _Saved(dict(payload["runs"]), int(payload["generation"]), payload)
    except Exception as exc:  # a truncated or foreign file: any failure to read it means "rebuild"
        return None, _unreadable(path, exc)
    return saved, ""


def _snapshot(settings, saved: _Saved) -> tuple[Snapshot | None, str]:
    payload = saved.payload
    try:
        snap = Snapshot(
            token=payload["token"],
            calendar=payload["calendar"],
            roster=payload["roster"],
            runs=saved.runs,
            prepared=_prepared(payload["state"]),
            saved_at=payload["saved_at"],
            generation=saved.generation,
            sub_runs=dict(payload["sub_runs"]),
        )
    except Exception as exc:
        return None, _unreadable(state_path(settings), exc)
    return snap, ""


def _unreadable(path: Path, exc: Exception) -> str:
    reason = f"saved state {path} is unreadable ({type(exc).__name__}: {exc})"
    log.warning("%s; rebuilding it from the store", reason)
    return reason


# --- the state a recompute works on -----------------------------------------------------------------------


def _rebuild(engine: Engine, settings, calendar: SchoolCalendar, as_of: date, reason: str) -> TermState:
    """Prepare from every event of the store (as without a saved state) and save the result."""
    steps: dict[str, float] = {}
    t = time.perf_counter()
    roster = roster_fingerprint(engine)
    generation = events_generation(engine)  # before reading: a change from now on shows in the next check
    before = run_statuses(engine)  # a run running during the read may change rows without changing counts
    counts = run_counts(engine)
    sub_counts = submission_run_counts(engine)
    steps["check store"] = time.perf_counter() - t
    t = time.perf_counter()
    frames = frames_from_store(engine)
    steps["read store"] = time.perf_counter() - t
    t = time.perf_counter()
    p = prepare(frames, calendar, as_of)
    steps["prepare"] = time.perf_counter() - t
    runs = {r: 0 for r in sub_counts if r is not None} | counts
    after = run_statuses(engine)
    running = sorted(r for r in runs if "running" in (before.get(r), after.get(r)))
    consistent = (
        run_counts(engine) == counts
        and events_generation(engine) == generation
        and submission_run_counts(engine) == sub_counts
        and roster_fingerprint(engine) == roster
        and sum(counts.values()) == len(frames.events)
        and sum(sub_counts.values()) == len(p.sub_ids)
    )
    pending = None
    if running:
        log.info("measures state not saved: ingest run %s is still running; the next recompute rebuilds", running)
        discard(settings)
    elif consistent:
        pending = Snapshot("", calendar, roster, runs, p, datetime.now(UTC), generation, dict(sub_counts))
    else:
        log.warning("the store changed while the measures read it; no state saved, the next recompute rebuilds")
        discard(settings)
    log.info("measures state rebuilt from the store (%s)", reason)
    return TermState(p, StateReport(True, reason, events_read=len(frames.events), steps=steps), pending)


def _submissions_check(p: Prepared, snap: Snapshot, sub_counts, batch_ids: pd.Index, pending_ids: pd.Index) -> str:
    """Why the held submissions no longer add up (see the module docstring), or "" when they do."""
    still = sum(n for r, n in sub_counts.items() if r is None or r in snap.runs)
    # ids are unique in the state and in the store, and a row is under one run: the two lists do not overlap
    moved = sum(int((submission_rows(p, ids) >= 0).sum()) for ids in (batch_ids, pending_ids)) if len(p.sub_ids) else 0
    if still + moved < len(p.sub_ids):
        return "submissions the state holds were deleted"
    if still + moved > len(p.sub_ids):
        return "submissions stored without an ingest run"
    return ""


@dataclass
class StoreNow:
    """What the store holds now, for checking a saved state against (see the module docstring)."""

    statuses: dict[int, str]
    generation: int  # read with the statuses, before any new run is read
    token: str | None
    roster: str
    without_run: int  # events stored without an ingest run
    sub_counts: dict[int | None, int]  # submissions per ingest run
    statuses_after: dict[int, str]  # read again after the counts: a run that started meanwhile is pending
    seconds: float


class _StoreLook:
    """The store's checks, run on a worker thread while the state loads and the new runs are read: SQLite and
    PostgreSQL answer without holding the GIL. The runs' statuses and the events generation come first
    (``first``), so the read of the ended runs can start at once."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._first: Future[tuple[dict[int, str], int]] = Future()
        self._now: Future[StoreNow] = Future()
        in_background(engine, self._run)  # _run hands its outcome, errors included, to the two futures

    def _run(self) -> None:
        engine = self._engine
        try:
            t = time.perf_counter()
            statuses, generation = run_statuses(engine), events_generation(engine)
            self._first.set_result((statuses, generation))
            token, roster, without_run = store_token(engine), roster_fingerprint(engine), events_without_run(engine)
            sub_counts, after = submission_run_counts(engine), run_statuses(engine)
            seconds = time.perf_counter() - t
            now = StoreNow(statuses, generation, token, roster, without_run, sub_counts, after, seconds)
            self._now.set_result(now)
        except BaseException as exc:  # raised on the caller's thread by the waits below
            for future in (self._first, self._now):
                if not future.done():
                    future.set_exception(exc)

    def first(self) -> tuple[dict[int, str], int]:
        return self._first.result()

    def result(self) -> StoreNow:
        return self._now.result()


def _timed(fn, *args):
    t = time.perf_counter()
    return fn(*args), time.perf_counter() - t


def prepared_state(
    engine: Engine, settings, calendar: SchoolCalendar, as_of: date, *, incremental: bool = True
) -> TermState:
    """The term prepared from everything the store holds in ended runs, folding only what is new.

    The caller stores the figures computed from it, then calls ``keep`` to save the state.
    """
    if not incremental:
        return _rebuild(engine, settings, calendar, as_of, "full recompute asked for")
    steps: dict[str, float] = {}
    look = _StoreLook(engine)
    t = time.perf_counter()
    saved, why = _open(settings)
    opening = time.perf_counter() - t
    if saved is None:
        look.result()  # let the checks finish before the rebuild reads the store
        return _rebuild(engine, settings, calendar, as_of, why)
    t = time.perf_counter()
    statuses, generation = look.first()
    waited = time.perf_counter() - t
    new = sorted(r for r in statuses if r not in saved.runs)
    ended = [r for r in new if statuses[r] != "running"]  # nothing writes to an ended run any more
    # read while the state unpacks: the read waits on SQLite's helper processes and Arrow, mostly without the GIL
    reading = None
    if generation == saved.generation:
        reading = in_background(engine, _timed, frames_for_runs, engine, ended)
    t = time.perf_counter()
    snap, why = _snapshot(settings, saved)
    steps["load state"] = opening + time.perf_counter() - t
    if snap is None:
        if reading is not None:
            wait([reading])  # the rebuild reads anew; the read's outcome does not matter
        look.result()
        return _rebuild(engine, settings, calendar, as_of, why)
    t = time.perf_counter()
    batch, seconds = reading.result() if reading is not None else (None, 0.0)
    counts = run_counts(engine, ended)
    steps["read new runs"] = time.perf_counter() - t  # beyond the load
    steps["read new runs, overlapped with the load"] = seconds
    t = time.perf_counter()
    now = look.result()
    reason = ""
    if snap.token != now.token:
        reason = "saved state was made from another database or an older copy of this one"
    elif snap.calendar != calendar:
        reason = "the school calendar changed"
    elif snap.roster != now.roster:
        reason = "the roster changed"
    elif generation != snap.generation:
        reason = "stored events or ingest run records were deleted or changed (forget, retention)"
    elif now.without_run != snap.runs.get(None, 0):
        reason = "events stored without an ingest run"
    elif any(now.sub_counts.get(r, 0) > n for r, n in snap.sub_runs.items()) or (
        now.sub_counts.get(None, 0) and None not in snap.sub_runs
    ):
        reason = "submissions were changed outside an ingest run, or by a run after it was folded"
    elif any(r is not None and r not in now.statuses_after and r not in snap.runs for r in now.sub_counts):
        reason = "submissions are stored under an ingest run that has no record"
    # runs still running, or started since the read began: the held submissions they changed are counted as moved
    pending = tuple(sorted(r for r in now.statuses_after if r not in snap.runs and r not in ended))
    # waited for beyond the read: the checks took this much longer than loading the state and reading the runs
    steps["check store"] = waited + time.perf_counter() - t
    steps["checks on a thread (overlapped)"] = now.seconds
    if reason:
        return _rebuild(engine, settings, calendar, as_of, reason)
    sub_counts = now.sub_counts
    p = snap.prepared
    t = time.perf_counter()
    coded = code_batch(p, batch, normalised=True)  # adds the batch's new people to p: a rebuild drops p anyway
    coding = time.perf_counter() - t  # part of the fold
    t = time.perf_counter()
    repeats = may_repeat_held_acts(p, coded) and repeats_held_acts(engine, ended)
    steps["check store"] += time.perf_counter() - t
    if repeats:
        return _rebuild(engine, settings, calendar, as_of, "a new run repeats a network act the state holds")
    reason = _submissions_check(
        p,
        snap,
        sub_counts,
        pd.Index(batch.submissions["submission_id"].astype(object)),
        submission_ids_for_runs(engine, pending),
    )
    if reason:
        return _rebuild(engine, settings, calendar, as_of, reason)
    if len(batch.events) != sum(counts.values()) or len(batch.submissions) != sum(sub_counts.get(r, 0) for r in ended):
        return _rebuild(engine, settings, calendar, as_of, "the store changed while the measures read it")
    t = time.perf_counter()
    touched = touched_dates(p, batch, as_of)
    p.as_of = as_of  # FA by feedback counts only if returned by as_of: submission bits are redone in the fold
    p.forms_assignments = pd.Index([], dtype=object)  # the batch carries every Forms assignment as stored now
    add_activity(p, coded)
    steps["fold"] = coding + time.perf_counter() - t
    snap.runs.update({r: counts.get(r, 0) for r in ended})  # a run that wrote nothing is held too: not read again
    snap.sub_runs = {r: sub_counts.get(r, 0) for r in {*snap.runs, None}}
    folded = tuple(r for r in ended if counts.get(r) or sub_counts.get(r))
    report = StateReport(
        False, "folded new runs", len(batch.events), folded, pending, len(batch.submissions), steps, touched
    )
    return TermState(p, report, snap)


def touched_dates(p: Prepared, batch: ActivityFrames, as_of: date) -> frozenset[date]:
    """District dates whose figures folding ``batch`` into ``p`` as of ``as_of`` can change (call before the fold).

    An event counts on its date; a submission on the day it was submitted (assignments, FA by feedback) and the
    day its feedback was returned (turnaround), for its new version and for the version it replaces. Feedback
    counts as FA only once returned by the as-of date, so moving that date also touches the submission days of
    the held submissions returned in between; and an assignment gaining or losing a Forms quiz touches the days
    its submissions were made.
    """
    cal = p.calendar
    days = [district_days(batch.events["occurred_at"], cal)]
    sub = batch.submissions
    if len(sub):
        days += [district_days(sub["submitted_at"], cal), district_days(sub["returned_at"], cal)]
        if len(p.sub_ids):
            pos = submission_rows(p, pd.Index(sub["submission_id"].astype(str).to_numpy(dtype=object)))
            old = pos[pos >= 0]
            days += [p.sub["sday"][old], p.sub["rday"][old]]
    asg = batch.assignments
    forms_now = pd.Index(asg.loc[asg["has_forms_resource"], "assignment_id"].astype(str).to_numpy(dtype=object))
    flipped = p.forms_assignments.symmetric_difference(forms_now)
    if len(flipped) and len(p.sub_ids):  # an assignment gained or lost its Forms quiz: FA on its submission days
        days.append(p.sub["sday"][ids_in(p.assignment_ids, flipped)[p.sub["assignment"]]])
    if len(p.sub_ids) and as_of != p.as_of:
        low, high = sorted((p.day(p.as_of), p.day(as_of)))
        rday = p.sub["rday"]
        days.append(p.sub["sday"][(rday > low) & (rday <= high)])
    found = np.unique(np.concatenate(days))
    found = found[(found >= 0) & (found < p.n_days)]
    return frozenset(cal.term_start + timedelta(days=int(d)) for d in found)
