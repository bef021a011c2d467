"""Reference solutions of the exercises: plain NumPy, written to be read, not to be fast.

Each function here is what ``minifcn exercises init DIR --solutions`` writes into the
workbook file of the same name, and what the grader compares a student's answer with.
They are written for this workbook (the library's speed-tuned ops live in
``minifcn.functional``); they loop over kernel offsets where that makes the idea plain,
never over pixels where a slice says the same.

Shape notation: N batch, C channels, K classes, H W input size, KH KW kernel, SH SW stride,
PH PW padding, DH DW dilation, OH OW output size. 2-D hyperparameters are (height, width) pairs.
"""
from __future__ import annotations

import numpy as np


# ---- lesson 1: dense classification ---------------------------------------------------------
def one_hot(labels, num_classes):
    """(N, H, W) integer labels -> (N, K, H, W) float64 indicators: out[n, k, h, w] = [labels[n, h, w] == k]."""
    classes = np.arange(num_classes).reshape(1, num_classes, 1, 1)
    return (labels[:, None, :, :] == classes).astype(np.float64)


def pixel_cross_entropy(logits, target):
    """Mean over all N·H·W pixels of -log softmax(logits)[target]; returns (loss, dloss/dlogits)."""
    N, K, H, W = logits.shape
    shifted = logits - logits.max(axis=1, keepdims=True)          # exp never overflows
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    t = (target[:, None, :, :] == np.arange(K).reshape(1, K, 1, 1))  # one-hot, (N, K, H, W)
    M = N * H * W
    loss = -(log_probs * t).sum() / M
    grad = (np.exp(log_probs) - t) / M                             # softmax - one_hot, averaged
    return float(loss), grad


# ---- lesson 2: a convolution is a matrix product over patches -----------------------------
def im2col(x, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """(N, C, H, W) -> (N, C·KH·KW, OH·OW): column l = oh·OW + ow holds the window at (oh, ow).

    Row c·KH·KW + i·KW + j holds x_padded[n, c, oh·SH + i·DH, ow·SW + j·DW] (PyTorch's unfold).
    """
    N, C, H, W = x.shape
    (KH, KW), (SH, SW), (PH, PW), (DH, DW) = kernel_size, stride, padding, dilation
    OH = (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1
    OW = (W + 2 * PW - DW * (KW - 1) - 1) // SW + 1
    x = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))
    cols = np.zeros((N, C, KH, KW, OH, OW), dtype=x.dtype)
    for i in range(KH):              # kernel tap (i, j) reads a strided slice of the input
        for j in range(KW):
            top, left = i * DH, j * DW
            cols[:, :, i, j] = x[:, :, top:top + SH * (OH - 1) + 1:SH, left:left + SW * (OW - 1) + 1:SW]
    return cols.reshape(N, C * KH * KW, OH * OW)


