"""Fused GPU kernels: one launch where the readable NumPy code makes several.

On a GPU every array operation is a kernel launch (a few microseconds of Python and
driver overhead each, whatever the array size), so an Adam update written as
``m *= β₁; m += (1 - β₁)·g; ...`` costs 14 launches per parameter tensor. The kernels here
do the same arithmetic in one pass (CuPy's ``ElementwiseKernel``: a line of C per element,
compiled once, cached per device).

Each kernel sits beside the readable version it replaces, which stays the reference: the
callers (optimisers, batch norm, ReLU, max pool, col2im) run the readable version on the CPU
(NumPy has no kernels) and whenever ``MINIFCN_FUSED=0``; the tests run both on the device and
compare. Kernel outputs are mostly left to the call to allocate (CuPy does, when they are
omitted), so an operation is one call, not an ``empty`` plus a kernel.

The C is kept to what the strict CuPy stand-in can interpret (assignments, + - * /, sqrt,
comparisons, one ``?:`` per statement), so the suite runs each kernel's own source without a GPU.
"""
from __future__ import annotations

import os
from typing import Any

from . import backend

_compiled: dict = {}


def enabled(xp: Any) -> bool:
    """Fused kernels are used for arrays of ``xp`` (CuPy, not NumPy) unless MINIFCN_FUSED=0."""
    return hasattr(xp, "ElementwiseKernel") and os.environ.get("MINIFCN_FUSED", "1") != "0"


def kernel(xp: Any, name: str, in_params: str, out_params: str, operation: str) -> Any:
    """``xp.ElementwiseKernel(in_params, out_params, operation, name)``, made once per module."""
    key = (id(xp), name, operation)
    k = _compiled.get(key)
    if k is None:
        k = _compiled[key] = xp.ElementwiseKernel(in_params, out_params, operation, name)
    return k


# ---- Adam / AdamW -------------------------------------------------------------------------------
ADAM_IN = "T g, T lr, T beta1, T one_minus_beta1, T beta2, T one_minus_beta2, T bc1, T bc2, T eps, T wd, T decay"
ADAM_OUT = "T p, T m, T v"
ADAM_OP = """
T gg = g + wd * p;
p = p * decay;
m = beta1 * m + one_minus_beta1 * gg;
v = beta2 * v + one_minus_beta2 * (gg * gg);
p = p - lr * (m / bc1) / (sqrt(v / bc2) + eps)
"""


def adam_update(p: Any, g: Any, m: Any, v: Any, lr: float, betas: tuple[float, float], eps: float,
                weight_decay: float, decoupled: bool, t: int) -> None:
    """One fused Adam (``decoupled=False``, λ·p added to g) or AdamW (p ← p·(1 - lr·λ)) step,
    in place on p, m, v; the same arithmetic as ``optim.Adam._update``'s readable lines."""
    xp = backend.array_module(p)
    beta1, beta2 = betas
    wd, decay = (0.0, 1 - lr * weight_decay) if decoupled else (weight_decay, 1.0)
    k = kernel(xp, "minifcn_adam", ADAM_IN, ADAM_OUT, ADAM_OP)
    k(g, lr, beta1, 1 - beta1, beta2, 1 - beta2, 1 - beta1 ** t, 1 - beta2 ** t, eps, wd, decay, p, m, v)


# ---- SGD ---------------------------------------------------------------------------------------
def _sgd_operation(momentum: bool, first: bool, nesterov: bool) -> str:
    lines = ["T gg = g + wd * p"]
    if momentum:
        lines.append("b = gg" if first else "b = momentum * b + one_minus_dampening * gg")
        lines.append("gg = gg + momentum * b" if nesterov else "gg = b")
    lines.append("p = p - lr * gg")
    return ";\n".join(lines)


def sgd_update(p: Any, g: Any, b: Any, lr: float, momentum: float, dampening: float, weight_decay: float,
               nesterov: bool, first: bool) -> None:
    """One fused SGD step in place on p (and the momentum buffer b, when momentum > 0);
    the same arithmetic as ``optim.SGD._update``'s readable lines."""
    xp = backend.array_module(p)
    op = _sgd_operation(bool(momentum), first, nesterov)
    name = f"minifcn_sgd_{int(bool(momentum))}{int(first)}{int(nesterov)}"
    if momentum:
        k = kernel(xp, name, "T g, T lr, T wd, T momentum, T one_minus_dampening", "T p, T b", op)
        k(g, lr, weight_decay, momentum, 1 - dampening, p, b)
    else:
        k = kernel(xp, name, "T g, T lr, T wd", "T p", op)
        k(g, lr, weight_decay, p)


