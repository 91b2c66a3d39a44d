"""Drop-in replacements for ``torch.nn.init``: the same names, arguments, fans and gains, filled by fastinit's C core.

Every function fills its argument in place and returns it. The argument may be a NumPy array (float16, float32,
float64) or a PyTorch tensor (torch is imported lazily and optional): CPU float32/float64 tensors are filled
through their NumPy view without a copy (also non-contiguous ones such as ``w.T``); float16/bfloat16 and CUDA
tensors through a float32 host buffer copied back. ``generator`` is a :class:`fastinit.Generator` (default: inside
a ``fastinit.fast_init()`` block the block's generator, elsewhere the module-level one, see
:func:`fastinit.manual_seed`).

Fans follow torch's convention for a weight of shape (out, in, *kernel): fan_in = in * prod(kernel),
fan_out = out * prod(kernel).
"""
import math
import warnings

import numpy as np

from . import _validate as V
from .nn import _fans, _lsuv, _tensors, schemes as _schemes
from .nn._orthogonal import orthogonal_matrix
from .random import _generator, _spec

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_",
           "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "lecun_uniform_",
           "lecun_normal_", "variance_scaling_", "orthogonal_", "orthogonal_matrix", "sparse_", "init_module",
           "small_normal_", "large_normal_", "SCHEMES", "get_scheme", "NONLINEARITIES", "lsuv_"]

calculate_gain = _fans.calculate_gain   # (its home is fastinit.nn._fans, with the fans)
NONLINEARITIES = _fans.NONLINEARITIES


def _generator_of(generator):
    if generator is None:
        return _generator.current_generator()   # inside fast_init(): the context's generator
    if not isinstance(generator, _generator.Generator):
        raise TypeError(f"generator must be a fastinit.Generator, got {type(generator).__name__}")
    return generator


# torch's private names, kept for code that calls them through fastinit.init
_calculate_fan_in_and_fan_out = _fans.fan_in_and_fan_out
_calculate_correct_fan = _fans.correct_fan
_shape_of = _fans.tensor_shape


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

@_tensors.torch_rules
def uniform_(tensor, a=0.0, b=1.0, generator=None):
    r"""Fill with :math:`\mathcal{U}(a, b)` (every value in [a, b), in every dtype). ``torch.nn.init.uniform_``.

    As torch does, float16 / bfloat16 tensors get the bounds cast to their dtype first (values in
    [dtype(a), dtype(b))), and ``a == b`` fills ``a``."""
    return _tensors.fill(tensor, _generator_of(generator), "torch_uniform", a, b, names=("a", "b"))


@_tensors.torch_rules
def normal_(tensor, mean=0.0, std=1.0, generator=None):
    r"""Fill with :math:`\mathcal{N}(\text{mean}, \text{std}^2)` (Box-Muller). ``torch.nn.init.normal_``."""
    return _tensors.fill(tensor, _generator_of(generator), "normal", mean, std)


# torch's trunc_normal_ draws far or massless bounds by a rejection loop that can run without end (torch 2.13:
# trunc_normal_(t, 0, 1, 1, 2**50) hangs): what fastinit refuses there stays refused
@_tensors.torch_rules(refusals_to_torch=False)
def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    r"""Fill with :math:`\mathcal{N}(\text{mean}, \text{std}^2)` truncated to :math:`[a, b]` (absolute bounds, as in
    ``torch.nn.init.trunc_normal_``), by inversion of the CDF: every value lies in [a, b], also for far tails.
    A ``torch.Generator`` goes to torch's own function with the call, as with every other initializer; std 0
    raises ZeroDivisionError as torch's does (it divides the bounds by std)."""
    if _tensors.is_torch(tensor) and type(generator).__name__ == "Generator" and \
            type(generator).__module__.startswith("torch"):
        return _tensors.torch_init().trunc_normal_(tensor, mean, std, a, b, generator=generator)
    if isinstance(std, (int, float)) and not isinstance(std, bool) and std == 0:
        raise ZeroDivisionError("float division by zero: trunc_normal_ with std=0 (torch.nn.init.trunc_normal_ "
                                "divides the bounds by std)")
    return _tensors.fill(tensor, _generator_of(generator), "truncated_normal", mean, std, a, b, names=("a", "b"))


@_tensors.torch_rules
def constant_(tensor, val):
    """Fill with the value ``val``. Constant weights never break the symmetry between units: every unit of a
    layer computes the same function and receives the same gradient, so they stay identical in training."""
    if _tensors.is_torch(tensor):   # nothing is drawn: torch's own fill, with its rules for every dtype and value
        return _tensors.torch_init().constant_(tensor, val)
    v = V.real(val, "val", finite=False)
    t = _tensors.Target(tensor)
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


