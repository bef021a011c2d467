"""Plausible wrong solutions of the U-Net exercises (catalogue_unet), at least two per exercise.

Each is the reference with one mistake a student makes; tests/test_exercises_unet.py checks
that the grader catches every one with a small counterexample.
"""
import numpy as np

from minifcn.exercises import solutions as S


def _stats(x):
    mean = x.mean(axis=(0, 2, 3))
    return mean, ((x - mean.reshape(1, -1, 1, 1)) ** 2).mean(axis=(0, 2, 3))


# ---- conv_transpose2d_backward ----
def ctb_dbias_one_image(dy, x, weight, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), dilation=(1, 1)):
    dx, dw, db = S.conv_transpose2d_backward(dy, x, weight, stride, padding, output_padding, dilation)
    return dx, dw, dy[0].sum(axis=(1, 2))                          # forgets the batch in dbias


def ctb_flipped_kernel(dy, x, weight, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), dilation=(1, 1)):
    # "the gradient of a transposed convolution is a convolution with the flipped kernel": not with
    # PyTorch's cross-correlation convention
    dx, _, _ = S.conv_transpose2d_backward(dy, x, weight[:, :, ::-1, ::-1].copy(), stride, padding, output_padding,
                                           dilation)
    _, dw, db = S.conv_transpose2d_backward(dy, x, weight, stride, padding, output_padding, dilation)
    return dx, dw, db


def ctb_conv_layout(dy, x, weight, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), dilation=(1, 1)):
    # dweight computed as if the weight were conv2d's (C_out, C_in, KH, KW), then reshaped
    N, C_in, H, W = x.shape
    _, C_out, KH, KW = weight.shape
    dx, _, db = S.conv_transpose2d_backward(dy, x, weight, stride, padding, output_padding, dilation)
    cols = S.im2col(dy, (KH, KW), stride, padding, dilation).reshape(N, C_out, KH * KW, H * W)
    dw = np.einsum("nokl,ncl->ock", cols, x.reshape(N, C_in, H * W)).reshape(weight.shape)
    return dx, dw, db


# ---- softmax_dice_loss ----
def sdl_no_max(logits, target):
    e = np.exp(logits)                                             # overflows for logits of 1000
    p = e / e.sum(axis=1, keepdims=True)
    loss, dp = S.dice_loss(p, target)
    return loss, p * (dp - (p * dp).sum(axis=1, keepdims=True))


def sdl_diagonal_jacobian(logits, target):
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    loss, dp = S.dice_loss(p, target)
    return loss, p * (1 - p) * dp                                  # only dp_k/dz_k: softmax's diagonal


def sdl_smooth_numerator_only(logits, target):
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    K = p.shape[1]
    t = S.one_hot(target, K)
    num = 2 * (p * t).sum(axis=(0, 2, 3)) + 1
    den = p.sum(axis=(0, 2, 3)) + t.sum(axis=(0, 2, 3))           # smooth forgotten in the denominator
    den = np.where(den == 0, 1.0, den)
    loss = 1 - (num / den).mean()
    dp = -(2 * t * den.reshape(1, K, 1, 1) - num.reshape(1, K, 1, 1)) / den.reshape(1, K, 1, 1) ** 2 / K
    return float(loss), p * (dp - (p * dp).sum(axis=1, keepdims=True))


# ---- relu ----
def relu_leaky(x):
    return np.where(x > 0, x, 0.01 * x)                            # leaky ReLU, not ReLU


def relu_mask(x):
    return (x > 0).astype(x.dtype)                                 # the derivative, not the value


def relu_clip6(x):
    return np.clip(x, 0, 6)                                        # ReLU6


# ---- relu_backward ----
def relub_ge(dy, x):
    return dy * (x >= 0)                                           # gradient 1 at x == 0


def relub_mask_only(dy, x):
    return (x > 0).astype(dy.dtype)                                # forgets dy


def relub_mask_from_dy(dy, x):
    return dy * (dy > 0)                                           # masks by the gradient's sign


# ---- crop_and_concat ----
def cc_order(skip, x):
    cat = S.crop_and_concat(skip, x)
    C = skip.shape[1]
    return np.concatenate([cat[:, C:], cat[:, :C]], axis=1)        # [x, crop]


def cc_corner(skip, x):
    H, W = x.shape[2:]
    return np.concatenate([skip[:, :, :H, :W], x], axis=1)        # top-left window, not the centre


