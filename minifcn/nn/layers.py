"""Layers: Modules that hold parameters (or settings) and call a ``functional`` op.

Shapes: N batch, C channels, H, W height and width; KH, KW kernel size. Constructor
arguments, defaults and parameter shapes follow PyTorch:

    Conv2d.weight           (C_out, C_in / groups, KH, KW)      bias (C_out,)
    ConvTranspose2d.weight  (C_in, C_out / groups, KH, KW)      bias (C_out,)
    BatchNorm2d.weight/bias (C,)   buffers running_mean, running_var (C,)

Default initialisation is PyTorch's: weight ~ U(-b, b) with b = 1/sqrt(fan_in) (Kaiming
uniform with a = sqrt(5)), bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)). Every layer with
random parameters takes ``rng=`` (a ``numpy.random.Generator``, an int seed, or None for
the global generator that ``nn.init.manual_seed`` sets), so model init is reproducible.
"""
from __future__ import annotations

import math
import numbers
from collections import OrderedDict
from typing import Any, Iterable, Iterator

import numpy as np

from .. import arith
from .. import functional as F  # ops are looked up at call time: F.conv2d, F.max_pool2d, ...
from ..autograd import Tensor
from ..checks import check_conv_padding, check_float, check_groups, check_int
from . import init
from .module import Module, Parameter


def _check_channels(x: Tensor, expected: int, layer: str) -> None:
    """Inputs are (N, C, H, W) with C == expected; say which layer complained."""
    if x.ndim != 4 or x.shape[1] != expected:
        raise ValueError(f"{layer} expects input of shape (N, {expected}, H, W), got {x.shape}")


# ---------------------------------------------------------------------------------------------
# Convolutions
# ---------------------------------------------------------------------------------------------
class _ConvNd(Module):
    """What Conv2d and ConvTranspose2d share: hyperparameters, parameters, init, repr."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any,
                 padding: Any, dilation: Any, groups: int, bias: bool, weight_shape_in_out: bool,
                 rng: Any) -> None:
        super().__init__()
        self.in_channels = check_int("in_channels", in_channels, 1)
        self.out_channels = check_int("out_channels", out_channels, 1)
        self.groups = check_groups(groups, {"in_channels": in_channels, "out_channels": out_channels})
        self.kernel_size = arith.pair(kernel_size, "kernel_size")
        self.stride = arith.pair(stride, "stride")
        self.dilation = arith.pair(dilation, "dilation")
        self.padding = self._padding(padding)
        kh, kw = self.kernel_size
        if weight_shape_in_out:   # transposed: (C_in, C_out / groups, KH, KW)
            shape = (in_channels, out_channels // groups, kh, kw)
        else:                     # (C_out, C_in / groups, KH, KW)
            shape = (out_channels, in_channels // groups, kh, kw)
        self.weight = Parameter(np.empty(shape, dtype=np.float32))
        self.bias = Parameter(np.empty(out_channels, dtype=np.float32)) if bias else None
        self.reset_parameters(rng)

    def _padding(self, padding: Any) -> tuple[int, int]:
        return arith.pair(padding, "padding")

    def reset_parameters(self, rng: Any = None) -> None:
        """PyTorch's default: Kaiming uniform with a = sqrt(5), i.e. U(±1/sqrt(fan_in)),
        for the weight and U(±1/sqrt(fan_in)) for the bias (fan_in from weight.shape[1:])."""
        rng = init.get_rng(rng)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=rng)
        if self.bias is not None:
            fan_in, _ = init.calculate_fan_in_and_fan_out(self.weight.shape)
            bound = 1 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound, rng=rng)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding!r}"
        if getattr(self, "output_padding", (0, 0)) != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    """2-D cross-correlation y = w ⋆ x + b over (N, C_in, H, W) inputs (see ``F.conv2d``).

    padding: int, (PH, PW), "valid" (no padding) or "same" (stride 1 only: the output has
    the input's size; an odd total padding d·(k - 1) puts the extra zero bottom/right).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 rng: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, weight_shape_in_out=False, rng=rng)

    def _padding(self, padding: Any) -> Any:
        return check_conv_padding(padding, self.stride)   # "same"/"valid": F.conv2d works out the numbers

    def forward(self, x: Tensor) -> Tensor:
        _check_channels(x, self.in_channels, repr(self))
        return F.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding,
                        dilation=self.dilation, groups=self.groups)


