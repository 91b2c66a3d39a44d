"""What fastinit writes when it fills a user's array or tensor: a writable NumPy array over the same memory (or a
float32 buffer copied back), where its values lie in the stream of the whole tensor (a DTensor's local shard is
a piece of it), and torch's rules for in-place writes (errors, the version counter).

``fill(tensor, generator, kind, *args)`` is the primitive behind ``fastinit.init``'s draws and ``fast_init()``: a
``fastinit.random._spec`` distribution drawn into a tensor's memory from the generator's next stream. ``torch_rules``
wraps ``fastinit.init``'s functions so that a torch tensor fastinit does not fill itself gets torch's outcome.
"""
import functools
import math
import sys

import numpy as np

from .. import _validate as V
from ..random import _backends, _spec

__all__ = ["Target", "NoStorage", "fill", "is_torch", "shard", "check_writable", "torch_rules", "torch_init"]


def is_torch(x):
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


class NoStorage(Exception):
    """Raised by Target for a tensor without storage (meta): the public functions then return it untouched."""


class Target:
    """A writable NumPy array standing for the user's array or tensor, and how to write it back.

    ``array`` is the tensor's own memory where the C core can write it (float32/float64, and float16 / bfloat16
    when ``direct16``: a fill that rounds its float32 draws in C), else a float32 buffer copied back by
    ``finish``; ``dtype`` is the fill's output element type (``fastinit.random._spec.DTYPES``) for ``array``. torch's
    rules for in-place writes hold: a
    tensor torch would refuse to write (an inference tensor outside inference mode, one whose elements overlap in
    memory) raises torch's error, and the write moves the tensor's version counter, so autograd sees it."""

    def __init__(self, tensor, direct16=False):
        self.tensor = tensor
        self.copy_back = False
        self.torch_view = False
        self.where = {}   # for a DTensor: where its local shard lies in the stream of the whole (offset=, row_offsets=)
        self.write = tensor   # the torch tensor written (a DTensor's local shard)
        self._whole = None
        self._block = None
        if V.is_dtensor(tensor):
            local, self.where, self._block = shard(tensor)
            self.write = local
            self._init_torch(local, direct16, by_rows="row_offsets" in self.where)
            self.global_shape = tuple(tensor.shape)
            return
        if isinstance(tensor, np.ndarray):
            if tensor.dtype.kind != "f":
                raise TypeError(f"tensor must have a floating dtype (float16/32/64), got {tensor.dtype}")
            if not tensor.flags.writeable:
                raise ValueError("tensor is read-only; pass a writable array")
            V.overlapping(tensor, "tensor")
            self.shape = tensor.shape
            if tensor.dtype in _spec.NATIVE_DTYPES or (direct16 and tensor.dtype == np.float16):
                self.array = tensor
            else:
                self.array = np.empty(tensor.shape, np.float32)
                self.copy_back = True
        elif is_torch(tensor):
            self._init_torch(tensor, direct16)
        else:
            raise TypeError(f"tensor must be a numpy.ndarray or a torch.Tensor, got {type(tensor).__name__}")

    def _init_torch(self, tensor, direct16, by_rows=False):
        """by_rows: the fill goes by row_offsets, which need C-contiguous memory."""
        torch = sys.modules["torch"]  # imported: tensor is one of its tensors (an import statement costs more)
        if not tensor.is_floating_point():
            raise TypeError(f"tensor must have a floating dtype, got {tensor.dtype}")
        if tensor.is_meta:
            raise NoStorage()
        self.shape = tuple(tensor.shape)
        element = _TORCH_ELEMENT.get(str(tensor.dtype))
        if direct16 and element is not None and tensor.layout == torch.strided and _backends.serves(tensor):
            # the device kernels write the tensor's own memory on its device (a stream fill: direct16)
            check_writable(torch, tensor)
            plain = tensor.detach() if tensor.requires_grad else tensor
            if tensor.is_contiguous() and not tensor.is_neg():
                self.array = plain
                self.torch_view = True
            else:   # a contiguous tensor on the same device, copied in by finish() (device to device)
                self.array = torch.empty(self.shape, dtype=tensor.dtype, device=tensor.device)
                self.copy_back = True
            return
        if tensor.is_cpu and tensor.layout == torch.strided and element is not None and (
                direct16 or element in ("float32", "float64")):
            check_writable(torch, tensor)
            if not tensor.is_neg() and not (by_rows and not tensor.is_contiguous()):
                # A view of the same memory, no copy (detach only when autograd tracks the tensor).
                plain = tensor.detach() if tensor.requires_grad else tensor
                if element == "bfloat16":
                    self.array = plain.view(torch.int16).numpy().view(np.uint16)
                else:
                    self.array = plain.numpy()
                self.torch_view = True
                return
            # a negative-bit view (NumPy cannot see it) or a strided shard filled by rows: the same element type
            # in a C-contiguous buffer, copied in by finish()
            self.array = np.empty(self.shape, _spec.storage_dtype(element))
        else:
            self.array = np.empty(self.shape, np.float32)
        self.copy_back = True

    @property
    def dtype(self):
        if not isinstance(self.array, np.ndarray):   # a tensor the device kernels write
            return _TORCH_ELEMENT[str(self.array.dtype)]
        return _spec.element_of_storage(self.array.dtype)

    def whole(self):
        """An array of the whole tensor's shape to compute into, for the initializers whose values are not a
        stream of draws (eye_, dirac_, orthogonal_, sparse_): the target itself, or for a DTensor a temporary of
        the whole shape on every rank, whose local block finish() copies into the shard (O(whole) memory)."""
        if self._block is None:
            return self.array
        self._whole = np.zeros(self.global_shape, np.float64 if self.array.dtype == np.float64 else np.float32)
        return self._whole

    def abandon(self):
        """After a fill that stopped part way (Ctrl-C between its pieces): a tensor written through its own memory
        holds the pieces drawn, so autograd is told, as finish() does; a buffer is not copied back."""
        if self.torch_view:
            sys.modules["torch"].autograd.graph.increment_version(self.write)

    def finish(self):
        if self._whole is not None:
            torch = sys.modules["torch"]
            with torch.no_grad():
                self.write.copy_(torch.from_numpy(np.ascontiguousarray(self._whole[self._block])))
            return self.tensor
        if self.copy_back:
            if isinstance(self.tensor, np.ndarray):
                self.tensor[...] = self.array
            elif not isinstance(self.array, np.ndarray):   # a device tensor
                with sys.modules["torch"].no_grad():
                    self.write.copy_(self.array)
            else:
                torch = sys.modules["torch"]
                values = torch.from_numpy(self.array)
                if self.array.dtype == np.uint16:   # bfloat16 bits
                    values = values.view(torch.bfloat16)
                with torch.no_grad():
                    self.write.copy_(values)
        elif self.torch_view:
            # written behind autograd's back: tell it, as torch's own in-place ops do
            sys.modules["torch"].autograd.graph.increment_version(self.write)
        return self.tensor


