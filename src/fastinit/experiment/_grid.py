"""The configurations of a sweep: the Cartesian product of its axes, or an explicit list of dicts, each checked
once (a ValueError / TypeError naming the configuration and the key) before anything runs."""
import itertools

import numpy as np

from ..nn import schemes as _schemes
from . import _activations as _act
from ._journal import KEY
from ._trainability import SIGMA_W2, check_variance, init_label, train_label

__all__ = ["configurations"]


def _as_list(value, name):
    if isinstance(value, (str, bool, int, float, dict)) or value is None:   # (a dict is one init: {"sigma_w2": v})
        value = [value]
    try:
        items = list(value)
    except TypeError:
        raise TypeError(f"{name} must be a value or a list of values, got {type(value).__name__}") from None
    if not items:
        raise ValueError(f"{name} is empty: the sweep grid would have no configurations")
    return items


def _check_config(c, i):
    for k, least, most in (("depth", 1, None), ("width", 1, None), ("batch", 1, None), ("seed", 0, 2**64 - 1)):
        v = c[k]
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < least or (most and v > most):
            bound = f"in [{least}, 2**64)" if most else f">= {least}"
            raise ValueError(f"configuration {i}: {k} must be an integer {bound}, got {v!r}")
    try:
        _act.get(c["activation"])
    except ValueError as exc:
        raise ValueError(f"configuration {i}: {exc}") from None
    try:
        init = init_label(c["init"])
        sigma_b2 = check_variance(c["sigma_b2"], "sigma_b2", strict=False)
        train = c["train"] if isinstance(c["train"], str) else train_label(c["train"])
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"configuration {i}: {exc}") from None
    if not isinstance(init, str) or not (init in _schemes.names() or init.startswith(SIGMA_W2)):
        raise ValueError(f"configuration {i}: unknown init {c['init']!r} (sweeps take scheme names, which go into "
                         f"the CSV, or {{'sigma_w2': v}}); valid names: {', '.join(_schemes.names())}")
    for k in ("batchnorm", "backward"):
        if not isinstance(c[k], (bool, np.bool_)):
            raise TypeError(f"configuration {i}: {k} must be True or False, got {c[k]!r}")
    if sigma_b2 and not train:
        raise ValueError(f"configuration {i}: sigma_b2 (random biases) is a setting of training sweeps (train=...)")
    if train and (c["batchnorm"] or c["backward"]):
        raise ValueError(f"configuration {i}: training sweeps take neither batchnorm nor backward")
    return {**c, "depth": int(c["depth"]), "width": int(c["width"]), "batch": int(c["batch"]),
            "seed": int(c["seed"]), "batchnorm": bool(c["batchnorm"]), "backward": bool(c["backward"]),
            "init": init, "sigma_b2": sigma_b2, "train": train}


def configurations(depth, width, activation, init, batchnorm, batch, seeds, backward, configs, sigma_w2=None,
                   sigma_b2=(0.0,), train=""):
    """The checked configurations of ``fastinit.sweep``'s arguments (``sigma_w2`` replaces ``init`` when given)."""
    if sigma_w2 is not None:
        if init is not None:
            raise ValueError("give init or sigma_w2, not both (sigma_w2=v is init={'sigma_w2': v})")
        init = [{"sigma_w2": v} for v in _as_list(sigma_w2, "sigma_w2")]
    elif init is None:
        init = ("xavier_normal",)
    if configs is not None:
        configs = list(configs)
        if not configs:
            raise ValueError("configs is empty: the sweep would have no configurations")
        defaults = dict(batchnorm=False, batch=batch, seed=0, backward=backward, sigma_b2=0.0, train=train)
        out = []
        for i, c in enumerate(configs):
            if not isinstance(c, dict):
                raise TypeError(f"configs[{i}] must be a dict, got {type(c).__name__}")
            unknown = set(c) - set(KEY)
            missing = {"depth", "width", "activation", "init"} - set(c)
            if unknown or missing:
                raise ValueError(f"configs[{i}]: unknown keys {sorted(unknown)}, missing {sorted(missing)}; "
                                 f"keys are {', '.join(KEY)}")
            out.append({**defaults, **c})
    else:
        axes = [_as_list(v, n) for v, n in ((depth, "depth"), (width, "width"), (activation, "activation"),
                                            (init, "init"), (batchnorm, "batchnorm"), (seeds, "seeds"),
                                            (sigma_b2, "sigma_b2"))]
        out = [dict(depth=d, width=w, activation=a, init=s, batchnorm=bn, batch=batch, seed=seed, backward=backward,
                    sigma_b2=sb2, train=train)
               for d, w, a, s, bn, seed, sb2 in itertools.product(*axes)]
    return [_check_config(c, i) for i, c in enumerate(out)]
