"""Joint image/mask augmentations on whole batches.

Shapes: images (N, C, H, W); masks (N, H, W) (or any array (N, ..., H, W), e.g. a clean
target image for denoising). Every function draws one random choice per sample from the
NumPy generator ``rng`` and moves the *same* pixels of image and mask, so they stay
aligned. Each is vectorised over the batch (no Python loop over samples) and works on the
arrays' own backend (NumPy or CuPy); the random draws are made on the host.

A transform has the signature ``f(rng, images, masks) -> (images, masks)``; give the
extra arguments with ``functools.partial``, e.g.
``Compose([random_flip, random_rot90, partial(random_crop, size=48)])``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..backend import array_module


def _check(images, masks) -> tuple[int, int, int]:
    """Validate a batch and return (N, H, W)."""
    if images.ndim != 4:
        raise ValueError(f"images of shape {tuple(images.shape)} are not valid; use (N, C, H, W)")
    n, _, h, w = images.shape
    if masks.ndim < 3 or masks.shape[0] != n or tuple(masks.shape[-2:]) != (h, w):
        raise ValueError(f"masks of shape {tuple(masks.shape)} do not match images of shape "
                         f"{tuple(images.shape)}; use (N, H, W) = ({n}, {h}, {w})")
    return n, h, w


def _per_sample(xp, flags: np.ndarray, ndim: int):
    """Host booleans (N,) -> device array (N, 1, ..., 1) that broadcasts over one sample."""
    return xp.asarray(flags).reshape((-1,) + (1,) * (ndim - 1))


def random_flip(rng: np.random.Generator, images, masks, p: float = 0.5):
    """Flip each sample left-right with probability ``p`` and, independently, up-down with
    probability ``p``. Flipping is its own inverse: ``flip(flip(x)) == x``."""
    if not 0 <= p <= 1:
        raise ValueError(f"p={p!r} is not a probability; use a number in [0, 1]")
    n, _, _ = _check(images, masks)
    xp = array_module(images)
    left_right, up_down = rng.random(n) < p, rng.random(n) < p

    def flip(a):
        a = xp.where(_per_sample(xp, left_right, a.ndim), a[..., ::-1], a)
        return xp.where(_per_sample(xp, up_down, a.ndim), a[..., ::-1, :], a)
    return flip(images), flip(masks)


def rot90(a, k: int):
    """Rotate the last two axes by ``k`` quarter turns counter-clockwise, like
    ``np.rot90(a, k, axes=(-2, -1))``: one turn is "transpose, then reverse the rows"."""
    for _ in range(k % 4):
        a = a.swapaxes(-1, -2)[..., ::-1, :]
    return a


def random_rot90(rng: np.random.Generator, images, masks):
    """Rotate each sample by a random multiple of 90 degrees (k = 0, 1, 2, 3 equally likely).

    Needs square images (H == W): only then does a quarter turn keep the shape (H, W), so
    the rotated samples can share one batch array.
    """
    n, h, w = _check(images, masks)
    if h != w:
        raise ValueError(f"random_rot90 needs square images, got H x W = {h} x {w}; "
                         "crop them square first (random_crop) or use random_flip")
    xp = array_module(images)
    turns = rng.integers(0, 4, n)
    out_images, out_masks = images.copy(), masks.copy()
    for k in (1, 2, 3):   # one fancy-indexed assignment per rotation, not per sample
        sel = np.flatnonzero(turns == k)
        if sel.size:
            sel = xp.asarray(sel)
            out_images[sel] = rot90(images[sel], k)
            out_masks[sel] = rot90(masks[sel], k)
    return out_images, out_masks


def _crop(xp, a, top: np.ndarray, left: np.ndarray, h: int, w: int):
    """Sample n's window ``a[n, ..., top[n]:top[n]+h, left[n]:left[n]+w]``, gathered by one
    fancy index: rows (N, h) and columns (N, w) broadcast to (N, C', h, w)."""
    n = a.shape[0]
    flat = a.reshape((n, -1) + tuple(a.shape[-2:]))
    rows = xp.asarray(top[:, None] + np.arange(h))[:, None, :, None]
    cols = xp.asarray(left[:, None] + np.arange(w))[:, None, None, :]
    samples = xp.arange(n)[:, None, None, None]
    channels = xp.arange(flat.shape[1])[None, :, None, None]
    return flat[samples, channels, rows, cols].reshape(tuple(a.shape[:-2]) + (h, w))


def random_crop(rng: np.random.Generator, images, masks, size):
    """Cut a random ``size`` window (an int for square, or (h, w)) out of each sample; the
    top-left corner is uniform over all positions where the window fits."""
    n, h, w = _check(images, masks)
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (size, size)
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(isinstance(s, (int, np.integer)) for s in size)
            or not (1 <= size[0] <= h and 1 <= size[1] <= w)):
        raise ValueError(f"size={size!r} is not valid for images of H x W = {h} x {w}; "
                         f"use an int or (h, w) with 1 <= h <= {h} and 1 <= w <= {w}")
    ch, cw = int(size[0]), int(size[1])
    top, left = rng.integers(0, h - ch + 1, n), rng.integers(0, w - cw + 1, n)
    xp = array_module(images)
    return _crop(xp, images, top, left, ch, cw), _crop(xp, masks, top, left, ch, cw)


class Compose:
    """Apply transforms ``f(rng, images, masks) -> (images, masks)`` one after another,
    all drawing from the same generator."""

    def __init__(self, transforms: Sequence[Callable]):
        transforms = list(transforms)
        for t in transforms:
            if not callable(t):
                raise ValueError(f"{t!r} is not a transform; use callables "
                                 "f(rng, images, masks) -> (images, masks)")
        self.transforms = transforms

    def __call__(self, rng: np.random.Generator, images, masks):
        for t in self.transforms:
            images, masks = t(rng, images, masks)
        return images, masks

    def __repr__(self) -> str:
        names = ", ".join(getattr(t, "__name__", None) or repr(t) for t in self.transforms)
        return f"Compose([{names}])"
