"""Segmentation losses: cross-entropy, binary cross-entropy, soft Dice, focal, MSE.

Shapes: logits (N, K, H, W) for K classes (or (N, K), or any (N, K, ...)); integer label
maps (N, H, W) with values in [0, K); binary logits and targets (N, 1, H, W) or any shape.
"Pixel" below means one position of N × H × W.

Stability: nothing here takes ``exp`` of a large positive number or ``log`` of 0.
Log-probabilities come from ``z - max z - log Σ exp(z - max z)`` (log-softmax) and from
``softplus(-x) = max(-x, 0) + log(1 + e^-|x|) = -log σ(x)`` (sigmoid), so logits of ±1000
give finite losses and gradients.

Targets, class weights and other arguments that are not differentiated may be NumPy/CuPy
arrays or Tensors (Python lists are put on the logits' device); arrays must already be on
the logits' device. Label checks (a label outside [0, K)) need one host sync per call, a
single ``bool``: a loss returns a number to look at anyway, and on the GPU a bad label
would otherwise index out of bounds silently.

Cross-entropy and focal loss are fused ``Function``s (one log-softmax pass, a gather, and
the short gradient ``∂ℓ/∂z = ∂ℓ/∂log pₜ · (onehot(t) - softmax(z))``); Dice and MSE are
composed from autograd ops, which is as fast and shows the formula as written.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..autograd import Function, Tensor, as_tensor
from ..checks import check_choice, check_label_range, unwrap
from .activation import log_softmax, sigmoid, softmax
from .labels import class_weights, one_hot  # noqa: F401  (they lived here before)

REDUCTIONS = ("mean", "sum", "none")
MODES = ("multiclass", "binary")


# ---- argument checking ------------------------------------------------------------------
def _logits(x: Any, fn: str, name: str = "logits") -> Tensor:
    x = as_tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: {name} must be floating point, got dtype {x.dtype}")
    return x


def _on_device(value: Any, like: Tensor, name: str, fn: str, like_is: str = "logits are") -> Any:
    """``value`` (array, Tensor, list or number) as a raw array on ``like``'s device."""
    value = unwrap(value)
    if not backend.is_array(value):  # Python data has no device yet: put it with the logits
        return backend.to_device(np.asarray(value), like.device)
    if backend.device_of(value) != like.device:
        raise ValueError(f"{fn}: {name} is on device '{backend.device_of(value)}' but {like_is} on "
                         f"'{like.device}'; move {name} to '{like.device}' first")
    return value


def _labels(target: Any, like: Tensor, fn: str) -> Any:
    """Integer labels (N, ...) matching logits (N, K, ...), as int64 on the logits' device."""
    target = _on_device(target, like, "target", fn)
    if target.dtype.kind not in "iu":
        raise TypeError(f"{fn}: target must hold integer class labels, got dtype {target.dtype}")
    if like.ndim < 2:
        raise ValueError(f"{fn}: logits must have shape (N, K, ...) with the class axis 1, got {like.shape}")
    expected = like.shape[:1] + like.shape[2:]
    if tuple(target.shape) != expected:
        raise ValueError(f"{fn}: target shape {tuple(target.shape)} does not match logits shape "
                         f"{like.shape}; expected target shape {expected} (logits without the class axis)")
    return target.astype(np.int64, copy=False)


def _check_ignore_index(ignore_index: Any, fn: str) -> None:
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"{fn}: ignore_index={ignore_index!r} must be an integer label (default -100)")


def _class_vector(values: Any, like: Tensor, K: int, name: str, fn: str) -> Any:
    """A per-class array of length K (class weights, alpha) on the logits' device, logits' dtype."""
    values = _on_device(values, like, name, fn)
    if tuple(values.shape) != (K,):
        raise ValueError(f"{fn}: {name} must have one entry per class, shape ({K},), got {tuple(values.shape)}")
    return values.astype(like.dtype, copy=False)


