"""Segmentation metrics: confusion matrix, pixel accuracy, Dice, IoU, Hausdorff distance.

Metrics *measure* a finished prediction; they are not differentiated (the losses in
``functional`` are what training differentiates). So they work on plain label maps:

- ``pred`` and ``target`` are integer arrays of the same shape, e.g. (N, H, W) or (H, W),
  holding class labels in [0, K). Take the argmax over the class axis of a network's
  (N, K, H, W) scores first. NumPy or CuPy arrays (both on the same device), Python lists,
  or minifcn Tensors (their ``.data`` is used).
- ``ignore_index``: pixels whose *target* equals it are left out of every count (as in
  PyTorch's ``cross_entropy`` and torchmetrics), e.g. 255 for "unlabelled" borders.

Conventions follow torchmetrics / scikit-learn (confusion matrix rows = target class,
columns = predicted class) and MONAI / medpy (surface distances). Per-class results are
small NumPy float64 arrays on the host, whatever the device of the inputs: easy to print,
log and plot. Scalars are Python floats.

With P_k = {pixels predicted k} and T_k = {pixels labelled k}:

    Dice_k = 2 |P_k ∩ T_k| / (|P_k| + |T_k|)        IoU_k = |P_k ∩ T_k| / |P_k ∪ T_k|

and the two always agree on the ranking, since IoU = Dice / (2 - Dice).

Data-set level (VOC, Cityscapes): :class:`ConfusionMatrix` sums one matrix over every batch
(on the device, no host sync per batch) and :func:`fcn_scores` computes FCN's four metrics
from it (pixel accuracy, mean accuracy, mean IoU, frequency-weighted IoU); the per-image
alternative is :func:`per_image_scores`. The two can rank models differently.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import numpy as np

from . import backend
from .checks import check_label_range, unwrap

__all__ = ["confusion_matrix", "pixel_accuracy", "dice", "iou", "mean_dice", "mean_iou",
           "summary", "fcn_scores", "ConfusionMatrix", "per_image_scores",
           "hausdorff_distance", "hausdorff_per_class", "connected_components", "object_scores"]


# ----------------------------------------------------------------------------- checks

def _as_array(x: Any, name: str) -> Any:
    """The backend array behind ``x``: a Tensor's ``.data``, a list as a NumPy array."""
    x = unwrap(x)
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
    if not backend.is_array(x):
        raise TypeError(f"{name} must be a NumPy or CuPy array (or a minifcn Tensor), "
                        f"got {type(x).__module__}.{type(x).__qualname__}")
    return x


def _as_pair(pred: Any, target: Any, names: tuple[str, str] = ("pred", "target")):
    """Both arrays, checked to live on one device and to have one shape."""
    pred, target = _as_array(pred, names[0]), _as_array(target, names[1])
    dev_p, dev_t = backend.device_of(pred), backend.device_of(target)
    if dev_p != dev_t:
        raise ValueError(f"{names[0]} is on device {dev_p!r} but {names[1]} is on device "
                         f"{dev_t!r}; move one of them (backend.to_device or Tensor.to) "
                         "so that both are on the same device")
    if pred.shape != target.shape:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape, got "
                         f"{names[0]} {tuple(pred.shape)} and {names[1]} {tuple(target.shape)}")
    return pred, target


def _check_labels(x: Any, name: str) -> None:
    if x.dtype.kind not in "biu":  # bool, signed or unsigned integer
        raise TypeError(f"{name} must hold integer class labels, got dtype {x.dtype}; "
                        "for scores of shape (N, K, H, W) take the argmax over axis 1 first")


def _host_scalar(x: Any) -> Any:
    """A 0-d device result as a host NumPy scalar (one small, explicit transfer)."""
    return backend.to_numpy(x)[()]


def _kept_labels(pred: Any, target: Any, ignore_index: int | None):
    """Flat label arrays of the pixels that count (target != ignore_index)."""
    _check_labels(pred, "pred")
    _check_labels(target, "target")
    if ignore_index is not None and (isinstance(ignore_index, bool)
                                     or not isinstance(ignore_index, numbers.Integral)):
        raise TypeError(f"ignore_index must be an int or None, got {ignore_index!r}")
    pred, target = pred.ravel(), target.ravel()
    if ignore_index is not None:
        keep = target != ignore_index
        pred, target = pred[keep], target[keep]
    return pred, target


