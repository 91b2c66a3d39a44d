"""Counter-based generator: Philox4x32-10 streams and the uniform / normal / truncated-normal fills.

Stream format (see README, "Stream format"): a seed s in [0, 2**64) is the Philox key (s & 0xffffffff, s >> 32);
every fill call of a Generator takes the next stream id t = 0, 1, 2, ...; the words of stream t are the outputs
of blocks b = 0, 1, 2, ... at counter (b & 0xffffffff, b >> 32, t & 0xffffffff, t >> 32); element i of a fill
reads only the words fixed by i. Two calls never share words, and a fill is identical for every thread count.
"""
import math
import secrets
import threading

import numpy as np

from .. import _core, _validate as V
from . import _backends, _spec as F

__all__ = ["Generator", "philox4x32", "uniform", "normal", "truncated_normal", "manual_seed",
           "default_generator"]


def _prepare(size, dtype, out):
    """Validate size/dtype/out and return (shape, output dtype name, scalar_requested)."""
    fmt = F.narrow_format(dtype)
    if out is not None and not isinstance(out, np.ndarray) and hasattr(out, "is_cuda") and _backends.serves(out):
        element = F.TORCH_ELEMENT.get(str(out.dtype))
        wanted = element if dtype is None else fmt or F.float_dtype(dtype, narrow=True).name
        if element is None or wanted != element:
            raise TypeError(f"out must be a float32, float64, float16 or bfloat16 tensor matching dtype={dtype}, "
                            f"got {out.dtype}")
        if size is not None and V.shape(size) != tuple(out.shape):
            raise ValueError(f"size={size} does not match out's shape {tuple(out.shape)}")
        return tuple(out.shape), element, False
    if out is not None:
        if isinstance(out, np.ndarray) and out.dtype == np.float16 and fmt in (None, "float16"):
            fmt = "float16"
            F.out_array(out.view(np.uint16), size, None, storage=True)
        elif fmt == "bfloat16":
            if not isinstance(out, np.ndarray) or out.dtype != np.uint16:
                raise TypeError("out must be a numpy.ndarray of uint16 (the bit patterns) for dtype='bfloat16', "
                                f"got {getattr(out, 'dtype', type(out).__name__)}")
            F.out_array(out, size, None, storage=True)
        else:
            F.out_array(out, size, dtype)
            return out.shape, F.element_of_storage(out.dtype), False
        return out.shape, fmt, False
    name = fmt if fmt is not None else F.float_dtype(np.float32 if dtype is None else dtype, narrow=True).name
    if size is None:
        return (1,), name, True
    return V.shape(size), name, False


