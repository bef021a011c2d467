"""The U-Net's remaining pieces: the exercises that make ``train --exercises`` all the student's.

With these and the convolution/pooling exercises of ``catalogue``, every operation of the
default U-Net (3×3 convolutions, batch norm, ReLU, 2×2 max pooling, the 2×2 stride-2
transposed convolution, the skip concatenation), its loss (pixel cross-entropy + soft
Dice on softmax) and its Adam step can run on the student's code (``swap``).

``exercises(Exercise, ...)`` returns them; ``catalogue`` merges them into ``EXERCISES`` in lesson order.
(``catalogue`` calls ``exercises`` with its ``Exercise`` class: this module does not import
``catalogue``.) Their references are the last section of ``solutions``.

Inputs: sizes are drawn first and small-first, as in ``catalogue``; values are floats of
varied magnitude (a scale of 1, 1e-3, 1e3 or 0.3 times numbers in [-4, 4], integers and
non-integers, with 0 and ties likely), so a result that loses precision (an integer buffer,
float16) or a gradient that is wrong exactly at 0 shows. Hypothesis shrinks towards the
integers and the scale 1, so a counterexample is as plain as the bug allows.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

CALL_LIMIT_TEXT = "1 s of CPU time"   # Exercise.call_limit_s, as the task texts say it (a test keeps them equal)
SCALES = (1.0, 1e-3, 1e3, 0.3)

_RULES = ("\n\nDo not modify the arguments (return new arrays, not views of an argument). "
          f"Each call must return within {CALL_LIMIT_TEXT} (the grader's per-call limit; the first call is not timed; its inputs "
          "are at most a few dozen numbers).")


def _task(text: str) -> str:
    return text + _RULES


# ---- values ------------------------------------------------------------------------------------
def _ints(lo: int, hi: int) -> Any:
    return st.integers(lo, hi)


def _floats(draw: Any, shape: tuple, scale: float | None = None, lo: float = -4.0, hi: float = 4.0) -> np.ndarray:
    """float64 values in [lo, hi] · scale: integers (ties, 0) or any float, the scale drawn from SCALES."""
    if scale is None:
        scale = draw(st.sampled_from(SCALES))
    elements = st.one_of(st.integers(int(np.ceil(lo)), int(np.floor(hi))).map(float),
                         st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False))
    return draw(hnp.arrays(np.float64, shape, elements=elements)) * scale


def _labels(draw: Any, shape: tuple, K: int) -> np.ndarray:
    return draw(hnp.arrays(np.int64, shape, elements=_ints(0, K - 1)))


# ---- the cases of each exercise ------------------------------------------------------------------
@st.composite
def _conv_transpose_backward_cases(draw):
    """Mostly general sizes; the U-Net's 2×2 stride-2 case is drawn on purpose half of the time."""
    N, C_in, C_out = draw(_ints(1, 2)), draw(_ints(1, 2)), draw(_ints(1, 2))
    H, W = draw(_ints(1, 3)), draw(_ints(1, 3))
    if draw(st.booleans()):                          # the U-Net's up-sampling
        (KH, KW), (SH, SW), (PH, PW), (OPH, OPW), (DH, DW) = (2, 2), (2, 2), (0, 0), (0, 0), (1, 1)
    else:
        KH, KW = draw(_ints(1, 3)), draw(_ints(1, 3))
        SH, SW = draw(_ints(1, 3)), draw(_ints(1, 3))
        PH, PW = draw(_ints(0, 1)), draw(_ints(0, 1))
        DH, DW = draw(_ints(1, 2)), draw(_ints(1, 2))
        OPH, OPW = draw(_ints(0, SH - 1)), draw(_ints(0, SW - 1))
    OH = (H - 1) * SH - 2 * PH + DH * (KH - 1) + OPH + 1
    OW = (W - 1) * SW - 2 * PW + DW * (KW - 1) + OPW + 1
    assume(OH >= 1 and OW >= 1)
    return {"dy": _floats(draw, (N, C_out, OH, OW)), "x": _floats(draw, (N, C_in, H, W)),
            "weight": _floats(draw, (C_in, C_out, KH, KW)), "stride": (SH, SW), "padding": (PH, PW),
            "output_padding": (OPH, OPW), "dilation": (DH, DW)}


@st.composite
def _softmax_dice_cases(draw):
    N, K, H, W = draw(_ints(1, 2)), draw(_ints(1, 3)), draw(_ints(1, 3)), draw(_ints(1, 3))
    scale = draw(st.sampled_from([1.0, 1e3, 1e-3, 0.3]))      # 1e3: does exp() overflow?
    return {"logits": _floats(draw, (N, K, H, W), scale), "target": _labels(draw, (N, H, W), K)}