def _num_classes(pred: Any, target: Any, num_classes: int | None) -> int:
    """``num_classes`` checked, or inferred as (largest label of both) + 1."""
    if num_classes is None:
        if target.size == 0:
            raise ValueError("num_classes=None cannot be inferred: no pixel is left "
                             "(empty input, or every target pixel is ignore_index); "
                             "pass num_classes")
        return int(max(_host_scalar(pred.max()), _host_scalar(target.max()))) + 1
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) \
            or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int (or None to infer it), "
                         f"got {num_classes!r}")
    return int(num_classes)


def _check_range(x: Any, name: str, num_classes: int) -> None:
    """Every label of ``x`` must lie in [0, num_classes)."""
    hint = " (mark pixels to skip with ignore_index)" if name == "target" else ""
    if x.size:
        check_label_range(x, num_classes, name, hint=hint)


# ------------------------------------------------------------- confusion-matrix metrics

def confusion_matrix(pred: Any, target: Any, num_classes: int,
                     ignore_index: int | None = None) -> Any:
    """The K x K matrix ``M[t, p]`` = number of pixels of target class t predicted as p.

    Rows are target classes, columns predicted classes (as torchmetrics and scikit-learn).
    One ``bincount`` does it: pixel (t, p) falls in bin ``t * K + p`` of a K*K histogram,
    which reshaped to (K, K) is the matrix. The result stays on the inputs' device (int64).
    """
    pred, target = _as_pair(pred, target)
    pred, target = _kept_labels(pred, target, ignore_index)
    K = _num_classes(pred, target, num_classes)
    _check_range(target, "target", K)
    _check_range(pred, "pred", K)
    xp = backend.array_module(target)
    bins = target.astype(xp.int64) * K + pred.astype(xp.int64)
    return xp.bincount(bins, minlength=K * K).reshape(K, K)


def pixel_accuracy(pred: Any, target: Any, ignore_index: int | None = None) -> float:
    """Fraction of (non-ignored) pixels whose predicted label equals the target label.

    Beware class imbalance: predicting "background" everywhere on an image whose object
    covers 10 % of the pixels scores 0.9 here, yet Dice 0 on the object class.
    NaN when no pixel is left to count.
    """
    pred, target = _as_pair(pred, target)
    pred, target = _kept_labels(pred, target, ignore_index)
    if target.size == 0:
        return math.nan
    return float(_host_scalar((pred == target).mean()))


