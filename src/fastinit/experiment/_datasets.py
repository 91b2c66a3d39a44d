"""The data ``fastinit.train`` learns from: a user's arrays, or scikit-learn's load_digits (1,797 8 x 8 images of
handwritten digits, shipped inside scikit-learn: no download) with a fixed train / held-out split; the inputs
normalized by a method of ``fastinit.normalize`` fitted on the training rows. Every check of ``data=`` lives here
and runs before any training starts.
"""
import dataclasses

import numpy as np

from .._optional import require
from ..random import _spec
from ..random._generator import Generator
from . import _simulation as _sim

__all__ = ["Data", "load_data", "LOSSES", "DIGITS_TEST_ROWS"]

LOSSES = ("cross_entropy", "mse")
DIGITS_TEST_ROWS = 540     # of load_digits' 1,797: a 70 / 30 split


@dataclasses.dataclass
class Data:
    """Training rows (X, y), held-out rows (X_test, y_test; may be empty) and the number of outputs."""

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    outputs: int
    name: str


def _digits():
    sklearn_datasets = require("sklearn.datasets", "data='digits' (shipped with scikit-learn, no download)")
    X, y = sklearn_datasets.load_digits(return_X_y=True)
    # the fixed split: a permutation from fastinit's own stream, the same on every machine and library version
    order = np.argsort(Generator(0).random_raw(len(y)), kind="stable")
    test, train = order[:DIGITS_TEST_ROWS], order[DIGITS_TEST_ROWS:]
    return X[train], y[train], X[test], y[test]


def _features(X, name):
    X = np.asarray(X)
    if X.ndim != 2 or X.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a 2-D real array (rows, features), got dtype {X.dtype}, shape {X.shape}")
    if X.shape[0] and not np.all(np.isfinite(X)):
        raise ValueError(f"{name} has non-finite values")
    if X.shape[1] == 0:
        raise ValueError(f"{name} has no features (shape {X.shape}): a network needs at least one input")
    return X


def _targets(y, rows, loss, name):
    y = np.asarray(y)
    if y.shape[:1] != (rows,):
        raise ValueError(f"{name} must have one entry per row of X ({rows}), got shape {y.shape}")
    if loss == "cross_entropy":
        if y.ndim != 1 or y.dtype.kind not in "iu":
            raise TypeError(f"{name} must be a 1-D array of integer class labels for loss='cross_entropy', "
                            f"got dtype {y.dtype}, shape {y.shape}")
        if y.size and y.min() < 0:
            raise ValueError(f"{name} has negative labels (min {y.min()}); labels are 0 .. classes - 1")
        if y.size and int(y.max()) > _MAX_LABEL:   # (before the cast: uint64 labels >= 2**63 would wrap negative)
            raise ValueError(f"{name} has a label of {int(y.max())}: labels are 0 .. classes - 1, each class a unit "
                             f"of the readout (relabel with np.unique({name}, return_inverse=True))")
        return y.astype(np.int64)
    if y.dtype.kind not in "fiu" or y.ndim not in (1, 2):
        raise TypeError(f"{name} must be a 1-D or 2-D real array for loss='mse', got dtype {y.dtype}")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name} has non-finite values")
    return y.reshape(rows, -1).astype(np.float64)


# The largest label taken at all, and how far the classes (largest label + 1, the readout's units) may outnumber the
# labels present: a stray label of 10**7 made a 10**7-way softmax and the process was killed for memory.
_MAX_LABEL = 2 ** 31 - 1
_SPARE_CLASSES = 10


def _check_classes(y, y_test, outputs):
    present = np.union1d(y, y_test).size
    if outputs > _SPARE_CLASSES * present + 100:
        name = "y" if y.max() + 1 == outputs else "y_test"
        raise ValueError(f"{name} has a label of {outputs - 1}: {outputs} classes (readout units) for {present} "
                         f"distinct labels; labels are 0 .. classes - 1 (relabel with np.unique(y, "
                         "return_inverse=True))")


def load_data(data="digits", normalize="standardize", loss="cross_entropy", dtype="float32"):
    """The training and held-out rows of ``data``: ``"digits"`` (scikit-learn's load_digits, 1,797 8 x 8 images,
    a fixed 1,257 / 540 split), ``(X, y)`` or ``(X, y, X_test, y_test)``. ``normalize`` (None, or a method of
    ``fastinit.normalize``: max, minmax, center, standardize) is fitted on the training rows and applied to both."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; valid losses: {', '.join(LOSSES)}")
    if normalize is not None and normalize not in _sim.NORMALIZE_METHODS:
        raise ValueError(f"unknown normalize {normalize!r}; valid: None, {', '.join(_sim.NORMALIZE_METHODS)}")
    dt = _spec.float_dtype(dtype)
    if isinstance(data, str):
        if data != "digits":
            raise ValueError(f"unknown data {data!r}; valid: 'digits', or arrays (X, y) / (X, y, X_test, y_test)")
        X, y, X_test, y_test = _digits()
        name = "digits"
    elif isinstance(data, (tuple, list)) and len(data) in (2, 4):
        X, y = data[0], data[1]
        X_test, y_test = (data[2], data[3]) if len(data) == 4 else (np.zeros((0,) + np.shape(X)[1:]), np.zeros(0))
        name = "arrays"
    else:
        raise TypeError("data must be 'digits', (X, y) or (X, y, X_test, y_test)")
    X = _features(X, "X")
    X_test = _features(X_test, "X_test")
    if X.shape[0] < 1:
        raise ValueError("X must have at least one row")
    if X_test.shape[1] != X.shape[1]:
        raise ValueError(f"X_test has {X_test.shape[1]} features, X has {X.shape[1]}")
    y = _targets(y, X.shape[0], loss, "y")
    y_test = _targets(y_test, X_test.shape[0], loss, "y_test") if len(X_test) else (
        np.zeros(0, np.int64) if loss == "cross_entropy" else np.zeros((0, y.shape[1])))
    if loss == "cross_entropy":
        outputs = int(max(y.max(), y_test.max(initial=0))) + 1
        _check_classes(y, y_test, outputs)
    else:
        outputs = y.shape[1]
        if len(X_test) and y_test.shape[1] != outputs:
            raise ValueError(f"y_test has {y_test.shape[1]} outputs per row, y has {outputs}")
    if normalize is not None:
        shift, scale = _sim.normalization(X, normalize)
        X, X_test = _sim.normalized(X, shift, scale), _sim.normalized(X_test, shift, scale)
    X, X_test = np.ascontiguousarray(X, dt), np.ascontiguousarray(X_test, dt)
    if dt == np.float32 and not (np.all(np.isfinite(X)) and np.all(np.isfinite(X_test))):
        raise ValueError("X has values beyond the float32 range; pass dtype='float64' or normalize")
    return Data(X, y, X_test, y_test, outputs, name)