# ---- ReLU ----------------------------------------------------------------------------------------
# The readable ReLU is a·(a > 0) (2 launches: the mask, the product) and g·mask back; here one
# kernel each way with the same values (a·0 where a ≤ 0: -0 for negatives, NaN for NaN and -inf),
# and the mask read back from the output y (y > 0 exactly where a > 0).
RELU_OP = "y = (a > 0) ? a : a * 0"
RELU_BACKWARD_OP = "gx = (y > 0) ? g : g * 0"


def relu_forward(a: Any) -> Any:
    xp = backend.array_module(a)
    return kernel(xp, "minifcn_relu", "T a", "T y", RELU_OP)(a)


def relu_backward(g: Any, y: Any) -> Any:
    xp = backend.array_module(g)
    return kernel(xp, "minifcn_relu_backward", "T g, T y", "T gx", RELU_BACKWARD_OP)(g, y)


# ---- 2x2 / stride-2 max pooling (U-Net's, SegNet's) -----------------------------------------------
# The readable MaxPool2d loops over the 4 taps with 5 array operations each; here each output
# looks at its 4 taps (four strided views of x, no copies) in one kernel. Same rules: taps in
# order (0,0), (0,1), (1,0), (1,1), a later tap wins only if strictly larger or NaN.
MAXPOOL2_OP = """
y = a;
idx = corner;
bool wb = (b > y) || isnan(b);
idx = wb ? corner + 1 : idx;
y = wb ? b : y;
bool wc = (c > y) || isnan(c);
idx = wc ? corner + W : idx;
y = wc ? c : y;
bool wd = (d > y) || isnan(d);
idx = wd ? corner + W + 1 : idx;
y = wd ? d : y
"""
MAXPOOL2_BACKWARD_OP = """
ga = (idx == corner) ? g : 0;
gb = (idx == corner + 1) ? g : 0;
gc = (idx == corner + W) ? g : 0;
gd = (idx == corner + W + 1) ? g : 0
"""


def maxpool2x2_applies(x: Any, k: tuple, s: tuple, p: tuple, d: tuple) -> bool:
    """True when the fused kernel can replace the readable loop: 2x2 windows, stride 2, no
    padding or dilation, device arrays."""
    return (k, s, p, d) == ((2, 2), (2, 2), (0, 0), (1, 1)) and enabled(backend.array_module(x))


def _corner(x: Any, out: tuple, W: int) -> Any:
    """(OH, OW) flat index 2·oh·W + 2·ow of each window's top-left tap, cached per device."""
    import numpy as np

    from . import gpu
    OH, OW = out
    return gpu.constant_on(("maxpool2x2_corner", OH, OW, W),
                           lambda: 2 * np.arange(OH)[:, None] * W + 2 * np.arange(OW)[None, :], x, dtype=np.int64)


def taps_2x2(x: Any, out: tuple) -> tuple:
    """The four taps of every 2x2/2 window as strided views (N, C, OH, OW), in scan order
    (0,0), (0,1), (1,0), (1,1); rows/columns a floor-mode pool leaves out are not in any."""
    OH, OW = out
    v = x[:, :, : 2 * OH, : 2 * OW]
    return v[:, :, 0::2, 0::2], v[:, :, 0::2, 1::2], v[:, :, 1::2, 0::2], v[:, :, 1::2, 1::2]


def maxpool2x2_forward(x: Any, out: tuple) -> tuple[Any, Any, Any]:
    """(y, winner flat index, corner) of a 2x2/2 max pool, as ``MaxPool2d.forward`` computes them."""
    xp = backend.array_module(x)
    W = x.shape[3]
    corner = _corner(x, out, W)
    k = kernel(xp, "minifcn_maxpool2x2", "T a, T b, T c, T d, int64 corner, int64 W", "T y, int64 idx",
               MAXPOOL2_OP)
    y, idx = k(*taps_2x2(x, out), corner, W)    # (N, C, OH, OW) each, allocated by the call
    return y, idx, corner