def col2im(cols, input_size, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """The adjoint of im2col: (N, C·KH·KW, OH·OW) -> (N, C, H, W), *adding* where windows overlap."""
    (H, W), (KH, KW), (SH, SW), (PH, PW), (DH, DW) = input_size, kernel_size, stride, padding, dilation
    OH = (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1
    OW = (W + 2 * PW - DW * (KW - 1) - 1) // SW + 1
    N, C = cols.shape[0], cols.shape[1] // (KH * KW)
    cols = cols.reshape(N, C, KH, KW, OH, OW)
    x = np.zeros((N, C, H + 2 * PH, W + 2 * PW), dtype=cols.dtype)
    for i in range(KH):
        for j in range(KW):
            top, left = i * DH, j * DW
            x[:, :, top:top + SH * (OH - 1) + 1:SH, left:left + SW * (OW - 1) + 1:SW] += cols[:, :, i, j]
    return x[:, :, PH:PH + H, PW:PW + W]           # the padding is not part of the input


def conv2d_forward(x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """y[n, o] = bias[o] + Σ_c,i,j weight[o, c, i, j]·x_pad[n, c, oh·SH + i·DH, ow·SW + j·DW]."""
    N, C, H, W = x.shape
    C_out, _, KH, KW = weight.shape
    OH = (H + 2 * padding[0] - dilation[0] * (KH - 1) - 1) // stride[0] + 1
    OW = (W + 2 * padding[1] - dilation[1] * (KW - 1) - 1) // stride[1] + 1
    cols = im2col(x, (KH, KW), stride, padding, dilation)        # (N, C·KH·KW, OH·OW)
    y = weight.reshape(C_out, C * KH * KW) @ cols                 # one matrix product: (N, C_out, OH·OW)
    if bias is not None:
        y = y + bias.reshape(1, C_out, 1)
    return y.reshape(N, C_out, OH, OW)


def conv2d_backward(dy, x, weight, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Gradients (dx, dweight, dbias) of conv2d_forward given dy = dL/dy of shape (N, C_out, OH, OW)."""
    N, C, H, W = x.shape
    C_out, _, KH, KW = weight.shape
    cols = im2col(x, (KH, KW), stride, padding, dilation)        # (N, C·KH·KW, L)
    dy = dy.reshape(N, C_out, -1)                                  # (N, C_out, L)
    dweight = (dy @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(weight.shape)
    dbias = dy.sum(axis=(0, 2))
    dcols = weight.reshape(C_out, -1).T @ dy                       # (N, C·KH·KW, L)
    dx = col2im(dcols, (H, W), (KH, KW), stride, padding, dilation)
    return dx, dweight, dbias


# ---- lesson 3: downsampling -------------------------------------------------------------------
def max_pool2d_with_indices(x, kernel_size, stride, padding=(0, 0), dilation=(1, 1)):
    """Max over each window, and the flat index h·W + w of the (first) maximum in its H·W input plane."""
    N, C, H, W = x.shape
    (KH, KW), (SH, SW), (PH, PW), (DH, DW) = kernel_size, stride, padding, dilation
    OH = (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1
    OW = (W + 2 * PW - DW * (KW - 1) - 1) // SW + 1
    xp = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)), constant_values=-np.inf)  # padding never wins
    best = np.full((N, C, OH, OW), -np.inf, dtype=x.dtype)
    index = np.zeros((N, C, OH, OW), dtype=np.int64)
    rows = np.arange(OH)[:, None] * SH - PH         # input row of tap i = 0 for each output row
    cols = np.arange(OW)[None, :] * SW - PW
    for i in range(KH):                              # taps in row-major order ...
        for j in range(KW):
            top, left = i * DH, j * DW
            v = xp[:, :, top:top + SH * (OH - 1) + 1:SH, left:left + SW * (OW - 1) + 1:SW]
            better = v > best                        # ... and a strict '>' keeps the first maximum
            best = np.where(better, v, best)
            index = np.where(better, (rows + i * DH) * W + (cols + j * DW), index)
    return best, index


# ---- lesson 5: unpooling ----------------------------------------------------------------------
def max_unpool2d(x, indices, output_size):
    """Zeros of shape (N, C, H, W) with x[n, c, oh, ow] written at flat position indices[n, c, oh, ow]."""
    N, C = x.shape[:2]
    H, W = output_size
    out = np.zeros((N, C, H * W), dtype=x.dtype)
    np.put_along_axis(out, indices.reshape(N, C, -1), x.reshape(N, C, -1), axis=2)
    return out.reshape(N, C, H, W)


def unpool_nearest(x, scale):
    """Each value copied into a scale × scale block: (N, C, H, W) -> (N, C, H·scale, W·scale)."""
    return x.repeat(scale, axis=2).repeat(scale, axis=3)


def unpool_bed_of_nails(x, scale):
    """Each value at the top-left corner of its scale × scale block, zeros elsewhere."""
    N, C, H, W = x.shape
    out = np.zeros((N, C, H * scale, W * scale), dtype=x.dtype)
    out[:, :, ::scale, ::scale] = x
    return out


# ---- lesson 6: transposed convolution ---------------------------------------------------------
def conv_matrix(weight, input_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """The (OH·OW, H·W) matrix C of a single-channel convolution: conv(x).ravel() == C @ x.ravel()."""
    KH, KW = weight.shape
    (H, W), (SH, SW), (PH, PW), (DH, DW) = input_size, stride, padding, dilation
    OH = (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1
    OW = (W + 2 * PW - DW * (KW - 1) - 1) // SW + 1
    C = np.zeros((OH * OW, H * W), dtype=np.float64)
    for oh in range(OH):
        for ow in range(OW):
            for i in range(KH):
                for j in range(KW):
                    h, w = oh * SH - PH + i * DH, ow * SW - PW + j * DW   # the pixel tap (i, j) reads
                    if 0 <= h < H and 0 <= w < W:                           # taps on padding read 0
                        C[oh * OW + ow, h * W + w] += weight[i, j]
    return C


def conv_transpose2d(x, weight, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), dilation=(1, 1)):
    """The adjoint of conv2d: each input value scatters weight[c_in] · value into its output window.

    weight: (C_in, C_out, KH, KW) as in PyTorch. OH = (H - 1)·SH - 2·PH + DH·(KH - 1) + OPH + 1.
    """
    N, C_in, H, W = x.shape
    _, C_out, KH, KW = weight.shape
    OH = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (KH - 1) + output_padding[0] + 1
    OW = (W - 1) * stride[1] - 2 * padding[1] + dilation[1] * (KW - 1) + output_padding[1] + 1
    cols = weight.reshape(C_in, C_out * KH * KW).T @ x.reshape(N, C_in, H * W)   # (N, C_out·KH·KW, H·W)
    return col2im(cols, (OH, OW), (KH, KW), stride, padding, dilation)


def bilinear_kernel(channels, scale):
    """FCN's (channels, channels, K, K) conv_transpose2d weight for bilinear upsampling by ``scale``.

    K = 2·scale - scale % 2; tap k weighs 1 - |k - c| / scale with c = (K - 1) / 2, the same
    tent along H and W (their outer product); channel c maps only to channel c.
    """
    K = 2 * scale - scale % 2
    tent = 1 - np.abs(np.arange(K) - (K - 1) / 2) / scale
    weight = np.zeros((channels, channels, K, K))
    for c in range(channels):
        weight[c, c] = np.outer(tent, tent)
    return weight


# ---- lesson 7: convolution arithmetic ---------------------------------------------------------
def conv_output_size(i, k, stride=1, padding=0, dilation=1, kind="conv", output_padding=0, ceil_mode=False):
    """Output size along one axis of a "conv", "transpose" (transposed convolution) or "pool"."""
    effective = dilation * (k - 1) + 1                              # the kernel's reach
    if kind == "transpose":
        return (i - 1) * stride - 2 * padding + effective + output_padding
    span = i + 2 * padding - effective                              # room left for the kernel to slide
    if kind == "pool" and ceil_mode:
        o = -(-span // stride) + 1                                  # ceil division
        if (o - 1) * stride >= i + padding:                         # the last window must start inside
            o -= 1
        return o
    return span // stride + 1


def receptive_field(layers):
    """Receptive field (pixels, per axis) of one output of a stack of (kernel, stride, dilation) layers."""
    field, jump = 1, 1                  # jump: input pixels between neighbouring outputs so far
    for k, s, d in layers:
        field += d * (k - 1) * jump
        jump *= s
    return field


# ---- lesson 8: losses -------------------------------------------------------------------------
def dice_loss(probs, target):
    """Soft Dice loss 1 - mean_k (2 Σ p t + 1) / (Σ p + Σ t + 1), sums over N, H, W; returns (loss, dL/dprobs)."""
    N, K, H, W = probs.shape
    t = (target[:, None, :, :] == np.arange(K).reshape(1, K, 1, 1)).astype(probs.dtype)
    num = 2 * (probs * t).sum(axis=(0, 2, 3)) + 1                  # (K,)
    den = probs.sum(axis=(0, 2, 3)) + t.sum(axis=(0, 2, 3)) + 1    # (K,)
    loss = 1 - (num / den).mean()
    # quotient rule: d(num/den)/dp = (2t·den - num) / den²  (per class), times -1/K from the mean
    grad = -(2 * t * den.reshape(1, K, 1, 1) - num.reshape(1, K, 1, 1)) / den.reshape(1, K, 1, 1) ** 2 / K
    return float(loss), grad


# ---- lesson 9: metrics ------------------------------------------------------------------------
def dice_iou(pred, target, num_classes):
    """Per-class Dice 2|P∩T|/(|P|+|T|) and IoU |P∩T|/|P∪T| from label maps; NaN for a class in neither."""
    dice = np.full(num_classes, np.nan)
    iou = np.full(num_classes, np.nan)
    for k in range(num_classes):
        p, t = pred == k, target == k
        inter, total = (p & t).sum(), p.sum() + t.sum()
        if total > 0:                   # absent from both: nothing to score
            dice[k] = 2 * inter / total
            iou[k] = inter / (total - inter)
    return dice, iou


def hausdorff_distance(pred, target, percentile=100):
    """Symmetric Hausdorff distance between the boundaries of two 2-D boolean masks.

    Boundary: the mask's pixels with a 4-neighbour outside it (the image border counts as
    outside). Each direction's distances min_b |a - b| (a on one boundary, b on the other)
    are reduced by np.percentile(..., percentile); the larger direction is returned.
    NaN when both masks are empty, inf when exactly one is.
    """
    if not pred.any() and not target.any():
        return float("nan")
    if not pred.any() or not target.any():
        return float("inf")

    def boundary(mask):
        inside = np.pad(mask, 1)        # pixels outside the image count as outside the mask
        interior = (inside[1:-1, 1:-1] & inside[:-2, 1:-1] & inside[2:, 1:-1]
                    & inside[1:-1, :-2] & inside[1:-1, 2:])
        return np.argwhere(mask & ~interior)            # (M, 2) pixel coordinates

    a, b = boundary(pred), boundary(target)
    dist = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))   # (Ma, Mb) all pairs
    return float(max(np.percentile(dist.min(axis=1), percentile), np.percentile(dist.min(axis=0), percentile)))


# =============================================================================================
# The U-Net's remaining pieces (issue 24; their exercises are in catalogue_unet.py). With
# these and the pieces above, ``minifcn train --exercises DIR`` runs every operation of the
# default U-Net, its loss and its Adam step on the student's code. None of them modifies
# its inputs: each returns new arrays.
# =============================================================================================

# ---- lesson 6: the transposed convolution's gradients -----------------------------------------
def conv_transpose2d_backward(dy, x, weight, stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
                              dilation=(1, 1)):
    """Gradients (dx, dweight, dbias) of y = conv_transpose2d(x, weight) + bias, given dy = dL/dy.

    A transposed convolution scatters each input value into a window; its gradient gathers
    the window back: with cols = im2col(dy) (one column per input pixel),
    dx = weight.reshape(C_in, -1) @ cols and dweight = Σ_n x_n @ cols_nᵀ.
    """
    N, C_in, H, W = x.shape
    _, C_out, KH, KW = weight.shape
    cols = im2col(dy, (KH, KW), stride, padding, dilation)          # (N, C_out·KH·KW, H·W)
    dx = (weight.reshape(C_in, C_out * KH * KW) @ cols).reshape(N, C_in, H, W)
    dweight = (x.reshape(N, C_in, H * W) @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(weight.shape)
    dbias = dy.sum(axis=(0, 2, 3))
    return dx, dweight, dbias


# ---- lesson 8: losses ---------------------------------------------------------------------------
def softmax_dice_loss(logits, target):
    """Soft Dice loss of p = softmax(logits) over axis 1, and its gradient with respect to the logits.

    The chain rule through softmax: dL/dz = p ⊙ (dL/dp - Σ_k p_k dL/dp_k) (the sum over classes).
    """
    shifted = logits - logits.max(axis=1, keepdims=True)           # exp never overflows
    e = np.exp(shifted)
    p = e / e.sum(axis=1, keepdims=True)
    loss, dp = dice_loss(p, target)
    dlogits = p * (dp - (p * dp).sum(axis=1, keepdims=True))
    return loss, dlogits


# ---- lesson 10: the U-Net's building blocks and its optimiser -----------------------------------
def relu(x):
    """max(x, 0), elementwise, in x's dtype."""
    return np.maximum(x, 0).astype(x.dtype, copy=False)


def relu_backward(dy, x):
    """dL/dx of relu: dy where x > 0, else 0 (at x == 0 too, as PyTorch)."""
    return np.where(x > 0, dy, 0).astype(dy.dtype, copy=False)


def crop_and_concat(skip, x):
    """U-Net's skip: the centre of ``skip`` cropped to x's H×W, then [crop, x] along the channels."""
    H, W = x.shape[2:]
    top, left = (skip.shape[2] - H) // 2, (skip.shape[3] - W) // 2
    return np.concatenate([skip[:, :, top:top + H, left:left + W], x], axis=1)


def crop_and_concat_backward(dy, skip_shape):
    """(dskip, dx) of crop_and_concat: the first C_skip channels of dy go back into the crop window."""
    N, C_skip, H_skip, W_skip = skip_shape
    H, W = dy.shape[2:]
    top, left = (H_skip - H) // 2, (W_skip - W) // 2
    dskip = np.zeros((N, C_skip, H_skip, W_skip), dtype=dy.dtype)   # the cropped-off border got no gradient
    dskip[:, :, top:top + H, left:left + W] = dy[:, :C_skip]
    return dskip, dy[:, C_skip:].copy()


def batch_norm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """Batch norm of (N, C, H, W) per channel; returns (y, new running_mean, new running_var).

    training: normalise with this batch's mean and biased variance over (N, H, W), and move
    the running estimates: running ← (1 - momentum)·running + momentum·batch statistic, with
    the *unbiased* variance m/(m - 1)·σ² (m = N·H·W), as PyTorch. Otherwise normalise with
    the running estimates and return them unchanged.
    """
    C = x.shape[1]
    shape = (1, C, 1, 1)                                          # broadcasts over N, H, W
    if training:
        m = x.size // C
        mean = x.mean(axis=(0, 2, 3))
        var = ((x - mean.reshape(shape)) ** 2).mean(axis=(0, 2, 3))    # biased: divides by m
        new_mean = (1 - momentum) * running_mean + momentum * mean
        new_var = (1 - momentum) * running_var + momentum * var * m / (m - 1)
    else:
        mean, var = running_mean, running_var
        new_mean, new_var = running_mean.copy(), running_var.copy()
    x_hat = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    y = gamma.reshape(shape) * x_hat + beta.reshape(shape)
    return (y.astype(x.dtype, copy=False), new_mean.astype(running_mean.dtype, copy=False),
            new_var.astype(running_var.dtype, copy=False))


def batch_norm_backward(dy, x, gamma, running_mean, running_var, training, eps=1e-5):
    """Gradients (dx, dgamma, dbeta) of batch_norm_forward's y, given dy = dL/dy.

    With batch statistics every x̂ depends on the whole channel: with g = γ·dy,
    dx = (g - mean(g) - x̂·mean(g·x̂)) / √(σ² + ε) (means over N, H, W). With running
    statistics (evaluation) μ and σ² are constants: dx = g / √(σ²_run + ε).
    """
    C = x.shape[1]
    shape = (1, C, 1, 1)
    axes = (0, 2, 3)
    if training:
        mean = x.mean(axis=axes)
        var = ((x - mean.reshape(shape)) ** 2).mean(axis=axes)
    else:
        mean, var = running_mean, running_var
    inv_std = 1 / np.sqrt(var.reshape(shape) + eps)
    x_hat = (x - mean.reshape(shape)) * inv_std
    g = dy * gamma.reshape(shape)
    if training:
        dx = (g - g.mean(axis=axes, keepdims=True) - x_hat * (g * x_hat).mean(axis=axes, keepdims=True)) * inv_std
    else:
        dx = g * inv_std
    return dx, (dy * x_hat).sum(axis=axes), dy.sum(axis=axes)


def adam_step(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """One Adam update (PyTorch's ``torch.optim.Adam``); returns (new param, new exp_avg, new exp_avg_sq).

    g = grad + weight_decay·param (L2 in the gradient, not AdamW's decoupled decay);
    m = β₁·exp_avg + (1 - β₁)·g;  v = β₂·exp_avg_sq + (1 - β₂)·g²;
    param - lr · (m / (1 - β₁^step)) / (√(v / (1 - β₂^step)) + eps), step counted from 1.
    """
    beta1, beta2 = betas
    g = grad + weight_decay * param
    m = beta1 * exp_avg + (1 - beta1) * g
    v = beta2 * exp_avg_sq + (1 - beta2) * g * g
    m_hat = m / (1 - beta1 ** step)                  # bias correction: m and v start at 0
    v_hat = v / (1 - beta2 ** step)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps), m, v
