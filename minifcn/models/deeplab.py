"""DeepLabv3+ (Chen et al., 2018), small: atrous convolution, ASPP and a light decoder.

* **Atrous (dilated) convolution** spaces the kernel taps ``rate`` pixels apart: a 3×3
  kernel then spans (2·rate + 1)² pixels with the same 9 weights, so the backbone can stop
  downsampling early (output stride 16 or 8 instead of 32) and still grow its receptive
  field; every layer after a removed stride then works on a map 4× larger.
* **Depthwise-separable convolution** = a per-channel 3×3 (groups = C) then a 1×1 mixing
  conv: C·9 + C·C' weights instead of 9·C·C'.
* **ASPP** (atrous spatial pyramid pooling) looks at several scales at once: a 1×1 conv,
  3×3 atrous convs at several rates, and an image-level branch (global average pool →
  1×1 conv → broadcast back), concatenated and fused by a 1×1 conv.
* **Decoder**: the ASPP output is upsampled (bilinear) to the size of the low-level
  features (stride 4), concatenated with them after a 1×1 reduction, refined by two
  separable 3×3 convs, then upsampled to the input size.

How this small model differs from the paper: the paper runs its encoder at output stride
16 by default (ASPP rates 6, 12, 18) and its decoder upsamples the encoder output ×4 to
the stride-4 features. This model is meant for small images (e.g. 64×64, where output
stride 16 would leave a 4×4 map): its encoder works at output stride 8 with rates
(2, 4, 6), so the decoder's first upsampling is ×2 (stride 8 → 4) and the last one ×4.
"""
from __future__ import annotations

from typing import Sequence

import minifcn as mf

from .. import functional as F
from .. import nn


class SeparableConv2d(nn.Module):
    """Depthwise 3×3 (atrous ``dilation``, ``stride``) → BN → ReLU → pointwise 1×1 → BN → ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, 3, stride=stride, padding=dilation,
                                   dilation=dilation, groups=in_channels, bias=False)
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x: mf.Tensor) -> mf.Tensor:
        x = F.relu(self.bn1(self.depthwise(x)))
        return F.relu(self.bn2(self.pointwise(x)))


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: 1×1, atrous 3×3 at ``rates``, image pooling; fused by 1×1."""

    def __init__(self, in_channels: int, out_channels: int, rates: Sequence[int] = (2, 4, 6)):
        super().__init__()
        self.branches = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU())] +
            [SeparableConv2d(in_channels, out_channels, dilation=r) for r in rates])
        self.image_pool = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.ReLU())
        self.project = nn.Sequential(nn.Conv2d(out_channels * (len(rates) + 2), out_channels, 1, bias=False),
                                     nn.BatchNorm2d(out_channels), nn.ReLU())

    def forward(self, x: mf.Tensor) -> mf.Tensor:
        outs = [branch(x) for branch in self.branches]
        pooled = self.image_pool(F.adaptive_avg_pool2d(x, 1))           # (N, C', 1, 1)
        outs.append(F.interpolate(pooled, size=x.shape[2:], mode="nearest"))  # broadcast back
        return self.project(mf.cat(outs, axis=1))


class DeepLabV3Plus(nn.Module):
    """A small DeepLabv3+: separable-conv backbone at output stride 8, ASPP, decoder (×2 to the
    stride-4 features, then ×4 to the input); sides divisible by 8."""

    def __init__(self, in_channels: int = 3, num_classes: int = 2, base_channels: int = 16,
                 rates: Sequence[int] = (2, 4, 6)):
        super().__init__()
        c = base_channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c, 3, stride=2, padding=1, bias=False),
                                  nn.BatchNorm2d(c), nn.ReLU())                              # stride 2
        self.low = SeparableConv2d(c, 2 * c, stride=2)                                       # stride 4: low-level
        self.mid = SeparableConv2d(2 * c, 4 * c, stride=2)                                   # stride 8
        self.atrous = nn.Sequential(SeparableConv2d(4 * c, 4 * c, dilation=2),              # stride stays 8,
                                    SeparableConv2d(4 * c, 4 * c, dilation=4))              # field keeps growing
        self.aspp = ASPP(4 * c, 4 * c, rates)
        self.reduce_low = nn.Sequential(nn.Conv2d(2 * c, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
        self.decoder = nn.Sequential(SeparableConv2d(5 * c, 2 * c), SeparableConv2d(2 * c, 2 * c))
        self.classifier = nn.Conv2d(2 * c, num_classes, 1)

    def forward(self, x: mf.Tensor) -> mf.Tensor:
        if len(x.shape) != 4 or x.shape[2] % 8 or x.shape[3] % 8:
            raise ValueError(f"DeepLabV3Plus needs (N, C, H, W) input with H and W divisible by 8; got shape {x.shape}")
        size = x.shape[2:]
        low = self.low(self.stem(x))
        deep = self.aspp(self.atrous(self.mid(low)))
        deep = F.interpolate(deep, size=low.shape[2:], mode="bilinear", align_corners=False)
        y = self.decoder(mf.cat([deep, self.reduce_low(low)], axis=1))
        return F.interpolate(self.classifier(y), size=size, mode="bilinear", align_corners=False)
