"""2-D convolution and transposed convolution, written as one duality.

Shape notation: N batch, C channels, H W input size, KH KW kernel, SH SW stride, PH PW
zero padding, DH DW dilation, OH OW output size; G = groups.

A convolution (PyTorch's conv2d is a cross-correlation) is a linear map y = 𝒞(W) x:

    y[n, o, oh, ow] = Σ_{c, i, j} W[o, c, i, j] · x_pad[n, g·C/G + c, oh·SH + i·DH, ow·SW + j·DW]

(c runs over the C/G channels of the group g of output channel o). With the columns of
im2col this is one matrix product per group: Y = W₂ @ cols, W₂ = W.reshape(C_out, C/G·KH·KW).
Three products of this shape are all a convolution layer needs:

    convolve            y  = 𝒞 x          im2col, then W₂ @ cols
    convolve_adjoint    x' = 𝒞ᵀ y         W₂ᵀ @ Y, then col2im
    weight_grad         dW = Y @ colsᵀ    (the same columns again)

and the two layers are the same three products in another order (the duality):

    conv2d:            forward 𝒞 x;    dL/dx = 𝒞ᵀ g;    dL/dW = weight_grad(x, g)
    conv_transpose2d:  forward 𝒞ᵀ x;   dL/dx = 𝒞 g;     dL/dW = weight_grad(g, x)

which is why conv_transpose2d's weight is laid out (C_in, C_out/G, KH, KW): it is the
weight of the convolution whose transpose it applies.

Memory: the columns are KH·KW times larger than the input, so the batch is processed in
chunks whose column buffer stays below ``workspace_limit`` bytes (a single image is never
split). conv2d keeps its forward columns for the weight gradient when the whole batch
fitted in one chunk: that saves one im2col (a memory-bound copy) in backward, at the price
of holding up to ``workspace_limit`` bytes per layer until backward. With several chunks,
or with ``keep_columns = False`` (for big networks short of memory), backward recomputes
them chunk by chunk. Columns that are not kept go to one scratch buffer per dtype and
device, reused from call to call: a fresh 100 MiB array costs a page fault per 4 KiB page
when first written, about 15% of a 64-channel layer on the CPU. (Not thread-safe; the
scratch holds at most the largest column buffer used, ``release_workspace()`` frees it.)
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple

from .. import arith
from ..autograd import Function, Tensor, as_tensor, is_grad_enabled
from ..backend import array_module, is_array
from . import fastconv
from .im2col import Col2Im, Im2Col, Pair, Padding, col2im, im2col

# Largest column buffer (bytes) built at once; bigger batches are processed in chunks.
workspace_limit = 256 * 2**20
# Keep conv2d's forward columns for backward when they fit in one chunk (else recompute).
keep_columns = True


class ConvGeometry(NamedTuple):
    """Where the windows of a convolution sit (all pairs are (H value, W value))."""
    kernel: Pair          # (KH, KW)
    stride: Pair          # (SH, SW)
    padding: Padding      # ((top, bottom), (left, right))
    dilation: Pair        # (DH, DW)
    groups: int           # G
    in_size: Pair         # (H, W) of the convolution's input = the transposed conv's output
    out_size: Pair        # (OH, OW) of the convolution's output = the transposed conv's input

    @property
    def window_args(self) -> tuple:
        """The arguments im2col and col2im take after the array."""
        return self.kernel, self.stride, self.padding, self.dilation, self.out_size


# ---- workspace ----------------------------------------------------------------------------
_scratch: dict = {}   # (array module, dtype) -> flat array reused for columns that are not kept


def _workspace(xp: Any, shape: tuple, dtype: Any) -> Any:
    """An uninitialised array of ``shape`` carved from the reusable scratch buffer."""
    key, n = (xp.__name__, str(dtype)), math.prod(shape)
    if key not in _scratch or _scratch[key].size < n:
        _scratch[key] = None                      # free the old one before allocating
        _scratch[key] = xp.empty(n, dtype=dtype)
    return _scratch[key][:n].reshape(shape)


def release_workspace() -> None:
    """Free the scratch buffers (they are rebuilt on the next convolution)."""
    _scratch.clear()


# ---- the three products, chunked over the batch -------------------------------------------
def _spans(n: int, bytes_per_image: int) -> list[tuple[int, int]]:
    """Split range(n) into equal chunks whose column buffer fits ``workspace_limit``."""
    per = max(1, workspace_limit // max(1, bytes_per_image))
    count = -(-n // per)
    size = -(-n // count)
    return [(a, min(a + size, n)) for a in range(0, n, size)]


def _rows(a: Any) -> Any:
    """(N, C, H, W) -> (C, N·H·W): the layout the matrix products use (one copy)."""
    return array_module(a).ascontiguousarray(a.transpose(1, 0, 2, 3)).reshape(a.shape[1], -1)


def _col_shape(w: Any, geo: ConvGeometry, n: int) -> tuple[int, int]:
    """Shape of the columns of n images: C·KH·KW rows (C = w.shape[1]·G) by n·OH·OW."""
    return (w.shape[1] * geo.groups * geo.kernel[0] * geo.kernel[1], n * geo.out_size[0] * geo.out_size[1])


def _col_bytes(w: Any, geo: ConvGeometry) -> int:
    """Bytes of one image's columns."""
    return math.prod(_col_shape(w, geo, 1)) * w.dtype.itemsize


