"""A convolutional denoising autoencoder (Vincent et al., 2008, with convolutions).

The encoder squeezes the image through strided convolutions into a small code (the
*bottleneck*); the decoder grows it back with transposed convolutions. Trained to map a
*corrupted* image to the clean one, it must learn what images look like rather than copy
its input: corruption by Gaussian noise, or by masking (zeroing) random pixels.
"""
from __future__ import annotations

from typing import Any

import numpy as np

import minifcn as mf

from .. import functional as F
from .. import nn


class DenoisingAutoencoder(nn.Module):
    """Encoder (``depth`` stride-2 convs) → bottleneck of ``latent_channels`` → decoder.

    The output has the input's shape (sides divisible by 2**depth) and passes a sigmoid,
    so images are expected in [0, 1].
    """

    def __init__(self, in_channels: int = 1, base_channels: int = 16, depth: int = 2, latent_channels: int = 8,
                 corruption: str = "gaussian", noise: float = 0.3):
        super().__init__()
        if corruption not in ("gaussian", "mask"):
            raise ValueError(f"corruption={corruption!r} must be 'gaussian' or 'mask'")
        self.depth, self.corruption, self.noise = depth, corruption, noise
        chans = [in_channels] + [base_channels * 2 ** i for i in range(depth)]
        enc = []
        for i in range(depth):
            enc += [nn.Conv2d(chans[i], chans[i + 1], 3, stride=2, padding=1), nn.ReLU()]
        self.encoder = nn.Sequential(*enc, nn.Conv2d(chans[-1], latent_channels, 1))
        dec = [nn.Conv2d(latent_channels, chans[-1], 1), nn.ReLU()]
        for i in reversed(range(depth)):
            dec += [nn.ConvTranspose2d(chans[i + 1], chans[i] if i else base_channels, 4, stride=2, padding=1),
                    nn.ReLU()]
        self.decoder = nn.Sequential(*dec, nn.Conv2d(base_channels, in_channels, 3, padding=1))

    def corrupt(self, x: mf.Tensor, rng: np.random.Generator) -> mf.Tensor:
        """A corrupted copy of ``x``: Gaussian noise of std ``noise`` (clipped to [0, 1]),
        or each pixel zeroed with probability ``noise``."""
        xp = mf.array_module(x.data)
        if self.corruption == "gaussian":
            noisy = x.data + xp.asarray(rng.normal(0, self.noise, x.shape).astype(x.dtype))
            return mf.Tensor(xp.clip(noisy, 0, 1))
        keep = xp.asarray(rng.random(x.shape) >= self.noise)
        return mf.Tensor(x.data * keep)

    def encode(self, x: mf.Tensor) -> mf.Tensor:
        return self.encoder(x)

    def forward(self, x: mf.Tensor) -> mf.Tensor:
        if len(x.shape) != 4 or x.shape[2] % 2 ** self.depth or x.shape[3] % 2 ** self.depth:
            raise ValueError(f"DenoisingAutoencoder(depth={self.depth}) needs (N, C, H, W) input with sides "
                             f"divisible by {2 ** self.depth}; got shape {x.shape}")
        return F.sigmoid(self.decoder(self.encoder(x)))

    def compression_ratio(self, input_shape: Any) -> float:
        """Input values per bottleneck value for an (C, H, W) input."""
        c, h, w = input_shape
        latent = self.encoder[-1].out_channels * (h // 2 ** self.depth) * (w // 2 ** self.depth)
        return c * h * w / latent
