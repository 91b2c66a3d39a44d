"""Drop-in replacements for ``torch.nn.init``: the same names, arguments, fans and gains, filled by fastinit's C core.

Every function fills its argument in place and returns it. The argument may be a NumPy array (float16, float32,
float64) or a PyTorch tensor (torch is imported lazily and optional): CPU float32/float64 tensors are filled
through their NumPy view without a copy (also non-contiguous ones such as ``w.T``); float16/bfloat16 and CUDA
tensors through a float32 host buffer copied back. ``generator`` is a :class:`fastinit.Generator` (default: the
module-level generator, see :func:`fastinit.manual_seed`).

Fans follow torch's convention for a weight of shape (out, in, *kernel): fan_in = in * prod(kernel),
fan_out = out * prod(kernel).
"""
import functools
import math
import sys
import warnings

import numpy as np

from . import _core
from . import _validate as V
from . import schemes as _schemes
from .generator import Generator, default_generator

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_",
           "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "lecun_uniform_",
           "lecun_normal_", "orthogonal_", "orthogonal_matrix", "sparse_", "init_module", "SCHEMES", "get_scheme"]

_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
NONLINEARITIES = _LINEAR_FNS + ("sigmoid", "tanh", "relu", "leaky_relu", "selu")


def calculate_gain(nonlinearity, param=None):
    r"""The recommended gain for a nonlinearity (the table of ``torch.nn.init.calculate_gain``).

    ================= ====================================================
    nonlinearity      gain
    ================= ====================================================
    Linear / Identity :math:`1`
    Conv{1,2,3}D      :math:`1`
    Sigmoid           :math:`1`
    Tanh              :math:`\frac{5}{3}`
    ReLU              :math:`\sqrt{2}`
    Leaky Relu        :math:`\sqrt{\frac{2}{1 + \text{negative\_slope}^2}}` (default slope 0.01)
    SELU              :math:`\frac{3}{4}`
    ================= ====================================================

    Args:
        nonlinearity: one of linear, conv1d/2d/3d, conv_transpose1d/2d/3d, sigmoid, tanh, relu, leaky_relu, selu.
        param: the negative slope of leaky_relu.
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        else:
            slope = V.real(param, "param")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}; valid names: {', '.join(NONLINEARITIES)}")


# ------------------------------------------------------------------------------------------ targets

def _is_torch(x):
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


class _NoStorage(Exception):
    """Raised by _Target for a tensor without storage (meta): the public functions then return it untouched."""


def _meta_noop(fn):
    """torch's rule for tensors on the meta device: an initializer checks its arguments and does nothing."""
    @functools.wraps(fn)
    def wrapper(tensor, *args, **kwargs):
        try:
            return fn(tensor, *args, **kwargs)
        except _NoStorage:
            return tensor
    return wrapper


