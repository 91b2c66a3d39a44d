"""Model construction through fastinit, with the model's code unchanged: ``fast_init``.

    import fastinit as fi
    torch.manual_seed(0)
    with fi.fast_init():                       # or fast_init(seed=...), fast_init(generator=fi.Generator(...))
        model = transformers.LlamaForCausalLM(config)

Inside the context, the random fills that model code makes on CPU floating tensors draw from fastinit's C core
(Philox4x32-10, all cores, the same numbers for every thread count) with the same distribution as the torch call
they replace:

======================================================  =====================================================
intercepted                                             drawn as
======================================================  =====================================================
``Tensor.uniform_(a, b)``, ``nn.init.uniform_``         U[a, b) (``fastinit.Generator.uniform``)
``Tensor.normal_(mean, std)``, ``nn.init.normal_``      N(mean, std^2) (Box-Muller)
``nn.init.kaiming_uniform_`` (hooked in torch)          U(-bound, bound), bound from torch's own fan and gain
``nn.init.trunc_normal_`` (torch's and any captured     N(mean, std^2) on [a, b] by inversion of the CDF
copy: it calls ``nn.init._no_grad_trunc_normal_``)
``torch.rand`` / ``rand_like``, ``torch.randn`` /       U[0, 1) / N(0, 1)
``randn_like``
everything built on these: ``xavier_*``, ``kaiming_normal_``, ``orthogonal_`` (QR of fastinit normals),
``sparse_``, Hugging Face ``_init_weights``, timm's ``trunc_normal_`` (uniform + erfinv)
======================================================  =====================================================

DTensors (FSDP2's ``fully_shard``, tensor-parallel plans) are served on CPU ranks: each rank fills its local shard
with exactly the values the unsharded tensor holds there (``fastinit.init``'s DTensor support), so the model does
not depend on the world size. Passed to torch untouched, with torch's result and errors: integer, complex and other
non-floating tensors; nested and sparse tensors; tensors off the CPU that the device kernels do not serve (CUDA
without Triton, other devices), on the meta device (torch's initializers do nothing there), or of a
tensor subclass other than ``nn.Parameter`` and ``DTensor``; calls with an explicit ``generator=torch.Generator`` (the
caller asked for torch's stream);
in-place fills of tensors that require grad while grad mode is on (torch raises); ``out=`` / ``pin_memory`` /
named factories; anything inside a module's ``forward`` (dropout masks and noise are not init: a forward pass
under the context equals one outside it); every other torch call.

torch.function modes are per thread, so a context covers the thread that entered it. Contexts nest: the inner
one serves its block, the outer one resumes after it. The one module attribute patched
(``torch.nn.init._no_grad_trunc_normal_``, which has no torch-function hook) is restored when the last context
exits, also after an exception.

Seeding: ``seed=None`` takes 64 bits from torch's default generator at the context's first fill, so
``torch.manual_seed(s)`` before the block makes the build reproducible and a block that fills nothing leaves torch's
stream alone; the fills of the block are streams 0, 1, 2, ... of ``fastinit.Generator(seed)`` in call order, so the
same code gives bit-identical parameters on every run and for every fastinit thread count (within the stream
format's float rounding between SIMD paths). ``fastinit.init``'s functions called in the block without
``generator=`` draw from the context's generator.
"""
import math
import sys
import threading
import warnings

import torch
from torch import overrides as _overrides

from . import _validate as V
from .nn import _tensors
from .random import _backends, _generator, _spec

__all__ = ["fast_init", "FastInitMode", "active", "check_ranks_agree"]

_FLOAT_DTYPES = tuple(getattr(torch, name) for name in _spec.FLOAT_DTYPES)   # the fill layer's table
_PARAMETER_TYPES = (torch.Tensor, torch.nn.Parameter)

_local = threading.local()        # .modes: this thread's active contexts, innermost last; .forward: depth
_patch_lock = threading.Lock()
_patch = {"count": 0, "original": None, "hooks": ()}