def torch_rules(fn=None, *, refusals_to_torch=True):
    """torch's rules where fastinit does not fill a torch tensor itself: on the meta device torch's initializer
    checks its arguments and does nothing, and a call fastinit refuses (TypeError / ValueError: an integer, bool or
    complex tensor, a torch.Generator, a tensor-valued or non-finite argument, a gain or sparsity outside the
    range fastinit draws for, bounds without probability mass) goes to torch's initializer of the same name, which
    gives torch's result or torch's own error. fastinit refuses before it writes, so torch sees the tensor as it
    was. NumPy arrays and DTensors keep fastinit's errors (README, "Stricter than torch"); so do the functions marked
    refusals_to_torch=False."""
    import inspect

    if fn is None:
        return functools.partial(torch_rules, refusals_to_torch=refusals_to_torch)

    signature = inspect.signature(fn)
    name = fn.__name__

    @functools.wraps(fn)
    def wrapper(tensor, *args, **kwargs):
        try:
            return fn(tensor, *args, **kwargs)
        except NoStorage:
            if not hasattr(torch_init(), name):
                return tensor
            return _as_torch(name, signature, tensor, args, kwargs)
        except (TypeError, ValueError):
            if not (refusals_to_torch and is_torch(tensor) and not V.is_dtensor(tensor)
                    and hasattr(torch_init(), name)):
                raise
            return _as_torch(name, signature, tensor, args, kwargs)
    return wrapper


def torch_init():
    """torch.nn.init (imported when a torch tensor is at hand)."""
    import torch

    return torch.nn.init


def _as_torch(name, signature, tensor, args, kwargs):
    """torch.nn.init.<name> on the same arguments (a fastinit Generator left out: torch draws from its own)."""
    from ..random._generator import Generator

    try:
        bound = signature.bind(tensor, *args, **kwargs)
    except TypeError:
        return getattr(torch_init(), name)(tensor, *args, **kwargs)   # (torch's error for the same arguments)
    arguments = dict(bound.arguments)
    if isinstance(arguments.get("generator"), Generator):
        del arguments["generator"]
    return getattr(torch_init(), name)(**arguments)


_TORCH_ELEMENT = _spec.TORCH_ELEMENT


def shard(tensor):
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


def check_writable(torch, tensor):
    """Raise torch's own error where torch refuses an in-place write that a NumPy view would let through."""
    if (tensor.is_inference() and not torch.is_inference_mode_enabled()) or \
            torch._debug_has_internal_overlap(tensor) == 1:
        with torch.no_grad():
            tensor.uniform_()   # raises torch's RuntimeError for this tensor
        raise RuntimeError("torch refuses in-place writes to this tensor")   # in case a torch version does not


_BUILDERS = {"uniform": _spec.uniform, "torch_uniform": _spec.torch_uniform, "normal": _spec.normal,
             "truncated_normal": _spec.truncated_normal}


def fill(tensor, generator, kind, *args, **names):
    """Draw ``fillspec.<kind>(*args, dtype, **names)`` into ``tensor`` (a NumPy array or torch tensor, a DTensor at
    its shard's place in the stream) from ``generator``'s next stream, by torch's write rules. Returns the tensor."""
    t = Target(tensor, direct16=True)
    dtype = t.dtype
    draw = _BUILDERS[kind](*args, dtype, **names)
    try:
        generator.fill(draw, dtype, t.array, **t.where)
    except BaseException:
        t.abandon()
        raise
    return t.finish()