@st.composite
def _relu_cases(draw):
    N, C, H, W = draw(_ints(1, 2)), draw(_ints(1, 2)), draw(_ints(1, 3)), draw(_ints(1, 3))
    return {"x": _floats(draw, (N, C, H, W))}


@st.composite
def _relu_backward_cases(draw):
    N, C, H, W = draw(_ints(1, 2)), draw(_ints(1, 2)), draw(_ints(1, 3)), draw(_ints(1, 3))
    return {"dy": _floats(draw, (N, C, H, W)), "x": _floats(draw, (N, C, H, W))}


@st.composite
def _crop_concat_cases(draw):
    N, C_skip, C_x = draw(_ints(1, 2)), draw(_ints(1, 2)), draw(_ints(1, 2))
    H, W = draw(_ints(1, 3)), draw(_ints(1, 3))
    dH, dW = draw(_ints(0, 3)), draw(_ints(0, 3))              # the skip's extra border ("valid" U-Net)
    return {"skip": _floats(draw, (N, C_skip, H + dH, W + dW)), "x": _floats(draw, (N, C_x, H, W))}


@st.composite
def _crop_concat_backward_cases(draw):
    N, C_skip, C_x = draw(_ints(1, 2)), draw(_ints(1, 2)), draw(_ints(1, 2))
    H, W = draw(_ints(1, 3)), draw(_ints(1, 3))
    dH, dW = draw(_ints(0, 3)), draw(_ints(0, 3))
    return {"dy": _floats(draw, (N, C_skip + C_x, H, W)), "skip_shape": (N, C_skip, H + dH, W + dW)}


@st.composite
def _batch_norm_common(draw):
    training = draw(st.booleans())
    N, C, H, W = draw(_ints(1, 2)), draw(_ints(1, 2)), draw(_ints(1, 3)), draw(_ints(1, 3))
    assume(not training or N * H * W >= 2)                      # batch statistics need two values
    return training, (N, C, H, W)


@st.composite
def _batch_norm_forward_cases(draw):
    training, (N, C, H, W) = draw(_batch_norm_common())
    return {"x": _floats(draw, (N, C, H, W)), "gamma": _floats(draw, (C,), 1.0), "beta": _floats(draw, (C,), 1.0),
            "running_mean": _floats(draw, (C,)), "running_var": np.abs(_floats(draw, (C,))),
            "training": training, "momentum": draw(st.sampled_from([0.1, 0.5, 1.0])),
            "eps": draw(st.sampled_from([1e-5, 0.5]))}


@st.composite
def _batch_norm_backward_cases(draw):
    training, (N, C, H, W) = draw(_batch_norm_common())
    return {"dy": _floats(draw, (N, C, H, W), 1.0), "x": _floats(draw, (N, C, H, W)),
            "gamma": _floats(draw, (C,), 1.0), "running_mean": _floats(draw, (C,)),
            "running_var": np.abs(_floats(draw, (C,))), "training": training,
            "eps": draw(st.sampled_from([1e-5, 0.5]))}


@st.composite
def _adam_cases(draw):
    shape = (draw(_ints(1, 3)), draw(_ints(1, 3)))
    return {"param": _floats(draw, shape), "grad": _floats(draw, shape), "exp_avg": _floats(draw, shape),
            "exp_avg_sq": np.abs(_floats(draw, shape)), "step": draw(st.one_of(_ints(1, 5), _ints(6, 1000))),
            "lr": draw(st.sampled_from([1e-3, 0.1, 1.0])),
            "betas": draw(st.sampled_from([(0.9, 0.999), (0.5, 0.9), (0.0, 0.99)])),
            "eps": draw(st.sampled_from([1e-8, 0.1])), "weight_decay": draw(st.sampled_from([0.0, 0.01, 0.5]))}