def active():
    """The innermost fast_init context of this thread, or None."""
    modes = getattr(_local, "modes", None)
    return modes[-1] if modes else None


def _in_forward():
    """Whether this thread is inside a module's forward. The hooks' count is a hint that costs nothing when it is
    0 (the build); above 0 the stack is read, because the count can be stale: torch skips the always_call post-hook
    on KeyboardInterrupt / SystemExit, and the hooks are removed while another thread is inside a forward."""
    if getattr(_local, "forward", 0) == 0:
        return False
    _local.forward = _forward_depth()
    return _local.forward > 0


def _forward_depth():
    """How many module calls (``Module._call_impl`` frames) this thread's stack holds."""
    code = torch.nn.Module._call_impl.__code__
    frame, depth = sys._getframe(1), 0
    while frame is not None:
        depth += frame.f_code is code
        frame = frame.f_back
    return depth


def _servable(tensor, generator, autograd=True):
    """Whether fastinit fills this tensor in place of torch: a plain floating tensor on the CPU or on a device the
    Triton kernels serve (or a DTensor there: each rank fills its shard with the values the whole tensor holds
    there), no torch generator, outside
    a forward pass, and (for a bare in-place op) not one that autograd would refuse to change."""
    return (generator is None and (type(tensor) in _PARAMETER_TYPES or V.is_dtensor(tensor))
            and (tensor.device.type == "cpu" or _backends.serves(tensor)) and tensor.layout == torch.strided
            and not tensor.is_nested
            and tensor.dtype in _FLOAT_DTYPES and not _in_forward()
            and not (autograd and tensor.requires_grad and torch.is_grad_enabled()))


def _finite(*values):
    try:
        return all(math.isfinite(float(v)) for v in values)
    except (TypeError, ValueError):
        return False


# The handlers take the context positionally only (``ctx, /``) and bind every argument of the torch call by name,
# the tensor included: a caller's keyword (transformers passes ``mode=`` to kaiming_uniform_) can never collide.
_MISSING = object()


def _uniform_handler(names, autograd):
    """Tensor.uniform_(from, to) (autograd=True: torch refuses it on a leaf that requires grad) and
    nn.init.uniform_(a, b) (autograd=False: it runs under no_grad)."""
    def handler(ctx, /, *args, **kwargs):
        tensor, low, high, gen = _bind(names, (_MISSING, 0.0, 1.0, None), args, kwargs)
        if tensor is _MISSING or not _servable(tensor, gen, autograd) or not _finite(low, high) \
                or not float(low) < float(high):
            return NotImplemented   # torch's result (from == to) or torch's error
        return ctx._uniform(tensor, float(low), float(high))
    return handler


def _normal_handler(names, autograd):
    """Tensor.normal_(mean, std) and nn.init.normal_(mean, std), as _uniform_handler."""
    def handler(ctx, /, *args, **kwargs):
        tensor, mean, std, gen = _bind(names, (_MISSING, 0.0, 1.0, None), args, kwargs)
        if tensor is _MISSING or not _servable(tensor, gen, autograd) or not _finite(mean, std) or float(std) < 0:
            return NotImplemented
        return ctx._normal(tensor, float(mean), float(std))
    return handler


def _kaiming_uniform_handler(ctx, /, *args, **kwargs):
    """nn.init.kaiming_uniform_(tensor, a, mode, nonlinearity, generator): U(-bound, bound) with torch's own
    arithmetic for the bound (and its errors for a bad mode or nonlinearity)."""
    tensor, a, mode, nonlinearity, gen = _bind(("tensor", "a", "mode", "nonlinearity", "generator"),
                                               (_MISSING, 0, "fan_in", "leaky_relu", None), args, kwargs)
    if tensor is _MISSING or not _servable(tensor, gen, autograd=False):
        return NotImplemented
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=4)
        return tensor
    fan = torch.nn.init._calculate_correct_fan(tensor, mode)
    gain = torch.nn.init.calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(fan)   # (torch's order of operations: the same bound to the last bit)
    bound = math.sqrt(3.0) * std
    return ctx._uniform(tensor, -bound, bound)


