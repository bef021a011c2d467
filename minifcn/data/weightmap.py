"""The border weight map of U-Net (Ronneberger, Fischer & Brox, 2015, eq. 2).

A network trained with plain cross-entropy on touching cells learns the cells and ignores the
few background pixels between them, so two touching cells come out as one blob. The paper
weights every pixel's loss by

    w(x) = w_c(x) + w₀ · exp(-(d₁(x) + d₂(x))² / (2σ²))

- w_c(x) balances the class frequencies: w_c = n / (K' n_c) for a pixel of class c, where
  n_c counts the pixels of class c in the image, n all pixels and K' the classes present
  (so each present class carries the same total weight and the mean of w_c is 1);
- d₁(x), d₂(x) are the distances from x to the nearest and the second-nearest cell
  (Euclidean, to the closest pixel of that cell). The second term is large only where two
  cells come close on both sides of x: in the narrow gaps. As in common implementations it
  is added to background pixels only (inside a cell d₁ = 0 and the term would weight the
  cell's rim instead of the gap). Defaults w₀ = 10, σ = 5 px, as in the paper.

Shapes: instance maps (H, W) or (N, H, W) of integers, 0 = background, 1..M = cells. The
distances come from SciPy's Euclidean distance transform, one per cell (a loop over cells,
never over pixels). Host (NumPy) arrays in and out, float32.
"""
from __future__ import annotations

import numpy as np

from ..checks import check_float


def cell_distances(instances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(d₁, d₂): distance of every pixel to its nearest and second-nearest cell, (H, W) each.

    One Euclidean distance transform per cell k gives dist(x, cell k) (0 on the cell); the
    two smallest over k are d₁ and d₂. With fewer than two cells the missing ones are inf.
    """
    import scipy.ndimage as nd
    labels = np.unique(instances)
    labels = labels[labels > 0]
    d1 = np.full(instances.shape, np.inf)
    d2 = np.full(instances.shape, np.inf)
    for k in labels:
        d = nd.distance_transform_edt(instances != k)
        d2 = np.minimum(d2, np.maximum(d1, d))   # the second smallest so far
        d1 = np.minimum(d1, d)
    return d1, d2


def balance_weights(mask: np.ndarray, ignore_index: int | None = None) -> np.ndarray:
    """w_c(x) = n / (K' n_c) for the class c of pixel x, one image (H, W) -> float64 (H, W).

    Void pixels (``ignore_index``) are not counted in n or n_c and get weight 0."""
    void = mask == ignore_index if ignore_index is not None else np.zeros(mask.shape, bool)
    labels = np.where(void, 0, mask)
    counts = np.bincount(labels[~void].ravel(), minlength=int(labels.max(initial=0)) + 1)
    present = counts > 0
    per_class = np.where(present, (~void).sum() / (max(present.sum(), 1) * np.maximum(counts, 1)), 0.0)
    return np.where(void, 0.0, per_class[labels])


def border_weight_map(instances, w0: float = 10.0, sigma: float = 5.0, mask=None,
                      balance: bool = True, ignore_index: int | None = None) -> np.ndarray:
    """U-Net's weight map w = w_c + w₀ exp(-(d₁ + d₂)² / (2σ²)) (border term on background).

    ``instances`` (H, W) or (N, H, W) integer instance maps (0 background); ``mask`` the
    semantic labels for w_c (default ``instances > 0``; pass it when there are more classes,
    e.g. a border class); ``balance=False`` uses w_c = 1. Void pixels of ``mask``
    (``ignore_index``) get weight 0 and are not counted in w_c. Returns float32 of the same shape.
    """
    instances = np.asarray(instances)
    if instances.dtype.kind not in "iu" or instances.ndim not in (2, 3):
        raise ValueError(f"instances of shape {instances.shape} and dtype {instances.dtype} are not valid; "
                         "use integer instance maps (H, W) or (N, H, W), 0 = background")
    w0 = check_float("w0", w0, 0.0)
    sigma = check_float("sigma", sigma, 1e-6)
    if mask is None:
        mask = (instances > 0).astype(np.int64)
    mask = np.asarray(mask)
    if mask.shape != instances.shape or mask.dtype.kind not in "iu":
        raise ValueError(f"mask of shape {mask.shape} and dtype {mask.dtype} does not fit instances of "
                         f"shape {instances.shape}; use integer labels of the same shape")
    if instances.ndim == 3:
        return np.stack([border_weight_map(i, w0, sigma, m, balance, ignore_index)
                         for i, m in zip(instances, mask)]) \
            if len(instances) else np.zeros(instances.shape, np.float32)
    d1, d2 = cell_distances(instances)
    border = w0 * np.exp(-(d1 + d2) ** 2 / (2 * sigma ** 2))   # exp(-inf) = 0 with < 2 cells
    wc = balance_weights(mask, ignore_index) if balance else 1.0
    w = wc + np.where(instances == 0, border, 0.0)
    if ignore_index is not None:
        w = np.where(mask == ignore_index, 0.0, w)
    return w.astype(np.float32)
