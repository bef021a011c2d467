"""Weight initialisation: Kaiming (He), Xavier (Glorot), constants, and bilinear upsampling.

Why scale matters: a layer computes sums of fan_in products, so with unit-variance inputs
its outputs have variance fan_in · Var(w). Choosing Var(w) ∝ 1/fan_in keeps activations
from growing or vanishing layer after layer.

- Kaiming / He (for ReLU-family layers): std = gain / sqrt(fan), gain = sqrt(2 / (1 + a²))
  for leaky ReLU with slope a; the uniform version draws U(-b, b) with b = gain·sqrt(3 / fan)
  (a uniform on [-b, b] has std b / sqrt(3)).
- Xavier / Glorot (for tanh/sigmoid): std = gain · sqrt(2 / (fan_in + fan_out)); uniform
  bound b = gain · sqrt(6 / (fan_in + fan_out)).

For a weight of shape (C_out, C_in, KH, KW): fan_in = C_in·KH·KW, fan_out = C_out·KH·KW
(PyTorch's convention, also for transposed convolutions, whose weight is (C_in, C_out, KH, KW)).

**Reproducibility.** Random draws come from a NumPy ``Generator`` on the host, then the
values are cast and copied to the tensor's device, so a seed gives the same weights on the
CPU and the GPU. Every function takes ``rng=``: a ``numpy.random.Generator``, an int seed,
or None for this module's global generator, which ``manual_seed(seed)`` resets:

    nn.init.manual_seed(0); model = UNet()      # the same weights every run
    layer = nn.Conv2d(3, 8, 3, rng=1)           # or one layer from its own seed
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import backend
from .. import functional as F
from ..autograd import Tensor

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reset the global generator used when no ``rng`` is given; returns it."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed(seed={seed!r}): seed must be a non-negative int")
    _generator = np.random.default_rng(int(seed))
    return _generator


def get_rng(rng: Any = None) -> np.random.Generator:
    """``rng`` as a Generator: itself, a new one from an int seed, or the global one for None."""
    if rng is None:
        return _generator
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng={rng!r} must be a numpy.random.Generator, an int seed or None")


def _fill(tensor: Tensor, values: np.ndarray) -> Tensor:
    """Write host ``values`` into ``tensor`` in place, on its device and in its dtype."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init functions take a Tensor/Parameter, got {type(tensor).__name__}")
    values = np.asarray(values).astype(tensor.dtype)
    tensor.data[...] = backend.to_device(values, tensor.device)
    return tensor


def calculate_fan_in_and_fan_out(shape: tuple) -> tuple[int, int]:
    """fan_in = shape[1]·∏shape[2:], fan_out = shape[0]·∏shape[2:] (PyTorch's rule)."""
    if len(shape) < 2:
        raise ValueError(f"fan in/out need a weight with at least 2 dimensions, got shape {tuple(shape)}")
    receptive = int(np.prod(shape[2:], dtype=np.int64)) if len(shape) > 2 else 1
    return int(shape[1]) * receptive, int(shape[0]) * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor that keeps the variance through ``nonlinearity`` (PyTorch's table)."""
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv_transpose2d", "sigmoid", "identity"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"nonlinearity={nonlinearity!r} is not supported; use one of linear, sigmoid, "
                     "tanh, relu, leaky_relu, selu, conv2d, conv_transpose2d")


def _fan(tensor: Tensor, mode: str) -> int:
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor.shape)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode={mode!r} must be 'fan_in' or 'fan_out'")
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, rng: Any = None) -> Tensor:
    """Fill with U(a, b)."""
    return _fill(tensor, get_rng(rng).uniform(a, b, size=tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, rng: Any = None) -> Tensor:
    """Fill with N(mean, std²)."""
    return _fill(tensor, get_rng(rng).normal(mean, std, size=tensor.shape))


def constant_(tensor: Tensor, value: float) -> Tensor:
    return _fill(tensor, np.full(tensor.shape, value))


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", rng: Any = None) -> Tensor:
    """U(-b, b), b = gain·sqrt(3 / fan), gain = calculate_gain(nonlinearity, a).

    With a = sqrt(5) (what PyTorch's Conv2d uses by default) b = 1 / sqrt(fan_in).
    """
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(tensor, mode))
    return uniform_(tensor, -bound, bound, rng)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", rng: Any = None) -> Tensor:
    """N(0, std²), std = gain / sqrt(fan)."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std, rng)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, rng: Any = None) -> Tensor:
    """U(-b, b), b = gain·sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor.shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, rng)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, rng: Any = None) -> Tensor:
    """N(0, std²), std = gain·sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor.shape)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng)


def bilinear_(tensor: Tensor) -> Tensor:
    """Initialise a transposed-convolution weight (C, C, K, K) to upsample bilinearly by
    s = (K + 1) // 2, channel by channel (``F.bilinear_kernel``: weight[c, c] is the tent
    (1 - |k - (K - 1)/2| / s) along H times the same along W; 0 between channels).

    This is how FCN initialises its learnable upsampling layers (Long et al., 2015); use it
    with ``ConvTranspose2d(C, C, kernel_size=2s - s % 2, stride=s, padding=s // 2)``.
    """
    shape = tuple(tensor.shape)
    if len(shape) != 4 or shape[2] != shape[3] or shape[0] != shape[1]:
        raise ValueError(f"bilinear_ needs a weight of shape (C, C, K, K) (same channels in and out, "
                         f"square kernel), got {shape}")
    scale = (shape[2] + 1) // 2
    if shape[2] != 2 * scale - scale % 2:
        raise ValueError(f"bilinear_: kernel size {shape[2]} is not 2s - s % 2 for an upsampling "
                         "factor s; valid sizes are 1, 4, 5, 8, 9, ... (s = 1, 2, 3, 4, 5, ...)")
    return _fill(tensor, F.bilinear_kernel(shape[0], shape[1], scale, dtype=np.float64))
