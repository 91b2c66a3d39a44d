"""Type stub of the compiled C-core wrapper (_core.pyx): the boundary as an IDE and a type checker see it.

Arguments are validated by the Python layer before they arrive here (fastinit.random._spec builds a FillSpec; the
entry points check shapes and names); these functions only check that each buffer is what the C code will read
or write. Statistics come back as the C struct ``fi_stats`` (a dict); ``fastinit.stats.Stats`` is the record
made of it.
"""
from typing import TypedDict

import numpy as np

from .fillspec import FillSpec

KIND_CODES: dict[str, int]          # FillSpec.kind -> fi_kind
DTYPE_CODES: dict[str, int]         # FillSpec.dtype / tensor_stats' dtype -> fi_dtype
DIST_FIELDS: tuple[str, ...]        # the members of fi_dist, i.e. the keys of FillSpec.params
SIMD_NAMES: tuple[str, ...]
PIECE: int                          # draws per GIL-released piece of a fill (a signal check between pieces)
MAX_BINS: int
ACT_CODES: dict[str, int]           # activation name -> the C kernel's code (csrc/layer.c fi_activation_names)
SAT_NONE: int
SAT_ABS: int
SAT_UNIT: int
SAT_ABS_LIMIT: float
SAT_UNIT_LIMIT: float
SAT_UNIT_CENTRE: float


class CoreStats(TypedDict):
    count: int
    zeros: int
    saturated: int
    nonfinite: int
    shift: float
    sum: float
    sumsq: float
    min: float
    max: float


Range = tuple[float, float]


# fills --------------------------------------------------------------------------------------------------------
def fill(spec: FillSpec, out: np.ndarray) -> None:
    """Fill the 1-D C-contiguous ``out`` (the spec's element type; uint16 bits for float16/bfloat16)."""


def philox4x32(counters: np.ndarray, keys: np.ndarray, out: np.ndarray, rounds: int) -> None: ...
def ndtri(p: np.ndarray, q: np.ndarray, out: np.ndarray, refine: bool) -> None: ...
def householder(a: np.ndarray, tau: np.ndarray, sign: np.ndarray) -> None: ...


# runtime ------------------------------------------------------------------------------------------------------
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def after_fork_child() -> None: ...
def fork_serial() -> bool: ...
def have_openmp() -> bool: ...
def simd_available() -> tuple[str, ...]: ...
def set_simd(name: str) -> str: ...
def get_simd() -> str: ...


# layer step and statistics ------------------------------------------------------------------------------------
def load_scipy_blas() -> None: ...
def hist_range(given: Range, count: int, mn: float, mx: float) -> Range: ...


def layer_forward(h_in: np.ndarray, w: np.ndarray, bias: np.ndarray | None, p: np.ndarray, h_out: np.ndarray,
                  batchnorm: bool, bn_eps: float, bn_invstd: np.ndarray | None, act: int, alpha: float,
                  saturation: int, bins: int, p_range: Range, h_range: Range, p_hist: np.ndarray | None,
                  h_hist: np.ndarray | None, stats: bool = True) -> tuple[CoreStats, CoreStats, Range, Range]: ...


def layer_backward(h_in: np.ndarray, w: np.ndarray, p: np.ndarray, h_out: np.ndarray, batchnorm: bool,
                   bn_invstd: np.ndarray | None, act: int, alpha: float, g: np.ndarray, g_in: np.ndarray | None,
                   g_w: np.ndarray, stats: bool = True) -> tuple[CoreStats, CoreStats, float]: ...


def activation(act: int, alpha: float, x: np.ndarray, y: np.ndarray) -> None: ...


def sgd_step(w: np.ndarray, g: np.ndarray, v: np.ndarray | None, lr: float, momentum: float,
             weight_decay: float) -> None: ...


def tensor_stats(x: np.ndarray, dtype: str, saturation: int, bins: int, hist_range: Range,
                 hist: np.ndarray | None) -> tuple[CoreStats, Range]: ...

