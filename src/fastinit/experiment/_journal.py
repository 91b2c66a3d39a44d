"""The journal of a sweep: its rows in a CSV file, appended and flushed as they finish, read back on resume (a
last line cut by a kill is dropped; the latest row of a configuration wins), and the Parquet copy written at the
end.

A row is a dict of ``FIELDS``: ``KEY`` (what identifies a configuration) then ``RESULT_FIELDS``, each with its
type. In memory a row holds Python values and, for the per-layer series, NumPy arrays; only this module encodes
them for the file (a series is one CSV cell of space-separated floats, written by repr: read back bit for bit) and
decodes them. Adding a column is one line of ``FIELDS`` (and the code that computes it).
"""
import csv
import math
import os

import numpy as np

from .._optional import require

__all__ = ["FIELDS", "KEY", "RESULT_FIELDS", "COLUMNS", "Journal", "JournalBusy", "open_journal", "csv_path",
           "read_rows", "read_latest", "latest", "row_key", "empty_result", "failed_row"]

# (name, type): int, bool, str, float, or "series" (a float array, one value per layer)
FIELDS = (
    ("depth", int), ("width", int), ("activation", str), ("init", str), ("batchnorm", bool), ("batch", int),
    ("seed", int), ("backward", bool), ("sigma_b2", float), ("train", str),
    ("status", str), ("error", str), ("final_h_std", float), ("final_p_std", float), ("final_h_mean", float),
    ("final_saturated_frac", float), ("final_zero_frac", float), ("nonfinite", int), ("grad_ratio", float),
    ("theory_final_h_std", float), ("theory_grad_ratio", float), ("q_star", float), ("chi_star", float),
    # training rows (train != ""): the trained network on all training / held-out rows, the step whose loss was
    # not finite (0: none), and the theory's correlation depth scale xi_c of the initial network
    ("train_accuracy", float), ("test_accuracy", float), ("train_loss", float), ("test_loss", float),
    ("diverged_step", int), ("xi_c", float),
    ("h_std_layers", "series"), ("theory_h_std_layers", "series"), ("wall_s", float),
)
KEY = tuple(name for name, _ in FIELDS[:10])
RESULT_FIELDS = tuple(name for name, _ in FIELDS[10:])
COLUMNS = KEY + RESULT_FIELDS
_TYPES = dict(FIELDS)
_EMPTY = {int: 0, bool: False, str: "", float: math.nan}


def empty_result():
    """The result fields of a row that has no result (a failed configuration): NaN, 0, "" or an empty series."""
    return {k: np.zeros(0) if _TYPES[k] == "series" else _EMPTY[_TYPES[k]] for k in RESULT_FIELDS}


def failed_row(config, exc, seconds):
    """The row of a configuration whose run raised: its key, empty results, status "failed" and the error."""
    row = {k: config[k] for k in KEY}
    row.update(empty_result())
    row.update(status="failed", error=f"{type(exc).__name__}: {exc}", wall_s=seconds)
    return row


def row_key(row):
    """The KEY fields of a row or configuration, as a tuple."""
    return tuple(row[k] for k in KEY)


def latest(rows):
    """{key: row}, the latest row of each configuration (a failed row retried is replaced by its retry)."""
    by_key = {}
    for r in rows:
        by_key[row_key(r)] = r
    return by_key


def _decode(k, text):
    kind = _TYPES[k]
    if kind == "series":
        return np.array([float(v) for v in text.split()]) if text else np.zeros(0)
    if kind is bool:
        return text == "True"
    return kind(text)


def _encode(k, value):
    kind = _TYPES[k]
    if kind == "series":
        return " ".join(repr(float(v)) for v in value)
    return repr(value) if isinstance(value, float) else str(value)


def _parse_row(raw):
    return {k: _decode(k, v) for k, v in raw.items()}


def _format_row(row):
    return [_encode(k, row[k]) for k in COLUMNS]