def _binary_target(target: Any, like: Tensor, fn: str) -> Any:
    """Binary targets of the logits' shape; (N, H, W) targets are accepted for (N, 1, H, W) logits."""
    target = _on_device(target, like, "target", fn)
    if tuple(target.shape) != like.shape:
        if like.ndim >= 2 and like.shape[1] == 1 and tuple(target.shape) == like.shape[:1] + like.shape[2:]:
            return target[:, None]
        raise ValueError(f"{fn}: target shape {tuple(target.shape)} does not match logits shape {like.shape}")
    return target


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


# ---- log-softmax losses on integer labels -----------------------------------------------------
def _softmax_and_log_pick(z: Any, label: Any) -> tuple[Any, Any]:
    """softmax(z) over axis 1, and log softmax(z) at ``label`` (N, 1, ...) -> (N, ...).

    log pₜ = (zₜ - m) - log Σⱼ e^(zⱼ - m) with m = maxⱼ zⱼ: every exponent is <= 0.
    """
    xp = backend.array_module(z)
    shifted = z - z.max(axis=1, keepdims=True)
    e = xp.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    log_pt = xp.take_along_axis(shifted, label, axis=1) - xp.log(total)
    return e / total, log_pt[:, 0]


class _LabelLoss(Function):
    """Shared machinery of a per-pixel loss ℓ(log pₜ) of the log-probability at the label.

    forward: log-softmax once, gather log pₜ, ask ``pixel_loss`` for ℓ and ∂ℓ/∂log pₜ,
    zero the ignored pixels, reduce: "sum" Σℓ, "mean" Σℓ / ``norm``, "none" ℓ per pixel.
    backward: since ∂log pₜ/∂z = onehot(t) - softmax(z),
        ∂L/∂z = g · scale · ∂ℓ/∂log pₜ · (onehot(t) - softmax(z))
    """

    def __init__(self, labels, ignore_index, reduction):
        self.labels, self.ignore_index, self.reduction = labels, ignore_index, reduction

    def pixel_loss(self, log_pt, label, valid):
        """(ℓ, ∂ℓ/∂log pₜ, normaliser of the mean) per pixel; ``label`` is 0 where ignored."""
        raise NotImplementedError

    def forward(self, z):
        xp = backend.array_module(z)
        valid = self.labels != self.ignore_index
        label = xp.where(valid, self.labels, 0)  # any in-range index; ignored pixels get weight 0
        self.label = label[:, None]
        self.p, log_pt = _softmax_and_log_pick(z, self.label)
        loss, self.dloss, norm = self.pixel_loss(log_pt, label, valid.astype(z.dtype))
        if self.reduction == "none":
            self.scale = 1.0
            return loss
        if self.reduction == "sum":
            self.scale = 1.0
            return loss.sum()
        total = norm.sum()
        total = xp.where(total > 0, total, xp.nan)  # every pixel ignored: NaN, as in PyTorch
        self.scale = 1.0 / total
        return loss.sum() / total

    def backward(self, g):
        xp = backend.array_module(g)
        K = self.p.shape[1]
        classes = xp.arange(K).reshape((1, K) + (1,) * (self.p.ndim - 2))
        coef = (g * self.scale * self.dloss)[:, None]
        return coef * ((classes == self.label) - self.p)


class CrossEntropy(_LabelLoss):
    """ℓ = -w[t] m log pₜ,  ∂ℓ/∂log pₜ = -w[t] m;  the mean divides by Σ w[t] m over non-ignored
    pixels (m: the per-pixel weight map, 1 without one)."""

    def __init__(self, labels, weight, ignore_index, reduction, weight_map=None):
        super().__init__(labels, ignore_index, reduction)
        self.weight = weight
        self.weight_map = weight_map

    def pixel_loss(self, log_pt, label, valid):
        w = valid if self.weight is None else self.weight[label] * valid
        if self.weight_map is not None:
            w = w * self.weight_map
        return -w * log_pt, -w, w


