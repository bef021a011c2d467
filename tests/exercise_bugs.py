"""Plausible wrong solutions a student would write, at least two per exercise.

Each is the reference solution with one mistake; tests/test_exercises.py checks that the
grader catches every one and that its counterexample is small.
"""
import numpy as np

from minifcn.exercises import solutions as S


def _out(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


# ---- one_hot ----
def one_hot_classes_last(labels, num_classes):
    return np.eye(num_classes)[labels]                       # (N, H, W, K): PyTorch's layout, not (N, K, H, W)


def one_hot_max_label(labels, num_classes):
    K = int(labels.max()) + 1                                # forgets absent classes
    return (labels[:, None] == np.arange(K)[None, :, None, None]).astype(float)


# ---- pixel_cross_entropy ----
def pce_no_max(logits, target):
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)   # overflows for large logits
    t = S.one_hot(target, logits.shape[1])
    M = target.size
    return float(-(np.log(p) * t).sum() / M), (p - t) / M


def pce_sum_grad(logits, target):
    loss, grad = S.pixel_cross_entropy(logits, target)
    return loss, grad * target.size                          # gradient of the sum, loss of the mean


# ---- im2col ----
def im2col_no_padding(x, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    N, C, H, W = x.shape
    OH = _out(H, kernel_size[0], stride[0], padding[0], dilation[0])
    OW = _out(W, kernel_size[1], stride[1], padding[1], dilation[1])
    cols = S.im2col(x, kernel_size, stride, (0, 0), dilation)      # forgets the padding ...
    out = np.zeros((N, cols.shape[1], OH * OW))                     # ... but gets the shape right
    n = min(cols.shape[2], OH * OW)
    out[:, :, :n] = cols[:, :, :n]
    return out


def im2col_no_dilation(x, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    return S.im2col(x, kernel_size, stride, padding, (1, 1))


def im2col_transposed_positions(x, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    N, C, H, W = x.shape
    OH = _out(H, kernel_size[0], stride[0], padding[0], dilation[0])
    OW = _out(W, kernel_size[1], stride[1], padding[1], dilation[1])
    cols = S.im2col(x, kernel_size, stride, padding, dilation).reshape(N, -1, OH, OW)
    return cols.transpose(0, 1, 3, 2).reshape(N, -1, OH * OW)      # ow-major columns


# ---- col2im ----
def col2im_assign(cols, input_size, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    (H, W), (KH, KW), (SH, SW), (PH, PW), (DH, DW) = input_size, kernel_size, stride, padding, dilation
    OH, OW = _out(H, KH, SH, PH, DH), _out(W, KW, SW, PW, DW)
    N, C = cols.shape[0], cols.shape[1] // (KH * KW)
    cols = cols.reshape(N, C, KH, KW, OH, OW)
    x = np.zeros((N, C, H + 2 * PH, W + 2 * PW), dtype=cols.dtype)
    for i in range(KH):
        for j in range(KW):
            x[:, :, i * DH:i * DH + SH * (OH - 1) + 1:SH, j * DW:j * DW + SW * (OW - 1) + 1:SW] = cols[:, :, i, j]
    return x[:, :, PH:PH + H, PW:PW + W]                           # '=' loses overlapping windows


def col2im_keeps_padding_origin(cols, input_size, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    H, W = input_size
    full = S.col2im(cols, (H, W), kernel_size, stride, padding, dilation)
    x = S.col2im(cols, (H + 2 * padding[0], W + 2 * padding[1]), kernel_size, stride, (0, 0), dilation) \
        if full.size else full
    return x[:, :, :H, :W]                                          # crops the wrong corner


# ---- conv2d_forward ----
def conv_forward_no_bias(x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    return S.conv2d_forward(x, weight, None, stride, padding, dilation)


def conv_forward_flipped_kernel(x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    return S.conv2d_forward(x, weight[:, :, ::-1, ::-1].copy(), bias, stride, padding, dilation)  # true convolution


# ---- conv2d_backward ----
def conv_backward_dw_no_transpose(dy, x, weight, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    dx, dw, db = S.conv2d_backward(dy, x, weight, stride, padding, dilation)
    N, C_out = dy.shape[:2]
    cols = S.im2col(x, weight.shape[2:], stride, padding, dilation)
    dw = (cols @ dy.reshape(N, C_out, -1).transpose(0, 2, 1)).sum(axis=0).reshape(weight.shape)  # (CKK, C_out)
    return dx, dw, db


def conv_backward_db_one_image(dy, x, weight, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    dx, dw, db = S.conv2d_backward(dy, x, weight, stride, padding, dilation)
    return dx, dw, dy[0].sum(axis=(1, 2))                           # forgets the batch in dbias


# ---- max_pool2d_with_indices ----
def pool_last_max(x, kernel_size, stride, padding=(0, 0), dilation=(1, 1)):
    N, C, H, W = x.shape
    (KH, KW), (SH, SW), (PH, PW), (DH, DW) = kernel_size, stride, padding, dilation
    OH, OW = _out(H, KH, SH, PH, DH), _out(W, KW, SW, PW, DW)
    xp = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)), constant_values=-np.inf)
    best = np.full((N, C, OH, OW), -np.inf)
    index = np.zeros((N, C, OH, OW), dtype=np.int64)
    rows, cols = np.arange(OH)[:, None] * SH - PH, np.arange(OW)[None, :] * SW - PW
    for i in range(KH):
        for j in range(KW):
            v = xp[:, :, i * DH:i * DH + SH * (OH - 1) + 1:SH, j * DW:j * DW + SW * (OW - 1) + 1:SW]
            better = v >= best                                       # '>=': the LAST maximum wins
            best = np.where(better, v, best)
            index = np.where(better, (rows + i * DH) * W + (cols + j * DW), index)
    return best, index


def pool_zero_padding(x, kernel_size, stride, padding=(0, 0), dilation=(1, 1)):
    PH, PW = padding
    xp = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))            # pads with 0: wins over negatives
    y, idx = S.max_pool2d_with_indices(xp, kernel_size, stride, (0, 0), dilation)
    W = x.shape[3]
    Wp = W + 2 * PW
    return y, (idx // Wp - PH) * W + (idx % Wp - PW)


def pool_window_index(x, kernel_size, stride, padding=(0, 0), dilation=(1, 1)):
    y, idx = S.max_pool2d_with_indices(x, kernel_size, stride, padding, dilation)
    return y, idx % (kernel_size[0] * kernel_size[1])                # index inside the window


# ---- max_unpool2d ----
def unpool_height_split(x, indices, output_size):
    N, C = x.shape[:2]
    H, W = output_size
    out = np.zeros((N, C, H, W))
    n, c, oh, ow = np.indices(x.shape)
    out[n, c, indices // H % H, indices % H % W] = x                # splits the flat index by H
    return out


def unpool_first_plane(x, indices, output_size):
    N, C = x.shape[:2]
    H, W = output_size
    out = np.zeros((N, C, H * W))
    for n in range(N):
        for c in range(C):
            out[n, c, indices[0, 0].ravel()] = x[n, c].ravel()       # uses plane (0, 0)'s indices everywhere
    return out.reshape(N, C, H, W)


# ---- unpool_nearest ----
def nearest_tile(x, scale):
    return np.tile(x, (1, 1, scale, scale))


def nearest_rows_only(x, scale):
    return np.concatenate([x.repeat(scale, axis=2)] * scale, axis=3)   # repeats rows, tiles columns


# ---- unpool_bed_of_nails ----
def nails_centre(x, scale):
    N, C, H, W = x.shape
    out = np.zeros((N, C, H * scale, W * scale))
    out[:, :, scale // 2::scale, scale // 2::scale] = x            # the block's centre, not its corner
    return out


def nails_nearest(x, scale):
    return S.unpool_nearest(x, scale)                              # fills the block


# ---- conv_matrix ----
def conv_matrix_wraps(weight, input_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    KH, KW = weight.shape
    (H, W), (SH, SW), (PH, PW), (DH, DW) = input_size, stride, padding, dilation
    OH, OW = _out(H, KH, SH, PH, DH), _out(W, KW, SW, PW, DW)
    C = np.zeros((OH * OW, H * W))
    for oh in range(OH):
        for ow in range(OW):
            for i in range(KH):
                for j in range(KW):
                    h, w = oh * SH - PH + i * DH, ow * SW - PW + j * DW
                    if 0 <= h * W + w < H * W:                     # checks only the flat index: wraps rows
                        C[oh * OW + ow, h * W + w] += weight[i, j]
    return C


def conv_matrix_transposed(weight, input_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    C = S.conv_matrix(weight, input_size, stride, padding, dilation)
    return C.T.reshape(C.shape) if C.shape[0] == C.shape[1] else C.T


# ---- conv_transpose2d ----
def convT_no_output_padding(x, weight, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), dilation=(1, 1)):
    y = S.conv_transpose2d(x, weight, stride, padding, (0, 0), dilation)
    OH, OW = y.shape[2] + output_padding[0], y.shape[3] + output_padding[1]
    out = np.zeros(y.shape[:2] + (OH, OW))
    out[:, :, OH - y.shape[2]:, OW - y.shape[3]:] = y              # pads on the wrong side (top/left)
    return out


def convT_swapped_channels(x, weight, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), dilation=(1, 1)):
    # reads the weight as conv2d's (C_out, C_in, KH, KW): a reshape where the layouts differ
    C_in, C_out = weight.shape[:2]
    w = weight.reshape(C_out, C_in, *weight.shape[2:]).transpose(1, 0, 2, 3)
    return S.conv_transpose2d(x, np.ascontiguousarray(w), stride, padding, output_padding, dilation)


# ---- bilinear_kernel ----
def bilinear_integer_centre(channels, scale):
    K = 2 * scale - scale % 2
    tent = 1 - np.abs(np.arange(K) - K // 2) / scale               # centre K // 2, not (K - 1) / 2
    w = np.zeros((channels, channels, K, K))
    for c in range(channels):
        w[c, c] = np.outer(tent, tent)
    return w


def bilinear_all_channels(channels, scale):
    w = S.bilinear_kernel(1, scale)
    return np.broadcast_to(w, (channels, channels) + w.shape[2:]).copy()   # channel c leaks into c'


# ---- conv_output_size ----
def size_no_dilation(i, k, stride=1, padding=0, dilation=1, kind="conv", output_padding=0, ceil_mode=False):
    return S.conv_output_size(i, k, stride, padding, 1, kind, output_padding, ceil_mode)


def size_plain_ceil(i, k, stride=1, padding=0, dilation=1, kind="conv", output_padding=0, ceil_mode=False):
    if kind == "pool" and ceil_mode:
        return -(-(i + 2 * padding - dilation * (k - 1) - 1) // stride) + 1    # no last-window rule
    return S.conv_output_size(i, k, stride, padding, dilation, kind, output_padding, ceil_mode)


def size_transpose_no_output_padding(i, k, stride=1, padding=0, dilation=1, kind="conv", output_padding=0,
                                     ceil_mode=False):
    return S.conv_output_size(i, k, stride, padding, dilation, kind, 0, ceil_mode)


# ---- receptive_field ----
def rf_own_stride(layers):
    field, jump = 1, 1
    for k, s, d in layers:
        jump *= s                                                  # multiplies before the layer
        field += d * (k - 1) * jump
    return field


def rf_no_dilation(layers):
    return S.receptive_field([(k, s, 1) for k, s, d in layers])


# ---- dice_loss ----
def dice_loss_no_quotient_rule(probs, target):
    loss, _ = S.dice_loss(probs, target)
    N, K = probs.shape[:2]
    t = S.one_hot(target, K)
    den = probs.sum(axis=(0, 2, 3)) + t.sum(axis=(0, 2, 3)) + 1
    return loss, -2 * t / den.reshape(1, K, 1, 1) / K              # d num / den only


def dice_loss_per_image(probs, target):
    losses, grads = zip(*(S.dice_loss(probs[n:n + 1], target[n:n + 1]) for n in range(probs.shape[0])))
    N = probs.shape[0]
    return float(np.mean(losses)), np.concatenate(grads) / N       # one Dice per image


# ---- dice_iou ----
def dice_iou_absent_is_one(pred, target, num_classes):
    dice, iou = S.dice_iou(pred, target, num_classes)
    return np.nan_to_num(dice, nan=1.0), np.nan_to_num(iou, nan=1.0)


def dice_iou_union_sum(pred, target, num_classes):
    dice, _ = S.dice_iou(pred, target, num_classes)
    iou = np.full(num_classes, np.nan)
    for k in range(num_classes):
        p, t = pred == k, target == k
        if p.sum() + t.sum():
            iou[k] = (p & t).sum() / (p.sum() + t.sum())           # forgets to subtract the intersection
    return dice, iou


# ---- hausdorff_distance ----
def hd_one_direction(pred, target, percentile=100):
    if not pred.any() and not target.any():
        return float("nan")
    if not pred.any() or not target.any():
        return float("inf")
    a, b = np.argwhere(pred), np.argwhere(target)
    d = np.sqrt(((a[:, None] - b[None]) ** 2).sum(axis=2))
    return float(np.percentile(d.min(axis=1), percentile))        # pred -> target only (and all pixels)


def hd_pooled_percentile(pred, target, percentile=100):
    if not pred.any() and not target.any():
        return float("nan")
    if not pred.any() or not target.any():
        return float("inf")
    full = S.hausdorff_distance(pred, target, 100)
    if percentile == 100:
        return full
    # percentile of both directions together instead of per direction
    def boundary(mask):
        m = np.pad(mask, 1)
        inner = m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
        return np.argwhere(mask & ~inner)
    a, b = boundary(pred), boundary(target)
    d = np.sqrt(((a[:, None] - b[None]) ** 2).sum(axis=2))
    return float(np.percentile(np.concatenate([d.min(axis=1), d.min(axis=0)]), percentile))


BUGS = {
    "one_hot": [one_hot_classes_last, one_hot_max_label],
    "pixel_cross_entropy": [pce_no_max, pce_sum_grad],
    "im2col": [im2col_no_padding, im2col_no_dilation, im2col_transposed_positions],
    "col2im": [col2im_assign, col2im_keeps_padding_origin],
    "conv2d_forward": [conv_forward_no_bias, conv_forward_flipped_kernel],
    "conv2d_backward": [conv_backward_dw_no_transpose, conv_backward_db_one_image],
    "max_pool2d_with_indices": [pool_last_max, pool_zero_padding, pool_window_index],
    "max_unpool2d": [unpool_height_split, unpool_first_plane],
    "unpool_nearest": [nearest_tile, nearest_rows_only],
    "unpool_bed_of_nails": [nails_centre, nails_nearest],
    "conv_matrix": [conv_matrix_wraps, conv_matrix_transposed],
    "conv_transpose2d": [convT_no_output_padding, convT_swapped_channels],
    "bilinear_kernel": [bilinear_integer_centre, bilinear_all_channels],
    "conv_output_size": [size_no_dilation, size_plain_ceil, size_transpose_no_output_padding],
    "receptive_field": [rf_own_stride, rf_no_dilation],
    "dice_loss": [dice_loss_no_quotient_rule, dice_loss_per_image],
    "dice_iou": [dice_iou_absent_is_one, dice_iou_union_sum],
    "hausdorff_distance": [hd_one_direction, hd_pooled_percentile],
}


# ---- holes of the first grader (integer inputs only, no dtype or side-effect checks) -------------
# Each passed the first edition's grader (checked with its code at commit f2e8f0c) and must
# fail the second: the kind of problem the grader must name is given beside it.
def im2col_int_buffer(x, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    cols = S.im2col(x.astype(np.int64), kernel_size, stride, padding, dilation)   # an integer buffer ...
    return cols.astype(x.dtype)                                                    # ... cast back: 0.5 -> 0


def col2im_float16_sums(cols, input_size, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    out = S.col2im(cols.astype(np.float16), input_size, kernel_size, stride, padding, dilation)
    return out.astype(cols.dtype)                                                  # sums rounded to 3 digits


def pool_float64_buffer(x, kernel_size, stride, padding=(0, 0), dilation=(1, 1)):
    y, idx = S.max_pool2d_with_indices(x.astype(np.float64), kernel_size, stride, padding, dilation)
    return y, idx                                                                  # float32 in, float64 out


def dice_iou_float32(pred, target, num_classes):
    dice, iou = S.dice_iou(pred, target, num_classes)
    return dice.astype(np.float32), iou.astype(np.float32)                         # the task says float64


def pce_shifts_in_place(logits, target):
    logits -= logits.max(axis=1, keepdims=True)                                    # changes the caller's logits
    return S.pixel_cross_entropy(logits, target)


def nails_returns_input(x, scale):
    return x if scale == 1 else S.unpool_bed_of_nails(x, scale)                    # the caller's own array


def im2col_view_for_1x1(x, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    N, C, H, W = x.shape
    if tuple(kernel_size) == (1, 1) and tuple(stride) == (1, 1) and tuple(padding) == (0, 0):
        return x.reshape(N, C, H * W)                                              # a view of x
    return S.im2col(x, kernel_size, stride, padding, dilation)


def hd_eight_neighbours(pred, target, percentile=100):
    if not pred.any() and not target.any():
        return float("nan")
    if not pred.any() or not target.any():
        return float("inf")

    def boundary(mask):                  # a pixel with any of its 8 neighbours outside (the task says 4)
        p = np.pad(mask, 1)
        inner = np.ones_like(mask)
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                inner &= p[1 + di:1 + di + mask.shape[0], 1 + dj:1 + dj + mask.shape[1]]
        return np.argwhere(mask & ~inner)
    a, b = boundary(pred), boundary(target)
    d = np.sqrt(((a[:, None] - b[None]) ** 2).sum(axis=2))
    return float(max(np.percentile(d.min(axis=1), percentile), np.percentile(d.min(axis=0), percentile)))


HOLES = {   # name -> [(bug, the kind of problem the grader reports)]
    "im2col": [(im2col_int_buffer, "value"), (im2col_view_for_1x1, "aliased")],
    "col2im": [(col2im_float16_sums, "value")],
    "max_pool2d_with_indices": [(pool_float64_buffer, "dtype")],
    "dice_iou": [(dice_iou_float32, "dtype")],
    "pixel_cross_entropy": [(pce_shifts_in_place, "modified")],
    "unpool_bed_of_nails": [(nails_returns_input, "aliased")],
    "hausdorff_distance": [(hd_eight_neighbours, "value")],
}