class _Target:
    """A writable NumPy array standing for the user's array or tensor, and how to write it back.

    ``array`` is the tensor's own memory where the C core can write it (float32/float64, and float16 / bfloat16
    when ``direct16``: a fill that rounds its float32 draws in C; ``dtype`` is then what to pass to the
    generator), else a float32 buffer copied back by ``finish``. torch's rules for in-place writes hold: a
    tensor torch would refuse to write (an inference tensor outside inference mode, one whose elements overlap in
    memory) raises torch's error, and the write moves the tensor's version counter, so autograd sees it."""

    def __init__(self, tensor, direct16=False):
        self.tensor = tensor
        self.copy_back = False
        self.torch_view = False
        self.dtype = None
        self.where = {}   # for a DTensor: where its local shard lies in the stream of the whole (offset=, row_offsets=)
        self.write = tensor   # the torch tensor written (a DTensor's local shard)
        self._whole = None
        self._block = None
        if V.is_dtensor(tensor):
            local, self.where, self._block = _shard(tensor)
            self.write = local
            self._init_torch(local, direct16)
            self.global_shape = tuple(tensor.shape)
            return
        if isinstance(tensor, np.ndarray):
            if tensor.dtype.kind != "f":
                raise TypeError(f"tensor must have a floating dtype (float16/32/64), got {tensor.dtype}")
            if not tensor.flags.writeable:
                raise ValueError("tensor is read-only; pass a writable array")
            V.overlapping(tensor, "tensor")
            self.shape = tensor.shape
            if tensor.dtype in V.FLOAT_DTYPES or (direct16 and tensor.dtype == np.float16):
                self.array = tensor
            else:
                self.array = np.empty(tensor.shape, np.float32)
                self.copy_back = True
        elif _is_torch(tensor):
            self._init_torch(tensor, direct16)
        else:
            raise TypeError(f"tensor must be a numpy.ndarray or a torch.Tensor, got {type(tensor).__name__}")

    def _init_torch(self, tensor, direct16):
        torch = sys.modules["torch"]  # imported: tensor is one of its tensors (an import statement costs more)
        if not tensor.is_floating_point():
            raise TypeError(f"tensor must have a floating dtype, got {tensor.dtype}")
        if tensor.is_meta:
            raise _NoStorage()
        self.shape = tuple(tensor.shape)
        if tensor.is_cpu and tensor.dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16) and (
                direct16 or tensor.dtype in (torch.float32, torch.float64)):
            _check_writable(torch, tensor)
            # A view of the same memory, no copy (detach only when autograd tracks the tensor).
            plain = tensor.detach() if tensor.requires_grad else tensor
            if tensor.dtype == torch.bfloat16:
                self.array = plain.view(torch.int16).numpy().view(np.uint16)
                self.dtype = "bfloat16"
            else:
                self.array = plain.numpy()
            self.torch_view = True
        else:
            self.array = np.empty(self.shape, np.float32)
            self.copy_back = True

    def whole(self):
        """An array of the whole tensor's shape to compute into, for the initializers whose values are not a
        stream of draws (eye_, dirac_, orthogonal_, sparse_): the target itself, or for a DTensor a temporary of
        the whole shape on every rank, whose local block finish() copies into the shard (O(whole) memory)."""
        if self._block is None:
            return self.array
        self._whole = np.zeros(self.global_shape, np.float64 if self.array.dtype == np.float64 else np.float32)
        return self._whole

    def finish(self):
        if self._whole is not None:
            torch = sys.modules["torch"]
            with torch.no_grad():
                self.write.copy_(torch.from_numpy(np.ascontiguousarray(self._whole[self._block])))
            return self.tensor
        if self.copy_back:
            if isinstance(self.tensor, np.ndarray):
                self.tensor[...] = self.array
            else:
                torch = sys.modules["torch"]
                with torch.no_grad():
                    self.write.copy_(torch.from_numpy(self.array))
        elif self.torch_view:
            # written behind autograd's back: tell it, as torch's own in-place ops do
            sys.modules["torch"].autograd.graph.increment_version(self.write)
        return self.tensor