def cross_entropy(logits: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,
                  reduction: str = "mean", weight_map: Any = None) -> Tensor:
    """Cross-entropy between softmax(logits) over axis 1 and integer labels.

    logits (N, K, H, W) or (N, K); target (N, H, W) or (N,), integer labels in [0, K) or
    ``ignore_index``; weight (K,) class weights. Per pixel ℓ = -w[t] log softmax(z)[t]
    (0 at ignored pixels). "mean" divides Σℓ by Σ w[t] over the non-ignored pixels (the
    plain count without weights), as PyTorch does; it is NaN when every pixel is ignored.
    "sum" gives Σℓ, "none" ℓ with the target's shape.
    weight_map (the target's shape, >= 0): a weight per pixel m, multiplying w[t] (U-Net's
    border weights, see ``minifcn.data.weightmap``): ℓ = -w[t] m log pₜ, and "mean" divides
    by Σ w[t] m.
    """
    fn = "cross_entropy"
    check_choice("reduction", reduction, REDUCTIONS, fn)
    logits = _logits(logits, fn)
    _check_ignore_index(ignore_index, fn)
    labels = _labels(target, logits, fn)
    K = logits.shape[1]
    check_label_range(labels, K, "target", fn, ignore_index)
    if weight is not None:
        weight = _class_vector(weight, logits, K, "weight", fn)
    if weight_map is not None:
        weight_map = _weight_map(weight_map, logits, labels, fn)
    return CrossEntropy(labels, weight, ignore_index, reduction, weight_map)(logits)


def _weight_map(weight_map: Any, like: Tensor, labels: Any, fn: str) -> Any:
    """A per-pixel weight map of the labels' shape, on the logits' device, logits' dtype."""
    weight_map = _on_device(weight_map, like, "weight_map", fn)
    if tuple(weight_map.shape) != tuple(labels.shape):
        raise ValueError(f"{fn}: weight_map shape {tuple(weight_map.shape)} does not match target shape "
                         f"{tuple(labels.shape)}; use one weight per pixel")
    return weight_map.astype(like.dtype, copy=False)


def cross_entropy_simple(logits: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,
                         weight_map: Any = None) -> Tensor:
    """The same weighted mean cross-entropy, composed from ops a student already knows.

    ℓ = -Σ_pixels w[t] log softmax(z)[t] / Σ_pixels w[t]: log_softmax, a one-hot mask that
    picks the target class (zero at ignored pixels), a product and two sums, all through
    autograd. It reads like the formula; ``cross_entropy`` is the fused form that runs
    (one pass, no one-hot array), and the tests check that the two agree.
    """
    fn = "cross_entropy_simple"
    logits = _logits(logits, fn)
    labels = _labels(target, logits, fn)
    xp, K = backend.array_module(logits.data), logits.shape[1]
    valid = labels != ignore_index
    mask = one_hot(xp.where(valid, labels, 0), K, axis=1, dtype=logits.dtype) * xp.expand_dims(valid, 1)
    if weight is not None:
        mask = mask * _class_vector(weight, logits, K, "weight", fn).reshape((1, K) + (1,) * (logits.ndim - 2))
    if weight_map is not None:
        mask = mask * xp.expand_dims(_weight_map(weight_map, logits, labels, fn), 1)
    return -(log_softmax(logits, axis=1) * mask).sum() / mask.sum()


# ---- sigmoid losses on binary targets ---------------------------------------------------------
def _softplus(xp: Any, x: Any) -> Any:
    """log(1 + eˣ) = max(x, 0) + log(1 + e^-|x|): the exponent is never positive."""
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


def _sigmoid(xp: Any, x: Any) -> Any:
    """σ(x) = (1 + tanh(x/2)) / 2, which cannot overflow (as in F.sigmoid)."""
    return 0.5 * (1 + xp.tanh(0.5 * x))