class FastInitMode(_overrides.TorchFunctionMode):
    """The torch function mode behind ``fast_init``: it routes the calls listed in ``fastinit.torch``'s docstring
    to ``generator`` and passes everything else to torch."""

    def __init__(self, generator=None):
        super().__init__()
        self._generator = generator
        self.fills = 0   # how many fills this context served (tests and the benchmark read it)

    @property
    def generator(self):
        """The context's generator; with seed=None it is made at the first fill served (or first asked for), from
        64 bits of torch's default generator: a context that fills nothing leaves torch's stream where it was."""
        if self._generator is None:
            self._generator = _generator.Generator(_seed_from_torch())
        return self._generator

    # -- the fills, on a tensor already judged servable: the fill primitive itself (no public wrapper)
    # (a fill fastinit refuses, before writing: bounds the dtype cannot hold, a NaN bound from a NaN gain, bounds
    # without probability mass; returns NotImplemented so that torch gives its own result or error)
    def _serve(self, tensor, kind, *args):
        try:
            filled = _tensors.fill(tensor, self.generator, kind, *args)
        except (TypeError, ValueError):
            return NotImplemented
        self.fills += 1
        return filled

    def _uniform(self, tensor, low, high):
        return self._serve(tensor, "torch_uniform", low, high)

    def _normal(self, tensor, mean, std):
        return self._serve(tensor, "normal", mean, std)

    def trunc_normal(self, tensor, mean, std, a, b):
        return self._serve(tensor, "truncated_normal", mean, std, a, b)

    def _factory(self, like, fill, args, kwargs):
        """torch.rand / randn (like=False) and rand_like / randn_like (like=True)."""
        if kwargs.get("generator") is not None or kwargs.get("out") is not None or kwargs.get("names") is not None \
                or kwargs.get("pin_memory") or _in_forward():
            return NotImplemented
        requires_grad = kwargs.get("requires_grad", False)
        make = {k: v for k, v in kwargs.items() if k not in ("generator", "requires_grad", "out", "names",
                                                              "pin_memory")}
        try:
            tensor = (torch.empty_like if like else torch.empty)(*args, **make)
        except (TypeError, RuntimeError, ValueError):
            return NotImplemented   # torch's own error for these arguments
        if not _servable(tensor, None, autograd=False) or tensor.layout != torch.strided:
            return NotImplemented
        fill(tensor)
        return tensor.requires_grad_(requires_grad) if requires_grad else tensor

    # dynamo (torch.compile) must not trace into the handlers: it would run them on fake tensors, whose NumPy view
    # fails; a compiled function breaks its graph here and the fill runs as it does eagerly
    @torch.compiler.disable
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        handler = _HANDLERS.get(func)
        if handler is None and getattr(func, "__name__", None) in _INIT_HANDLERS:
            handler = _init_wrapper_handler(func)
        if handler is not None:
            out = handler(self, *args, **kwargs)
            if out is not NotImplemented:
                return out
        return func(*args, **kwargs)


def _bind(names, defaults, args, kwargs):
    """Positional and keyword arguments of a torch call, by name, with its defaults."""
    values = list(defaults)
    for i, v in enumerate(args[:len(names)]):
        values[i] = v
    for i, name in enumerate(names):
        if name in kwargs:
            values[i] = kwargs[name]
    return values


def _factory_handler(like, draw):
    """The handler of torch.rand / randn (like=False) or rand_like / randn_like (like=True): an empty tensor made by
    torch from the call's arguments, filled by ``draw`` ("_uniform" on [0, 1) or "_normal" N(0, 1))."""
    def handler(ctx, /, *args, **kwargs):
        return ctx._factory(like, lambda t: getattr(ctx, draw)(t, 0.0, 1.0), args, kwargs)
    return handler


_INIT_UNIFORM = _uniform_handler(("tensor", "a", "b", "generator"), autograd=False)
_INIT_NORMAL = _normal_handler(("tensor", "mean", "std", "generator"), autograd=False)
_INIT_HANDLERS = {
    "uniform_": _INIT_UNIFORM,
    "normal_": _INIT_NORMAL,
    "kaiming_uniform_": _kaiming_uniform_handler,
}


