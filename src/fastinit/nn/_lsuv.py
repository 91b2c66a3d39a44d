"""The mechanics of LSUV (fastinit.init.lsuv_): a layer's output on a batch, the forward pass stopped there, and
the layer-by-layer rescaling of its weight to unit output std."""
import math

from threadpoolctl import threadpool_limits

from .. import _core, _validate as V
from ._modules import named_modules, runner

__all__ = ["lsuv"]


class _LayerOutput(BaseException):
    """Raised by LSUV's hook once the layer it waits for has run: the rest of the forward pass is not needed (a
    BaseException, so that a model's own ``except Exception`` does not swallow it)."""

    def __init__(self, output):
        super().__init__()
        self.output = output


def _stop_at_output(module, args, out):
    raise _LayerOutput(out)


def _std(t):
    """torch's unbiased std of all of t's values, accumulated in float64: a contiguous CPU float32 / float64
    tensor through the C statistics kernel where it lies (one pass, no float64 copy: 20x faster than
    t.double().std() on GPT-2's logits), anything else through torch."""
    t = t.detach()
    names = {"torch.float32": "float32", "torch.float64": "float64"}
    dtype = names.get(str(t.dtype))
    if t.device.type != "cpu" or dtype is None or not t.is_contiguous() or t.numel() < 2:
        return float(t.double().std())
    raw, _ = _core.tensor_stats(t.reshape(-1).numpy(), dtype, _core.SAT_NONE, 0, (math.nan, math.nan), None)
    if raw["nonfinite"]:
        return math.nan   # (as torch's std of a tensor holding inf or NaN)
    n, s = raw["count"], raw["sum"]   # (sums of x - shift: the std does not depend on the shift)
    return math.sqrt(max(raw["sumsq"] - s * s / n, 0.0) / (n - 1))


def _output_std(run, module, name):
    """The std of a layer's output on the batch, the forward pass stopped there."""
    handle = module.register_forward_hook(_stop_at_output)
    try:
        run()
    except _LayerOutput as got:
        return _std(got.output)
    finally:
        handle.remove()
    raise RuntimeError(f"lsuv_: layer {name} did not run again on the same batch")


def _is_hf_conv1d(module):
    """transformers' Conv1D (GPT-2's attention and MLP projections: a Linear with its weight stored (in, out)),
    recognized without importing transformers."""
    cls = type(module)
    return cls.__name__ == "Conv1D" and cls.__module__.startswith("transformers")


def _lsuv_layers(model, modules):
    from torch import nn

    covered = (nn.Linear, nn.modules.conv._ConvNd)
    if modules is None:
        owners = {}   # a weight tied to another module's (GPT-2's lm_head and its token embedding) is left alone
        for _, m in model.named_modules():
            for p in m.parameters(recurse=False):
                owners[id(p)] = owners.get(id(p), 0) + 1
        return [(n, m) for n, m in model.named_modules()
                if (isinstance(m, covered) or _is_hf_conv1d(m)) and owners.get(id(m.weight), 0) == 1]
    if isinstance(modules, str) or not isinstance(modules, (list, tuple)):
        raise TypeError(f"modules must be None or a list of qualified module names, got {type(modules).__name__}")
    found = named_modules(model, modules)
    bad = [n for n, m in found if not isinstance(getattr(m, "weight", None), nn.Parameter)]
    if bad:
        raise ValueError(f"modules: {bad[:5]} have no plain weight parameter to rescale")
    return found


def lsuv(model, x, tol, max_iter, modules, pre_init):
    """fastinit.init.lsuv_ with the pre-initialization given: ``pre_init(weight)`` fills a covered weight."""
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    tol = V.real(tol, "tol")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    max_iter = V.integer(max_iter, "max_iter")
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    call = runner(model, x, "x")

    def run():   # a forward pass as the package runs it: inference mode, no autograd bookkeeping at all
        with torch.inference_mode():
            call()

    layers = _lsuv_layers(model, modules)
    was_training = model.training
    first_std = {}   # each layer's output std in the first full pass, after the pre-init: in forward order

    def seen(name):
        def hook(module, args, out):
            if name not in first_std:
                first_std[name] = _std(out)
        return hook

    handles = []
    # what the layers held, put back if the model's forward raises: a failed init leaves no half-written model
    saved = [(t, t.detach().clone()) for _, m in layers for t in (m.weight, getattr(m, "bias", None))
             if t is not None]
    model.eval()
    _core.load_scipy_blas()   # (loaded now, so that threadpool_limits below sees it)
    try:
        with torch.no_grad(), threadpool_limits(limits=1, user_api="blas"):
            # (one BLAS thread for the orthogonal draws' LAPACK: OpenBLAS's workers spin ~0.1 s after a call and
            # took the cores from the forward pass that follows, 453 -> 356 ms for GPT-2's lm_head on 2 cores)
            for _, m in layers:
                pre_init(m.weight)
                if getattr(m, "bias", None) is not None:
                    m.bias.zero_()
            handles = [m.register_forward_hook(seen(name)) for name, m in layers]
            run()   # which layers the forward pass calls, in its order, and what they output before any rescaling
            for h in handles:
                h.remove()
            handles = []
            by_name = dict(layers)
            report = []
            rescaled = False   # until a layer is rescaled, the first pass's std of the next one still holds
            for name in first_std:
                module = by_name[name]
                std, iterations = first_std[name] if not rescaled else _output_std(run, module, name), 0
                while abs(std - 1.0) > tol and iterations < max_iter and std > 0 and math.isfinite(std):
                    module.weight.div_(std)
                    rescaled = True
                    std, iterations = _output_std(run, module, name), iterations + 1
                report.append({"name": name, "std": std, "iterations": iterations})
    except BaseException:
        with torch.no_grad():
            for t, old in saved:
                t.copy_(old)
        raise
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return report