def maxpool2x2_backward(g: Any, idx: Any, corner: Any, shape: tuple) -> Any:
    """dL/dx of a 2x2/2 max pool: each window's g to its winner, zeros elsewhere."""
    xp = backend.array_module(g)
    gx = xp.zeros(shape, dtype=g.dtype)   # rows/columns a floor-mode pool leaves out stay 0
    k = kernel(xp, "minifcn_maxpool2x2_backward", "T g, int64 idx, int64 corner, int64 W",
               "T ga, T gb, T gc, T gd", MAXPOOL2_BACKWARD_OP)
    k(g, idx, corner, shape[3], *taps_2x2(gx, g.shape[2:]))
    return gx


# ---- batch normalisation, and batch normalisation followed by ReLU ------------------------------
# The readable BatchNorm makes 1/√(σ²+ε), x̂ and y in 7 passes and dx in 6-7; here the per-channel
# statistics are the two reductions (mean, var) and everything else is one kernel each way, which
# also computes 1/√(σ²+ε) per element from σ² (a few flops; saves three launches over C values).
# x̂ is not kept: backward recomputes it from x (which the graph keeps anyway), with the same
# operations in the same order, so the values are identical and one activation less is held.
#
# BatchNorm → ReLU (every conv block of the models here): while a graph is recorded, the forward
# kernel also writes r = relu(y) (the readable ReLU's values, a·(a > 0)) and leaves it on the
# BatchNorm node (``fn.relu_out``); ``functional.relu`` applied to that node's output takes r
# instead of launching its own kernel (``ReLUAfterBatchNorm``). Its backward masks g and forms
# the masked g·x̂ in one kernel and leaves both on the BatchNorm node; the BatchNorm backward
# uses them only if the gradient it receives *is* that masked g (the ReLU was the only consumer;
# any other consumer's gradient would have been added into a new array), else it computes g·x̂
# itself. Outputs are allocated by the kernel call itself (CuPy does so when they are omitted).
BN_FORWARD_OP = "T inv_std = 1 / sqrt(var + eps); T x_hat = (x - mean) * inv_std; y = x_hat * gamma + beta"
BN_FORWARD_RELU_OP = BN_FORWARD_OP + "; r = (y > 0) ? y : y * 0"
BN_GX_OP = "T inv_std = 1 / sqrt(var + eps); gx = g * ((x - mean) * inv_std)"
RELU_BN_BACKWARD_OP = "T inv_std = 1 / sqrt(var + eps); gm = (r > 0) ? g : g * 0; gmx = gm * ((x - mean) * inv_std)"
BN_BACKWARD_OP = ("T inv_std = 1 / sqrt(var + eps); T x_hat = (x - mean) * inv_std; "
                  "dx = (inv_std * gamma * (1 / m)) * (m * g - s_g - x_hat * s_gx)")
BN_BACKWARD_GIVEN_OP = "T inv_std = 1 / sqrt(var + eps); dx = (g * gamma) * inv_std"


def batchnorm_applies(x: Any) -> bool:
    return enabled(backend.array_module(x))


def _as(a: Any, dtype: Any) -> Any:
    """``a`` in ``dtype``: itself when it already is (no call at all), else a cast."""
    return a if a.dtype == dtype else a.astype(dtype)


def batchnorm_forward(fn: Any, x: Any, weight: Any, bias: Any, relu_ahead: bool = False) -> Any:
    """``BatchNorm.forward`` as 3 device calls with batch statistics (mean, var, one kernel), 1 with
    given ones; with ``relu_ahead`` the kernel also leaves relu(y) in ``fn.relu_out``."""
    xp = backend.array_module(x)
    fn.axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    fn.batch_stats = fn.mean is None
    if fn.batch_stats:
        fn.mean, fn.var = x.mean(axis=fn.axes), x.var(axis=fn.axes)
    fn.x, fn.mean_b, fn.var_b = x, _as(fn.mean, x.dtype).reshape(shape), _as(fn.var, x.dtype).reshape(shape)
    fn.gamma = None if weight is None else weight.reshape(shape)
    fn.has_bias = bias is not None
    fn.relu_grad = None
    args = (x, fn.mean_b, fn.var_b, fn.eps, 1 if weight is None else fn.gamma,
            0 if bias is None else bias.reshape(shape))
    params = "T x, T mean, T var, T eps, T gamma, T beta"
    if relu_ahead:
        y, fn.relu_out = kernel(xp, "minifcn_batchnorm_relu", params, "T y, T r", BN_FORWARD_RELU_OP)(*args)
    else:
        y, fn.relu_out = kernel(xp, "minifcn_batchnorm", params, "T y", BN_FORWARD_OP)(*args), None
    return y