def _init_wrapper_handler(func):
    """The handler of a function installed in place of torch.nn.init.X (the hook of torch's X dispatches to whatever
    the module's global X is when it runs: transformers' guard_torch_init_functions puts its own wrappers there).
    It is served as X, keeping the wrapper's one rule: a tensor marked ``_is_hf_initialized`` (loaded from a
    checkpoint) is left alone."""
    name = func.__name__
    if getattr(torch.nn.init, name, None) is not func and getattr(func, "__module__",
                                                                  "") != "transformers.initialization":
        return None
    serve = _INIT_HANDLERS[name]

    def handler(ctx, /, *args, **kwargs):
        tensor = args[0] if args else kwargs.get("tensor")
        if getattr(tensor, "_is_hf_initialized", False):
            return tensor
        return serve(ctx, *args, **kwargs)
    return handler


_HANDLERS = {
    torch.Tensor.uniform_: _uniform_handler(("self", "from", "to", "generator"), autograd=True),
    torch.Tensor.normal_: _normal_handler(("self", "mean", "std", "generator"), autograd=True),
    torch.nn.init.uniform_: _INIT_UNIFORM,
    torch.nn.init.normal_: _INIT_NORMAL,
    torch.nn.init.kaiming_uniform_: _kaiming_uniform_handler,
    torch.rand: _factory_handler(False, "_uniform"),
    torch.randn: _factory_handler(False, "_normal"),
    torch.rand_like: _factory_handler(True, "_uniform"),
    torch.randn_like: _factory_handler(True, "_normal"),
}


def _trunc_normal_patched(tensor, mean, std, a, b, generator=None):
    """``torch.nn.init._no_grad_trunc_normal_`` while a context is active: fastinit's truncated normal for the
    tensors a context of this thread serves, torch's own code for the rest (and in other threads)."""
    mode = active()
    if (mode is None or not _servable(tensor, generator, autograd=False) or not _finite(mean, std, a, b)
            or not float(std) > 0 or not float(a) < float(b)):
        return _patch["original"](tensor, mean, std, a, b, generator=generator)
    out = mode.trunc_normal(tensor, float(mean), float(std), float(a), float(b))
    if out is NotImplemented:   # (bounds fastinit refuses: torch's own code, its warning and its values)
        return _patch["original"](tensor, mean, std, a, b, generator=generator)
    if (mean < a - 2 * std) or (mean > b + 2 * std):
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                      "The distribution of values may be incorrect.", stacklevel=3)
    return out


def _forward_pre(module, args):
    _local.forward = getattr(_local, "forward", 0) + 1


def _forward_post(module, args, output):
    _local.forward = max(getattr(_local, "forward", 0) - 1, 0)


def _install():
    """The process-wide parts, once for all contexts: the trunc_normal_ patch and the forward-pass tracking."""
    with _patch_lock:
        if _patch["count"] == 0:
            _patch["original"] = torch.nn.init._no_grad_trunc_normal_
            torch.nn.init._no_grad_trunc_normal_ = _trunc_normal_patched
            modules = torch.nn.modules.module
            _patch["hooks"] = (modules.register_module_forward_pre_hook(_forward_pre),
                               modules.register_module_forward_hook(_forward_post, always_call=True))
        _patch["count"] += 1


def _uninstall():
    with _patch_lock:
        _patch["count"] -= 1
        if _patch["count"] == 0:
            torch.nn.init._no_grad_trunc_normal_ = _patch["original"]
            for h in _patch["hooks"]:
                h.remove()
            _patch["hooks"] = ()


def _seed_from_torch():
    """64 bits from torch's default generator (so torch.manual_seed before the block fixes the build), drawn on
    the CPU outside every mode: under ``torch.device("meta")``, ``set_default_device`` or FakeTensorMode the draw
    would follow the mode and give no number."""
    from torch.utils._python_dispatch import _disable_current_modes

    with torch._C.DisableTorchFunction(), _disable_current_modes():
        words = torch.randint(0, 1 << 32, (2,), dtype=torch.int64, device="cpu", generator=torch.default_generator)
    return int(words[0]) | (int(words[1]) << 32)


