"""The journal of a sweep or a monitor: its rows in a CSV file, appended and flushed as they finish, read back on
resume (a last line cut by a kill is dropped; for a sweep, the latest row of a configuration wins), and the Parquet
copy written at the end.

A ``Schema`` says what a file holds: its ``fields`` (name, type) in column order, and for a sweep the ``key``
that identifies a configuration. A sweep's row is a dict of ``FIELDS``: ``KEY`` then ``RESULT_FIELDS``; a
monitor's is its own schema's (``fastinit.experiment._monitor``). In memory a row holds Python values and, for
series, NumPy arrays; only this module encodes them for the file (a series is one CSV cell of space-separated
floats, written by repr: read back bit for bit) and decodes them. Adding a column is one line of a schema's fields
(and the code that computes it).
"""
import csv
import math
import os

import numpy as np

from .._optional import require

__all__ = ["FIELDS", "KEY", "RESULT_FIELDS", "COLUMNS", "Schema", "SWEEP", "Journal", "JournalBusy", "open_journal",
           "check_out", "csv_path", "read_rows", "read_latest", "row_key", "empty_result", "failed_row"]


class Schema:
    """The columns of a journal: ``fields``, (name, type) pairs in column order (type int, bool, str, float, or
    "series": a float array); ``what`` names the writer in messages ("sweep"); ``key``: the fields that identify a
    configuration (the latest row of a key wins on reading), or () when every row stands (a monitor's)."""

    def __init__(self, fields, what, key=()):
        self.fields, self.what, self.key = tuple(fields), what, tuple(key)
        self.columns = tuple(name for name, _ in self.fields)
        self.types = dict(self.fields)

    def decode(self, k, text):
        kind = self.types[k]
        if kind == "series":
            return np.array([float(v) for v in text.split()]) if text else np.zeros(0)
        if kind is bool:
            return text == "True"
        return kind(text)

    def encode(self, k, value):
        kind = self.types[k]
        if kind == "series":
            return " ".join(repr(float(v)) for v in value)
        return repr(value) if isinstance(value, float) else str(value)

    def parse(self, raw):
        return {k: self.decode(k, v) for k, v in raw.items()}

    def format(self, row):
        return [self.encode(k, row[k]) for k in self.columns]

    def latest(self, rows):
        """The rows to keep: the latest of each key (a failed configuration retried is replaced by its retry), in
        the order the keys were first written; every row without a key."""
        if not self.key:
            return list(rows)
        by_key = {}
        for r in rows:
            by_key[tuple(r[k] for k in self.key)] = r
        return list(by_key.values())


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
SWEEP = Schema(FIELDS, "sweep", KEY)
_TYPES = SWEEP.types
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


def read_rows(path, schema=SWEEP):
    """(rows, complete) of an existing journal CSV of ``schema``: complete is None when every record is whole, else
    the byte length of its whole records (a run killed mid-write cut the last one, possibly inside a quoted field
    that holds a newline), that record left out. Raises ValueError, leaving the file untouched, when its columns
    are not the schema's."""
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        return [], None
    lines = data.splitlines(keepends=True)
    header = next(csv.reader([lines[0].decode("utf-8", "replace")]))
    columns, what = schema.columns, schema.what
    if tuple(header) != columns:
        raise ValueError(f"{path} has columns {header[:6]}{'...' if len(header) > 6 else ''}, not a fastinit {what}'s "
                         f"({', '.join(columns[:6])}, ...); choose another out or remove the file")
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
        if len(record) != len(columns):
            raise ValueError(f"{path}: row {i + 1} has {len(record)} fields, not {len(columns)}; the file is not a "
                             f"complete fastinit {what}")
        try:
            rows.append(schema.parse(dict(zip(columns, record))))
        except (TypeError, ValueError):
            raise ValueError(f"{path}: cannot read row {record!r}; the file is not a complete fastinit {what}") \
                from None
    complete = sum(len(line) for line in lines[:1 + (ends[-1] if ends else 0)]) if cut else None
    return rows, complete


