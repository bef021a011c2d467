"""Batch normalisation (Ioffe & Szegedy 2015), as a fused Function.

Shapes: x (N, C, H, W) (or (N, C), or any (N, C, ...)); statistics, weight γ and bias β are
per channel, shape (C,), over the m = N·H·W values of each channel.
"""
from __future__ import annotations

from typing import Any

from .. import backend
from .. import kernels
from . import fastnorm
from ..autograd import Function, Tensor, as_tensor, is_grad_enabled
from ..checks import check_float, unwrap


class BatchNorm(Function):
    """y = γ x̂ + β,  x̂ = (x - μ) / √(σ² + ε), per channel.

    With batch statistics (μ, σ² of this x; σ² biased, divided by m), every x̂ depends on
    every x of its channel, and with ĝ = γ g the chain rule gives
        ∂L/∂x = (1/m) · (1/√(σ² + ε)) · (m ĝ - Σ ĝ - x̂ Σ ĝ x̂)
    With given (running) statistics, μ and σ² are constants: ∂L/∂x = ĝ / √(σ² + ε).
    Both ways ∂L/∂γ = Σ g x̂ and ∂L/∂β = Σ g (sums over N, H, W).
    """

    def __init__(self, mean, var, eps):
        self.mean, self.var, self.eps = mean, var, eps  # mean, var None: use the batch's

    def forward(self, x, weight, bias):
        if kernels.batchnorm_applies(x):                       # GPU: y (and relu(y)) in one fused kernel
            return kernels.batchnorm_forward(self, x, weight, bias, relu_ahead=is_grad_enabled())
        if fastnorm.applies(x):                                # CPU: the same, in fewer passes
            return fastnorm.forward(self, x, weight, bias)
        xp = backend.array_module(x)
        self.axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)  # (1, C, 1, 1): broadcasts over N, H, W
        self.batch_stats = self.mean is None
        if self.batch_stats:
            self.mean, self.var = x.mean(axis=self.axes), x.var(axis=self.axes)
        mean, var = self.mean.astype(x.dtype, copy=False), self.var.astype(x.dtype, copy=False)
        self.inv_std = (1 / xp.sqrt(var + self.eps)).reshape(shape)
        self.x_hat = (x - mean.reshape(shape)) * self.inv_std
        self.gamma = None if weight is None else weight.reshape(shape)
        self.has_bias = bias is not None
        y = self.x_hat if weight is None else self.x_hat * self.gamma
        return y if bias is None else y + bias.reshape(shape)

    def backward(self, g):
        if kernels.batchnorm_applies(g):                       # GPU: dx in one fused kernel
            return kernels.batchnorm_backward(self, g)
        if getattr(self, "fast", False):
            return fastnorm.backward(self, g)
        g_hat = g if self.gamma is None else g * self.gamma
        if self.batch_stats:
            m = g.size // g.shape[1]
            dx = (self.inv_std / m) * (m * g_hat - g_hat.sum(axis=self.axes, keepdims=True)
                                       - self.x_hat * (g_hat * self.x_hat).sum(axis=self.axes, keepdims=True))
        else:
            dx = g_hat * self.inv_std
        dweight = (g * self.x_hat).sum(axis=self.axes) if self.gamma is not None else None
        dbias = g.sum(axis=self.axes) if self.has_bias else None
        return dx, dweight, dbias


def _per_channel(value: Any, name: str, C: int, x: Tensor, running: bool) -> Any:
    """Check a (C,) argument: shape, device, and for running statistics an updatable float array."""
    if value is None:
        return None
    if running:
        value = unwrap(value)
        if not backend.is_array(value) or value.dtype.kind != "f":
            raise TypeError(f"batch_norm: {name} must be a floating NumPy/CuPy array (it is updated in place) "
                            f"or None, got {type(value).__name__}")
        device = backend.device_of(value)
    else:
        value = as_tensor(value)
        device = value.device
    if tuple(value.shape) != (C,):
        raise ValueError(f"batch_norm: {name} has shape {tuple(value.shape)} but x has C={C} channels "
                         f"(x shape {x.shape}); expected shape ({C},)")
    if device != x.device:
        raise ValueError(f"batch_norm: {name} is on device '{device}' but x is on '{x.device}'; "
                         f"move it to '{x.device}' first")
    return value


def batch_norm(x: Tensor, running_mean: Any, running_var: Any, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Normalise each channel of x, then scale by ``weight`` γ and shift by ``bias`` β.

    training=True (or no running statistics given): normalise with this batch's mean and
    biased variance over (N, H, W), and, when running_mean/running_var are arrays, update
    them *in place* as PyTorch does, with the unbiased variance (m/(m-1) σ², m = N·H·W):
        running ← (1 - momentum) · running + momentum · batch statistic
    training=False: normalise with running_mean and running_var, which the update above
    made estimates of the data set's statistics: y = γ (x - μ_run) / √(σ²_run + ε) + β.
    weight and bias (C,) are optional Tensors (None: γ = 1, β = 0); running_mean and
    running_var are (C,) backend arrays (or Tensors, whose data is updated) or None.
    """
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: x must have shape (N, C, ...) with channels on axis 1, got {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"batch_norm: x must be floating point, got dtype {x.dtype}")
    check_float("batch_norm: momentum", momentum, 0, 1)
    check_float("batch_norm: eps", eps, 0, low_open=True)
    C = x.shape[1]
    running_mean = _per_channel(running_mean, "running_mean", C, x, running=True)
    running_var = _per_channel(running_var, "running_var", C, x, running=True)
    weight = _per_channel(weight, "weight", C, x, running=False)
    bias = _per_channel(bias, "bias", C, x, running=False)
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: give both running_mean and running_var, or neither "
                         f"(got running_mean {'None' if running_mean is None else 'an array'}, "
                         f"running_var {'None' if running_var is None else 'an array'})")
    use_batch = training or running_mean is None
    m = x.size // C
    if use_batch and m < 2:
        raise ValueError(f"batch_norm: batch statistics need more than one value per channel, got x of shape "
                         f"{x.shape} (N·H·W = {m}); use a larger batch or training=False")
    fn = BatchNorm(None, None, eps) if use_batch else BatchNorm(running_mean, running_var, eps)
    y = fn(x, weight, bias)
    if training and running_mean is not None and kernels.batchnorm_applies(x.data) \
            and running_mean.shape == running_var.shape == fn.mean.shape:     # GPU: one fused kernel
        kernels.running_stats_update(running_mean, running_var, fn.mean, fn.var, momentum, m)
    elif training and running_mean is not None:
        running_mean[...] = (1 - momentum) * running_mean + momentum * fn.mean
        running_var[...] = (1 - momentum) * running_var + momentum * fn.var * (m / (m - 1))
    return y


def batch_norm_simple(x: Tensor, weight: Tensor | None = None, bias: Tensor | None = None,
                      eps: float = 1e-5) -> Tensor:
    """Training-mode batch norm composed from ops a student knows, for reading.

    μ = mean of x over (N, H, W), σ² = mean of (x - μ)², x̂ = (x - μ) / √(σ² + ε),
    y = γ x̂ + β, all through autograd (so its backward is derived, not written). The fused
    ``batch_norm`` computes the same with its backward formula written out, and also keeps
    the running statistics; the tests check that the two agree.
    """
    x = as_tensor(x)
    axes = (0,) + tuple(range(2, x.ndim))
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mu) / (var + eps).sqrt()
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y