class fast_init:   # noqa: N801 - used as a context, like torch.no_grad
    """A context in which model construction draws its random initial values from fastinit (see the module
    docstring for what is intercepted and what passes through).

    Args:
        seed: an int in [0, 2**64) for the context's ``fastinit.Generator``; None (default): 64 bits from torch's
            default generator at the first fill, so ``torch.manual_seed`` makes the block reproducible.
        generator: a ``fastinit.Generator`` to draw from instead (its next streams are used); excludes ``seed``.

    ``with fast_init(...) as mode``: ``mode.generator`` is the generator, ``mode.fills`` counts the fills served.
    """

    def __init__(self, seed=None, generator=None):
        if generator is not None and seed is not None:
            raise ValueError("give seed or generator, not both")
        if generator is not None and not isinstance(generator, _generator.Generator):
            raise TypeError(f"generator must be a fastinit.Generator, got {type(generator).__name__}")
        self._seed = seed
        self._generator = generator
        if seed is not None:
            _generator.Generator(seed)   # checks the seed now (TypeError / ValueError naming it)
        self._mode = None

    def __enter__(self):
        if self._mode is not None:
            raise RuntimeError("this fast_init context is already active; make a new one to nest")
        gen = self._generator if self._seed is None else _generator.Generator(self._seed)
        mode = FastInitMode(gen)   # (gen None: made from torch's generator at the first fill)
        _install()
        try:
            mode.__enter__()
        except BaseException:
            _uninstall()
            raise
        modes = getattr(_local, "modes", None)
        if modes is None:
            modes = _local.modes = []
        modes.append(mode)
        _local.forward = _forward_depth()   # (a count left stale by an interrupted forward starts right)
        self._generator_of = lambda: mode.generator
        _generator.push_context(self._generator_of)
        self._mode = mode
        return mode

    def __exit__(self, *exc):
        mode, self._mode = self._mode, None
        try:
            mode.__exit__(*exc)
        finally:
            _local.modes.remove(mode)
            _generator.pop_context(self._generator_of)
            _uninstall()
        return False


def check_ranks_agree(generator=None, group=None):
    """Raise RuntimeError unless every rank of ``group`` (torch.distributed, default the world) holds the same
    fastinit generator position: the same seed and the same next stream. Sharded init draws the stream of each
    parameter on every rank without communication, so every rank must make the same fill calls in the same order
    from the same seed; this is the cheap check that they do (two all-reduces of a 64-bit digest), e.g. right
    after a build. ``generator``: a fastinit.Generator, the innermost fast_init's, or the default one."""
    import hashlib

    import torch.distributed as dist

    from .random._generator import default_generator

    where = "the fast_init() generator" if generator is None and active() is not None else "the generator given"
    if generator is None:
        mode = active()
        if mode is not None:
            generator = mode.generator
        else:
            generator, where = default_generator(), ("the default generator (called outside fast_init(): each "
                                                     "process seeds it from the OS unless fi.manual_seed is called; "
                                                     "call check_ranks_agree inside the fast_init block)")
    digest = hashlib.blake2b(f"{generator.seed}:{generator.next_stream}".encode(), digest_size=7).digest()
    value = int.from_bytes(digest, "little")   # 56 bits: exact in an int64 all-reduce
    lo = torch.tensor([value], dtype=torch.int64)
    hi = lo.clone()
    dist.all_reduce(lo, op=dist.ReduceOp.MIN, group=group)
    dist.all_reduce(hi, op=dist.ReduceOp.MAX, group=group)
    if int(lo) != int(hi):
        raise RuntimeError(f"ranks disagree on the fastinit stream of {where} (rank {dist.get_rank(group)}: "
                           f"seed {generator.seed}, next stream {generator.next_stream}): every rank must seed the "
                           "same way and make the same fill calls in the same order")
