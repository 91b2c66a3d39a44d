"""What the code that runs a user's torch model shares (fi.probe, fi.monitor, fastinit.init.lsuv_): the call of the
model on the inputs as their form says, and the modules named in a list."""
import collections.abc

__all__ = ["runner", "named_modules"]


def runner(model, inputs, name="inputs"):
    """A zero-argument callable running model(inputs) as the inputs' form says: a mapping of keyword arguments (a
    dict, a tokenizer's BatchEncoding), a tuple / list of positional ones, or one tensor. TypeError naming ``name``
    before any call for anything else."""
    import torch

    if isinstance(inputs, collections.abc.Mapping):
        return lambda: model(**inputs)
    if isinstance(inputs, (tuple, list)):
        return lambda: model(*inputs)
    if isinstance(inputs, torch.Tensor):
        return lambda: model(inputs)
    raise TypeError(f"{name} must be a tensor, a tuple of tensors (positional) or a mapping (keyword arguments), "
                    f"got {type(inputs).__name__}")


def named_modules(model, names):
    """[(name, module)] of the modules named in ``names``, in the model's order; ValueError naming the missing."""
    wanted = set(names)
    found = [(n, m) for n, m in model.named_modules() if n in wanted]
    missing = wanted - {n for n, _ in found}
    if missing:
        raise ValueError(f"modules: no module named {sorted(missing)[:5]} in the model")
    return found
