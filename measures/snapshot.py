"""The prepared term state kept between ingests, so a recompute folds in only the runs that ended since.

Preparing the term reads every event of the store (20M at district scale); folding a new run's events into
a saved ``Prepared`` (``add_activity``) reads only that run. The saved state is trusted only when the store
still holds exactly what it was made from, and is rebuilt from the store otherwise:

- the file carries a token that the store also holds (``measure_snapshots``): a file made from another
  database, or from an older copy of this one, does not match;
- the calendar it was prepared for (term, holidays, time zone, school weekdays) is the current one;
- the roster (classes, memberships, community classes and members) hashes to the same SHA-256;
- every ingest run it holds still has the same number of events, and so do the events stored without a run:
  ``forget`` and the retention purge delete events, so their counts drop. Counting per run reads the
  ``ix_activity_events_run_id`` index, not the table;
- a new run is folded only once it has ended (a run still ``running`` may write more events later);
- no event of a new run repeats a network act the state already holds (same class, actor, target, kind,
  object and time under another source id): a from-scratch prepare counts such a pair once, a fold twice.

Submissions change in place (feedback is returned days after a submission, whenever an ingest first sees it),
so no time window can be sure to catch every change. Every stored submission row is read as text on each fold
(about 1M rows at district scale, not the 20M events) and hashed, all columns; rows whose hash differs from the
one saved with the state, and rows it does not hold, are folded in and replace their earlier row by id. If the
store holds fewer of the state's submissions than the state, some were deleted, and the state is rebuilt.

The file is a pickle (protocol 5) with the day bitmaps packed eight to a byte. Pickle runs code when read, so
the file is written with mode 0600 in the operator's state directory and read from nowhere else.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import secrets
import tempfile
import time
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, and_, exists, func, make_url, or_, select

from measures.frames import (
    SUBMISSION_COLUMNS,
    frames_for_runs,
    frames_from_store,
    read_roster,
    submissions_as_text,
    submissions_from_text,
)
from measures.prepare import EDGE_KINDS, Prepared, add_activity, prepare
from pli_pulse.school_calendar import SchoolCalendar
from store import schema
from store.upsert import upsert

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
FILE_NAME = "term-state.pickle"
NAME = "term"
_BITMAP_DICTS = ("event_bits", "sub_bits")
_BITMAPS = ("m_bits", "d_bits")


@dataclass
class Snapshot:
    token: str
    calendar: SchoolCalendar
    roster: str  # SHA-256 of the roster tables
    runs: dict[int | None, int]  # events held per ingest run id; None = events stored without a run
    prepared: Prepared
    saved_at: datetime
    sub_hashes: np.ndarray  # uint64 hash of each held submission's stored row, aligned with prepared.sub_ids


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


def roster_fingerprint(engine: Engine) -> str:
    """SHA-256 over the roster tables, rows sorted: any added, removed or changed row changes it."""
    digest = hashlib.sha256()
    for name, frame in sorted(read_roster(engine).items()):
        text = frame.astype(str)
        text = text.sort_values(list(text.columns), kind="stable")
        digest.update(name.encode())
        digest.update(text.to_csv(index=False).encode())
    return digest.hexdigest()


def run_counts(engine: Engine) -> dict[int | None, int]:
    ev = schema.activity_events.c
    with engine.connect() as conn:
        rows = conn.execute(select(ev.run_id, func.count()).group_by(ev.run_id)).all()
    return {(None if r is None else int(r)): int(n) for r, n in rows}


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
    return np.unpackbits(data, count=count).astype(bool).reshape(shape)


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
        out[f.name] = value
    return out


def _prepared(state: dict) -> Prepared:
    values = dict(state)
    for name in _BITMAP_DICTS:
        values[name] = {c: _unpack(b) for c, b in values[name].items()}
    for name in _BITMAPS:
        values[name] = _unpack(values[name])
    return Prepared(**values)


def save(engine: Engine, settings, snap: Snapshot) -> Path:
    """Write the file atomically (temp file + rename, mode 0600), then record its token in the store."""
    path = state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    snap.token = secrets.token_hex(16)
    snap.saved_at = datetime.now(UTC)
    payload = {
        "format": FORMAT_VERSION,
        "token": snap.token,
        "calendar": snap.calendar,
        "roster": snap.roster,
        "runs": snap.runs,
        "saved_at": snap.saved_at,
        "sub_hashes": snap.sub_hashes,
        "state": _state_dict(snap.prepared),
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".term-state-", suffix=".tmp")  # created 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(payload, fh, protocol=5)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    row = {"name": NAME, "token": snap.token, "saved_at": snap.saved_at}
    with engine.begin() as conn:
        upsert(conn, schema.measure_snapshots, [row], update=["token", "saved_at"])
    return path


def load(settings) -> tuple[Snapshot | None, str]:
    """The saved state, or None and why not. An unreadable file is a reason to rebuild, never a crash."""
    path = state_path(settings)
    if not path.exists():
        return None, "no saved state yet"
    try:
        payload = pickle.loads(path.read_bytes())
        if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
            found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
            reason = f"saved state {path} has format {found!r}, this version reads {FORMAT_VERSION}"
            log.warning("%s; rebuilding it from the store", reason)
            return None, reason
        snap = Snapshot(
            token=payload["token"],
            calendar=payload["calendar"],
            roster=payload["roster"],
            runs=dict(payload["runs"]),
            prepared=_prepared(payload["state"]),
            saved_at=payload["saved_at"],
            sub_hashes=np.asarray(payload["sub_hashes"], dtype=np.uint64),
        )
        if len(snap.sub_hashes) != len(snap.prepared.sub_ids):
            raise ValueError("submission hashes do not match the submissions held")
    except Exception as exc:  # a truncated or foreign file: any failure to read it means "rebuild"
        reason = f"saved state {path} is unreadable ({type(exc).__name__}: {exc})"
        log.warning("%s; rebuilding it from the store", reason)
        return None, reason
    return snap, ""


# --- the state a recompute works on -----------------------------------------------------------------------


def row_hashes(raw: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash of every column of each stored submission row: any change to a row changes its hash."""
    rows = raw.loc[:, list(SUBMISSION_COLUMNS)]
    return pd.util.hash_pandas_object(rows, index=False, categorize=False).to_numpy(np.uint64)