@_tensors.torch_rules
def eye_(tensor):
    """Fill a 2-D tensor with the identity matrix (ones on the main diagonal of a rectangle), preserving the
    identity of the inputs in Linear layers. ``torch.nn.init.eye_``."""
    if len(_shape_of(tensor)) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    t = _tensors.Target(tensor)
    a = t.whole()
    a[...] = 0
    n = min(a.shape)
    a[np.arange(n), np.arange(n)] = 1
    return t.finish()


@_tensors.torch_rules
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
    t = _tensors.Target(tensor)
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

def _fan_sum(tensor, total):
    """Xavier divides by fan_in + fan_out: 0 for a tensor with no elements along its fans (torch then raises
    ZeroDivisionError, which a torch tensor gets through targets.torch_rules)."""
    if total == 0:
        raise ValueError(f"tensor of shape {tuple(_shape_of(tensor))} has fan_in + fan_out = 0: Xavier's scale "
                         "is undefined")


@_tensors.torch_rules
def xavier_uniform_(tensor, gain=1.0, generator=None):
    r"""Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks":
    :math:`\mathcal{U}(-a, a)` with :math:`a = \text{gain} \sqrt{6 / (\text{fan\_in} + \text{fan\_out})}`.

    Keeps the variance of activations and of gradients about constant across layers of a linear/tanh network.
    ``torch.nn.init.xavier_uniform_``; Keras ``GlorotUniform``; JAX ``glorot_uniform``.
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    gain = _gain(gain)
    _fan_sum(tensor, fan_in + fan_out)
    if _empty_warning(tensor):
        return tensor
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    try:
        return uniform_(tensor, -a, a, generator)
    except _spec.BoundsError as exc:   # (its message names uniform_'s a and b, not the caller's gain)
        raise ValueError(f"gain={gain} gives the bounds -/+{a}, beyond what the tensor's dtype holds: {exc}") from None


@_tensors.torch_rules
def xavier_normal_(tensor, gain=1.0, generator=None):
    r"""Glorot & Bengio (2010): :math:`\mathcal{N}(0, \sigma^2)` with
    :math:`\sigma = \text{gain} \sqrt{2 / (\text{fan\_in} + \text{fan\_out})}`. ``torch.nn.init.xavier_normal_``
    (Keras's ``GlorotNormal`` is the truncated variant, see ``fastinit.initializers``)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    gain = _gain(gain)
    _fan_sum(tensor, fan_in + fan_out)
    if _empty_warning(tensor):
        return tensor
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


@_tensors.torch_rules
def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    r"""He et al. (2015), "Delving deep into rectifiers": :math:`\mathcal{U}(-b, b)` with
    :math:`b = \text{gain} \sqrt{3 / \text{fan\_mode}}`, gain = ``calculate_gain(nonlinearity, a)``.

    Preserves the variance of the forward pass (mode='fan_in') or of the backward pass (mode='fan_out') in
    ReLU networks, where Xavier's scale halves the variance at every layer. ``torch.nn.init.kaiming_uniform_``.
    """
    fan = _calculate_correct_fan(tensor, mode)
    gain = _fans.calculate_gain(nonlinearity, a)
    if _empty_warning(tensor):
        return tensor
    bound = gain * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound, generator)


@_tensors.torch_rules
def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    r"""He et al. (2015): :math:`\mathcal{N}(0, \sigma^2)` with :math:`\sigma = \text{gain} / \sqrt{\text{fan\_mode}}`,
    gain = ``calculate_gain(nonlinearity, a)``. ``torch.nn.init.kaiming_normal_``."""
    fan = _calculate_correct_fan(tensor, mode)
    gain = _fans.calculate_gain(nonlinearity, a)
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