def _shard(tensor):
    """(local tensor, where) of a DTensor: its local shard, and where that shard's elements lie in the stream of
    the whole tensor (element i of the whole, in C order, is draw i): {"offset": o} when the shard is one
    contiguous piece of the whole (Shard(0), Replicate), else {"row_offsets": first draw of each row piece} (a
    shard along a later dimension: one piece per combination of the earlier indices). ValueError naming the
    placement when it is not Shard or Replicate (a Partial tensor is a sum over ranks: no values to draw)."""
    torch = sys.modules["torch"]
    from torch.distributed.tensor import Partial, Replicate, Shard
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    for p in tensor.placements:
        strided = type(p).__name__ == "_StridedShard"   # (a shard, though is_shard() says no)
        if isinstance(p, Partial) or not (strided or p.is_shard() or p.is_replicate()):
            raise ValueError(f"tensor: fastinit fills DTensors placed as Shard or Replicate, not {p} (a Partial "
                             "tensor is a sum over ranks; redistribute it first); nothing was written")
    if not all(type(p) in (Shard, Replicate) for p in tensor.placements):
        return _shard_by_indices(tensor)   # strided shards (FSDP2 over a tensor-parallel mesh)
    shape = tuple(tensor.shape)
    local_shape, offsets = compute_local_shape_and_global_offset(shape, tensor.device_mesh, tensor.placements)
    with torch.no_grad():
        local = tensor.to_local()
    block = tuple(slice(int(o), int(o) + int(n)) for o, n in zip(offsets, local_shape))
    if 0 in tuple(local_shape):
        return local, {}, block
    k = len(shape)
    # the first dimension from which the shard spans every later dimension whole: rows start there
    d0 = 0
    for d in range(k - 1, -1, -1):
        if d < k - 1 and local_shape[d + 1] != shape[d + 1]:
            d0 = d + 1
            break
    strides = [math.prod(shape[d + 1:]) for d in range(k)]
    start = sum(int(offsets[d]) * strides[d] for d in range(d0, k))
    if d0 == 0:
        return local, {"offset": start}, block
    rows = np.full((), start, dtype=np.uint64)
    for d in range(d0):
        idx = (np.arange(local_shape[d], dtype=np.uint64) + np.uint64(offsets[d])) * np.uint64(strides[d])
        rows = np.add.outer(rows, idx) if rows.ndim else rows + idx
    return local, {"row_offsets": rows.reshape(-1)}, block


def _shard_by_indices(tensor):
    """The _shard of a DTensor whose shard is not one block of the whole (a strided shard: FSDP2 on top of tensor
    parallelism): the global index of every local element, from the whole index range split on this rank as
    DTensor splits data (no communication; O(whole) int64 memory on each rank, once per tensor). Rows are the
    local last dimension where it is contiguous in the whole, single elements otherwise."""
    torch = sys.modules["torch"]
    from torch.distributed.tensor import distribute_tensor

    shape = tuple(tensor.shape)
    with torch.no_grad():
        local = tensor.to_local()
        index = torch.arange(math.prod(shape), dtype=torch.int64).reshape(shape)
        mine = distribute_tensor(index, tensor.device_mesh, tensor.placements, src_data_rank=None).to_local()
    flat = mine.numpy().reshape(-1, mine.shape[-1] if mine.dim() else 1) if mine.numel() else np.zeros((0, 1), np.int64)
    if flat.shape[1] > 1 and not np.all(np.diff(flat, axis=1) == 1):
        flat = flat.reshape(-1, 1)
    return local, {"row_offsets": flat[:, 0].astype(np.uint64)}, None


def _check_writable(torch, tensor):
    """Raise torch's own error where torch refuses an in-place write that a NumPy view would let through."""
    if (tensor.is_inference() and not torch.is_inference_mode_enabled()) or \
            torch._debug_has_internal_overlap(tensor) == 1:
        with torch.no_grad():
            tensor.uniform_()   # raises torch's RuntimeError for this tensor
        raise RuntimeError("torch refuses in-place writes to this tensor")   # in case a torch version does not


def _generator(generator):
    if generator is None:
        return default_generator()
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a fastinit.Generator, got {type(generator).__name__}")
    return generator


def _shape_of(tensor):
    if isinstance(tensor, np.ndarray) or _is_torch(tensor):
        return tuple(tensor.shape)
    raise TypeError(f"tensor must be a numpy.ndarray or a torch.Tensor, got {type(tensor).__name__}")


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel), as torch computes them."""
    shape = _shape_of(tensor)
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _calculate_correct_fan(tensor, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} not supported; valid modes: fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _empty_warning(tensor):
    """torch's behaviour on zero-element tensors for fan-based schemes: warn and leave them alone."""
    if 0 in _shape_of(tensor):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def _gain(gain):
    g = V.real(gain, "gain")
    if g <= 0:
        raise ValueError(f"gain must be > 0, got {g}")
    return g