def _checked_rows(row_offsets, total, dtype):
    """row_offsets as a uint64 array whose rows divide the output's ``total`` elements and stay in the stream."""
    given = np.asarray(row_offsets)
    if given.dtype.kind not in "iuO" or (given.dtype.kind == "O" and not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in given.reshape(-1))):
        raise TypeError(f"row_offsets must be integers (a uint64 array), got dtype {given.dtype}")
    if given.size and not (0 <= int(given.min()) and int(given.max()) < 1 << 64):
        # (a row's first draw is a uint64 in the C core: draws past 2**64 of a stream are reached with offset=)
        raise ValueError(f"row_offsets must be in [0, 2**64), got values in [{int(given.min())}, {int(given.max())}]"
                         "; offset= reaches draws up to the end of the stream")
    rows = np.ascontiguousarray(given, dtype=np.uint64).reshape(-1)
    if rows.size and total % rows.size:
        raise ValueError(f"row_offsets: {rows.size} rows do not divide out's {total} elements")
    if rows.size:
        F.check_range(int(rows.max()), total // rows.size, dtype)
    return rows


class Generator:
    """A Philox4x32-10 generator: a 64-bit seed (the key) and a counter of streams.

    Each fill call (``uniform``, ``normal``, ``truncated_normal``, ``random_raw`` without ``stream``) uses the
    next stream id, under a lock, so that calls from many threads never overlap and one call's output is
    fixed by (seed, stream id) alone.

    Args:
        seed: an int in [0, 2**64); None draws one from the operating system's entropy.
    """

    def __init__(self, seed=None):
        self._seed = secrets.randbits(64) if seed is None else V.uint64(seed, "seed")
        self._next_stream = 0
        self._lock = threading.Lock()

    @property
    def seed(self):
        """The 64-bit seed: the Philox key is (seed & 0xffffffff, seed >> 32)."""
        return self._seed

    @property
    def next_stream(self):
        """The stream id the next fill call will use."""
        return self._next_stream

    def __repr__(self):
        return f"fastinit.Generator(seed={self._seed}, next_stream={self._next_stream})"

    def __getstate__(self):
        # a pickle (or deep copy) is the seed and the position: the copy continues with the same streams
        return {"seed": self._seed, "next_stream": self._next_stream}

    def __setstate__(self, state):
        self._seed = V.uint64(state["seed"], "seed")
        self._next_stream = V.uint64(state["next_stream"], "next_stream")
        self._lock = threading.Lock()

    def take_streams(self, n=1):
        """Reserve the next n stream ids (thread-safely) and return the first: fills given ``stream=first + i``
        then draw what n fill calls in a row would have drawn, in any order."""
        return self._take_streams(V.integer(n, "n"))

    def _take_streams(self, n=1):
        with self._lock:
            first = self._next_stream
            if first + n > V.UINT64_LIMIT:
                raise OverflowError("this Generator has used all 2**64 streams")
            self._next_stream = first + n
        return first

    def fill(self, draw, dtype, out, *, stream=None, offset=0, row_offsets=None):
        """The fill behind ``uniform``, ``normal``, ``truncated_normal`` and ``random_raw``: ``out`` (an ndarray of
        the storage of ``dtype``, ``fastinit.random._spec.storage_dtype``: float16 arrays, uint16 bit patterns for
        bfloat16; any shape and strides) receives ``draw`` = (kind, params), a distribution made by the builders of
        ``fastinit.random._spec``, from ``stream`` (None: this generator's next) at ``offset`` or, with ``row_offsets``,
        row by row. The position is checked here; the distribution was checked by its builder. A call that fails
        consumes no stream. Returns out."""
        kind, params = draw
        stream, offset, row_offsets = F.position(stream, offset, row_offsets)
        if not isinstance(out, np.ndarray):
            return self._fill_device(kind, params, dtype, out, stream, offset, row_offsets)
        if row_offsets is not None:
            return self._fill_rows(kind, params, dtype, out, stream, row_offsets)
        if offset:
            F.check_range(offset, out.size, dtype)
        if stream is None:
            stream = self._take_streams()
        spec = F.FillSpec(kind, dtype, self._seed, stream, params, offset)
        flags = out.flags
        if flags.c_contiguous and flags.aligned:
            _backends.fill(spec, out.view(np.ndarray))   # (np.matrix and other subclasses: a plain view)
        else:
            # Element i of the stream goes to the i-th element of out in C order, whatever out's strides: through
            # a copy of out, which goes back also when Ctrl-C stops the fill (the pieces drawn, the rest as it was)
            flat = out.flatten()
            try:
                _backends.fill(spec, flat)
            finally:
                out[...] = flat.reshape(out.shape)
        return out

    def _fill_device(self, kind, params, dtype, out, stream, offset, row_offsets):
        """``fill`` into a torch tensor the device kernels serve (``fastinit.random._backends.serves``), in place."""
        if not _backends.serves(out):
            raise TypeError(f"out must be a numpy.ndarray or a CUDA tensor, got {type(out).__name__} on {out.device}")
        if not out.is_contiguous():
            raise ValueError("out must be contiguous")
        rows = None
        if row_offsets is not None:
            rows = _checked_rows(row_offsets, out.numel(), dtype)
        elif offset:
            F.check_range(offset, out.numel(), dtype)
        if stream is None:
            stream = self._take_streams()
        _backends.fill(F.FillSpec(kind, dtype, self._seed, stream, params, offset, rows), out)
        return out

    def _fill_rows(self, kind, params, dtype, out, stream, row_offsets):
        """out (C-contiguous) as len(row_offsets) rows, row r = draws row_offsets[r] .. of the stream."""
        if not out.flags.c_contiguous:
            raise ValueError("row_offsets needs a C-contiguous out")
        rows = _checked_rows(row_offsets, out.size, dtype)
        if stream is None:
            stream = self._take_streams()
        _backends.fill(F.FillSpec(kind, dtype, self._seed, stream, params, 0, rows), out.view(np.ndarray))
        return out

    def _draw(self, draw, shape, dtype, out, scalar, stream, offset, row_offsets):
        """``fill`` into out, or into a new array of shape (allocated before the stream is taken)."""
        if out is None:
            if row_offsets is not None:
                raise ValueError("row_offsets needs a C-contiguous out")
            try:
                out = np.empty(shape, dtype=F.storage_dtype(dtype))
            except MemoryError:   # (NumPy's message names a shape, not the argument that asked for it)
                raise MemoryError(f"size={shape}: {math.prod(shape)} {dtype} values do not fit in memory") from None
        self.fill(draw, dtype, out, stream=stream, offset=offset, row_offsets=row_offsets)
        return out[0] if scalar else out

    def random_raw(self, size, stream=None, *, offset=0):
        """Words of one stream as uint32: w[4b + j] = word j of Philox block b; element i is word offset + i.

        Args:
            size: number of words (int or shape tuple).
            stream: the stream id in [0, 2**64); None takes the next stream of this generator.
            offset: the first word (default 0).
        """
        shape = V.shape(size)
        return self._draw(("raw", F.PARAMS), shape, "uint32", None, False, stream, offset, None)

    def uniform(self, size=None, low=0.0, high=1.0, dtype=None, out=None, *, stream=None, offset=0, row_offsets=None):
        r"""Uniform draws on [low, high).

        float32: :math:`u_i = (w_i \gg 8)\,2^{-24}`;
        float64: :math:`u_i = ((w_{2i+1} 2^{32} + w_{2i}) \gg 11)\,2^{-53}`;
        value :math:`= \mathrm{low} + (\mathrm{high} - \mathrm{low})\,u_i`, computed in the output dtype and kept
        below high (low is first rounded up to the dtype, so every value lies in [low, high)).

        Args:
            size: int or tuple; None returns one scalar.
            low, high: finite bounds, low < high.
            dtype: float32 (default), float64, float16 or bfloat16 (the float32 draws rounded to nearest even,
                kept inside the bounds; bfloat16 comes back as its uint16 bit patterns, NumPy having no bfloat16);
                taken from ``out`` when given.
            out: a writable array filled in place (any shape and strides): float32, float64, float16, or uint16
                bit patterns with dtype="bfloat16"; or a torch tensor the device kernels serve (CUDA).
            stream: the stream id in [0, 2**64); None (default) takes the next stream of this generator.
            offset: the stream's first draw to use: element i (in C order) is draw offset + i. Pieces of a large
                tensor (shards) filled with the same stream at their offsets hold exactly the numbers one fill of
                the whole tensor would give them.
            row_offsets: instead of offset, the first draw of each row of ``out`` (C-contiguous, its elements cut
                in len(row_offsets) equal rows): a shard made of row pieces, such as a column shard. Each is a
                uint64 (a row starts below draw 2**64; offset= reaches to the stream's end, 2**66 draws).
        """
        shape, dt, scalar = _prepare(size, dtype, out)
        return self._draw(F.uniform(low, high, dt), shape, dt, out, scalar, stream, offset, row_offsets)

    def normal(self, size=None, mean=0.0, std=1.0, dtype=None, out=None, *, stream=None, offset=0, row_offsets=None):
        r"""Normal draws N(mean, std^2) by the Box-Muller transform (Box & Muller 1958).

        For pair k, with :math:`u_1, u_2 \in (0, 1)` from words (2k, 2k+1) (float32) or from the float64 uniforms
        of words (4k..4k+3): :math:`r = \sqrt{-2 \ln u_1}`, :math:`z_{2k} = r \cos 2\pi u_2`,
        :math:`z_{2k+1} = r \sin 2\pi u_2`; value = mean + std z. float32 draws reach |z| = 6.77
        (:math:`u_1 \geq 2^{-33}`), float64 draws |z| = 8.7.

        Args:
            size: int or tuple; None returns one scalar.
            mean: finite; std: finite, >= 0.
            dtype: float32 (default), float64, float16 or bfloat16 (the float32 draws rounded to nearest even,
                kept inside the bounds; bfloat16 comes back as its uint16 bit patterns, NumPy having no bfloat16);
                taken from ``out`` when given.
            out: a writable array filled in place (any shape and strides): float32, float64, float16, or uint16
                bit patterns with dtype="bfloat16"; or a torch tensor the device kernels serve (CUDA).
            stream: the stream id in [0, 2**64); None (default) takes the next stream of this generator.
            offset: the stream's first draw to use: element i (in C order) is draw offset + i. Pieces of a large
                tensor (shards) filled with the same stream at their offsets hold exactly the numbers one fill of
                the whole tensor would give them.
            row_offsets: instead of offset, the first draw of each row of ``out`` (C-contiguous, its elements cut
                in len(row_offsets) equal rows): a shard made of row pieces, such as a column shard. Each is a
                uint64 (a row starts below draw 2**64; offset= reaches to the stream's end, 2**66 draws).
        """
        shape, dt, scalar = _prepare(size, dtype, out)
        return self._draw(F.normal(mean, std, dt), shape, dt, out, scalar, stream, offset, row_offsets)

    def truncated_normal(self, size=None, mean=0.0, std=1.0, low=None, high=None, dtype=None, out=None, *,
                         stream=None, offset=0, row_offsets=None):
        r"""Normal N(mean, std^2) truncated to [low, high], by inversion of the CDF.

        With :math:`\alpha = (\mathrm{low} - \mathrm{mean})/\mathrm{std}`, :math:`\beta = (\mathrm{high} -
        \mathrm{mean})/\mathrm{std}` and the midpoint uniform :math:`u = (k + 1/2)\,2^{-24}` (float32,
        :math:`k = w_i \gg 8`) or :math:`(k + 1/2)\,2^{-53}` (float64):
        :math:`z = \Phi^{-1}(\Phi(\alpha) + u\,(\Phi(\beta) - \Phi(\alpha)))`, value = mean + std z, clamped to
        [low, high]. The CDF arithmetic is done in the tail that keeps it accurate (both :math:`p` and
        :math:`1 - p` are formed as sums of non-negative terms), so far one-sided bounds such as [3, 8] std work.

        Args:
            size: int or tuple; None returns one scalar.
            mean: finite; std: finite, >= 0.
            low, high: bounds (may be infinite); default mean - 2 std and mean + 2 std, as
                ``torch.nn.init.trunc_normal_`` and Keras's ``TruncatedNormal``.
            dtype: float32 (default), float64, float16 or bfloat16 (the float32 draws rounded to nearest even,
                kept inside the bounds; bfloat16 comes back as its uint16 bit patterns, NumPy having no bfloat16);
                taken from ``out`` when given.
            out: a writable array filled in place (any shape and strides): float32, float64, float16, or uint16
                bit patterns with dtype="bfloat16"; or a torch tensor the device kernels serve (CUDA).
            stream: the stream id in [0, 2**64); None (default) takes the next stream of this generator.
            offset: the stream's first draw to use: element i (in C order) is draw offset + i. Pieces of a large
                tensor (shards) filled with the same stream at their offsets hold exactly the numbers one fill of
                the whole tensor would give them.
            row_offsets: instead of offset, the first draw of each row of ``out`` (C-contiguous, its elements cut
                in len(row_offsets) equal rows): a shard made of row pieces, such as a column shard. Each is a
                uint64 (a row starts below draw 2**64; offset= reaches to the stream's end, 2**66 draws).
        """
        shape, dt, scalar = _prepare(size, dtype, out)
        return self._draw(F.truncated_normal(mean, std, low, high, dt), shape, dt, out, scalar, stream, offset,
                          row_offsets)

    def spawn(self, n):
        """n independent child generators.

        Child i's seed is words 0 and 1 of the Philox block at counter (0xffffffff, 0xffffffff, t lo, t hi) under
        this generator's key, where t is the i-th of n stream ids taken from this generator (the last block of
        stream t, which no fill of a realistic size reaches): seed = w0 | w1 << 32.
        """
        n = V.integer(n, "n")
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        counters = np.empty((n, 4), dtype=np.uint32)   # (before the streams are taken: a MemoryError takes none)
        first = self._take_streams(n)
        streams = np.arange(first, first + n, dtype=np.uint64)
        counters[:, 0] = counters[:, 1] = 0xFFFFFFFF
        counters[:, 2] = streams & np.uint64(0xFFFFFFFF)
        counters[:, 3] = streams >> np.uint64(32)
        words = philox4x32(counters, _key_words(self._seed))
        return [Generator(int(w[0]) | (int(w[1]) << 32)) for w in words]


def _key_words(seed):
    return np.array([seed & 0xFFFFFFFF, seed >> 32], dtype=np.uint32)


def _uint32_words(a, name, last):
    arr = np.asarray(a)
    if arr.dtype.kind not in "ui":
        raise TypeError(f"{name} must be an array of unsigned 32-bit integers, got dtype {arr.dtype}")
    if arr.ndim == 0 or arr.shape[-1] != last:
        raise ValueError(f"{name} must have shape (..., {last}), got {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() > 0xFFFFFFFF):
        raise ValueError(f"{name} words must be in [0, 2**32)")
    return arr.astype(np.uint32, copy=False)


def philox4x32(counter, key, rounds=10):
    """The Philox4x32 block function (Salmon et al., SC 2011), broadcast over leading dimensions.

    One round: (hi0, lo0) = 0xD2511F53 x0, (hi1, lo1) = 0xCD9E8D57 x2 (32x32 -> 64-bit products);
    x = (hi1 ^ x1 ^ k0, lo1, hi0 ^ x3 ^ k1, lo0); the key is bumped by (0x9E3779B9, 0xBB67AE85) between rounds.

    Args:
        counter: uint32 array of shape (..., 4).
        key: uint32 array of shape (..., 2).
        rounds: number of rounds (10 is Philox4x32-10, the generator's).
    Returns:
        uint32 array of shape broadcast(...) + (4,).
    """
    c = _uint32_words(counter, "counter", 4)
    k = _uint32_words(key, "key", 2)
    rounds = V.integer(rounds, "rounds")
    if not 0 <= rounds <= 1 << 20:
        raise ValueError(f"rounds must be in [0, 2**20], got {rounds}")
    lead = np.broadcast_shapes(c.shape[:-1], k.shape[:-1])
    cb = np.ascontiguousarray(np.broadcast_to(c, lead + (4,))).reshape(-1, 4)
    kb = np.ascontiguousarray(np.broadcast_to(k, lead + (2,))).reshape(-1, 2)
    out = np.empty_like(cb)
    _core.philox4x32(cb, kb, out, rounds)
    return out.reshape(lead + (4,))


# ---------------------------------------------------------------- the module-level API

_default = Generator()
_default_lock = threading.Lock()


def default_generator():
    """The generator behind the module-level functions (reseed it with ``manual_seed``)."""
    return _default


_contexts = threading.local()   # .stack: zero-argument callables giving a context's generator, innermost last


def current_generator():
    """What ``fastinit.init``'s functions draw from without ``generator=``: the generator of this thread's innermost
    ``fast_init()`` context, else the default generator."""
    stack = getattr(_contexts, "stack", None)
    return stack[-1]() if stack else _default


def push_context(generator_of):
    """Make ``generator_of()`` this thread's current generator until ``pop_context``; ``fast_init()`` uses it so
    that fastinit's own initializers inside the context draw from the context's generator."""
    stack = getattr(_contexts, "stack", None)
    if stack is None:
        stack = _contexts.stack = []
    stack.append(generator_of)


def pop_context(generator_of):
    _contexts.stack.remove(generator_of)


def manual_seed(seed):
    """Reseed the default generator: the module-level draws that follow are reproducible. Returns it."""
    global _default
    gen = Generator(V.uint64(seed, "seed"))
    with _default_lock:
        _default = gen
    return gen


def _generator_for(seed):
    return _default if seed is None else Generator(seed)


def uniform(size=None, low=0.0, high=1.0, dtype=None, out=None, seed=None):
    """``Generator.uniform`` on the default generator, or on ``Generator(seed)`` when seed is given."""
    return _generator_for(seed).uniform(size, low, high, dtype, out)


def normal(size=None, mean=0.0, std=1.0, dtype=None, out=None, seed=None):
    """``Generator.normal`` on the default generator, or on ``Generator(seed)`` when seed is given."""
    return _generator_for(seed).normal(size, mean, std, dtype, out)


def truncated_normal(size=None, mean=0.0, std=1.0, low=None, high=None, dtype=None, out=None, seed=None):
    """``Generator.truncated_normal`` on the default generator, or on ``Generator(seed)`` when seed is given."""
    return _generator_for(seed).truncated_normal(size, mean, std, low, high, dtype, out)