class BCEWithLogits(Function):
    """ℓ = -[p t log σ(x) + (1 - t) log(1 - σ(x))]  (p = pos_weight)
         = (1 - t) x + (1 + (p - 1) t) softplus(-x)
    using log σ(x) = -softplus(-x) and log(1 - σ(x)) = -x - softplus(-x). With p = 1 this is
    max(x, 0) - x t + log(1 + e^-|x|).
        ∂ℓ/∂x = (1 - t) - (1 + (p - 1) t) σ(-x)     (= σ(x) - t when p = 1)
    """

    def __init__(self, target, pos_weight, reduction):
        self.t, self.pos_weight, self.reduction = target, pos_weight, reduction

    def forward(self, x):
        xp = backend.array_module(x)
        t = self.t
        c = 1.0 if self.pos_weight is None else 1 + (self.pos_weight - 1) * t
        self.dloss = (1 - t) - c * _sigmoid(xp, -x)
        loss = (1 - t) * x + c * _softplus(xp, -x)
        self.scale = 1.0 / loss.size if self.reduction == "mean" else 1.0
        return loss if self.reduction == "none" else loss.sum() * self.scale

    def backward(self, g):
        return g * self.scale * self.dloss


def binary_cross_entropy_with_logits(logits: Tensor, target: Any, pos_weight: Any = None,
                                     reduction: str = "mean") -> Tensor:
    """Binary cross-entropy on raw scores: ℓ = -[p t log σ(x) + (1 - t) log(1 - σ(x))].

    target has the logits' shape (values in [0, 1]; integer or boolean masks are cast);
    pos_weight p (a number or an array broadcastable to the logits, as in PyTorch: for
    (N, C, H, W) logits a per-channel weight has shape (C, 1, 1)) scales the positive term,
    p > 1 favouring recall. "mean" averages over every element.
    """
    fn = "binary_cross_entropy_with_logits"
    check_choice("reduction", reduction, REDUCTIONS, fn)
    logits = _logits(logits, fn)
    target = _on_device(target, logits, "target", fn)
    if tuple(target.shape) != logits.shape:
        raise ValueError(f"{fn}: target shape {tuple(target.shape)} does not match logits shape {logits.shape}")
    if pos_weight is not None:
        pos_weight = _on_device(pos_weight, logits, "pos_weight", fn).astype(logits.dtype, copy=False)
        try:
            fits = np.broadcast_shapes(tuple(pos_weight.shape), logits.shape) == logits.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"{fn}: pos_weight shape {tuple(pos_weight.shape)} does not broadcast to logits "
                             f"shape {logits.shape} (for per-channel weights of (N, C, H, W) use (C, 1, 1))")
    return BCEWithLogits(target.astype(logits.dtype, copy=False), pos_weight, reduction)(logits)


# ---- focal loss: multi-class (on labels) and binary (on 0/1 targets) ------------------------
class FocalLoss(_LabelLoss):
    """ℓ = -α (1 - pₜ)^γ log pₜ  (Lin et al. 2017), α = alpha[t] or a scalar.

    With q = 1 - pₜ (as -expm1(log pₜ), exact when pₜ is near 1) and r = pₜ log pₜ / q:
        ∂ℓ/∂log pₜ = -α [q^γ - γ q^(γ-1) pₜ log pₜ] = -α q^γ (1 - γ r)
    r -> -1 as q -> 0 (log pₜ ≈ -q), so there is no 0^(γ-1) even for γ < 1.
    The mean divides by the number of non-ignored pixels.
    """

    def __init__(self, labels, gamma, alpha, ignore_index, reduction):
        super().__init__(labels, ignore_index, reduction)
        self.gamma, self.alpha = gamma, alpha

    def pixel_loss(self, log_pt, label, valid):
        xp = backend.array_module(log_pt)
        alpha = self.alpha[label] if backend.is_array(self.alpha) else self.alpha  # per class, or one number
        a = valid if alpha is None else valid * alpha
        q = -xp.expm1(log_pt)
        p_t = 1 - q
        r = xp.where(q > 0, p_t * log_pt / xp.where(q > 0, q, 1), -1.0)
        modulator = q ** self.gamma
        return -a * modulator * log_pt, -a * modulator * (1 - self.gamma * r), valid


