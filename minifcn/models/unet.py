"""U-Net (Ronneberger, Fischer & Brox, 2015): a contracting path that captures context and a
symmetric expanding path that recovers resolution, joined by skip connections that
*concatenate* encoder features onto the decoder's.

    input ─ DoubleConv ───────────────────────────── cat ─ DoubleConv ─ 1×1 conv ─ logits
              └ pool ─ DoubleConv ────────── cat ─ DoubleConv ┘ up
                        └ pool ─ DoubleConv (bottleneck) ┘ up

``padding="same"`` keeps sizes (output = input); ``padding="valid"`` is the paper's
unpadded version: each 3×3 conv loses 2 pixels, so skips are centre-cropped before the
concatenation ("crop and concat") and the output is smaller than the input
(``UNet.output_size`` tells by how much).
"""
from __future__ import annotations

import minifcn as mf

from .. import functional as F
from .. import nn


class DoubleConv(nn.Module):
    """(3×3 conv → BatchNorm → ReLU) twice: the building block of every U-Net level."""

    def __init__(self, in_channels: int, out_channels: int, padding: str = "same", batch_norm: bool = True):
        super().__init__()
        pad = 1 if padding == "same" else 0
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=pad, bias=not batch_norm)
        self.bn1 = nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=pad, bias=not batch_norm)
        self.bn2 = nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity()

    def forward(self, x: mf.Tensor) -> mf.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(x)))


def center_crop(x: mf.Tensor, height: int, width: int) -> mf.Tensor:
    """The central height×width window of an (N, C, H, W) tensor (the paper's crop for skips)."""
    if tuple(x.shape[2:]) == (height, width):                   # padding "same": nothing to crop
        return x
    top, left = (x.shape[2] - height) // 2, (x.shape[3] - width) // 2
    return x[:, :, top:top + height, left:left + width]


class UNet(nn.Module):
    """U-Net for ``num_classes``-way pixel classification; returns (N, num_classes, H', W') logits.

    base_channels: channels of the first level, doubled at every level down.
    depth: number of 2×2 max-pool steps (the input side must be divisible by 2**depth
        for ``padding="same"``).
    padding: "same" (output size = input size) or "valid" (the paper's unpadded convs).
    upsample: "transpose" (2×2 stride-2 transposed conv, learnable) or "bilinear"
        (bilinear ×2 then a 1×1 conv to halve the channels).
    skip: False drops the skip connections (for the ablation in the U-Net lesson).
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 2, base_channels: int = 16, depth: int = 4,
                 padding: str = "same", upsample: str = "transpose", batch_norm: bool = True, skip: bool = True):
        super().__init__()
        if padding not in ("same", "valid"):
            raise ValueError(f"padding={padding!r} must be 'same' or 'valid'")
        if upsample not in ("transpose", "bilinear"):
            raise ValueError(f"upsample={upsample!r} must be 'transpose' or 'bilinear'")
        if depth < 1 or base_channels < 1:
            raise ValueError(f"depth={depth} and base_channels={base_channels} must be >= 1")
        self.depth, self.padding, self.skip = depth, padding, skip
        chans = [base_channels * 2 ** i for i in range(depth + 1)]
        self.down = nn.ModuleList([DoubleConv(in_channels, chans[0], padding, batch_norm)] +
                                  [DoubleConv(chans[i], chans[i + 1], padding, batch_norm) for i in range(depth)])
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in reversed(range(depth)):
            if upsample == "transpose":
                self.up.append(nn.ConvTranspose2d(chans[i + 1], chans[i], 2, stride=2))
            else:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                                             nn.Conv2d(chans[i + 1], chans[i], 1)))
            self.dec.append(DoubleConv(chans[i] * (2 if skip else 1), chans[i], padding, batch_norm))
        self.head = nn.Conv2d(chans[0], num_classes, 1)

    def forward(self, x: mf.Tensor) -> mf.Tensor:
        self._check_input(x.shape)
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        skips.pop()  # the bottleneck output is x itself
        for up, dec in zip(self.up, self.dec):
            x = up(x)
            s = skips.pop()
            if self.skip:
                x = mf.cat([center_crop(s, x.shape[2], x.shape[3]), x], axis=1)
            x = dec(x)
        return self.head(x)

    def output_size(self, size: int) -> int:
        """Output side for an input side; 0 when "valid" convs and pools cannot fit it.

        "same": the size itself. "valid": every level loses 4 pixels to its two 3×3 convs and
        must then be even to pool (the paper's 572 → 388).
        """
        if self.padding == "same":
            return size
        for _ in range(self.depth):
            size -= 4
            if size < 2 or size % 2:
                return 0
            size //= 2
        size -= 4
        for _ in range(self.depth):
            size = 2 * size - 4
        return max(size, 0)

    def _check_input(self, shape: tuple) -> None:
        if len(shape) != 4:
            raise ValueError(f"UNet expects (N, C, H, W) input, got shape {shape}")
        for side in shape[2:]:
            if self.padding == "same" and side % 2 ** self.depth:
                raise ValueError(f"UNet(depth={self.depth}, padding='same') needs H and W divisible by "
                                 f"2**{self.depth} = {2 ** self.depth}; got input shape {shape}")
            if self.padding == "valid" and self.output_size(side) < 1:
                raise ValueError(f"input side {side} does not fit UNet(depth={self.depth}, padding='valid'): "
                                 "each level needs (side - 4) even and >= 2 before pooling (e.g. 572 for depth 4)")