def _ids(raw: pd.DataFrame) -> pd.Index:
    return pd.Index(raw["submission_id"].astype(str).to_numpy(dtype=object))


def _positions(index: pd.Index, keys: pd.Index) -> np.ndarray:
    return index.get_indexer(keys) if len(index) else np.full(len(keys), -1, dtype=np.int64)


def _rebuild(
    engine: Engine, settings, calendar: SchoolCalendar, as_of: date, reason: str
) -> tuple[Prepared, StateReport]:
    """Prepare from every event of the store (as without a saved state) and save the result."""
    steps: dict[str, float] = {}
    t = time.perf_counter()
    roster = roster_fingerprint(engine)
    counts = run_counts(engine)
    # Hashed before the rows are read: a row changing in between is seen as changed by the next fold.
    raw = submissions_as_text(engine)
    steps["check store"] = time.perf_counter() - t
    t = time.perf_counter()
    frames = frames_from_store(engine)
    steps["read store"] = time.perf_counter() - t
    t = time.perf_counter()
    p = prepare(frames, calendar, as_of)
    steps["prepare"] = time.perf_counter() - t
    t = time.perf_counter()
    pos = _positions(_ids(raw), p.sub_ids)
    hashes = np.zeros(len(p.sub_ids), dtype=np.uint64)  # a row read after the hashes: folded again next time
    hashes[pos >= 0] = row_hashes(raw)[pos[pos >= 0]]
    consistent = run_counts(engine) == counts and roster_fingerprint(engine) == roster
    if consistent and sum(counts.values()) == len(frames.events):
        save(engine, settings, Snapshot("", calendar, roster, counts, p, datetime.now(UTC), hashes))
    else:
        log.warning("the store changed while the measures read it; no state saved, the next recompute rebuilds")
        discard(settings)
    steps["save state"] = time.perf_counter() - t
    log.info("measures state rebuilt from the store (%s)", reason)
    return p, StateReport(True, reason, events_read=len(frames.events), steps=steps)