class ConvTranspose2d(_ConvNd):
    """Transposed convolution (the adjoint of Conv2d, a learnable upsampling; see
    ``F.conv_transpose2d``). Output size per axis: (i - 1)·s - 2p + d·(k - 1) + output_padding + 1.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, rng: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, weight_shape_in_out=True, rng=rng)
        self.output_padding = arith.pair(output_padding, "output_padding")
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if op >= max(s, d):
                raise ValueError(f"output_padding={self.output_padding} must be smaller than "
                                 f"stride={self.stride} or dilation={self.dilation}")

    def forward(self, x: Tensor) -> Tensor:
        _check_channels(x, self.in_channels, repr(self))
        return F.conv_transpose2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding,
                                  output_padding=self.output_padding, groups=self.groups,
                                  dilation=self.dilation)


# ---------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------
class BatchNorm2d(Module):
    """Batch normalisation over (N, H, W) for each channel (Ioffe & Szegedy, 2015):

        y = (x - mean) / sqrt(var + eps) · weight + bias

    Training: mean and var are the batch's (biased var normalises), and the running
    estimates move: running = (1 - momentum)·running + momentum·batch (unbiased var).
    Evaluation (``eval()``): the running estimates are used, so one image's output does not
    depend on the rest of its batch. ``track_running_stats=False`` always uses batch stats.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True, track_running_stats: bool = True) -> None:
        super().__init__()
        self.num_features = check_int("num_features", num_features, 1)
        self.eps = check_float("eps", eps, 0, low_open=True)
        self.momentum = check_float("momentum", momentum, 0, 1)
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        self.weight = Parameter(np.ones(num_features, dtype=np.float32)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype=np.float32)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=np.float32))
            self.register_buffer("running_var", np.ones(num_features, dtype=np.float32))
        else:
            self.running_mean = self.running_var = None

    def forward(self, x: Tensor) -> Tensor:
        _check_channels(x, self.num_features, repr(self))
        use_batch_stats = self.training or not self.track_running_stats
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            training=use_batch_stats, momentum=self.momentum, eps=self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


# ---------------------------------------------------------------------------------------------
# Activations and dropout
# ---------------------------------------------------------------------------------------------
class ReLU(Module):
    """y = max(x, 0)."""
    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class LeakyReLU(Module):
    """y = x for x > 0, negative_slope·x otherwise."""
    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """y = 1 / (1 + e^-x)."""
    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    """y = tanh x."""
    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class Identity(Module):
    """y = x (a placeholder, e.g. where a block has no normalisation)."""
    def forward(self, x: Any) -> Any:
        return x


class Dropout(Module):
    """Inverted dropout while training (zero with probability p, scale the rest by 1/(1-p));
    the identity in ``eval()`` mode. ``rng`` (Generator or int seed) makes masks reproducible;
    None uses the array module's global generator."""
    def __init__(self, p: float = 0.5, rng: Any = None) -> None:
        super().__init__()
        self.p = check_float("Dropout p", p, 0, 1, high_open=True)
        self.rng = None if rng is None else init.get_rng(rng)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, rng=self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


# ---------------------------------------------------------------------------------------------
# Pooling, unpooling, upsampling
# ---------------------------------------------------------------------------------------------
class MaxPool2d(Module):
    """Max over KH×KW windows; ``return_indices=True`` also returns, per output cell, the flat
    index of the winner in its H·W input plane (what MaxUnpool2d needs)."""
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = bool(return_indices), bool(ceil_mode)

    def forward(self, x: Tensor) -> Any:
        return F.max_pool2d(x, self.kernel_size, stride=self.stride, padding=self.padding,
                            dilation=self.dilation, ceil_mode=self.ceil_mode,
                            return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
                + (", return_indices=True" if self.return_indices else ""))


class MaxUnpool2d(Module):
    """Put each value back where its max came from (zeros elsewhere): ``unpool(x, indices)``."""
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def forward(self, x: Tensor, indices: Any, output_size: Any = None) -> Tensor:
        return F.max_unpool2d(x, indices, self.kernel_size, stride=self.stride, padding=self.padding,
                              output_size=output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """Mean over KH×KW windows."""
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode, self.count_include_pad = bool(ceil_mode), bool(count_include_pad)

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, stride=self.stride, padding=self.padding,
                            ceil_mode=self.ceil_mode, count_include_pad=self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class Upsample(Module):
    """Resize to ``size`` or by ``scale_factor`` with mode "nearest" or "bilinear"
    (``F.interpolate``)."""
    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None) -> None:
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ValueError(f"Upsample needs exactly one of size={size!r} and "
                             f"scale_factor={scale_factor!r}")
        self.size, self.scale_factor, self.mode, self.align_corners = size, scale_factor, mode, align_corners

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(x, size=self.size, scale_factor=self.scale_factor, mode=self.mode,
                             align_corners=self.align_corners)

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}" + (f", align_corners={self.align_corners}"
                                                 if self.align_corners is not None else "")


# ---------------------------------------------------------------------------------------------
# Containers
# ---------------------------------------------------------------------------------------------
class ModuleList(Module):
    """A list of modules whose parameters the parent sees, children named by index
    (``down.0.conv1.weight``). It has no forward: the parent decides how to call them."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        self.extend(modules)

    def append(self, module: Module) -> "ModuleList":
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        for m in modules:
            self.append(m)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._modules.items())
        if isinstance(index, slice):
            return self._from_items(items[index])
        return items[_index(index, len(items))][1]

    @classmethod
    def _from_items(cls, items: list) -> "ModuleList":
        return cls(m for _, m in items)


class Sequential(ModuleList):
    """Apply modules one after another; children are named "0", "1", ... (or by the keys
    of an OrderedDict): ``Sequential(Conv2d(3, 8, 3), ReLU())``."""

    def __init__(self, *modules: Any) -> None:
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            Module.__init__(self)
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            super().__init__(modules)

    @classmethod
    def _from_items(cls, items: list) -> "Sequential":
        return cls(OrderedDict(items))  # a slice keeps the children's names

    def forward(self, x: Any) -> Any:
        for m in self:
            x = m(x)
        return x


def _index(index: Any, length: int) -> int:
    if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not -length <= index < length:
        raise IndexError(f"index {index!r} is out of range for a container of {length} modules")
    return int(index) % length