# ------------------------------------------------------------------------------------------ basic fills

@_meta_noop
def uniform_(tensor, a=0.0, b=1.0, generator=None):
    r"""Fill with :math:`\mathcal{U}(a, b)` (every value in [a, b), in every dtype). ``torch.nn.init.uniform_``."""
    gen = _generator(generator)
    t = _Target(tensor, direct16=True)
    gen.uniform(low=a, high=b, out=t.array, dtype=t.dtype, **t.where)
    return t.finish()


@_meta_noop
def normal_(tensor, mean=0.0, std=1.0, generator=None):
    r"""Fill with :math:`\mathcal{N}(\text{mean}, \text{std}^2)` (Box-Muller). ``torch.nn.init.normal_``."""
    gen = _generator(generator)
    t = _Target(tensor, direct16=True)
    gen.normal(mean=mean, std=std, out=t.array, dtype=t.dtype, **t.where)
    return t.finish()


@_meta_noop
def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    r"""Fill with :math:`\mathcal{N}(\text{mean}, \text{std}^2)` truncated to :math:`[a, b]` (absolute bounds, as in
    ``torch.nn.init.trunc_normal_``), by inversion of the CDF: every value lies in [a, b], also for far tails."""
    gen = _generator(generator)
    t = _Target(tensor, direct16=True)
    gen.truncated_normal(mean=mean, std=std, low=a, high=b, out=t.array, dtype=t.dtype, **t.where)
    return t.finish()


@_meta_noop
def constant_(tensor, val):
    """Fill with the value ``val``. Constant weights never break the symmetry between units: every unit of a
    layer computes the same function and receives the same gradient, so they stay identical in training."""
    v = V.real(val, "val", finite=False)
    t = _Target(tensor)
    t.array[...] = v
    return t.finish()


def ones_(tensor):
    """Fill with 1 (see :func:`constant_` for why constant weights do not train)."""
    return constant_(tensor, 1.0)


def zeros_(tensor):
    """Fill with 0. All-zero weights never break symmetry, and with zero weights in a deep tanh/ReLU network
    every activation after the first layer is constant (0 for tanh/ReLU): nothing propagates, no gradient
    reaches the earlier layers."""
    return constant_(tensor, 0.0)


@_meta_noop
def eye_(tensor):
    """Fill a 2-D tensor with the identity matrix (ones on the main diagonal of a rectangle), preserving the
    identity of the inputs in Linear layers. ``torch.nn.init.eye_``."""
    if len(_shape_of(tensor)) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    t = _Target(tensor)
    a = t.whole()
    a[...] = 0
    n = min(a.shape)
    a[np.arange(n), np.arange(n)] = 1
    return t.finish()