def cc_ceil(skip, x):
    H, W = x.shape[2:]
    top, left = -(-(skip.shape[2] - H) // 2), -(-(skip.shape[3] - W) // 2)    # rounds the offset up
    return np.concatenate([skip[:, :, top:top + H, left:left + W], x], axis=1)


# ---- crop_and_concat_backward ----
def ccb_no_pad(dy, skip_shape):
    C = skip_shape[1]
    return dy[:, :C].copy(), dy[:, C:].copy()                      # the crop's gradient, not the skip's


def ccb_corner(dy, skip_shape):
    C = skip_shape[1]
    H, W = dy.shape[2:]
    dskip = np.zeros(skip_shape)
    dskip[:, :, :H, :W] = dy[:, :C]                                # back into the top-left window
    return dskip, dy[:, C:].copy()


def ccb_split_swapped(dy, skip_shape):
    N, C, Hs, Ws = skip_shape
    C_x = dy.shape[1] - C
    H, W = dy.shape[2:]
    top, left = (Hs - H) // 2, (Ws - W) // 2
    dskip = np.zeros(skip_shape)
    dskip[:, :, top:top + H, left:left + W] = dy[:, C_x:]          # skip's channels taken from the end
    return dskip, dy[:, :C_x].copy()


# ---- batch_norm_forward ----
def bnf_biased_running_var(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    y, rm, rv = S.batch_norm_forward(x, gamma, beta, running_mean, running_var, training, momentum, eps)
    if training:
        rv = (1 - momentum) * running_var + momentum * _stats(x)[1]     # σ² instead of m/(m - 1) σ²
    return y, rm, rv


def bnf_eval_batch_stats(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    y, rm, rv = S.batch_norm_forward(x, gamma, beta, running_mean, running_var, True, momentum, eps) \
        if x.size > x.shape[1] else S.batch_norm_forward(x, gamma, beta, running_mean, running_var, training,
                                                          momentum, eps)
    return (y, rm, rv) if training else (y, running_mean.copy(), running_var.copy())   # batch stats in eval


def bnf_keras_momentum(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    y, rm, rv = S.batch_norm_forward(x, gamma, beta, running_mean, running_var, training, 1 - momentum, eps)
    return y, rm, rv                                               # Keras' momentum: weight of the old value


def bnf_unbiased_normalise(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    y, rm, rv = S.batch_norm_forward(x, gamma, beta, running_mean, running_var, training, momentum, eps)
    if training:
        mean = x.mean(axis=(0, 2, 3)).reshape(1, -1, 1, 1)
        var = x.var(axis=(0, 2, 3), ddof=1).reshape(1, -1, 1, 1)      # normalises with the unbiased variance
        y = gamma.reshape(1, -1, 1, 1) * (x - mean) / np.sqrt(var + eps) + beta.reshape(1, -1, 1, 1)
    return y, rm, rv


# ---- batch_norm_backward ----
def bnb_no_mean_terms(dy, x, gamma, running_mean, running_var, training, eps=1e-5):
    dx, dg, db = S.batch_norm_backward(dy, x, gamma, running_mean, running_var, False, eps)
    if training:
        mean, var = _stats(x)
        dx = dy * gamma.reshape(1, -1, 1, 1) / np.sqrt(var.reshape(1, -1, 1, 1) + eps)   # μ, σ² as constants
        _, dg, db = S.batch_norm_backward(dy, x, gamma, running_mean, running_var, True, eps)
    return dx, dg, db


def bnb_eval_batch_stats(dy, x, gamma, running_mean, running_var, training, eps=1e-5):
    if x.size > x.shape[1]:
        return S.batch_norm_backward(dy, x, gamma, running_mean, running_var, True, eps)   # always batch stats
    return S.batch_norm_backward(dy, x, gamma, running_mean, running_var, training, eps)


def bnb_forget_gamma(dy, x, gamma, running_mean, running_var, training, eps=1e-5):
    dx, dg, db = S.batch_norm_backward(dy, x, np.ones_like(gamma), running_mean, running_var, training, eps)
    return dx, dg, db                                              # dx without the factor γ


# ---- adam_step ----
def adam_no_bias_correction(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=0.0):
    b1, b2 = betas
    g = grad + weight_decay * param
    m = b1 * exp_avg + (1 - b1) * g
    v = b2 * exp_avg_sq + (1 - b2) * g * g
    return param - lr * m / (np.sqrt(v) + eps), m, v


def adam_decoupled_decay(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                         weight_decay=0.0):
    p, m, v = S.adam_step(param * (1 - lr * weight_decay), grad, exp_avg, exp_avg_sq, step, lr, betas, eps, 0.0)
    return p, m, v                                                 # AdamW's decay, not Adam's


def adam_eps_inside_sqrt(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                         weight_decay=0.0):
    b1, b2 = betas
    g = grad + weight_decay * param
    m = b1 * exp_avg + (1 - b1) * g
    v = b2 * exp_avg_sq + (1 - b2) * g * g
    return param - lr * (m / (1 - b1 ** step)) / np.sqrt(v / (1 - b2 ** step) + eps), m, v


def adam_stores_corrected(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                          weight_decay=0.0):
    p, m, v = S.adam_step(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay)
    return p, m / (1 - betas[0] ** step), v / (1 - betas[1] ** step)   # keeps m̂, v̂ as the state


BUGS_UNET = {
    "conv_transpose2d_backward": [ctb_dbias_one_image, ctb_flipped_kernel, ctb_conv_layout],
    "softmax_dice_loss": [sdl_no_max, sdl_diagonal_jacobian, sdl_smooth_numerator_only],
    "relu": [relu_leaky, relu_mask, relu_clip6],
    "relu_backward": [relub_ge, relub_mask_only, relub_mask_from_dy],
    "crop_and_concat": [cc_order, cc_corner, cc_ceil],
    "crop_and_concat_backward": [ccb_no_pad, ccb_corner, ccb_split_swapped],
    "batch_norm_forward": [bnf_biased_running_var, bnf_eval_batch_stats, bnf_keras_momentum, bnf_unbiased_normalise],
    "batch_norm_backward": [bnb_no_mean_terms, bnb_eval_batch_stats, bnb_forget_gamma],
    "adam_step": [adam_no_bias_correction, adam_decoupled_decay, adam_eps_inside_sqrt, adam_stores_corrected],
}