def prepared_state(
    engine: Engine, settings, calendar: SchoolCalendar, as_of: date, *, incremental: bool = True
) -> tuple[Prepared, StateReport]:
    """The term prepared from everything the store holds in ended runs, folding only what is new."""
    if not incremental:
        return _rebuild(engine, settings, calendar, as_of, "full recompute asked for")
    steps: dict[str, float] = {}
    t = time.perf_counter()
    snap, why = load(settings)
    steps["load state"] = time.perf_counter() - t
    if snap is None:
        return _rebuild(engine, settings, calendar, as_of, why)
    t = time.perf_counter()
    reason = ""
    if snap.token != store_token(engine):
        reason = "saved state was made from another database or an older copy of this one"
    elif snap.calendar != calendar:
        reason = "the school calendar changed"
    elif snap.roster != roster_fingerprint(engine):
        reason = "the roster changed"
    if reason:
        return _rebuild(engine, settings, calendar, as_of, reason)
    statuses = run_statuses(engine)
    counts = run_counts(engine)
    if any(counts.get(r, 0) != n for r, n in snap.runs.items()):
        reason = "events the state holds were deleted or changed (forget, retention)"
    elif counts.get(None, 0) and None not in snap.runs:
        reason = "events stored without an ingest run"
    new = sorted(r for r in counts if r not in snap.runs and r is not None)
    ended = [r for r in new if statuses.get(r) != "running"]  # a run purged from ingest_runs has ended
    pending = tuple(r for r in new if r not in ended)
    if not reason and repeats_held_acts(engine, ended):
        reason = "a new run repeats a network act the state holds"
    steps["check store"] = time.perf_counter() - t
    if reason:
        return _rebuild(engine, settings, calendar, as_of, reason)
    t = time.perf_counter()
    p = snap.prepared
    raw = submissions_as_text(engine)
    hashes = row_hashes(raw)
    pos = _positions(p.sub_ids, _ids(raw))
    held = pos >= 0
    if int(held.sum()) != len(p.sub_ids):
        return _rebuild(engine, settings, calendar, as_of, "submissions the state holds were deleted")
    changed = ~held
    changed[held] = snap.sub_hashes[pos[held]] != hashes[held]
    steps["check submissions"] = time.perf_counter() - t
    t = time.perf_counter()
    batch = frames_for_runs(engine, ended, submissions_from_text(raw.loc[changed]))
    steps["read new events"] = time.perf_counter() - t
    if len(batch.events) != sum(counts[r] for r in ended):
        return _rebuild(engine, settings, calendar, as_of, "the store changed while the measures read it")
    t = time.perf_counter()
    p.as_of = as_of  # FA by feedback counts only if returned by as_of: submission bits are redone in the fold
    p.forms_assignments = pd.Index([], dtype=object)  # the batch carries every assignment as stored now
    add_activity(p, batch, normalised=True)
    steps["fold"] = time.perf_counter() - t
    t = time.perf_counter()
    updated = snap.sub_hashes.copy()
    again = changed & held
    updated[pos[again]] = hashes[again]
    snap.sub_hashes = np.concatenate([updated, hashes[changed & ~held]])  # new ids are appended in batch order
    snap.runs.update({r: counts[r] for r in ended})
    save(engine, settings, snap)
    steps["save state"] = time.perf_counter() - t
    return p, StateReport(False, "folded new runs", len(batch.events), tuple(ended), pending, int(changed.sum()), steps)
