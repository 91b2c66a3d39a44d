"""The journal of a sweep: its rows in a CSV file, appended and flushed as they finish, read back on resume (a
last line cut by a kill is dropped), and the Parquet copy written at the end.

Columns: ``KEY`` (what identifies a configuration) then ``RESULT_FIELDS``; per-layer series are space-separated
floats in one cell (``floats_text`` / ``floats_parse``).
"""
import csv
import os

import numpy as np

__all__ = ["KEY", "RESULT_FIELDS", "COLUMNS", "Journal", "JournalBusy", "open_journal", "read_rows", "floats_text", "floats_parse",
           "row_key"]

KEY = ("depth", "width", "activation", "init", "batchnorm", "batch", "seed", "backward")
RESULT_FIELDS = ("status", "error", "final_h_std", "final_p_std", "final_h_mean", "final_saturated_frac",
                 "final_zero_frac", "nonfinite", "grad_ratio", "theory_final_h_std", "theory_grad_ratio", "q_star",
                 "chi_star", "h_std_layers", "theory_h_std_layers", "wall_s")
COLUMNS = KEY + RESULT_FIELDS
_INT = {"depth", "width", "batch", "seed", "nonfinite"}
_BOOL = {"batchnorm", "backward"}
_STR = {"activation", "init", "status", "error", "h_std_layers", "theory_h_std_layers"}


def floats_text(a):
    """A float series as one CSV cell (repr: read back bit for bit)."""
    return " ".join(repr(float(v)) for v in a)


def floats_parse(text):
    return np.array([float(v) for v in text.split()]) if text else np.zeros(0)


def row_key(row):
    """The KEY fields of a row or configuration, as a tuple."""
    return tuple(row[k] for k in KEY)


def _parse_row(raw):
    row = {}
    for k, v in raw.items():
        if k in _INT:
            row[k] = int(v)
        elif k in _BOOL:
            row[k] = v == "True"
        elif k in _STR:
            row[k] = v
        else:
            row[k] = float(v)
    return row


def _format_row(row):
    return [repr(row[k]) if isinstance(row[k], float) else str(row[k]) for k in COLUMNS]


def read_rows(path):
    """(rows, partial) of an existing sweep CSV: partial when its last line was cut (a run killed mid-write),
    that line left out. Raises ValueError, leaving the file untouched, when its columns are not a sweep's."""
    with open(path, newline="") as f:
        text = f.read()
    if not text:
        return [], False
    lines = text.splitlines(keepends=True)
    header = next(csv.reader([lines[0]]))
    if tuple(header) != COLUMNS:
        raise ValueError(f"{path} has columns {header[:6]}{'...' if len(header) > 6 else ''}, not a fastinit sweep's "
                         f"({', '.join(COLUMNS[:6])}, ...); choose another out or remove the file")
    partial = not lines[-1].endswith("\n")
    body = lines[1:-1] if partial else lines[1:]
    rows = []
    for raw in csv.DictReader(body, fieldnames=COLUMNS):
        try:
            rows.append(_parse_row(raw))
        except (TypeError, ValueError):
            raise ValueError(f"{path}: cannot read row {raw!r}; the file is not a complete fastinit sweep") from None
    return rows, partial


class JournalBusy(RuntimeError):
    """Another sweep (another process, or another call in this one) is writing the same journal."""


def _lock(handle):
    """An exclusive, non-blocking OS lock on an open file (released when it is closed, or the process dies)."""
    try:
        import fcntl
    except ImportError:   # Windows
        import msvcrt

        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def _fsync_dir(path):
    try:
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:   # Windows cannot open a directory: its rename is durable enough
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _rewrite(path, rows):
    """Replace the file by a complete header + rows, atomically: written beside it, synced, renamed over it, so a
    kill at any point leaves either the old file or the new one."""
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", newline="") as f:
            rewrite = csv.writer(f)
            rewrite.writerow(COLUMNS)
            rewrite.writerows(_format_row(r) for r in rows)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    _fsync_dir(path)


class Journal:
    """The CSV file of a sweep, open for appending, and locked: ``<path>.lock`` holds an OS lock while the sweep
    runs, so that a second sweep on the same file refuses to start (JournalBusy) instead of interleaving rows.
    ``rows``: the rows it held when opened (resume), a later row of the same configuration replacing an earlier
    one (a failed row retried)."""

    def __init__(self, path, resume):
        self.path = path
        self.rows = []
        if os.path.isdir(path):
            raise IsADirectoryError(21, f"sweep cannot write its rows to {path!r}: it is a directory")
        try:
            self._lock_file = open(path + ".lock", "a")
        except OSError as exc:
            raise OSError(exc.errno, f"sweep cannot write its rows to {path!r}: {exc.strerror}") from None
        try:
            _lock(self._lock_file)
        except OSError:
            self._lock_file.close()
            raise JournalBusy(f"another sweep is writing {path!r} (it holds {path + '.lock'}); wait for it to "
                              "finish, or choose another out") from None
        try:
            self._open(path, resume)
        except BaseException:
            self._lock_file.close()
            raise

    def _open(self, path, resume):
        if resume and os.path.exists(path):
            self.rows, partial = read_rows(path)
            if partial:   # drop the half-written line of a killed run, atomically, before appending
                _rewrite(path, self.rows)
        try:
            fresh = not (resume and os.path.exists(path) and os.path.getsize(path) > 0)
            self._handle = open(path, "w" if fresh else "a", newline="")
        except OSError as exc:
            raise OSError(exc.errno, f"sweep cannot write its rows to {path!r}: {exc.strerror}") from None
        self._writer = csv.writer(self._handle)
        if fresh:
            self._writer.writerow(COLUMNS)
            self._handle.flush()

    def append(self, rows):
        """Write rows and flush them to the file (a kill after this loses none of them)."""
        for row in rows:
            self._writer.writerow(_format_row(row))
        self._handle.flush()

    def close(self):
        try:
            self._handle.close()
        finally:
            self._lock_file.close()


def open_journal(out, resume):
    """(journal, parquet path or None) of a sweep's ``out``: a CSV path, or a ``.parquet`` path whose CSV journal
    is ``<out>.rows.csv`` (the Parquet file is written when the sweep ends)."""
    parquet = None
    out = os.fspath(out)
    if out.endswith(".parquet"):
        try:
            import pandas  # noqa: F401
            import pyarrow  # noqa: F401
        except ImportError:
            raise ImportError("out=*.parquet needs pandas and pyarrow (pip install pandas pyarrow); "
                              "or write a .csv") from None
        parquet, out = out, out + ".rows.csv"
    return Journal(out, resume), parquet