class BinaryFocalLoss(Function):
    """ℓ = -αₜ (1 - pₜ)^γ log pₜ on one logit x with target t ∈ {0, 1}.

    With y = x for t = 1 and y = -x for t = 0: pₜ = σ(y), 1 - pₜ = σ(-y), -log pₜ = softplus(-y):
        ℓ = αₜ σ(-y)^γ softplus(-y)
        ∂ℓ/∂y = -αₜ σ(-y)^γ [γ σ(y) softplus(-y) + σ(-y)],   ∂ℓ/∂x = ±∂ℓ/∂y
    (dσ(-y)/dy = -σ(-y)σ(y) cancels the power γ - 1). αₜ = α for t = 1, 1 - α for t = 0.
    """

    def __init__(self, target, valid, gamma, alpha, reduction):
        self.t, self.valid, self.gamma, self.alpha, self.reduction = target, valid, gamma, alpha, reduction

    def forward(self, x):
        xp = backend.array_module(x)
        sign = 2 * self.t - 1
        y = sign * x
        a = self.valid if self.alpha is None else self.valid * (self.alpha * self.t + (1 - self.alpha) * (1 - self.t))
        s_neg, sp = _sigmoid(xp, -y), _softplus(xp, -y)
        modulator = s_neg ** self.gamma
        self.dloss = -sign * a * modulator * (self.gamma * (1 - s_neg) * sp + s_neg)
        loss = a * modulator * sp
        self.scale = 1.0
        if self.reduction == "none":
            return loss
        if self.reduction == "mean":
            count = self.valid.sum()
            self.scale = 1.0 / xp.where(count > 0, count, xp.nan)
        return loss.sum() * self.scale

    def backward(self, g):
        return g * self.scale * self.dloss


def focal_loss(logits: Tensor, target: Any, gamma: float = 2.0, alpha: Any = None, ignore_index: int = -100,
               reduction: str = "mean", mode: str = "multiclass") -> Tensor:
    """Focal loss FL = -αₜ (1 - pₜ)^γ log pₜ (Lin et al. 2017): easy pixels (pₜ near 1) count less.

    mode "multiclass": pₜ = softmax(logits)[target] with logits (N, K, ...) and integer
    labels (N, ...) as in ``cross_entropy``; alpha is None (αₜ = 1), a number (every pixel
    scaled by it) or a (K,) array of per-class weights (αₜ = alpha[t]).
    mode "binary": pₜ = σ(x) where t = 1 and 1 - σ(x) where t = 0, with targets 0/1 of the
    logits' shape ((N, H, W) also accepted for (N, 1, H, W) logits); alpha None or a number
    α in [0, 1]: αₜ = α for positives, 1 - α for negatives (torchvision's sigmoid_focal_loss).
    In both modes pixels equal to ``ignore_index`` are left out, and "mean" divides by the
    number of non-ignored pixels (αₜ is not normalised). With γ = 0 and alpha None the
    multiclass loss equals ``cross_entropy`` and the binary one BCE-with-logits.
    """
    fn = "focal_loss"
    check_choice("reduction", reduction, REDUCTIONS, fn)
    check_choice("mode", mode, MODES, fn)
    if not gamma >= 0:
        raise ValueError(f"{fn}: gamma={gamma} must be >= 0")
    logits = _logits(logits, fn)
    _check_ignore_index(ignore_index, fn)
    if mode == "binary":
        target = _binary_target(target, logits, fn)
        valid = target != ignore_index
        bad = valid & (target != 0) & (target != 1)
        if bool(bad.any()):
            raise ValueError(f"{fn}: mode='binary' needs targets 0 or 1 (or ignore_index={ignore_index}), "
                             f"got value {target[bad][0].item()}")
        if alpha is not None and not (isinstance(alpha, (int, float)) and 0 <= alpha <= 1):
            raise ValueError(f"{fn}: mode='binary' needs alpha None or a number in [0, 1], got {alpha!r}")
        t = (target == 1).astype(logits.dtype)
        return BinaryFocalLoss(t, valid.astype(logits.dtype), gamma, alpha, reduction)(logits)
    labels = _labels(target, logits, fn)
    K = logits.shape[1]
    check_label_range(labels, K, "target", fn, ignore_index)
    if alpha is not None and not isinstance(alpha, (int, float)):
        alpha = _class_vector(alpha, logits, K, "alpha", fn)
    return FocalLoss(labels, gamma, alpha, ignore_index, reduction)(logits)


