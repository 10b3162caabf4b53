"""Read-only SQLite queries run in helper processes, so that a big columnar read uses more than one core.

Two threads of one process reading SQLite do not run side by side: the library serialises them (reading the week
of 806,257 events in two halves on two threads took 1.0-1.2 s, one after the other 0.7-0.9 s, in two processes
0.43-0.45 s). So the columnar reader (store/columnar.py) hands its chunk queries to a few fresh interpreters,
each with its own connection, and parses each chunk's text while the helpers build the next ones.

A helper is this file run as a script by the same Python (``-I -S``: the standard library only, no site packages,
started in about 10 ms). It reads its queries from stdin and writes, for each in order, the row's leading values
(marshal) and then its last value, the chunk's text, as raw bytes. It opens the database with ``query_only``, so
it cannot write. The pipes give back-pressure: a helper finishes at most one chunk ahead of the reader.
"""

from __future__ import annotations

import marshal
import os
import sqlite3
import struct
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import suppress

_LENGTHS = struct.Struct("<qq")  # header bytes, then text bytes (-1: NULL)


class WorkerError(RuntimeError):
    """A helper process failed or stopped early: the caller reads the remaining chunks itself."""


def run_queries(database: str, sqls: Sequence[str], workers: int) -> Iterator[tuple]:
    """Each query's single row, in the order given; query i runs in helper i % workers.

    Stopping the iteration early (or an error) kills the helpers.
    """
    k = max(1, min(workers, len(sqls)))
    procs: list[subprocess.Popen] = []
    try:
        for _ in range(k):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-I", "-S", __file__],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
            )
        for w, proc in enumerate(procs):  # each helper reads all its input before it starts: no deadlock
            proc.stdin.write(marshal.dumps((database, list(sqls[w::k]))))
            proc.stdin.close()
        for i in range(len(sqls)):
            yield _row(procs[i % k])
        for proc in procs:
            if proc.wait() != 0:
                raise WorkerError(_failure(proc))
    except (OSError, TypeError, ValueError) as exc:  # no usable interpreter to start, or a pipe broke
        raise WorkerError(f"a helper process could not run: {exc}") from exc
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                with suppress(OSError):  # a stdin whose helper died before reading it: nothing left to flush
                    pipe.close()


def _row(proc: subprocess.Popen) -> tuple:
    head_len, text_len = _LENGTHS.unpack(_exactly(proc, _LENGTHS.size))
    values = marshal.loads(_exactly(proc, head_len))
    text = None if text_len < 0 else _exactly(proc, text_len)
    return (*values, text)


def _exactly(proc: subprocess.Popen, n: int) -> bytes:
    data = proc.stdout.read(n)
    if len(data) < n:
        proc.wait()
        raise WorkerError(_failure(proc))
    return data


def _failure(proc: subprocess.Popen) -> str:
    message = proc.stderr.read().decode(errors="replace").strip().splitlines()
    return f"a helper process stopped (exit code {proc.returncode}): {message[-1] if message else 'no message'}"


def _main() -> int:
    database, sqls = marshal.loads(sys.stdin.buffer.read())
    out = sys.stdout.buffer
    try:
        if not os.path.isfile(database):  # connecting would create an empty one
            raise sqlite3.OperationalError(f"no database at {database}")
        conn = sqlite3.connect(database, timeout=30)
        conn.execute("PRAGMA query_only=ON")
        conn.execute("PRAGMA cache_size=-65536")
        for sql in sqls:
            *values, text = conn.execute(sql).fetchone()
            head = marshal.dumps(tuple(values))
            out.write(_LENGTHS.pack(len(head), -1 if text is None else len(text)))
            out.write(head)
            if text is not None:
                out.write(text)
            out.flush()
    except (sqlite3.Error, BrokenPipeError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
