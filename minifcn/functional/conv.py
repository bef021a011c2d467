"""2-D convolution and transposed convolution, written as one duality.

Shape notation: N batch, C channels, H W input size, KH KW kernel, SH SW stride, PH PW
zero padding, DH DW dilation, OH OW output size; G = groups.

A convolution (PyTorch's conv2d is a cross-correlation) is a linear map y = 𝒞(W) x:

    y[n, o, oh, ow] = Σ_{c, i, j} W[o, c, i, j] · x_pad[n, g·C/G + c, oh·SH + i·DH, ow·SW + j·DW]

(c runs over the C/G channels of the group g of output channel o). With the columns of
im2col it is one matrix product: Y = W₂ @ cols, W₂ = W.reshape(C_out, C·KH·KW) (per group).
Three products of this shape are all a convolution layer needs, and the two layers are the
same three in another order (the duality):

    convolve          y = 𝒞 x        conv2d forward,      conv_transpose2d's dL/dx
    convolve_adjoint  x = 𝒞ᵀ y       conv2d's dL/dx,      conv_transpose2d forward
    weight_grad       dW = Y colsᵀ   both weight gradients (with x and g swapped)

which is why conv_transpose2d's weight is laid out (C_in, C_out/G, KH, KW): it is the
weight of the convolution whose transpose it applies. The forms below are the readable
ones; ``conv_fast.py`` has the same three functions, chunked and with reused buffers, and
the layers use those unless ``use_fast_path`` is False.
"""
from __future__ import annotations

from typing import Any

from .. import arith
from ..autograd import Function, Tensor, as_tensor, is_grad_enabled
from ..backend import array_module, is_array
from ..checks import check_conv_padding, check_groups
from . import conv_fast
from .im2col import Col2Im, Im2Col, WindowGeometry, col2im, im2col

ConvGeometry = WindowGeometry   # where a convolution's windows sit (the name conv code uses)

# False: every conv2d / conv_transpose2d runs the readable products below (same results).
use_fast_path = True