# ---- overlap and regression losses -------------------------------------------------------------
def dice_loss(logits: Tensor, target: Any, num_classes: int | None = None, smooth: float = 1.0,
              include_background: bool = True, mode: str = "multiclass", reduction: str = "mean",
              ignore_index: int | None = None) -> Tensor:
    """Soft Dice loss, 1 - (2 Σ p t + s) / (Σ p + Σ t + s) per class, s = ``smooth``.

    mode "multiclass": p = softmax(logits) over axis 1 (N, K, H, W), t = one_hot(target)
    from integer labels (N, H, W); ``include_background=False`` leaves class 0 out.
    mode "binary": p = σ(logits), t the 0/1 (or soft) target of the logits' shape
    ((N, H, W) also accepted for (N, 1, H, W) logits); every channel is a foreground class.
    The sums run over the whole batch (N, H, W together, one Dice per class, as in
    segmentation_models_pytorch), so an image without a class does not score 0 on it.
    ``smooth`` keeps 0/0 away: a class absent from both p and t has Dice ≈ 1, loss ≈ 0.
    Reduction over classes: "mean", "sum" or "none" (the per-class losses).
    ``ignore_index`` (multiclass): pixels with that target (void) are left out of every sum,
    as if cropped away: both p and t are multiplied by the mask "target != ignore_index".
    """
    fn = "dice_loss"
    check_choice("reduction", reduction, REDUCTIONS, fn)
    check_choice("mode", mode, MODES, fn)
    if not smooth >= 0:
        raise ValueError(f"{fn}: smooth={smooth} must be >= 0")
    logits = _logits(logits, fn)
    if mode == "binary":
        probs = sigmoid(logits)
        t = _binary_target(target, logits, fn).astype(logits.dtype, copy=False)
    else:
        K = logits.shape[1] if logits.ndim >= 2 else 0
        if num_classes is not None and num_classes != K:
            raise ValueError(f"{fn}: num_classes={num_classes} does not match logits.shape[1]={K} "
                             f"(logits shape {logits.shape})")
        labels = _labels(target, logits, fn)
        check_label_range(labels, K, "target", fn, ignore_index)
        probs = softmax(logits, axis=1)
        if ignore_index is not None:
            _check_ignore_index(ignore_index, fn)
            xp = backend.array_module(labels)
            valid = xp.expand_dims(labels != ignore_index, 1).astype(logits.dtype)
            labels = xp.where(labels == ignore_index, 0, labels)   # any class: masked out below
            probs = probs * valid
            t = one_hot(labels, K, axis=1, dtype=logits.dtype) * valid
        else:
            t = one_hot(labels, K, axis=1, dtype=logits.dtype)
    axes = (0,) + tuple(range(2, logits.ndim))  # everything but the class axis
    intersection = (probs * t).sum(axis=axes)
    cardinality = probs.sum(axis=axes) + t.sum(axis=axes)
    loss = 1 - (2 * intersection + smooth) / (cardinality + smooth)  # (K,)
    if mode == "multiclass" and not include_background:
        if K < 2:
            raise ValueError(f"{fn}: include_background=False needs at least 2 classes, logits have {K}")
        loss = loss[1:]
    return _reduce(loss, reduction)


def mse_loss(pred: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error (pred - target)², for heatmaps and denoising; target of pred's shape.

    A target Tensor that requires a gradient receives one, as in PyTorch.
    """
    fn = "mse_loss"
    check_choice("reduction", reduction, REDUCTIONS, fn)
    pred = _logits(pred, fn, "pred")
    if not (isinstance(target, Tensor) and target.requires_grad):
        target = _on_device(target, pred, "target", fn, like_is="pred is").astype(pred.dtype, copy=False)
    elif target.device != pred.device:
        raise ValueError(f"{fn}: target is on device '{target.device}' but pred is on '{pred.device}'; "
                         f"move target to '{pred.device}' first")
    if tuple(target.shape) != pred.shape:
        raise ValueError(f"{fn}: target shape {tuple(target.shape)} does not match pred shape {pred.shape}")
    diff = pred - target
    return _reduce(diff * diff, reduction)
