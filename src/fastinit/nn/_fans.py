"""Fans and gains of torch's initializers: ``fan_in`` / ``fan_out`` of a weight of shape (out, in, *kernel), and the
gain table of ``torch.nn.init.calculate_gain``. One home for both (``fastinit.init`` re-exports
``calculate_gain``)."""
import math

import numpy as np

from . import _tensors

__all__ = ["NONLINEARITIES", "calculate_gain", "fan_in_and_fan_out", "correct_fan", "tensor_shape"]

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
    if isinstance(nonlinearity, str):   # (an array compared with the names would raise NumPy's truth error)
        if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
            return 1.0
        if nonlinearity == "tanh":
            return 5.0 / 3
        if nonlinearity == "relu":
            return math.sqrt(2.0)
        if nonlinearity == "leaky_relu":
            if param is None:
                slope = 0.01
            elif not isinstance(param, bool) and isinstance(param, (int, float)):   # torch's rule, and its error
                slope = param
            else:
                raise ValueError(f"negative_slope {param} not a valid number")
            return math.sqrt(2.0 / (1 + slope**2))
        if nonlinearity == "selu":
            return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}; valid names: {', '.join(NONLINEARITIES)}")


def tensor_shape(tensor):
    if isinstance(tensor, np.ndarray) or _tensors.is_torch(tensor):
        return tuple(tensor.shape)
    raise TypeError(f"tensor must be a numpy.ndarray or a torch.Tensor, got {type(tensor).__name__}")


def fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel), as torch computes them."""
    shape = tensor_shape(tensor)
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def correct_fan(tensor, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} not supported; valid modes: fan_in, fan_out")
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out
