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


def crop_item(rng: np.random.Generator, image: np.ndarray, mask: np.ndarray, size, scale=None):
    """A random ``size`` = (h, w) crop of ONE host item (image (C, H, W), labels (..., H, W)),
    for data sets whose images differ in size (``DataLoader(item_transform=...)``).

    ``scale=(lo, hi)``: scale jitter. A factor s is drawn uniformly from [lo, hi], a window
    of (h / s, w / s) pixels (no larger than the image) is cut out and resized to (h, w):
    the image bilinearly, the labels by nearest neighbour (so void stays void and no new
    labels appear). s > 1 zooms in, s < 1 out. The image must be at least (h, w).
    """
    h, w = int(size[0]), int(size[1])
    H, W = image.shape[-2:]
    if H < h or W < w:
        raise ValueError(f"crop {h}x{w} (HxW) is larger than the image {H}x{W}; use a smaller crop")
    if scale is None:
        top, left = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
        return (np.ascontiguousarray(image[..., top:top + h, left:left + w]),
                np.ascontiguousarray(mask[..., top:top + h, left:left + w]))
    s = float(rng.uniform(scale[0], scale[1]))
    wh, ww = min(H, max(1, round(h / s))), min(W, max(1, round(w / s)))
    top, left = int(rng.integers(0, H - wh + 1)), int(rng.integers(0, W - ww + 1))
    rows = top + (np.arange(h) + 0.5) * wh / h - 0.5       # sample positions (pixel centres)
    cols = left + (np.arange(w) + 0.5) * ww / w - 0.5
    near_r = np.clip(np.floor(rows + 0.5), top, top + wh - 1).astype(np.int64)
    near_c = np.clip(np.floor(cols + 0.5), left, left + ww - 1).astype(np.int64)
    labels = mask[..., near_r[:, None], near_c[None, :]]
    r0 = np.clip(np.floor(rows), 0, H - 1).astype(np.int64)
    c0 = np.clip(np.floor(cols), 0, W - 1).astype(np.int64)
    r1, c1 = np.minimum(r0 + 1, H - 1), np.minimum(c0 + 1, W - 1)
    fr = np.clip(rows - r0, 0, 1).astype(np.float32)[:, None]
    fc = np.clip(cols - c0, 0, 1).astype(np.float32)[None, :]
    top_row = image[..., r0[:, None], c0[None, :]] * (1 - fc) + image[..., r0[:, None], c1[None, :]] * fc
    bottom = image[..., r1[:, None], c0[None, :]] * (1 - fc) + image[..., r1[:, None], c1[None, :]] * fc
    return (top_row * (1 - fr) + bottom * fr).astype(image.dtype), labels


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


# ---- elastic deformation (U-Net paper, section 3.1) -----------------------------------------
def cubic_matrix(size: int, points: int) -> np.ndarray:
    """(size, points) matrix that interpolates ``points`` values, spread evenly from pixel 0
    to pixel size - 1, to every pixel with the cubic convolution kernel (Keys, a = -1/2):
    ``values_at_pixels = M @ values_at_points``. Points beyond the ends repeat the end values.

        k(t) = 1.5|t|³ - 2.5|t|² + 1            for |t| <= 1
             = -0.5|t|³ + 2.5|t|² - 4|t| + 2    for 1 < |t| < 2,   0 beyond
    """
    t = np.linspace(0, points - 1, size)[:, None] if size > 1 else np.zeros((1, 1))
    j = np.floor(t).astype(np.int64) + np.arange(-1, 3)            # the 4 nearest points
    d = np.abs(t - j)
    k = np.where(d <= 1, 1.5 * d ** 3 - 2.5 * d ** 2 + 1,
                 np.where(d < 2, -0.5 * d ** 3 + 2.5 * d ** 2 - 4 * d + 2, 0.0))
    out = np.zeros((size, points))
    np.add.at(out, (np.repeat(np.arange(size), 4), np.clip(j, 0, points - 1).ravel()), k.ravel())
    return out