def convolve(x: Any, w: Any, geo: ConvGeometry, keep_cols: bool = False) -> tuple[Any, Any]:
    """y = 𝒞 x: (N, C, H, W) -> (N, C_out, OH, OW) with w (C_out, C/G, KH, KW).

    Returns (y, cols); cols is the column matrix when ``keep_cols`` and the batch was done
    in one chunk, else None.
    """
    if fastconv.choose("convolve", x, w, geo):
        return fastconv.convolve(x, w, geo), None
    xp, G, (OH, OW) = array_module(x), geo.groups, geo.out_size
    N, C_out = x.shape[0], w.shape[0]
    wg = w.reshape(G, C_out // G, -1)                                  # (G, C_out/G, C/G·KH·KW)
    y = xp.empty((N, C_out, OH, OW), dtype=x.dtype)
    spans = _spans(N, _col_bytes(w, geo))
    keep = keep_cols and len(spans) == 1
    for a, b in spans:
        out = None if keep else _workspace(xp, _col_shape(w, geo, b - a), x.dtype)
        cols = im2col(x[a:b], *geo.window_args, out=out)               # (C·KH·KW, n·OH·OW)
        yg = xp.matmul(wg, cols.reshape(G, -1, cols.shape[1]))         # one GEMM per group
        y[a:b] = yg.reshape(C_out, b - a, OH, OW).transpose(1, 0, 2, 3)
    return y, (cols if keep else None)


def convolve_adjoint(y: Any, w: Any, geo: ConvGeometry) -> Any:
    """x = 𝒞ᵀ y: (N, C_out, OH, OW) -> (N, C, H, W), i.e. col2im(W₂ᵀ @ Y)."""
    if fastconv.choose("adjoint", y, w, geo):
        return fastconv.convolve_adjoint(y, w, geo)
    xp, G = array_module(y), geo.groups
    N, C_out, C = y.shape[0], w.shape[0], w.shape[1] * geo.groups
    wgT = w.reshape(G, C_out // G, -1).transpose(0, 2, 1)              # (G, C/G·KH·KW, C_out/G)
    parts = []
    for a, b in _spans(N, _col_bytes(w, geo)):
        rows = _rows(y[a:b]).reshape(G, C_out // G, -1)                # (G, C_out/G, n·OH·OW)
        cols = _workspace(xp, (G, wgT.shape[1], rows.shape[2]), y.dtype)
        xp.matmul(wgT, rows, out=cols)                                 # (G, C/G·KH·KW, n·OH·OW)
        parts.append(col2im(cols.reshape(-1, rows.shape[2]), (b - a, C) + geo.in_size, *geo.window_args))
    return parts[0] if len(parts) == 1 else xp.concatenate(parts)


def weight_grad(x: Any, y: Any, w: Any, geo: ConvGeometry, cols: Any = None) -> Any:
    """dL/dW = Y @ colsᵀ per group (shape of w), for input x (N, C, H, W) and dL/dy = y (N, C_out, OH, OW).

    ``cols`` (im2col of the whole batch) is used when given, else recomputed per chunk.
    The product is formed as dWᵀ = cols @ Yᵀ: the same numbers, but OpenBLAS runs this
    orientation 1.2-3x faster (two threads, inner dimension n·OH·OW in the tens of thousands).
    """
    if fastconv.choose("weight_grad", x, w, geo):
        return fastconv.weight_grad(x, y, geo)
    xp, G, C_out = array_module(x), geo.groups, w.shape[0]
    gwT = xp.zeros((G, w[0].size, C_out // G), dtype=x.dtype)         # (G, C/G·KH·KW, C_out/G)
    spans = [(0, x.shape[0])] if cols is not None else _spans(x.shape[0], _col_bytes(w, geo))
    for a, b in spans:
        c = cols if cols is not None else im2col(x[a:b], *geo.window_args,
                                                  out=_workspace(xp, _col_shape(w, geo, b - a), x.dtype))
        rows = _rows(y[a:b]).reshape(G, C_out // G, -1)                # (G, C_out/G, n·OH·OW)
        gwT += xp.matmul(c.reshape(G, -1, c.shape[1]), rows.transpose(0, 2, 1))
    return gwT.transpose(0, 2, 1).reshape(w.shape)


# ---- the two Functions --------------------------------------------------------------------
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
        y, self.cols = convolve(x, w, self.geo, keep_cols=keep_columns and is_grad_enabled())
        return _add_bias(y, b)

    def backward(self, g):
        gx = convolve_adjoint(g, self.w, self.geo) if _wants_grad(self, 0) else None
        gw = weight_grad(self.x, g, self.w, self.geo, self.cols) if _wants_grad(self, 1) else None
        gb = g.sum(axis=(0, 2, 3)) if self.inputs[2] is not None else None
        self.cols = None  # free the buffer as soon as it has served
        return gx, gw, gb


class ConvTranspose2d(Function):
    """y = 𝒞ᵀ x + b;  dL/dx = 𝒞 g (a convolution), dL/dW = weight_grad(g, x),
    dL/db = Σ_{n, h, w} g.  W is the weight of 𝒞: (C_in, C_out/G, KH, KW)."""
    def __init__(self, geo: ConvGeometry):
        self.geo = geo

    def forward(self, x, w, b):
        self.x, self.w = x, w
        return _add_bias(convolve_adjoint(x, w, self.geo), b)

    def backward(self, g):
        gx, cols = convolve(g, self.w, self.geo, keep_cols=True) if _wants_grad(self, 0) else (None, None)
        gw = weight_grad(g, self.x, self.w, self.geo, cols) if _wants_grad(self, 1) else None
        gb = g.sum(axis=(0, 2, 3)) if self.inputs[2] is not None else None
        return gx, gw, gb


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
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{op}: groups must be an integer >= 1, got {groups!r}")
    if x.dtype != weight.dtype or x.dtype.kind != "f":
        raise TypeError(f"{op}: x ({x.dtype}) and weight ({weight.dtype}) need one floating dtype; "
                        "cast one with .astype(...)")
    if xs[1] % groups:
        raise ValueError(f"{op}: groups={groups} must divide the input channels C_in = x.shape[1] = {xs[1]}")
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
    if ws[0] % groups:
        raise ValueError(f"{op}: groups={groups} must divide the output channels C_out = weight.shape[0] = {ws[0]}")
    if xs[1] != ws[1] * groups:
        raise ValueError(f"{op}: x has C_in = {xs[1]} channels but weight of shape {ws} with groups={groups} "
                         f"expects weight.shape[1]*groups = {ws[1]}*{groups} = {ws[1] * groups}")
    _check_bias(op, bias, ws[0])
    kernel, s, d = ws[2:], arith.pair(stride, "stride"), arith.pair(dilation, "dilation")
    if isinstance(padding, str):
        if padding == "valid":
            padding = 0
        elif padding != "same":
            raise ValueError(f"{op}: padding must be an int, a pair (PH, PW), 'valid' or 'same', got {padding!r}")
        elif s != (1, 1):
            raise ValueError(f"{op}: padding='same' needs stride=1, got stride={stride!r} "
                             "(a strided convolution cannot keep the size; give padding as numbers)")
        else:  # total d(k-1) per axis, the odd one out at the bottom/right as in PyTorch
            pad = (arith.same_padding(kernel[0], d[0]), arith.same_padding(kernel[1], d[1]))
            return ConvGeometry(kernel, s, pad, d, groups, xs[2:], xs[2:])
    p = arith.pair(padding, "padding")
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


# ---- the public functions -----------------------------------------------------------------
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