@_meta_noop
def dirac_(tensor, groups=1):
    """Fill a 3-, 4- or 5-D tensor (out, in, *kernel) with the Dirac delta: each of the first min(out/groups, in)
    output channels of every group copies one input channel through the kernel's centre, so the convolution is
    the identity on those channels. ``torch.nn.init.dirac_``."""
    shape = _shape_of(tensor)
    if len(shape) not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    groups = V.positive_int(groups, "groups")
    if shape[0] % groups != 0:
        raise ValueError(f"dim 0 ({shape[0]}) must be divisible by groups ({groups})")
    t = _Target(tensor)
    a = t.whole()
    out_per_group = shape[0] // groups
    min_dim = min(out_per_group, shape[1])
    a[...] = 0
    centre = tuple(k // 2 for k in shape[2:])
    if min_dim:   # (groups * min_dim <= shape[0] ones; none when a dimension is 0, whatever groups says)
        rows = (np.arange(groups)[:, None] * out_per_group + np.arange(min_dim)[None, :]).ravel()
        cols = np.tile(np.arange(min_dim), groups)
        a[(rows, cols) + tuple(np.full(rows.size, c) for c in centre)] = 1
    return t.finish()


# ------------------------------------------------------------------------------------------ fan-based schemes

def xavier_uniform_(tensor, gain=1.0, generator=None):
    r"""Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks":
    :math:`\mathcal{U}(-a, a)` with :math:`a = \text{gain} \sqrt{6 / (\text{fan\_in} + \text{fan\_out})}`.

    Keeps the variance of activations and of gradients about constant across layers of a linear/tanh network.
    ``torch.nn.init.xavier_uniform_``; Keras ``GlorotUniform``; JAX ``glorot_uniform``.
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    gain = _gain(gain)
    if _empty_warning(tensor):
        return tensor
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    r"""Glorot & Bengio (2010): :math:`\mathcal{N}(0, \sigma^2)` with
    :math:`\sigma = \text{gain} \sqrt{2 / (\text{fan\_in} + \text{fan\_out})}`. ``torch.nn.init.xavier_normal_``
    (Keras's ``GlorotNormal`` is the truncated variant, see ``fastinit.initializers``)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    gain = _gain(gain)
    if _empty_warning(tensor):
        return tensor
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    r"""He et al. (2015), "Delving deep into rectifiers": :math:`\mathcal{U}(-b, b)` with
    :math:`b = \text{gain} \sqrt{3 / \text{fan\_mode}}`, gain = ``calculate_gain(nonlinearity, a)``.

    Preserves the variance of the forward pass (mode='fan_in') or of the backward pass (mode='fan_out') in
    ReLU networks, where Xavier's scale halves the variance at every layer. ``torch.nn.init.kaiming_uniform_``.
    """
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    if _empty_warning(tensor):
        return tensor
    bound = gain * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    r"""He et al. (2015): :math:`\mathcal{N}(0, \sigma^2)` with :math:`\sigma = \text{gain} / \sqrt{\text{fan\_mode}}`,
    gain = ``calculate_gain(nonlinearity, a)``. ``torch.nn.init.kaiming_normal_``."""
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    if _empty_warning(tensor):
        return tensor
    return normal_(tensor, 0.0, gain / math.sqrt(fan), generator)


def lecun_uniform_(tensor, generator=None):
    r"""LeCun et al. (1998), "Efficient BackProp": :math:`\mathcal{U}(-b, b)`, :math:`b = \sqrt{3 / \text{fan\_in}}`
    (variance 1/fan_in). Keras ``LecunUniform``; JAX ``lecun_uniform``."""
    fan_in, _ = _calculate_fan_in_and_fan_out(tensor)
    if _empty_warning(tensor):
        return tensor
    b = math.sqrt(3.0 / fan_in)
    return uniform_(tensor, -b, b, generator)


def lecun_normal_(tensor, generator=None):
    r"""LeCun et al. (1998): :math:`\mathcal{N}(0, 1/\text{fan\_in})`, the init SELU networks need
    (Klambauer et al. 2017). Untruncated; Keras's ``LecunNormal`` is the truncated variant."""
    fan_in, _ = _calculate_fan_in_and_fan_out(tensor)
    if _empty_warning(tensor):
        return tensor
    return normal_(tensor, 0.0, 1.0 / math.sqrt(fan_in), generator)


def _haar_columns(m, n, dtype, gen):
    """An (m, n) matrix, m >= n, with orthonormal columns, Haar distributed, in Fortran order.

    Householder QR of a Gaussian matrix A, with the signs of R's diagonal moved into Q, gives a Haar-distributed Q
    (Saxe et al. 2013; Mezzadri 2007). By rotation invariance the k-th Householder vector of that QR is built from
    a fresh Gaussian vector of length m - k (Stewart 1980), so we skip the factorization: reflector k is made
    from entries k.. of column k of A (LAPACK's larfg convention: beta = -sign(alpha) |x|, tau = (beta - alpha) /
    beta, v = x[1:] / (alpha - beta)), LAPACK's orgqr forms Q = H_1 ... H_n, and column k is multiplied by
    sign(beta_k), which is sign(R_kk). Half the flops of QR followed by orgqr.
    """
    from scipy.linalg import lapack

    a = gen.normal((n, m), dtype=dtype).T          # Fortran-ordered (m, n): LAPACK works in place, no copy
    tau = np.empty(n, dtype=dtype)
    sign = np.empty(n, dtype=dtype)
    _core.householder(a, tau, sign)
    orgqr, = lapack.get_lapack_funcs(("orgqr",), (a,))
    lwork = int(orgqr(a, tau, lwork=-1)[1][0].real)   # workspace query: a is not touched
    q, _, info = orgqr(a, tau, lwork=max(lwork, 1), overwrite_a=1)
    if info != 0:
        raise RuntimeError(f"LAPACK orgqr failed (info={info})")
    q *= sign
    return q


def orthogonal_matrix(rows, cols, dtype, generator):
    """A new (rows, cols) matrix with orthonormal rows (rows <= cols) or columns, Haar distributed (Mezzadri 2007),
    drawn from ``generator`` (a fastinit.Generator): what ``orthogonal_`` and Keras's ``Orthogonal`` fill."""
    if rows >= cols:
        return _haar_columns(rows, cols, dtype, generator)
    return _haar_columns(cols, rows, dtype, generator).T


@_meta_noop
def orthogonal_(tensor, gain=1.0, generator=None):
    r"""Saxe, McClelland & Ganguli (2013), "Exact solutions to the nonlinear dynamics of learning in deep linear
    neural networks": a (semi-)orthogonal matrix times gain. The tensor is viewed as (shape[0], prod(shape[1:]));
    rows are orthonormal when shape[0] <= prod(shape[1:]), columns otherwise. ``torch.nn.init.orthogonal_``."""
    shape = _shape_of(tensor)
    if len(shape) < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    gain = _gain(gain)
    gen = _generator(generator)
    if 0 in shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    t = _Target(tensor)
    rows = shape[0]
    cols = math.prod(shape[1:])
    a = t.whole()
    q = orthogonal_matrix(rows, cols, a.dtype, gen)
    if gain != 1.0:
        q *= gain
    a[...] = q.reshape(shape)
    return t.finish()


@_meta_noop
def sparse_(tensor, sparsity, std=0.01, generator=None):
    r"""Martens (2010), "Deep learning via Hessian-free optimization": a 2-D tensor with
    :math:`\lceil \text{sparsity} \cdot \text{rows} \rceil` zeros in every column and
    :math:`\mathcal{N}(0, \text{std}^2)` elsewhere. ``torch.nn.init.sparse_``."""
    shape = _shape_of(tensor)
    if len(shape) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    sparsity = V.real(sparsity, "sparsity")
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must be in [0, 1], got {sparsity}")
    gen = _generator(generator)
    rows, cols = shape
    t = _Target(tensor)
    num_zeros = int(math.ceil(sparsity * rows))
    zeroed = num_zeros and rows and cols
    # the normal draws take the first stream, the keys the next; the keys (the large temporary) come first, so
    # that running out of memory leaves the tensor untouched
    first = gen.take_streams(2 if zeroed else 1)
    if zeroed:
        # Each column's zero rows: the first num_zeros of a random permutation (argsort of uniform keys).
        keys = gen.uniform((cols, rows), dtype=np.float64, stream=first + 1)
        zero_rows = np.argsort(keys, axis=1, kind="stable")[:, :num_zeros]
        del keys
    a = t.whole()
    gen.normal(mean=0.0, std=std, out=a, stream=first)
    if zeroed:
        a[zero_rows.T, np.arange(cols)] = 0
    return t.finish()


# ------------------------------------------------------------------------------------------ named schemes

def small_normal_(tensor, generator=None):
    """"Small random" weights N(0, 0.01^2). In a deep tanh network of width n the activation std shrinks by about
    sqrt(n) * 0.01 per layer (0.22 for n = 500): activations and gradients vanish."""
    return normal_(tensor, 0.0, 0.01, generator)


def large_normal_(tensor, generator=None):
    """"Large random" weights N(0, 1). With fan_in n, pre-activations have std ~ sqrt(n): tanh and sigmoid units
    saturate at their bounds and their gradients vanish."""
    return normal_(tensor, 0.0, 1.0, generator)


def _scheme_filler(row):
    """f(tensor, generator=None) of a row of the scheme table: its function with its keyword arguments."""
    fn = globals()[row.function]
    if not row.kwargs and row.random:
        return fn
    kwargs = dict(row.kwargs)

    if row.random:
        def fill(tensor, generator=None):
            return fn(tensor, generator=generator, **kwargs)
    else:
        def fill(tensor, generator=None):
            return fn(tensor, **kwargs)
    fill.__name__ = f"{row.name}_"
    fill.__doc__ = f"The {row.name!r} scheme: {row.doc}."
    return fill


# name -> f(tensor, generator=None), from the scheme table (fastinit.schemes): what the simulation engine and
# init_module accept as init="name"
SCHEMES = {name: _scheme_filler(row) for name, row in _schemes.SCHEMES.items()}


def get_scheme(name):
    """The in-place initializer f(tensor, generator=None) of a scheme name (see ``SCHEMES``); a row added to the
    scheme table later is served too."""
    row = _schemes.get(name)   # ValueError naming the valid schemes
    fill = SCHEMES.get(name)
    return fill if fill is not None else _scheme_filler(row)


# ------------------------------------------------------------------------------------------ torch modules

def init_module(module, scheme=None, generator=None):
    """Re-initialize every ``nn.Linear``, ``nn.Conv*`` (incl. transposed) and ``nn.Embedding`` of a torch module.

    scheme=None does what their ``reset_parameters`` does: weight ``kaiming_uniform_(a=sqrt(5))`` (i.e.
    U(-1/sqrt(fan_in), 1/sqrt(fan_in))), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)); Embedding N(0, 1) with the
    ``padding_idx`` row zeroed. A scheme name (see ``SCHEMES``) or a callable f(weight, generator=...) instead
    initializes the Linear/Conv weights with it and sets their biases to 0; embeddings keep N(0, 1).
    Returns the module.
    """
    import torch
    from torch import nn

    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    gen = _generator(generator)
    if scheme is None:
        weight_init = None
    elif callable(scheme):
        weight_init = scheme
    else:
        weight_init = get_scheme(scheme)
    conv_types = (nn.modules.conv._ConvNd,)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Linear, nn.Bilinear) + conv_types):
                if isinstance(m, nn.Bilinear):
                    bound = 1 / math.sqrt(m.weight.size(1))
                    if weight_init is None:
                        uniform_(m.weight, -bound, bound, gen)
                    else:
                        weight_init(m.weight, generator=gen)
                elif weight_init is None:
                    kaiming_uniform_(m.weight, a=math.sqrt(5), generator=gen)
                else:
                    weight_init(m.weight, generator=gen)
                if m.bias is not None:
                    if weight_init is not None:
                        zeros_(m.bias)
                    else:
                        fan_in = (m.weight.size(1) if isinstance(m, nn.Bilinear)
                                  else _calculate_fan_in_and_fan_out(m.weight)[0])
                        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                        if bound > 0:
                            uniform_(m.bias, -bound, bound, gen)
                        else:
                            zeros_(m.bias)
            elif isinstance(m, nn.Embedding):
                normal_(m.weight, 0.0, 1.0, gen)
                if m.padding_idx is not None:
                    m.weight[m.padding_idx].fill_(0)
    return module
