"""SegNet (Badrinarayanan, Kendall & Cipolla, 2017): an encoder whose max-pools *remember
where each maximum came from*, and a mirrored decoder that max-unpools with those positions.

    conv ─ pool(→ indices₁) ─ conv ─ pool(→ indices₂) ─ …
    … ─ unpool(indices₂) ─ conv ─ unpool(indices₁) ─ conv ─ 1×1 conv → logits

Unlike U-Net no feature maps cross over, only the pooling indices (a few bits per cell),
so the decoder puts each value back exactly where the encoder found it and the
following convolutions fill in the zeros.
"""
from __future__ import annotations

import minifcn as mf

from .. import functional as F
from .. import nn


def conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    """3×3 conv (same padding) → BatchNorm → ReLU."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU())


class SegNet(nn.Module):
    """SegNet with ``depth`` pool/unpool levels; channels double each level from ``base_channels``."""

    def __init__(self, in_channels: int = 3, num_classes: int = 2, base_channels: int = 16, depth: int = 3):
        super().__init__()
        if depth < 1 or base_channels < 1:
            raise ValueError(f"depth={depth} and base_channels={base_channels} must be >= 1")
        self.depth = depth
        chans = [in_channels] + [base_channels * 2 ** i for i in range(depth)]
        self.enc = nn.ModuleList([nn.Sequential(conv_bn_relu(chans[i], chans[i + 1]),
                                                conv_bn_relu(chans[i + 1], chans[i + 1]))
                                  for i in range(depth)])
        # the decoder mirrors the encoder; its last block keeps base_channels for the classifier
        self.dec = nn.ModuleList([nn.Sequential(conv_bn_relu(chans[i + 1], chans[i + 1]),
                                                conv_bn_relu(chans[i + 1], chans[i] if i else base_channels))
                                  for i in reversed(range(depth))])
        self.classifier = nn.Conv2d(base_channels, num_classes, 1)

    def forward(self, x: mf.Tensor) -> mf.Tensor:
        if len(x.shape) != 4 or x.shape[2] % 2 ** self.depth or x.shape[3] % 2 ** self.depth:
            raise ValueError(f"SegNet(depth={self.depth}) needs (N, C, H, W) input with H and W divisible "
                             f"by {2 ** self.depth}; got shape {x.shape}")
        remembered = []
        for block in self.enc:
            x = block(x)
            size = x.shape[2:]
            x, indices = F.max_pool2d(x, 2, return_indices=True)
            remembered.append((indices, size))
        for block in self.dec:
            indices, size = remembered.pop()
            x = block(F.max_unpool2d(x, indices, 2, output_size=size))
        return self.classifier(x)