def read_rows(path):
    """(rows, complete) of an existing sweep CSV: complete is None when every record is whole, else the byte length
    of its whole records (a run killed mid-write cut the last one, possibly inside a quoted field that holds a
    newline), that record left out. Raises ValueError, leaving the file untouched, when its columns are not a
    sweep's."""
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        return [], None
    lines = data.splitlines(keepends=True)
    header = next(csv.reader([lines[0].decode("utf-8", "replace")]))
    if tuple(header) != COLUMNS:
        raise ValueError(f"{path} has columns {header[:6]}{'...' if len(header) > 6 else ''}, not a fastinit sweep's "
                         f"({', '.join(COLUMNS[:6])}, ...); choose another out or remove the file")
    reader = csv.reader((line.decode("utf-8") for line in lines[1:]), strict=True)
    records, ends = [], []   # each record, and the body line it ends on
    try:
        for record in reader:
            records.append(record)
            ends.append(reader.line_num)
        cut = not data.endswith(b"\n")   # the last record's line was cut
    except csv.Error:   # the file ends inside a quoted field: that record was cut after one of its newlines
        cut = True
    if cut and ends and ends[-1] == len(lines) - 1:
        records.pop()
        ends.pop()
    rows = []
    for i, record in enumerate(records):
        if len(record) != len(COLUMNS):
            raise ValueError(f"{path}: row {i + 1} has {len(record)} fields, not {len(COLUMNS)}; the file is not a "
                             "complete fastinit sweep")
        try:
            rows.append(_parse_row(dict(zip(COLUMNS, record))))
        except (TypeError, ValueError):
            raise ValueError(f"{path}: cannot read row {record!r}; the file is not a complete fastinit sweep") from None
    complete = sum(len(line) for line in lines[:1 + (ends[-1] if ends else 0)]) if cut else None
    return rows, complete


def read_latest(path):
    """The rows of a sweep CSV, the latest row of each configuration only, in the order they were first written."""
    rows, _ = read_rows(path)
    return list(latest(rows).values())


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


class Journal:
    """The CSV file of a sweep, open for appending, and locked: the file itself (its inode, so a symlink or a hard
    link to it is the same file) holds an OS lock while the sweep runs, so that a second sweep on it refuses to
    start (JournalBusy) instead of interleaving rows; no lock file is left behind. ``rows``: the rows it held when
    opened (resume), the latest of each configuration (``latest``: a failed row retried is replaced by its retry)."""

    def __init__(self, path, resume):
        self.path = path
        self.rows = []
        if os.path.isdir(path):
            raise IsADirectoryError(21, f"sweep cannot write its rows to {path!r}: it is a directory")
        try:
            # append mode: writes go to the end, and opening neither truncates the file nor changes its inode
            self._handle = open(path, "a", newline="", encoding="utf-8")
        except OSError as exc:
            raise OSError(exc.errno, f"sweep cannot write its rows to {path!r}: {exc.strerror}") from None
        try:
            _lock(self._handle)
        except OSError:
            self._handle.close()
            raise JournalBusy(f"another sweep is writing {path!r}; wait for it to finish, or choose another out") \
                from None
        try:
            self._open(path, resume)
        except BaseException:
            self._handle.close()
            raise

    def _open(self, path, resume):
        fd = self._handle.fileno()
        if resume and os.path.getsize(path) > 0:
            rows, complete = read_rows(path)
            if complete is not None:   # drop the record a killed run cut, in place (the locked inode stays)
                os.ftruncate(fd, complete)
                os.fsync(fd)
            self.rows = list(latest(rows).values())
            fresh = os.path.getsize(path) == 0
        else:
            os.ftruncate(fd, 0)
            fresh = True
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
        self._handle.close()   # (the lock goes with it)


def csv_path(out):
    """Where the rows of a sweep's ``out`` are journaled: ``out`` itself (a CSV), or ``<out>.rows.csv`` beside a
    ``.parquet`` out until the sweep ends."""
    out = os.fspath(out)
    return out + ".rows.csv" if out.endswith(".parquet") else out


def open_journal(out, resume):
    """(journal, parquet path or None) of a sweep's ``out``: a CSV path, or a ``.parquet`` path whose CSV journal
    is ``<out>.rows.csv`` (the Parquet file is written when the sweep ends)."""
    parquet = None
    out = os.fspath(out)
    if not out:
        raise ValueError("out must be a file path, got ''")
    if out.endswith(".parquet"):
        require("pandas", "out=*.parquet (or write a .csv)")
        require("pyarrow", "out=*.parquet (or write a .csv)")
        parquet = out
    return Journal(csv_path(out), resume), parquet