# ---- the exercises ---------------------------------------------------------------------------------
def exercises(Exercise: type, _loss_and_numeric_grad: Any) -> tuple:
    """The U-Net exercises (``catalogue.Exercise`` objects), in lesson order. ``catalogue`` passes
    its ``Exercise`` class and loss-gradient helper in, so this module never imports it (no cycle)."""
    return (
        Exercise(
            "conv_transpose2d_backward", 6,
            _task("The gradients of a transposed convolution with a bias (the U-Net's learnable up-sampling).\n\n"
                  "y = conv_transpose2d(x, weight) + bias[o] (your conv_transpose2d exercise; the U-Net uses "
                  "kernel 2×2, stride 2). dy: (N, C_out, OH, OW) = dL/dy, float64; x: (N, C_in, H, W); weight: "
                  "(C_in, C_out, KH, KW); stride, padding, output_padding (< stride), dilation: pairs. Return "
                  "(dx, dweight, dbias), float64 arrays of the shapes of x, weight and (C_out,). The input "
                  "gradient of a transposed convolution is a convolution: with cols = im2col(dy) (same kernel "
                  "size, stride, padding, dilation; one column per input pixel, H·W of them), "
                  "dx = weight.reshape(C_in, -1) @ cols, dweight = Σ_n x_n.reshape(C_in, H·W) @ cols_nᵀ, "
                  "dbias = Σ over n, oh, ow of dy."),
            ("`im2col(dy, (KH, KW), stride, padding, dilation)` has exactly H·W columns: column h·W + w is the "
             "output window that input pixel (h, w) scattered into.",
             "The weight's first axis is C_in: `weight.reshape(C_in, -1)` lines up with im2col's rows "
             "(c_out·KH·KW + i·KW + j), and dweight needs cols transposed, summed over the batch."),
            _conv_transpose_backward_cases, outputs=("dx", "dweight", "dbias"), rtol=1e-6, atol=1e-9,
            max_examples=80, uses=("im2col",), dtypes=("float64", "float64", "float64")),
        Exercise(
            "softmax_dice_loss", 8,
            _task("Soft Dice loss on logits: softmax, then your dice_loss, and the chain rule back through softmax.\n\n"
                  "logits: (N, K, H, W) float64 (some as large as ±4000); target: (N, H, W) int64 labels in "
                  "[0, K). p = softmax(logits) over axis 1; (loss, dp) = dice_loss(p, target) (your dice_loss "
                  "exercise: smooth 1 added to the numerator 2 Σ p t *and* the denominator Σ p + Σ t, sums "
                  "over N, H, W). Return (loss, dlogits): loss a float, dlogits = dloss/dlogits (N, K, H, W) "
                  "float64 = p ⊙ (dp - Σ_k p_k dp_k), the sum over the class axis."),
            ("softmax(z) = exp(z - m) / Σ exp(z - m) with m = max over the classes: without subtracting m, "
             "exp(4000) overflows to inf and inf / inf is NaN.",
             "softmax's Jacobian is not diagonal: dlogits_k = p_k (dp_k - Σ_j p_j dp_j); the sum runs over "
             "axis 1 (keepdims=True)."),
            _softmax_dice_cases, outputs=("loss", "dlogits"),
            expected=_loss_and_numeric_grad("softmax_dice_loss", "logits"), rtol=1e-5, atol=1e-6,
            max_examples=80, uses=("dice_loss",), dtypes=("float", "like:logits")),
        Exercise(
            "relu", 10,
            _task("ReLU, the U-Net's activation.\n\nx: (N, C, H, W) floats. Return max(x, 0) elementwise, an "
                  "array of x's shape and x's dtype (float64 here; the U-Net calls it with float32)."),
            ("`np.maximum(x, 0)` keeps x's dtype; a leaky ReLU (0.01·x below 0) is a different activation.",),
            _relu_cases, dtypes=("like:x",)),
        Exercise(
            "relu_backward", 10,
            _task("The gradient of ReLU.\n\ndy: (N, C, H, W) = dL/dy, float64; x: the forward's input, same "
                  "shape. Return dx = dy where x > 0 and 0 elsewhere, *including x == 0* (ReLU has no "
                  "derivative at 0; PyTorch, and this grader, use 0 there), float64."),
            ("The mask is `x > 0`, not `x >= 0`: at exactly 0 the gradient is 0.",
             "Multiply dy by the mask; do not return the mask itself."),
            _relu_backward_cases, dtypes=("like:dy",)),
        Exercise(
            "crop_and_concat", 10,
            _task("U-Net's skip connection: crop the encoder's features, then join them to the decoder's.\n\n"
                  "skip: (N, C_skip, H_s, W_s) float64, at least as large as x: (N, C_x, H, W). Crop skip's "
                  "centre H×W window, from row top = (H_s - H) // 2 and column left = (W_s - W) // 2 (the "
                  "extra row of an odd difference is left at the bottom/right), and return "
                  "[crop, x] concatenated along the channels: (N, C_skip + C_x, H, W), float64, the skip's "
                  "channels first (as ``minifcn.models.UNet``). With padding 'same' nothing is cropped."),
            ("`np.concatenate([crop, x], axis=1)`: the channel axis is 1, and the skip comes first.",
             "The crop starts at (H_s - H) // 2, not at 0: the U-Net keeps the centre."),
            _crop_concat_cases, dtypes=("like:x",)),
        Exercise(
            "crop_and_concat_backward", 10,
            _task("The gradient of crop_and_concat.\n\ndy: (N, C_skip + C_x, H, W) = dL/d(output), float64; "
                  "skip_shape: (N, C_skip, H_s, W_s), a tuple of ints. Return (dskip, dx), float64: dskip of "
                  "skip_shape, zero except dy's first C_skip channels in the centre window the forward "
                  "cropped (from row (H_s - H) // 2 and column (W_s - W) // 2); dx = dy's other C_x channels "
                  "(a new array, not a view of dy)."),
            ("The cropped-off border did not reach the output, so its gradient is 0: start from "
             "`np.zeros(skip_shape)` and write dy[:, :C_skip] into the window.",
             "`dy[:, C_skip:]` is a view of dy: return a copy."),
            _crop_concat_backward_cases, outputs=("dskip", "dx"), dtypes=("like:dy", "like:dy")),
        Exercise(
            "batch_norm_forward", 10,
            _task("Batch normalisation (PyTorch's ``nn.BatchNorm2d``), training and evaluation.\n\n"
                  "x: (N, C, H, W) float64; gamma, beta, running_mean, running_var: (C,) float64; training: "
                  "bool; momentum, eps: floats. Per channel c, over its m = N·H·W values:\n"
                  "training=True: μ = mean and σ² = mean of (x - μ)² (biased: divided by m); "
                  "y = γ·(x - μ)/√(σ²+ε) + β; the new running_mean = (1 - momentum)·running_mean + "
                  "momentum·μ and new running_var = (1 - momentum)·running_var + momentum·σ²·m/(m - 1) (the "
                  "*unbiased* variance, as PyTorch).\n"
                  "training=False: the same y with μ = running_mean, σ² = running_var (no batch statistics), "
                  "and the running statistics returned unchanged (as copies).\n"
                  "Return (y, new_running_mean, new_running_var): y float64 of x's shape, the others (C,) "
                  "float64. Compute σ² as the mean of squared deviations (E[x²] - μ² loses precision)."),
            ("The running variance uses m/(m - 1)·σ² but the normalisation uses σ² itself: two variances.",
             "In evaluation (training=False) the batch's own mean and variance are not used at all.",
             "Statistics are per channel: reduce over axes (0, 2, 3) and reshape to (1, C, 1, 1) to broadcast."),
            _batch_norm_forward_cases, outputs=("y", "running_mean", "running_var"), dtypes=("like:x", "like:running_mean", "like:running_var")),
        Exercise(
            "batch_norm_backward", 10,
            _task("The gradients of batch_norm_forward's y.\n\n"
                  "dy: (N, C, H, W) = dL/dy, float64; x, gamma, running_mean, running_var, training, eps as in "
                  "the forward. Return (dx, dgamma, dbeta), float64, of the shapes of x, (C,), (C,). With "
                  "x̂ = (x - μ) / √(σ² + ε) and g = γ·dy: dgamma = Σ dy·x̂, dbeta = Σ dy (sums over N, H, W). "
                  "training=True (μ, σ² of this batch, σ² biased): every x̂ depends on the whole channel, "
                  "dx = (g - mean(g) - x̂·mean(g·x̂)) / √(σ² + ε) (means over N, H, W). training=False (running "
                  "statistics, constants): dx = g / √(running_var + ε)."),
            ("With batch statistics dx is not just g / √(σ² + ε): μ and σ² depend on x too, which gives the "
             "two mean terms.",
             "In evaluation mode x̂ uses running_mean and running_var, for dgamma as well."),
            _batch_norm_backward_cases, outputs=("dx", "dgamma", "dbeta"), rtol=1e-6, atol=1e-8),
        Exercise(
            "adam_step", 10,
            _task("One step of Adam (PyTorch's ``torch.optim.Adam``, and ``minifcn.optim.Adam``).\n\n"
                  "param, grad, exp_avg, exp_avg_sq: arrays of one shape, float64; step: the number of this "
                  "step, from 1; lr, eps, weight_decay: floats; betas: (β₁, β₂). With g = grad + "
                  "weight_decay·param (L2 regularisation in the gradient, not AdamW's decoupled decay): "
                  "m = β₁·exp_avg + (1 - β₁)·g, v = β₂·exp_avg_sq + (1 - β₂)·g², m̂ = m / (1 - β₁^step), "
                  "v̂ = v / (1 - β₂^step), new param = param - lr·m̂ / (√v̂ + eps). Return (new param, m, v), "
                  "float64 arrays of param's shape (m and v are the next step's exp_avg and exp_avg_sq, "
                  "*without* the bias correction)."),
            ("Bias correction: m and v start at 0, so early steps divide by (1 - β^step); store m and v "
             "themselves, not m̂ and v̂.",
             "eps is added to √v̂, outside the square root; the weight decay goes into g before m and v."),
            _adam_cases, outputs=("param", "exp_avg", "exp_avg_sq"), rtol=1e-6, atol=1e-9, dtypes=("like:param", "like:exp_avg", "like:exp_avg_sq")),
    )
