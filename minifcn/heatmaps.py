"""Keypoint heatmaps: encode positions as Gaussian bumps, decode them as argmax positions.

A keypoint network (``models.KeypointNet``) is trained towards ``keypoint_heatmaps`` of
the true positions and read with ``decode_heatmaps``; the synthetic keypoint data set
(``data.SyntheticKeypoints``) makes its targets with the same function. Both work on
NumPy or CuPy arrays and keep them on their device.
"""
from __future__ import annotations

from typing import Any

from .backend import array_module
from .checks import check_float, check_int, unwrap


def keypoint_heatmaps(keypoints, size: int, sigma: float = 2.0):
    """Gaussian heatmaps ``exp(-((r - r_k)^2 + (c - c_k)^2) / (2 sigma^2))`` per keypoint.

    ``keypoints`` (K, 2) or (N, K, 2) as (row, col) -> heatmaps (K, H, W) or (N, K, H, W),
    float32, on the keypoints' device; each map peaks at 1 on its keypoint.
    """
    xp = array_module(keypoints)
    if keypoints.ndim not in (2, 3) or keypoints.shape[-1] != 2:
        raise ValueError(f"keypoints of shape {tuple(keypoints.shape)} are not valid; "
                         "use (K, 2) or (N, K, 2) as (row, col)")
    check_int("size", size, 1)
    check_float("sigma", sigma, 1e-6)
    axis = xp.arange(size, dtype=xp.float32)
    dr = axis - keypoints[..., 0:1].astype(xp.float32)           # (..., K, H)
    dc = axis - keypoints[..., 1:2].astype(xp.float32)           # (..., K, W)
    d2 = dr[..., :, None] ** 2 + dc[..., None, :] ** 2
    return xp.exp(-d2 / (2 * sigma * sigma)).astype(xp.float32)


def decode_heatmaps(heatmaps: Any) -> Any:
    """(N, K, H, W) heatmaps → (N, K, 2) integer (row, col) of each heatmap's maximum."""
    heatmaps = unwrap(heatmaps)
    xp = array_module(heatmaps)
    n, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, k, h * w).argmax(axis=-1)
    return xp.stack([flat // w, flat % w], axis=-1)