# ---- the three products, readable ----------------------------------------------------------
def convolve(x: Any, w: Any, geo: ConvGeometry, keep_cols: bool = False) -> tuple[Any, Any]:
    """y = 𝒞 x: im2col, then one matrix product per group.

    x (N, C, H, W), w (C_out, C/G, KH, KW) -> y (N, C_out, OH, OW); also returns the
    columns when ``keep_cols`` (for weight_grad), else None.
    """
    N, C_out, G, (OH, OW) = x.shape[0], w.shape[0], geo.groups, geo.out_size
    cols = im2col(x, *geo.window_args)                                  # (C·KH·KW, N·OH·OW)
    w2 = w.reshape(G, C_out // G, -1)                                   # (G, C_out/G, C/G·KH·KW)
    y = w2 @ cols.reshape(G, -1, cols.shape[1])                         # (G, C_out/G, N·OH·OW)
    y = y.reshape(C_out, N, OH, OW).transpose(1, 0, 2, 3)
    return array_module(y).ascontiguousarray(y), (cols if keep_cols else None)


def convolve_adjoint(y: Any, w: Any, geo: ConvGeometry) -> Any:
    """x = 𝒞ᵀ y: one matrix product with the transposed weight, then col2im.

    y (N, C_out, OH, OW), w (C_out, C/G, KH, KW) -> x (N, C, H, W). col2im adds every
    column entry back to the pixel im2col read it from: the transpose of im2col.
    """
    N, C_out, G = y.shape[0], w.shape[0], geo.groups
    rows = y.transpose(1, 0, 2, 3).reshape(G, C_out // G, -1)           # (G, C_out/G, N·OH·OW)
    wT = w.reshape(G, C_out // G, -1).transpose(0, 2, 1)                # (G, C/G·KH·KW, C_out/G)
    cols = (wT @ rows).reshape(-1, rows.shape[2])                       # (C·KH·KW, N·OH·OW)
    return col2im(cols, (N, w.shape[1] * G) + geo.in_size, *geo.window_args)


def weight_grad(x: Any, y: Any, w: Any, geo: ConvGeometry, cols: Any = None) -> Any:
    """dL/dW = Y @ colsᵀ per group, for input x (N, C, H, W) and dL/dy = y (N, C_out, OH, OW).

    ``cols`` is im2col(x) when the forward pass kept it, else it is computed here.
    """
    G, C_out = geo.groups, w.shape[0]
    cols = im2col(x, *geo.window_args) if cols is None else cols        # (C·KH·KW, N·OH·OW)
    rows = y.transpose(1, 0, 2, 3).reshape(G, C_out // G, -1)           # (G, C_out/G, N·OH·OW)
    gw = rows @ cols.reshape(G, -1, cols.shape[1]).transpose(0, 2, 1)   # (G, C_out/G, C/G·KH·KW)
    return gw.reshape(w.shape)


def _products() -> tuple:
    """The three products the layers use: conv_fast's, or the readable ones above."""
    if use_fast_path:
        return conv_fast.convolve, conv_fast.convolve_adjoint, conv_fast.weight_grad
    return convolve, convolve_adjoint, weight_grad


# ---- the two Functions and their functions --------------------------------------------------
def _wants_grad(fn: Function, i: int) -> bool:
    t = fn.inputs[i]
    return isinstance(t, Tensor) and t.requires_grad


def _add_bias(y: Any, b: Any) -> Any:
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


class Conv2d(Function):
    """y = 𝒞 x + b;  dL/dx = 𝒞ᵀ g (col2im: a transposed convolution),
    dL/dW = weight_grad(x, g),  dL/db = Σ_{n, oh, ow} g."""
    def __init__(self, geo: ConvGeometry):
        self.geo = geo

    def forward(self, x, w, b):
        self.x, self.w = x, w
        convolve_, _, _ = _products()
        y, self.cols = convolve_(x, w, self.geo, keep_cols=is_grad_enabled())
        return _add_bias(y, b)

    def backward(self, g):
        _, adjoint, wgrad = _products()
        gx = adjoint(g, self.w, self.geo) if _wants_grad(self, 0) else None
        gw = wgrad(self.x, g, self.w, self.geo, self.cols) if _wants_grad(self, 1) else None
        gb = g.sum(axis=(0, 2, 3)) if self.inputs[2] is not None else None
        self.cols = None  # free the buffer as soon as it has served
        return gx, gw, gb


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation) of x (N, C_in, H, W) with weight (C_out, C_in/groups, KH, KW).

    ``stride``, ``padding``, ``dilation`` are ints or (H, W) pairs; ``padding`` may also be
    "valid" (0) or "same" (stride 1; output size = input size, an odd total padding puts
    the extra zero at the bottom/right). ``groups`` splits the channels into independent
    convolutions (groups == C_in: depthwise). Output (N, C_out, OH, OW) with
    OH = floor((H + 2PH - DH(KH-1) - 1)/SH) + 1 (see ``arith.conv_output_size``).
    """
    geo = conv2d_geometry(x, weight, bias, stride, padding, dilation, groups)
    return Conv2d(geo)(x, weight, bias)


class ConvTranspose2d(Function):
    """y = 𝒞ᵀ x + b;  dL/dx = 𝒞 g (a convolution), dL/dW = weight_grad(g, x),
    dL/db = Σ_{n, h, w} g.  W is the weight of 𝒞: (C_in, C_out/G, KH, KW)."""
    def __init__(self, geo: ConvGeometry):
        self.geo = geo

    def forward(self, x, w, b):
        self.x, self.w = x, w
        _, adjoint, _ = _products()
        return _add_bias(adjoint(x, w, self.geo), b)

    def backward(self, g):
        convolve_, _, wgrad = _products()
        gx, cols = convolve_(g, self.w, self.geo, keep_cols=True) if _wants_grad(self, 0) else (None, None)
        gw = wgrad(g, self.x, self.w, self.geo, cols) if _wants_grad(self, 1) else None
        gb = g.sum(axis=(0, 2, 3)) if self.inputs[2] is not None else None
        return gx, gw, gb


def conv_transpose2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """Transposed convolution: the transpose 𝒞ᵀ of conv2d with the same weight and arguments.

    x (N, C_in, H, W), weight (C_in, C_out/groups, KH, KW) -> (N, C_out, OH, OW) with
    OH = (H-1)SH - 2PH + DH(KH-1) + output_padding + 1 (``arith.conv_transpose_output_size``).
    Each input pixel stamps a copy of its kernel, scaled by its value, into the output,
    SH apart; overlapping stamps add up. ``output_padding`` (< max(stride, dilation)) adds
    rows at the bottom/right to pick which of the sizes a strided conv2d maps to H it returns.
    It is not the inverse of conv2d: only its shapes undo conv2d's.
    """
    geo = conv_transpose2d_geometry(x, weight, bias, stride, padding, output_padding, groups, dilation)
    return ConvTranspose2d(geo)(x, weight, bias)


# ---- argument checks ----------------------------------------------------------------------
def _shape_of(a: Any, name: str, op: str, layout: str) -> tuple:
    if not (isinstance(a, Tensor) or is_array(a)):
        raise TypeError(f"{op}: {name} must be a Tensor or a NumPy/CuPy array, got {type(a).__name__}")
    if a.ndim != 4:
        hint = "; add a batch axis with x.reshape(1, *x.shape) for one image" if name == "x" and a.ndim == 3 else ""
        raise ValueError(f"{op}: {name} must be 4-D {layout}, got shape {tuple(a.shape)}{hint}")
    return tuple(a.shape)


def _check_common(op: str, x: Any, weight: Any, bias: Any, groups: Any, w_layout: str) -> tuple:
    xs = _shape_of(x, "x", op, "(N, C, H, W)")
    ws = _shape_of(weight, "weight", op, w_layout)
    check_groups(groups, {"the input channels C_in = x.shape[1]": xs[1]}, op)
    if x.dtype != weight.dtype or x.dtype.kind != "f":
        raise TypeError(f"{op}: x ({x.dtype}) and weight ({weight.dtype}) need one floating dtype; "
                        "cast one with .astype(...)")
    return xs, ws


def _check_bias(op: str, bias: Any, c_out: int) -> None:
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise ValueError(f"{op}: bias must have shape (C_out,) = ({c_out},), got {tuple(bias.shape)}")


def _out_size(op: str, axis: str, size: int, *args: int, transpose: bool = False) -> int:
    """arith's output size along one axis, its error prefixed with the op and the axis."""
    try:
        f = arith.conv_transpose_output_size if transpose else arith.conv_output_size
        return f(size, *args)
    except ValueError as e:
        raise ValueError(f"{op}: along {axis} (input size {size}): {e}") from None


def conv2d_geometry(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                    dilation: Any = 1, groups: int = 1) -> ConvGeometry:
    """Check conv2d's arguments and work out where its windows sit."""
    op = "conv2d"
    xs, ws = _check_common(op, x, weight, bias, groups, "(C_out, C_in/groups, KH, KW)")
    check_groups(groups, {"the output channels C_out = weight.shape[0]": ws[0]}, op)
    if xs[1] != ws[1] * groups:
        raise ValueError(f"{op}: x has C_in = {xs[1]} channels but weight of shape {ws} with groups={groups} "
                         f"expects weight.shape[1]*groups = {ws[1]}*{groups} = {ws[1] * groups}")
    _check_bias(op, bias, ws[0])
    kernel, s, d = ws[2:], arith.pair(stride, "stride"), arith.pair(dilation, "dilation")
    padding = check_conv_padding(padding, stride, op)
    if padding == "same":   # total d(k-1) per axis, the odd one out at the bottom/right as in PyTorch
        pad = (arith.same_padding(kernel[0], d[0]), arith.same_padding(kernel[1], d[1]))
        return ConvGeometry(kernel, s, pad, d, groups, xs[2:], xs[2:])
    p = (0, 0) if padding == "valid" else padding
    out = tuple(_out_size(op, ax, xs[2 + a], kernel[a], s[a], p[a], d[a]) for a, ax in enumerate("HW"))
    return ConvGeometry(kernel, s, ((p[0], p[0]), (p[1], p[1])), d, groups, xs[2:], out)


def conv_transpose2d_geometry(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                              output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> ConvGeometry:
    """Check conv_transpose2d's arguments; the geometry is that of the convolution it transposes."""
    op = "conv_transpose2d"
    xs, ws = _check_common(op, x, weight, bias, groups, "(C_in, C_out/groups, KH, KW)")
    if xs[1] != ws[0]:
        raise ValueError(f"{op}: x has C_in = {xs[1]} channels but weight of shape {ws} expects "
                         f"weight.shape[0] = {ws[0]} (layout (C_in, C_out/groups, KH, KW))")
    _check_bias(op, bias, ws[1] * groups)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a pair (PH, PW), got {padding!r} "
                         "('same' and 'valid' exist only for conv2d)")
    kernel, s, d = ws[2:], arith.pair(stride, "stride"), arith.pair(dilation, "dilation")
    p, a = arith.pair(padding, "padding"), arith.pair(output_padding, "output_padding")
    out = tuple(_out_size(op, ax, xs[2 + i], kernel[i], s[i], p[i], a[i], d[i], transpose=True)
                for i, ax in enumerate("HW"))
    return ConvGeometry(kernel, s, ((p[0], p[0]), (p[1], p[1])), d, groups, out, xs[2:])


# ---- the simple forms: the same ops composed from autograd primitives (they teach) ---------
def conv2d_simple(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                  dilation: Any = 1, groups: int = 1) -> Tensor:
    """conv2d as im2col + reshape + matmul, differentiated by autograd (equal to conv2d)."""
    geo = conv2d_geometry(x, weight, bias, stride, padding, dilation, groups)
    (N, C_out, G), (OH, OW) = (x.shape[0], weight.shape[0], groups), geo.out_size
    cols = Im2Col(*geo.window_args[:4])(x)                               # (C·KH·KW, N·OH·OW)
    w = as_tensor(weight).reshape(G, C_out // G, -1)                     # (G, C_out/G, C/G·KH·KW)
    y = (w @ cols.reshape(G, -1, cols.shape[1])).reshape(C_out, N, OH, OW).transpose(1, 0, 2, 3)
    return y if bias is None else y + as_tensor(bias).reshape(1, C_out, 1, 1)


def conv_transpose2d_simple(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                            output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """conv_transpose2d as reshape + matmul with the transposed weight + col2im (equal to it)."""
    geo = conv_transpose2d_geometry(x, weight, bias, stride, padding, output_padding, groups, dilation)
    (N, C_in, H, W), G = x.shape, groups
    C_out = weight.shape[1] * G
    rows = as_tensor(x).transpose(1, 0, 2, 3).reshape(G, C_in // G, N * H * W)
    wT = as_tensor(weight).reshape(G, C_in // G, -1).transpose(0, 2, 1)   # (G, C_out/G·KH·KW, C_in/G)
    cols = (wT @ rows).reshape(-1, N * H * W)                            # (C_out·KH·KW, N·H·W)
    y = Col2Im((N, C_out) + geo.in_size, *geo.window_args)(cols)
    return y if bias is None else y + as_tensor(bias).reshape(1, C_out, 1, 1)