def _scores(cm: np.ndarray, ignore_index: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Per-class (Dice, IoU) from a host confusion matrix; NaN where a class is absent.

    |P_k ∩ T_k| = M[k, k],  |T_k| = row sum,  |P_k| = column sum,
    |P_k ∪ T_k| = |P_k| + |T_k| - |P_k ∩ T_k|.
    """
    cm = cm.astype(np.float64)
    inter, n_target, n_pred = np.diag(cm).copy(), cm.sum(axis=1), cm.sum(axis=0)
    if ignore_index is not None and 0 <= ignore_index < len(cm):
        # The ignored class has no target pixels left, so its score means nothing:
        # zero its counts and it becomes 0/0 = NaN, left out of the means.
        inter[ignore_index] = n_target[ignore_index] = n_pred[ignore_index] = 0
    with np.errstate(invalid="ignore"):  # 0/0 -> NaN: the class is in neither map
        return 2 * inter / (n_pred + n_target), inter / (n_pred + n_target - inter)


def _nanmean(values: np.ndarray) -> float:
    """Mean over the classes that are not NaN; NaN (and no warning) if none is left."""
    present = values[~np.isnan(values)]
    return float(present.mean()) if present.size else math.nan


def _host_confusion(pred, target, num_classes, ignore_index) -> np.ndarray:
    return backend.to_numpy(confusion_matrix(pred, target, num_classes, ignore_index))


def dice(pred: Any, target: Any, num_classes: int | None = None,
         ignore_index: int | None = None) -> np.ndarray:
    """Per-class Dice coefficient (F1 score) 2|P ∩ T| / (|P| + |T|), a (K,) float64 NumPy array.

    A class absent from both prediction and target is NaN (there is nothing to score),
    and so is the class ``ignore_index`` if it lies in [0, K). ``num_classes=None`` uses
    (largest label in pred or target) + 1.
    """
    return _scores(_host_confusion(pred, target, num_classes, ignore_index), ignore_index)[0]


def iou(pred: Any, target: Any, num_classes: int | None = None,
        ignore_index: int | None = None) -> np.ndarray:
    """Per-class intersection over union (Jaccard index) |P ∩ T| / |P ∪ T|, as :func:`dice`."""
    return _scores(_host_confusion(pred, target, num_classes, ignore_index), ignore_index)[1]


def mean_dice(pred: Any, target: Any, num_classes: int | None = None,
              ignore_index: int | None = None) -> float:
    """Mean of :func:`dice` over the classes that are not NaN (as MONAI and torchmetrics)."""
    return _nanmean(dice(pred, target, num_classes, ignore_index))


def mean_iou(pred: Any, target: Any, num_classes: int | None = None,
             ignore_index: int | None = None) -> float:
    """Mean of :func:`iou` over the classes that are not NaN: the usual "mIoU"."""
    return _nanmean(iou(pred, target, num_classes, ignore_index))


def scores_from_confusion(cm: Any, ignore_index: int | None = None) -> dict[str, Any]:
    """Pixel accuracy, per-class and mean Dice and IoU from a (K, K) confusion matrix.

    Useful when the matrix is summed over many batches (a validation set). Returns
    ``{"pixel_accuracy", "mean_dice", "mean_dice_fg", "mean_iou": float, "dice", "iou": (K,) array}``;
    ``mean_dice_fg`` leaves out class 0 (the background).
    """
    cm = backend.to_numpy(cm)
    d, j = _scores(cm, ignore_index)
    total = cm.sum()
    return {"pixel_accuracy": float(np.trace(cm) / total) if total else math.nan,
            "mean_dice": _nanmean(d), "mean_dice_fg": _nanmean(d[1:]), "mean_iou": _nanmean(j), "dice": d, "iou": j}


def summary(pred: Any, target: Any, num_classes: int | None = None,
            ignore_index: int | None = None) -> dict[str, Any]:
    """Pixel accuracy, per-class and mean Dice and IoU, all from one confusion matrix
    (see :func:`scores_from_confusion` for the keys)."""
    return scores_from_confusion(_host_confusion(pred, target, num_classes, ignore_index), ignore_index)


# ------------------------------------------------------------- data-set-level metrics
#
# The standard on VOC and Cityscapes: add up ONE confusion matrix over every pixel of the
# data set, then compute the scores from it once. That is not the mean of per-image scores:
# a small image counts in proportion to its pixels, and a class missing from an image does
# not pull that image's mean up or down.

def fcn_scores(cm: Any, ignore_index: int | None = None) -> dict[str, Any]:
    """FCN's four metrics (Long, Shelhamer & Darrell 2015, sec. 5) from a (K, K) matrix.

    With n_ij the pixels of target class i predicted as j and t_i = Σ_j n_ij:

        pixel accuracy     Σ_i n_ii / Σ_i t_i
        mean accuracy      (1/n_cl) Σ_i n_ii / t_i
        mean IoU           (1/n_cl) Σ_i n_ii / (t_i + Σ_j n_ji - n_ii)
        frequency-weighted IoU   (Σ_k t_k)⁻¹ Σ_i t_i n_ii / (t_i + Σ_j n_ji - n_ii)

    NaN-aware, as FCN's own evaluation code: a class accuracy is NaN when t_i = 0, a class
    IoU is NaN when the class is in neither map, and the means run over the classes that
    are not NaN (n_cl counts those); the class ``ignore_index`` (if it lies in [0, K)) is
    NaN throughout. Returns the four floats ("pixel_accuracy", "mean_accuracy", "mean_iou",
    "fw_iou"), "mean_dice", and per-class (K,) float64 arrays "accuracy", "iou", "dice",
    "pixels" (t_i), plus the host matrix "confusion".
    """
    cm = backend.to_numpy(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm of shape {cm.shape} is not a confusion matrix; use a (K, K) array")
    m = cm.astype(np.float64)
    inter, n_target = np.diag(m).copy(), m.sum(axis=1)
    d, j = _scores(cm, ignore_index)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = inter / n_target                            # 0/0 -> NaN: no pixel of class i
    if ignore_index is not None and 0 <= ignore_index < len(m):
        acc[ignore_index] = np.nan
    total = n_target.sum()
    counted = n_target > 0
    if ignore_index is not None and 0 <= ignore_index < len(m):
        counted[ignore_index] = False
    fw = float((n_target[counted] * j[counted]).sum() / n_target[counted].sum()) if counted.any() else math.nan
    return {"pixel_accuracy": float(inter.sum() / total) if total else math.nan,
            "mean_accuracy": _nanmean(acc), "mean_iou": _nanmean(j), "fw_iou": fw,
            "mean_dice": _nanmean(d), "mean_dice_fg": _nanmean(d[1:]), "accuracy": acc, "iou": j, "dice": d,
            "pixels": n_target, "confusion": cm}


class ConfusionMatrix:
    """A confusion matrix summed over batches, kept on the device of the data.

        acc = ConfusionMatrix(num_classes=21, ignore_index=255)
        for images, masks in loader:
            acc.update(model(images).data.argmax(axis=1), masks)
        scores = acc.compute()       # fcn_scores of the summed matrix: one host transfer

    ``update`` never waits for the device (no ``bool``/``int`` of device data): each pixel
    falls in bin ``t * K + p``; an ignored pixel in bin K², a pixel whose target or
    prediction lies outside 0..K-1 in bin K² + 1. One scatter-add on a fixed-size (K² + 2)
    counter (``bincount`` on NumPy; ``add.at`` into uint64 on CuPy, whose ``bincount``
    reads the largest bin back to the host). ``compute`` raises if any pixel landed in the bad bin.
    """

    def __init__(self, num_classes: int, ignore_index: int | None = None):
        if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
        if ignore_index is not None and (isinstance(ignore_index, bool)
                                         or not isinstance(ignore_index, numbers.Integral)):
            raise TypeError(f"ignore_index must be an int or None, got {ignore_index!r}")
        self.num_classes, self.ignore_index = int(num_classes), ignore_index
        self.counts: Any = None          # (K² + 2,) int64 on the data's device
        self.images = 0

    def update(self, pred: Any, target: Any) -> None:
        """Add the pixels of one batch (label maps of one shape, e.g. (N, H, W))."""
        pred, target = _as_pair(pred, target)
        _check_labels(pred, "pred")
        _check_labels(target, "target")
        xp, K = backend.array_module(target), self.num_classes
        t, p = target.ravel().astype(xp.int64), pred.ravel().astype(xp.int64)
        ok = (t >= 0) & (t < K) & (p >= 0) & (p < K)
        bins = xp.where(ok, t * K + p, K * K + 1)
        if self.ignore_index is not None:
            bins = xp.where(t == self.ignore_index, K * K, bins)
        if xp is np:
            counts = np.bincount(bins, minlength=K * K + 2)
        else:   # CUDA's atomicAdd has no int64: count in uint64, then back to int64
            counts = xp.zeros(K * K + 2, dtype=xp.uint64)
            xp.add.at(counts, bins, 1)
            counts = counts.astype(xp.int64)
        self.counts = counts if self.counts is None else self.counts + counts
        self.images += int(target.shape[0]) if target.ndim >= 3 else 1

    @property
    def matrix(self) -> Any:
        """The (K, K) summed matrix, on the device (zeros before any update)."""
        K = self.num_classes
        if self.counts is None:
            return np.zeros((K, K), dtype=np.int64)
        return self.counts[:K * K].reshape(K, K)

    @property
    def ignored(self) -> int:
        """Pixels left out as ``ignore_index`` so far (one host transfer)."""
        return 0 if self.counts is None else int(backend.to_numpy(self.counts[self.num_classes ** 2]))

    def compute(self) -> dict[str, Any]:
        """:func:`fcn_scores` of the summed matrix (one host transfer), plus "ignored_pixels"."""
        K = self.num_classes
        counts = np.zeros(K * K + 2, np.int64) if self.counts is None else backend.to_numpy(self.counts)
        if counts[-1]:
            also = f" and not ignore_index={self.ignore_index}" if self.ignore_index is not None else ""
            raise ValueError(f"{int(counts[-1])} pixels had a target or predicted label outside [0, {K}) "
                             f"for num_classes={K}{also}")
        out = fcn_scores(counts[:K * K].reshape(K, K), self.ignore_index)
        out["ignored_pixels"] = int(counts[K * K])
        return out


def per_image_scores(pred: Any, target: Any, num_classes: int,
                     ignore_index: int | None = None) -> dict[str, Any]:
    """Per-class Dice and IoU of each image separately, then averaged over the images.

    pred, target: (N, H, W). Returns "dice", "iou": (K,) means over the images where the
    class is scored (NaN-aware), and "dice_per_image", "iou_per_image": (N, K). The
    common alternative to :func:`fcn_scores`; the two can rank models differently.
    """
    pred, target = _as_pair(pred, target)
    if pred.ndim < 3:
        raise ValueError(f"pred and target of shape {tuple(pred.shape)} are not a batch; use (N, H, W)")
    K, n = int(num_classes), int(pred.shape[0])
    # one confusion matrix per image from one bincount: image i's bins are shifted by i·(K² + 1),
    # the last bin of each image collecting its ignored pixels
    _check_labels(pred, "pred")
    _check_labels(target, "target")
    xp = backend.array_module(target)
    t, p = target.reshape(n, -1).astype(xp.int64), pred.reshape(n, -1).astype(xp.int64)
    _check_range(t if ignore_index is None else xp.where(t == ignore_index, 0, t), "target", K)
    _check_range(p, "pred", K)
    bins = t * K + p
    if ignore_index is not None:
        bins = xp.where(t == ignore_index, K * K, bins)
    bins = bins + xp.arange(n, dtype=xp.int64)[:, None] * (K * K + 1)
    counts = backend.to_numpy(xp.bincount(bins.ravel(), minlength=n * (K * K + 1)))
    cms = counts.reshape(n, K * K + 1)[:, :K * K].reshape(n, K, K).astype(np.float64)
    inter, n_target, n_pred = cms[:, np.arange(K), np.arange(K)], cms.sum(axis=2), cms.sum(axis=1)
    if ignore_index is not None and 0 <= ignore_index < K:   # as _scores: the ignored class is NaN
        inter[:, ignore_index] = n_target[:, ignore_index] = n_pred[:, ignore_index] = 0
    with np.errstate(invalid="ignore"):
        d, j = 2 * inter / (n_pred + n_target), inter / (n_pred + n_target - inter)
    return {"dice": _column_nanmean(d), "iou": _column_nanmean(j), "dice_per_image": d, "iou_per_image": j}


def _column_nanmean(a: np.ndarray) -> np.ndarray:
    """Mean of each column over its non-NaN rows; NaN (no warning) where none is left."""
    n = (~np.isnan(a)).sum(axis=0)
    total = np.where(np.isnan(a), 0.0, a).sum(axis=0)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


# ------------------------------------------------------------------ surface distances

def _as_mask(m: Any, name: str) -> Any:
    """A boolean mask from a bool array or an array of 0s and 1s."""
    if m.dtype.kind == "b":
        return m
    if m.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a binary mask (bool, or 0/1 numbers), "
                        f"got dtype {m.dtype}")
    bad = (m != 0) & (m != 1)
    if bool(_host_scalar(bad.any())):
        value = _host_scalar(m[bad][0])
        raise ValueError(f"{name} must be a binary mask (bool, or only 0 and 1), found the "
                         f"value {value}; for class k of a label map pass (labels == k)")
    return m != 0


def _check_spacing(spacing: Any, ndim: int) -> tuple[float, ...] | None:
    if spacing is None:
        return None
    if isinstance(spacing, numbers.Real):
        spacing = (spacing,) * ndim
    spacing = tuple(spacing)
    if len(spacing) != ndim or not all(isinstance(s, numbers.Real) and 0 < s < math.inf
                                       for s in spacing):
        raise ValueError(f"spacing must be None, a positive number, or {ndim} positive "
                         f"numbers (one per axis of the {ndim}-D masks), got {spacing!r}")
    return tuple(float(s) for s in spacing)


def hausdorff_distance(pred: Any, target: Any, percentile: float = 100,
                       spacing: float | Sequence[float] | None = None) -> float:
    """Symmetric (percentile) Hausdorff distance between the boundaries of two binary masks.

    The boundary ∂A of a mask A is A minus its binary erosion by the cross-shaped
    (connectivity-1) structuring element - the pixels of A with a 4-neighbour (6 in 3-D)
    outside A, pixels on the image border included - as in medpy and MONAI. With
    d(a, B) = min over b in ∂B of |a - b| (Euclidean, in units of ``spacing`` per axis):

        HD = max( max_{a in ∂P} d(a, T),  max_{b in ∂T} d(b, P) )

    ``percentile=q`` replaces each inner max by the q-th percentile (NumPy's default linear
    interpolation) of that direction's distances, and keeps the larger (MONAI's HD95
    convention, ``percentile=95``), so a few stray pixels do not dominate.

    The distances d(., T) of all pixels come at once from a Euclidean distance transform
    of "not on ∂T". Masks may be N-D (CuPy's transform supports 2-D and 3-D).
    Returns NaN when both masks are empty and inf when exactly one is.
    """
    names = ("pred", "target")
    pred, target = _as_pair(pred, target, names)
    p, t = _as_mask(pred, names[0]), _as_mask(target, names[1])
    if p.ndim == 0:
        raise ValueError("pred and target must have at least one axis, got 0-d arrays")
    if isinstance(percentile, bool) or not isinstance(percentile, numbers.Real) \
            or not 0 <= percentile <= 100:
        raise ValueError(f"percentile must be a number in [0, 100], got {percentile!r}")
    spacing = _check_spacing(spacing, p.ndim)

    has_p, has_t = bool(_host_scalar(p.any())), bool(_host_scalar(t.any()))
    if not (has_p or has_t):
        return math.nan
    if has_p != has_t:
        return math.inf

    xp = backend.array_module(p)
    nd = backend.ndimage_module(xp)
    cross = nd.generate_binary_structure(p.ndim, 1)
    edge_p = p & ~nd.binary_erosion(p, structure=cross)  # border_value=0: the image
    edge_t = t & ~nd.binary_erosion(t, structure=cross)  # border counts as outside
    d_p_to_t = nd.distance_transform_edt(~edge_t, sampling=spacing)[edge_p]
    d_t_to_p = nd.distance_transform_edt(~edge_p, sampling=spacing)[edge_t]
    q = float(percentile)
    return float(_host_scalar(xp.maximum(xp.percentile(d_p_to_t, q),
                                         xp.percentile(d_t_to_p, q))))


def hausdorff_per_class(pred: Any, target: Any, num_classes: int, percentile: float = 95,
                        ignore_index: int | None = None) -> np.ndarray:
    """(K,) float64: :func:`hausdorff_distance` of ``pred == k`` and ``target == k`` for each
    class k of one label map (H, W). Void pixels (target ``ignore_index``) belong to neither
    mask, as if the image ended there: the result equals that of the image with the void
    region cut away. NaN where the class is in neither map, inf where in only one."""
    pred, target = _as_pair(pred, target)
    valid = target != ignore_index if ignore_index is not None else None
    out = np.empty(num_classes)
    for k in range(num_classes):   # a loop over classes; each call works on whole images
        p, t = pred == k, target == k
        if valid is not None:
            p, t = p & valid, t & valid
        out[k] = hausdorff_distance(p, t, percentile=percentile)
    return out


# ------------------------------------------------------------------ object-level scores
#
# Pixel scores cannot tell one blob covering two touching cells from two separated cells:
# the two predictions differ in a handful of gap pixels. Object scores count cells: cut the
# predicted mask into connected components, match them one-to-one to the true instances
# at IoU >= 0.5, and count what matched, what was merged and what was split.

def connected_components(mask: Any, connectivity: int = 1) -> tuple[np.ndarray, int]:
    """Label the connected components of a boolean mask (H, W), or of each image of (N, H, W)
    separately: -> (labels int64 of the same shape, 0 = background, numbered 1..count
    across the batch; count). ``connectivity`` 1: 4-neighbours, 2: 8-neighbours.
    Host result (SciPy's ``ndimage.label``; one call for the whole batch, with a structure
    that does not connect neighbouring images)."""
    import scipy.ndimage as nd
    mask = backend.to_numpy(_as_array(mask, "mask")).astype(bool)
    if mask.ndim not in (2, 3):
        raise ValueError(f"mask of shape {mask.shape} is not valid; use (H, W) or (N, H, W)")
    if connectivity not in (1, 2):
        raise ValueError(f"connectivity={connectivity!r} is not valid; use 1 (4-neighbours) or 2 (8-neighbours)")
    structure = nd.generate_binary_structure(2, connectivity)
    if mask.ndim == 3:
        structure = np.stack([np.zeros_like(structure), structure, np.zeros_like(structure)])
    labels, count = nd.label(mask, structure=structure)
    return labels.astype(np.int64), int(count)


def _batch_instances(instances: np.ndarray) -> np.ndarray:
    """Instance maps (N, H, W) renumbered so that no two images share a label (0 stays 0)."""
    if instances.ndim == 2:
        return instances.astype(np.int64)
    top = instances.reshape(len(instances), -1).max(axis=1) if instances.size else np.zeros(0, np.int64)
    offsets = np.concatenate([[0], np.cumsum(top)[:-1]]).astype(np.int64)
    return np.where(instances > 0, instances + offsets[:, None, None], 0)


def object_scores(pred: Any, target_instances: Any, foreground: int = 1, threshold: float = 0.5,
                  connectivity: int = 1, void: Any = None) -> dict[str, Any]:
    """Object-level precision, recall and F1, and the counts of merged and split objects.

    pred: label maps (H, W) or (N, H, W); the predicted objects are the connected components
    of ``pred == foreground`` (a boolean pred: of its True pixels). target_instances: integer
    instance maps of the same shape (0 background, one label per object). With IoU the
    intersection over union of two objects' pixel sets:

    - a *match* pairs one predicted and one true object with IoU >= ``threshold``, one-to-one
      (greedily by decreasing IoU; above 0.5 a pair can only match one way anyway);
      tp = matches, fp = predicted objects left over, fn = true objects left over;
      precision = tp / (tp + fp), recall = tp / (tp + fn), F1 = 2 tp / (2 tp + fp + fn);
    - *merged*: predicted objects that hold most (>= half the pixels) of two or more true
      objects (one blob over two touching cells counts once);
    - *split*: true objects of which two or more predicted objects lie mostly (>= half of
      their pixels) inside.

    Returns a dict with "tp", "fp", "fn", "merged", "split", "pred_objects", "true_objects"
    (ints) and "precision", "recall", "f1" (floats; NaN for 0/0). Host computation.
    ``void``: a boolean mask of the same shape; those pixels belong to no object, predicted
    or true (as if the image were cut there).
    """
    pred = backend.to_numpy(_as_array(pred, "pred"))
    true = backend.to_numpy(_as_array(target_instances, "target_instances"))
    if void is not None:
        void = backend.to_numpy(_as_array(void, "void")).astype(bool)
        if void.shape != pred.shape:
            raise ValueError(f"void of shape {void.shape} does not match pred {pred.shape}")
        pred = np.where(void, False, pred if pred.dtype == bool else pred == foreground)
        true = np.where(void, 0, true)
    if pred.shape != true.shape or pred.ndim not in (2, 3):
        raise ValueError(f"pred {pred.shape} and target_instances {true.shape} must have one shape, "
                         "(H, W) or (N, H, W)")
    _check_labels(true, "target_instances")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold={threshold!r} is not valid; use an IoU in (0, 1]")
    objects, n_pred = connected_components(pred if pred.dtype == bool else pred == foreground, connectivity)
    true = _batch_instances(true)
    present = np.unique(true)
    present = present[present > 0]
    true = np.searchsorted(np.concatenate([[0], present]), true)     # 1..T, consecutive
    n_true = len(present)
    # overlap[p, t] = pixels in predicted object p and true object t (row/column 0: background)
    overlap = np.bincount((objects * (n_true + 1) + true).ravel(),
                          minlength=(n_pred + 1) * (n_true + 1)).reshape(n_pred + 1, n_true + 1)
    inter = overlap[1:, 1:].astype(np.float64)
    size_p, size_t = overlap[1:].sum(axis=1), overlap[:, 1:].sum(axis=0)
    union = size_p[:, None] + size_t[None, :] - inter
    iou_pt = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    tp, used_p, used_t = 0, set(), set()
    pairs = sorted(zip(*np.nonzero(iou_pt >= threshold)), key=lambda pt: -iou_pt[pt])
    for p, t in pairs:          # a loop over candidate pairs (objects), not pixels
        if p not in used_p and t not in used_t:
            used_p.add(p)
            used_t.add(t)
            tp += 1
    fp, fn = n_pred - tp, n_true - tp
    merged = int(((inter >= 0.5 * size_t[None, :]).sum(axis=1) >= 2).sum())
    split = int(((inter >= 0.5 * size_p[:, None]).sum(axis=0) >= 2).sum())

    def ratio(a: float, b: float) -> float:
        return a / b if b else math.nan
    return {"tp": tp, "fp": fp, "fn": fn, "merged": merged, "split": split,
            "pred_objects": n_pred, "true_objects": n_true,
            "precision": ratio(tp, tp + fp), "recall": ratio(tp, tp + fn), "f1": ratio(2 * tp, 2 * tp + fp + fn)}