def elastic_field(rng: np.random.Generator, n: int, height: int, width: int, grid: int = 3,
                  std: float = 2.0) -> np.ndarray:
    """Random smooth displacement fields (N, 2, H, W) float64 (row and column shift, in px).

    As in the U-Net paper: displacement vectors on a coarse ``grid`` x ``grid`` lattice drawn
    from N(0, std²), then interpolated to every pixel by bicubic (cubic convolution)
    interpolation, ``D = M_rows @ G @ M_colsᵀ``, which makes the field smooth.
    """
    if not (isinstance(grid, (int, np.integer)) and grid >= 2):
        raise ValueError(f"grid={grid!r} is not valid; use an integer >= 2 (points per side)")
    if not std >= 0:
        raise ValueError(f"std={std!r} is not valid; use a displacement in px >= 0")
    coarse = rng.normal(0.0, std, (n, 2, grid, grid))
    return cubic_matrix(height, grid) @ coarse @ cubic_matrix(width, grid).T


def _reflect(xp, x, size: int):
    """Coordinates mirrored into [0, size - 1] (… 2 1 0 1 2 … size-2 size-1 size-2 …)."""
    if size == 1:
        return xp.zeros_like(x)
    period = 2 * (size - 1)
    x = xp.abs(x) % period
    return xp.where(x > size - 1, period - x, x)


def warp(a, field, mode: str = "bilinear"):
    """Sample ``a`` (N, ..., H, W) at the displaced positions: out[n, ..., r, c] =
    a[n, ..., r + field[n, 0, r, c], c + field[n, 1, r, c]], mirrored at the image edges.

    mode "bilinear" blends the 4 nearest pixels (for images); "nearest" takes the closest
    pixel (for label maps: labels stay labels, of their dtype). One gather per corner for
    the whole batch.
    """
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"mode={mode!r} is not valid; use 'bilinear' (images) or 'nearest' (labels)")
    xp = array_module(a)
    n, h, w = a.shape[0], a.shape[-2], a.shape[-1]
    field = xp.asarray(field)
    if tuple(field.shape) != (n, 2, h, w):
        raise ValueError(f"field of shape {tuple(field.shape)} does not fit a of shape {tuple(a.shape)}; "
                         f"use (N, 2, H, W) = ({n}, 2, {h}, {w})")
    rows = _reflect(xp, xp.arange(h).reshape(1, h, 1) + field[:, 0], h)     # (N, H, W)
    cols = _reflect(xp, xp.arange(w).reshape(1, 1, w) + field[:, 1], w)
    flat = a.reshape(n, -1, h * w)

    def gather(r, c):   # a[n, ..., r, c] for integer (N, H, W) positions
        index = (r * w + c).reshape(n, 1, h * w)
        return xp.take_along_axis(flat, xp.broadcast_to(index, (n, flat.shape[1], h * w)), axis=2)

    if mode == "nearest":
        out = gather(xp.rint(rows).astype(xp.int64), xp.rint(cols).astype(xp.int64))
        return out.reshape(a.shape)
    r0, c0 = xp.floor(rows).astype(xp.int64), xp.floor(cols).astype(xp.int64)
    r1, c1 = xp.minimum(r0 + 1, h - 1), xp.minimum(c0 + 1, w - 1)
    fr = (rows - r0).reshape(n, 1, h * w).astype(a.dtype)
    fc = (cols - c0).reshape(n, 1, h * w).astype(a.dtype)
    top = gather(r0, c0) * (1 - fc) + gather(r0, c1) * fc
    bottom = gather(r1, c0) * (1 - fc) + gather(r1, c1) * fc
    return (top * (1 - fr) + bottom * fr).reshape(a.shape)


def random_elastic(rng: np.random.Generator, images, masks, grid: int = 3, std: float = 2.0):
    """Deform each sample by its own random smooth field (:func:`elastic_field`): images
    bilinearly, masks (or any label maps (N, ..., H, W), e.g. masks and instances stacked)
    by nearest pixel, so labels stay integers and stay aligned with the image."""
    n, h, w = _check(images, masks)
    field = elastic_field(rng, n, h, w, grid, std)
    return warp(images, field, "bilinear"), warp(masks, field, "nearest")
