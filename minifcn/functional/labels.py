"""Label maps: one-hot encoding, and class weights from label frequencies.

Both take integer label maps (arrays or Tensors, on either device) and return arrays on
the labels' device; they are not differentiable (labels are data, not parameters).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..backend import array_module
from ..checks import check_choice, check_int, check_label_range, unwrap


def _label_array(labels: Any, fn: str) -> Any:
    """``labels`` (array, Tensor or Python data) as a backend integer array."""
    labels = unwrap(labels)
    if not backend.is_array(labels):
        labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{fn}: labels must be integers, got dtype {labels.dtype}")
    return labels


def one_hot(labels: Any, num_classes: int, axis: int = -1, dtype: Any = np.int64) -> Any:
    """Label map -> indicator array: out[..., k] = 1 where labels == k (k in [0, num_classes)).

    Array (or Tensor) in, array out on the labels' device. As in PyTorch the class axis is
    appended last by default; ``axis=1`` turns (N, H, W) labels into (N, K, H, W), the
    layout of logits. Labels outside [0, num_classes) raise (one host sync).
    """
    labels = _label_array(labels, "one_hot")
    num_classes = check_int("one_hot: num_classes", num_classes, 1)
    check_label_range(labels, num_classes, "labels", "one_hot")
    xp = array_module(labels)
    ndim = labels.ndim + 1
    if not -ndim <= axis < ndim:
        raise ValueError(f"one_hot: axis={axis} is out of range for a result with {ndim} axes")
    axis %= ndim
    classes = xp.arange(num_classes).reshape([num_classes if i == axis else 1 for i in range(ndim)])
    return (xp.expand_dims(labels, axis) == classes).astype(dtype)


def class_weights(labels: Any, num_classes: int, method: str = "inverse", ignore_index: int | None = None) -> Any:
    """Class weights for ``cross_entropy(weight=...)`` from how often each class occurs.

    labels: (N, H, W) label maps of a data set (or one (H, W) map), array or Tensor.
    "inverse": w_c = n / (K' n_c), n_c the pixels of class c, n all counted pixels, K' the
      number of classes present (scikit-learn's "balanced"): each present class then carries
      the same total weight n / K', and the average weight per pixel is 1.
    "median": median frequency balancing (Eigen & Fergus 2015): w_c = median_f / f_c, where
      f_c = n_c / (pixels of the images in which c occurs) and median_f is the median of f_c
      over present classes, so the median class gets weight 1.
    Classes that never occur get weight 0 (nothing to balance). Pixels equal to
    ``ignore_index`` are not counted. Returns a float32 array (K,) on the labels' device.
    """
    fn = "class_weights"
    check_choice("method", method, ("inverse", "median"), fn)
    K = check_int(f"{fn}: num_classes", num_classes, 1)
    labels = _label_array(labels, fn)
    if labels.ndim not in (2, 3):
        raise ValueError(f"{fn}: labels must be (N, H, W) or (H, W), got shape {tuple(labels.shape)}")
    xp = array_module(labels)
    labels = labels.reshape(-1 if labels.ndim == 3 else 1, labels.shape[-2] * labels.shape[-1]).astype(np.int64)
    valid = labels != ignore_index if ignore_index is not None else xp.ones(labels.shape, dtype=bool)
    check_label_range(labels, K, "labels", fn, ignore_index)
    # per-image counts (N, K) in one bincount: image i's labels are shifted by i·K
    # (ignored pixels go to one extra bin past the end, dropped after counting)
    N = labels.shape[0]
    bins = xp.where(valid, labels + xp.arange(N)[:, None] * K, N * K)
    per_image = xp.bincount(bins.ravel(), minlength=N * K + 1)[:N * K].reshape(N, K)
    counts = per_image.sum(axis=0).astype(np.float64)
    present = counts > 0
    if not bool(present.any()):
        raise ValueError(f"{fn}: no pixel to count (every label is ignore_index={ignore_index})")
    if method == "inverse":
        weights = counts.sum() / (present.sum() * xp.where(present, counts, 1))
    else:
        pixels_where_present = ((per_image > 0) * valid.sum(axis=1)[:, None]).sum(axis=0)
        freq = counts / xp.where(present, pixels_where_present, 1)
        weights = xp.median(freq[present]) / xp.where(present, freq, 1)
    return xp.where(present, weights, 0).astype(np.float32)
