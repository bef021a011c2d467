"""Fully convolutional network (Long, Shelhamer & Darrell, 2015), small and VGG-like.

A classification backbone with its dense layers replaced by convolutions produces coarse
class scores at 1/32 of the input; transposed convolutions with the bilinear kernel bring
them back to full size. Finer variants fuse in scores from earlier, higher-resolution
layers first:

    FCN-32s: score(conv7) ─ ×32
    FCN-16s: up×2(score(conv7)) + score(pool4) ─ ×16
    FCN-8s:  up×2(up×2(score(conv7)) + score(pool4)) + score(pool3) ─ ×8

Which upsamplings learn follows the paper (section 4.3, "Dense Prediction"): "Final layer
deconvolutional filters are fixed to bilinear interpolation, while intermediate upsampling
layers are initialized to bilinear upsampling, and then learned." So by default the ×2
layers ``up2_a``, ``up2_b`` are ``nn.ConvTranspose2d`` started at the bilinear kernel, and
the final ``up_final`` is a :class:`BilinearUpsample`, whose kernel is a buffer (part of
``state_dict()`` as ``up_final.weight``, never a parameter). ``learn_upsampling`` changes that
for experiments: "none" fixes every upsampling, "all" learns the final one too.
"""
from __future__ import annotations

import minifcn as mf

from .. import functional as F
from .. import nn

LEARN_UPSAMPLING = ("intermediate", "none", "all")


def vgg_stage(in_channels: int, out_channels: int, convs: int = 2) -> nn.Sequential:
    """``convs`` × (3×3 conv → BatchNorm → ReLU); the pool follows in ``FCN.forward``."""
    layers = []
    for i in range(convs):
        layers += [nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1, bias=False),
                   nn.BatchNorm2d(out_channels), nn.ReLU()]
    return nn.Sequential(*layers)


class BilinearUpsample(nn.Module):
    """Fixed ×scale bilinear upsampling, channel by channel: ``F.conv_transpose2d`` with the
    kernel ``F.bilinear_kernel(C, C, scale)`` (size 2s - s % 2, stride s, padding s // 2:
    output = s·input), held as the buffer ``weight`` so that no optimiser ever changes it.
    Away from the border it equals ``F.interpolate(mode="bilinear")``; at the border the
    transposed convolution sees zeros (``nn.init.bilinear_`` explains the kernel)."""

    def __init__(self, channels: int, scale: int):
        super().__init__()
        self.channels, self.scale = channels, scale
        self.register_buffer("weight", F.bilinear_kernel(channels, channels, scale))

    def forward(self, x: mf.Tensor) -> mf.Tensor:
        return F.conv_transpose2d(x, self.weight, stride=self.scale, padding=self.scale // 2)

    def extra_repr(self) -> str:
        return f"{self.channels}, scale={self.scale}, fixed"


def upsampler(channels: int, scale: int, learned: bool = True) -> nn.Module:
    """A ×scale upsampling (kernel 2s - s % 2, stride s, padding s // 2: output = s·input) that
    starts as bilinear interpolation: a learnable ``nn.ConvTranspose2d`` initialised by
    ``nn.init.bilinear_`` (``learned=True``), or a fixed :class:`BilinearUpsample`."""
    if not learned:
        return BilinearUpsample(channels, scale)
    up = nn.ConvTranspose2d(channels, channels, 2 * scale - scale % 2, stride=scale, padding=scale // 2, bias=False)
    nn.init.bilinear_(up.weight)
    return up


class FCN(nn.Module):
    """FCN-32s / 16s / 8s (``variant``) on a 5-stage VGG-like backbone (sides divisible by 32).

    ``learn_upsampling``: "intermediate" (the paper's choice, the default: the ×2 fusion
    upsamplings learn, the final one is fixed bilinear), "none" (all fixed bilinear) or "all"
    (all learned, every one started at bilinear).
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 2, base_channels: int = 16, variant: str = "8s",
                 learn_upsampling: str = "intermediate"):
        super().__init__()
        if variant not in ("32s", "16s", "8s"):
            raise ValueError(f"variant={variant!r} must be '32s', '16s' or '8s'")
        if learn_upsampling not in LEARN_UPSAMPLING:
            raise ValueError(f"learn_upsampling={learn_upsampling!r} must be one of {LEARN_UPSAMPLING} "
                             "('intermediate': the paper's fixed final, learned x2 upsamplings)")
        self.variant, self.learn_upsampling = variant, learn_upsampling
        chans = [base_channels * m for m in (1, 2, 4, 8, 8)]
        self.stages = nn.ModuleList([vgg_stage(c_in, c_out, 2 if i < 2 else 3)
                                     for i, (c_in, c_out) in enumerate(zip([in_channels] + chans, chans))])
        # "conv6/conv7": the classifier's dense layers as convolutions
        self.fc = nn.Sequential(nn.Conv2d(chans[4], 4 * chans[4], 3, padding=1), nn.ReLU(), nn.Dropout(0.2),
                                nn.Conv2d(4 * chans[4], 4 * chans[4], 1), nn.ReLU(), nn.Dropout(0.2))
        self.score32 = nn.Conv2d(4 * chans[4], num_classes, 1)
        self.score16 = nn.Conv2d(chans[3], num_classes, 1)
        self.score8 = nn.Conv2d(chans[2], num_classes, 1)
        self.up2_a = upsampler(num_classes, 2, learned=learn_upsampling != "none")
        self.up2_b = upsampler(num_classes, 2, learned=learn_upsampling != "none")
        self.up_final = upsampler(num_classes, {"32s": 32, "16s": 16, "8s": 8}[variant],
                                  learned=learn_upsampling == "all")

    def forward(self, x: mf.Tensor) -> mf.Tensor:
        if len(x.shape) != 4 or x.shape[2] % 32 or x.shape[3] % 32:
            raise ValueError(f"FCN needs (N, C, H, W) input with H and W divisible by 32; got shape {x.shape}")
        pools = []
        for stage in self.stages:
            x = F.max_pool2d(stage(x), 2)
            pools.append(x)          # pool1 … pool5 at strides 2 … 32
        score = self.score32(self.fc(x))
        if self.variant in ("16s", "8s"):
            score = self.up2_a(score) + self.score16(pools[3])
        if self.variant == "8s":
            score = self.up2_b(score) + self.score8(pools[2])
        return self.up_final(score)