def relu_after_batchnorm_backward(g: Any, r: Any, fn: Any) -> Any:
    """dL/da of the ReLU on a BatchNorm's output: g·(r > 0), one kernel that also leaves that
    gradient and its product with x̂ on the BatchNorm node ``fn`` (see above)."""
    xp = backend.array_module(g)
    k = kernel(xp, "minifcn_relu_batchnorm_backward", "T g, T r, T x, T mean, T var, T eps", "T gm, T gmx",
               RELU_BN_BACKWARD_OP)
    gm, gmx = k(g, r, fn.x, fn.mean_b, fn.var_b, fn.eps)
    fn.relu_grad = (gm, gmx)
    return gm


def batchnorm_backward(fn: Any, g: Any) -> tuple:
    """``BatchNorm.backward`` with dx from one kernel, same formula: with batch statistics
    dx = γ/√(σ²+ε) · (g - mean(g) - x̂ · mean(g x̂)), written (γ·inv_std/m)(m g - Σg - x̂ Σ g x̂)
    (4 device calls: Σg, g·x̂, Σ g·x̂, the kernel; 3 after a fused ReLU, which made g·x̂); with
    given statistics dx = γ g/√(σ²+ε) (1 call, plus the sums the parameters' gradients need)."""
    xp = backend.array_module(g)
    gamma = 1 if fn.gamma is None else fn.gamma
    stash, fn.relu_grad = fn.relu_grad, None
    s_g = g.sum(axis=fn.axes, keepdims=True) if (fn.batch_stats or fn.has_bias) else None
    s_gx = None
    if fn.batch_stats or fn.gamma is not None:
        if stash is not None and stash[0] is g:          # g came from the fused ReLU alone
            gx = stash[1]
        else:
            gx = kernel(xp, "minifcn_batchnorm_gx", "T g, T x, T mean, T var, T eps", "T gx", BN_GX_OP)(
                g, fn.x, fn.mean_b, fn.var_b, fn.eps)
        s_gx = gx.sum(axis=fn.axes, keepdims=True)
    if fn.batch_stats:
        k = kernel(xp, "minifcn_batchnorm_backward",
                   "T g, T x, T mean, T var, T eps, T gamma, T s_g, T s_gx, T m", "T dx", BN_BACKWARD_OP)
        dx = k(g, fn.x, fn.mean_b, fn.var_b, fn.eps, gamma, s_g, s_gx, g.size // g.shape[1])
    else:
        k = kernel(xp, "minifcn_batchnorm_backward_given", "T g, T var, T eps, T gamma", "T dx",
                   BN_BACKWARD_GIVEN_OP)
        dx = k(g, fn.var_b, fn.eps, gamma)
    dweight = s_gx.reshape(-1) if fn.gamma is not None else None
    dbias = s_g.reshape(-1) if fn.has_bias else None
    return dx, dweight, dbias


# ---- col2im at stride 1 (every 3x3 "same" convolution's input gradient) ------------------------
# The readable col2im adds the KH·KW kernel offsets into the output one by one (KH·KW passes).
# At stride 1 and dilation 1 the same sum, in the same order, is one kernel: pad the columns by
# KH-1 / KW-1 and read tap (i, j) of every output pixel from a shifted view of them.
def col2im_applies(cols: Any, stride: tuple, dilation: tuple, kernel_hw: tuple, out_size: Any,
                   computed: tuple) -> bool:
    return (tuple(stride) == (1, 1) and tuple(dilation) == (1, 1) and kernel_hw[0] * kernel_hw[1] > 1
            and (out_size is None or tuple(out_size) == tuple(computed)) and enabled(backend.array_module(cols)))


def col2im_stride1(cols: Any, shape6: tuple, padding: tuple, hw: tuple) -> Any:
    """(N, C, H, W) contiguous: Σ over taps (i, j) of cols[c, i, j, n, PT + y - i, PL + x - j]
    (zero outside), i.e. col2im at stride 1 cropped by the padding: 2 device calls (the pad and
    one kernel that reads the taps as shifted views and writes the result in (N, C, H, W) order)."""
    xp = backend.array_module(cols)
    KH, KW = shape6[1:3]
    (PT, _), (PL, _) = padding
    H, W = hw
    cols = cols.reshape(shape6)
    padded = xp.pad(cols, ((0, 0),) * 4 + ((KH - 1, KH - 1), (KW - 1, KW - 1)))
    taps = [padded[:, i, j, :, KH - 1 - i + PT: KH - 1 - i + PT + H, KW - 1 - j + PL: KW - 1 - j + PL + W]
            .transpose(1, 0, 2, 3) for i in range(KH) for j in range(KW)]
    names = [f"t{k}" for k in range(len(taps))]
    k = kernel(xp, f"minifcn_col2im_{KH}x{KW}", ", ".join(f"T {n}" for n in names), "T out",
               "out = " + " + ".join(names))
    return k(*taps)


# ---- col2im with windows that do not overlap (a 2x2 / stride-2 transposed convolution) ----------
# When the stride is at least the kernel (and no dilation or padding), every output pixel gets at
# most one column entry: col2im is a permutation plus zeros. One kernel writes tap (i, j) of every
# window into the strided view out[:, :, i::SH, j::SW] of a zeroed (N, C, H, W) output.
def col2im_disjoint_applies(cols: Any, stride: tuple, dilation: tuple, kernel_hw: tuple, padding: tuple) -> bool:
    return (tuple(dilation) == (1, 1) and stride[0] >= kernel_hw[0] and stride[1] >= kernel_hw[1]
            and kernel_hw[0] * kernel_hw[1] > 1 and tuple(map(tuple, padding)) == ((0, 0), (0, 0))
            and enabled(backend.array_module(cols)))


def col2im_disjoint(cols: Any, shape6: tuple, stride: tuple, hw: tuple) -> Any:
    """(N, C, H, W): out[n, c, oh·SH + i, ow·SW + j] = cols[c, i, j, n, oh, ow], zeros elsewhere;
    2 device calls (zeros, one kernel)."""
    xp = backend.array_module(cols)
    C, KH, KW, N, OH, OW = shape6
    SH, SW = stride
    cols = cols.reshape(shape6)
    out = xp.zeros((N, C) + tuple(hw), dtype=cols.dtype)
    taps = [cols[:, i, j].transpose(1, 0, 2, 3) for i in range(KH) for j in range(KW)]
    outs = [out[:, :, i: i + SH * (OH - 1) + 1: SH, j: j + SW * (OW - 1) + 1: SW] for i in range(KH) for j in range(KW)]
    n = len(taps)
    k = kernel(xp, f"minifcn_col2im_disjoint_{KH}x{KW}", ", ".join(f"T t{q}" for q in range(n)),
               ", ".join(f"T o{q}" for q in range(n)), "; ".join(f"o{q} = t{q}" for q in range(n)))
    k(*taps, *outs)
    return out


def running_stats_update(running_mean: Any, running_var: Any, mean: Any, var: Any, momentum: float, m: int) -> None:
    """running ← (1 - momentum)·running + momentum·batch statistic (the variance unbiased by
    m/(m-1)), both in one kernel, in place; the same arithmetic as ``batch_norm``'s two lines."""
    xp = backend.array_module(running_mean)
    k = kernel(xp, "minifcn_running_stats", "T mean, T var, T momentum, T one_minus_momentum, T unbias",
               "U rm, U rv", "rm = one_minus_momentum * rm + momentum * mean; "
                             "rv = one_minus_momentum * rv + momentum * var * unbias")
    k(mean, var, momentum, 1 - momentum, m / (m - 1), running_mean, running_var)