def variance_scaling_(tensor, scale=1.0, mode="fan_in", distribution="truncated_normal", generator=None):
    r"""Keras's ``VarianceScaling`` on a weight of torch's layout: variance :math:`s = \text{scale} / n`, n = fan_in,
    fan_out or (fan_in + fan_out) / 2 of torch's fans (the same fans as Keras's of the kernel (..., in, out)).
    ``truncated_normal``: :math:`\mathcal{N}(0, \sigma^2)` on :math:`[-2\sigma, 2\sigma]`,
    :math:`\sigma = \sqrt{s} / 0.87962566103423978`, so the draws have variance s; ``untruncated_normal``:
    :math:`\mathcal{N}(0, s)`; ``uniform``: :math:`\mathcal{U}(-\sqrt{3s}, \sqrt{3s})`. The family of LeCun et al.
    (1998), Glorot & Bengio (2010) and He et al. (2015); timm's ``variance_scaling_``. ("normal" is refused: Keras
    reads it as truncated, JAX and timm as untruncated.)"""
    scale = V.real(scale, "scale")
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    fans = dict(zip(("fan_in", "fan_out"), _calculate_fan_in_and_fan_out(tensor)))
    fans["fan_avg"] = (fans["fan_in"] + fans["fan_out"]) / 2
    if mode not in fans:
        raise ValueError(f"mode must be fan_in, fan_out or fan_avg, got {mode!r}")
    if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
        raise ValueError(f"distribution must be truncated_normal, untruncated_normal or uniform, got {distribution!r}")
    if _empty_warning(tensor):
        return tensor
    variance = scale / max(1.0, fans[mode])
    if distribution == "uniform":
        return uniform_(tensor, -math.sqrt(3.0 * variance), math.sqrt(3.0 * variance), generator)
    if distribution == "untruncated_normal":
        return normal_(tensor, 0.0, math.sqrt(variance), generator)
    std = math.sqrt(variance) / _schemes.TRUNCATED_NORMAL_STD_CORRECTION
    return trunc_normal_(tensor, 0.0, std, -2.0 * std, 2.0 * std, generator)


@_tensors.torch_rules
def orthogonal_(tensor, gain=1.0, generator=None):
    r"""Saxe, McClelland & Ganguli (2013), "Exact solutions to the nonlinear dynamics of learning in deep linear
    neural networks": a (semi-)orthogonal matrix times gain. The tensor is viewed as (shape[0], prod(shape[1:]));
    rows are orthonormal when shape[0] <= prod(shape[1:]), columns otherwise. ``torch.nn.init.orthogonal_``."""
    shape = _shape_of(tensor)
    if len(shape) < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    gain = _gain(gain)
    gen = _generator_of(generator)
    if 0 in shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    t = _tensors.Target(tensor)
    rows = shape[0]
    cols = math.prod(shape[1:])
    a = t.whole()
    q = orthogonal_matrix(rows, cols, a.dtype, gen)
    if gain != 1.0:
        q *= gain
    a[...] = q.reshape(shape)
    return t.finish()


@_tensors.torch_rules
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
    gen = _generator_of(generator)
    _spec.normal(0.0, std, "float64")   # std checked before any stream is taken
    rows, cols = shape
    t = _tensors.Target(tensor)
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
    gen = _generator_of(generator)
    if scheme is None:
        weight_init = None
    elif callable(scheme):
        weight_init = scheme
    else:
        weight_init = get_scheme(scheme)
    conv_types = (nn.modules.conv._ConvNd,)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(getattr(m, "weight", None), nn.parameter.UninitializedParameter):
                continue   # a lazy module before its first forward: torch's reset_parameters does nothing there
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


# ------------------------------------------------------------------------------------------ data-driven init

def lsuv_(model, x, tol=0.1, max_iter=10, modules=None, generator=None):
    r"""Layer-sequential unit-variance init (Mishkin & Matas 2016, "All you need is a good init", ICLR 2016).

    1. Every covered layer's weight gets :func:`orthogonal_` (fastinit's Haar draw, gain 1), its bias 0.
    2. Layer by layer, in the order the forward pass calls them: run the model on the batch ``x`` up to that layer
       and, while :math:`|\mathrm{std}(B) - 1| > \mathrm{tol}` for its output B (and at most ``max_iter`` times),
       :math:`W \leftarrow W / \mathrm{std}(B)`.

    The model runs in eval mode (no dropout; batch norm with its running statistics) without gradients, and is left
    in the mode it was in. The std is torch's (unbiased) of the whole output, as the ``lsuv`` package computes it.

    Args:
        model: a ``torch.nn.Module``.
        x: the batch: a tensor, a tuple of positional arguments or a mapping of keyword arguments.
        tol: the tolerance on the std, > 0.
        max_iter: the most rescalings per layer, >= 1.
        modules: qualified names of the layers (default: every ``nn.Linear``, ``nn.Conv*``, ``nn.ConvTranspose*``
            and transformers' ``Conv1D`` (GPT-2's projections) whose weight is not tied to another module's: GPT-2's
            ``lm_head`` shares the token embedding, which LSUV leaves as it is).
        generator: a ``fastinit.Generator`` for the orthogonal draws (default: as every ``fastinit.init`` function).

    Returns:
        One dict per layer, in forward order: ``name``, ``std`` (of its output after the last rescaling) and
        ``iterations`` (the rescalings it took); a layer whose output is constant (std 0) keeps its weight.
    """
    gen = _generator_of(generator)
    return _lsuv.lsuv(model, x, tol, max_iter, modules, lambda weight: orthogonal_(weight, generator=gen))