def read_latest(path, schema=SWEEP):
    """The rows of a journal CSV; for a sweep's, the latest row of each configuration only, in the order they were
    first written."""
    rows, _ = read_rows(path, schema)
    return schema.latest(rows)


class JournalBusy(RuntimeError):
    """Another sweep or monitor (another process, or another call in this one) is writing the same journal."""


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
    """The CSV file of a sweep or a monitor (``schema``), open for appending, and locked: the file itself (its
    inode, so a symlink or a hard link to it is the same file) holds an OS lock while it is written, so that a
    second writer on it refuses to start (JournalBusy) instead of interleaving rows; no lock file is left behind.
    ``rows``: the rows it held when opened (resume), for a sweep the latest of each configuration (a failed row
    retried is replaced by its retry)."""

    def __init__(self, path, resume, schema=SWEEP):
        self.path, self.schema = path, schema
        self.rows = []
        what = schema.what
        if os.path.isdir(path):
            raise IsADirectoryError(21, f"{what} cannot write its rows to {path!r}: it is a directory")
        try:
            # append mode: writes go to the end, and opening neither truncates the file nor changes its inode
            self._handle = open(path, "a", newline="", encoding="utf-8")
        except OSError as exc:
            raise OSError(exc.errno, f"{what} cannot write its rows to {path!r}: {exc.strerror}") from None
        try:
            _lock(self._handle)
        except OSError:
            self._handle.close()
            raise JournalBusy(f"another {what} is writing {path!r}; wait for it to finish, or choose another out") \
                from None
        try:
            self._open(path, resume)
        except BaseException:
            self._handle.close()
            raise

    def _open(self, path, resume):
        fd = self._handle.fileno()
        if resume and os.path.getsize(path) > 0:
            rows, complete = read_rows(path, self.schema)
            if complete is not None:   # drop the record a killed run cut, in place (the locked inode stays)
                os.ftruncate(fd, complete)
                os.fsync(fd)
            self.rows = self.schema.latest(rows)
            fresh = os.path.getsize(path) == 0
        else:
            os.ftruncate(fd, 0)
            fresh = True
        self._writer = csv.writer(self._handle)
        if fresh:
            self._writer.writerow(self.schema.columns)
            self._handle.flush()

    def append(self, rows):
        """Write rows and flush them to the file (a kill after this loses none of them)."""
        for row in rows:
            self._writer.writerow(self.schema.format(row))
        self._handle.flush()

    def rewrite(self, rows):
        """Replace the file's rows by ``rows`` (a monitor resumed from an earlier step drops the later ones), in
        place: the locked inode stays."""
        self._handle.flush()
        os.ftruncate(self._handle.fileno(), 0)
        self._handle.seek(0)
        self._writer.writerow(self.schema.columns)
        self.append(rows)
        self.rows = list(rows)

    def close(self):
        self._handle.close()   # (the lock goes with it)


def csv_path(out):
    """Where the rows of a sweep's or monitor's ``out`` are journaled: ``out`` itself (a CSV), or
    ``<out>.rows.csv`` beside a ``.parquet`` out until the run ends."""
    out = os.fspath(out)
    return out + ".rows.csv" if out.endswith(".parquet") else out


def check_out(out):
    """``out`` of a sweep, a monitor or a coordinate check as a path string: TypeError for anything but a str or
    an os.PathLike, ValueError for ''."""
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a file path (str or os.PathLike), got {type(out).__name__}")
    out = os.fspath(out)
    if not out:
        raise ValueError("out must be a file path, got ''")
    return out


def open_journal(out, resume, schema=SWEEP):
    """(journal, parquet path or None) of a sweep's or monitor's ``out``: a CSV path, or a ``.parquet`` path whose
    CSV journal is ``<out>.rows.csv`` (the Parquet file is written when the run ends)."""
    parquet = None
    out = check_out(out)
    if out.endswith(".parquet"):
        require("pandas", "out=*.parquet (or write a .csv)")
        require("pyarrow", "out=*.parquet (or write a .csv)")
        parquet = out
    return Journal(csv_path(out), resume, schema), parquet
