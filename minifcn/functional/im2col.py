"""im2col and col2im: unfold sliding windows into the columns of a matrix, and fold them back.

Shape notation: N batch, C channels, H W input size, KH KW kernel, SH SW stride,
PH PW zero padding, DH DW dilation, OH OW the number of window positions (output size).

im2col turns a convolution into *one* matrix product. Column (n, oh, ow) holds the
C·KH·KW input values that the window at output position (oh, ow) of image n sees:

    cols[(c, i, j), (n, oh, ow)] = x_pad[n, c, oh·SH + i·DH, ow·SW + j·DW]

so that  y[:, (n, oh, ow)] = W.reshape(C_out, C·KH·KW) @ cols  for a weight W.

col2im is the adjoint (the transpose) of im2col: it sends every column entry back to the
pixel it was read from and *adds* it there (a pixel seen by several windows collects
several contributions). It is the input gradient of a convolution and the forward pass
of a transposed convolution.

This is the only module that unfolds windows, and ``WindowGeometry`` is the one description
of where windows sit, shared by convolution, transposed convolution and pooling. Padding
is given per side, ((top, bottom), (left, right)), so that "same" padding of an even
kernel can be asymmetric as in PyTorch (and a ceil_mode pooling window can hang over).
"""
from __future__ import annotations

from typing import Any, NamedTuple

from ..autograd import Function
from ..backend import array_module
from .. import kernels

Pair = tuple[int, int]
Padding = tuple[Pair, Pair]


class WindowGeometry(NamedTuple):
    """Where the windows of a convolution or a pooling sit (pairs are (H value, W value))."""
    kernel: Pair          # (KH, KW)
    stride: Pair          # (SH, SW)
    padding: Padding      # ((top, bottom), (left, right))
    dilation: Pair        # (DH, DW)
    groups: int           # G, channel groups of a convolution (1 for pooling)
    in_size: Pair         # (H, W) of the convolution's input = the transposed conv's output
    out_size: Pair        # (OH, OW), the window positions = the transposed conv's input size

    @property
    def window_args(self) -> tuple:
        """The arguments im2col and col2im take after the array."""
        return self.kernel, self.stride, self.padding, self.dilation, self.out_size


def window_count(size: int, kernel: int, stride: int, pad: Pair, dilation: int) -> int:
    """Number of window positions along one axis: floor((size + pad - d(k-1) - 1)/s) + 1."""
    return (size + pad[0] + pad[1] - dilation * (kernel - 1) - 1) // stride + 1


def windows(x: Any, kernel: Pair, stride: Pair = (1, 1), padding: Padding = ((0, 0), (0, 0)),
            dilation: Pair = (1, 1), out_size: Pair | None = None) -> Any:
    """A zero-copy view (N, C, KH, KW, OH, OW) of the windows of the zero-padded input.

    ``out_size`` keeps only the first (OH, OW) positions (a transposed convolution with
    output_padding can ask for fewer than fit). Only the padding copies data.
    """
    xp = array_module(x)
    (KH, KW), (SH, SW), (DH, DW) = kernel, stride, dilation
    if padding != ((0, 0), (0, 0)):
        x = xp.pad(x, ((0, 0), (0, 0)) + tuple(padding))
    N, C, Hp, Wp = x.shape
    EH, EW = DH * (KH - 1) + 1, DW * (KW - 1) + 1          # effective (dilated) kernel
    sN, sC, sH, sW = x.strides
    # every EH x EW window at unit stride: view[n, c, h, w, a, b] = x[n, c, h + a, w + b]
    view = xp.lib.stride_tricks.as_strided(
        x, shape=(N, C, Hp - EH + 1, Wp - EW + 1, EH, EW), strides=(sN, sC, sH, sW, sH, sW))
    # the stride picks window positions, the dilation picks the taps inside a window
    view = view[:, :, ::SH, ::SW, ::DH, ::DW]
    if out_size is not None:
        view = view[:, :, :out_size[0], :out_size[1]]
    return view.transpose(0, 1, 4, 5, 2, 3)


def im2col(x: Any, kernel: Pair, stride: Pair = (1, 1), padding: Padding = ((0, 0), (0, 0)),
           dilation: Pair = (1, 1), out_size: Pair | None = None) -> Any:
    """Columns (C·KH·KW, N·OH·OW) of the windows of x (N, C, H, W): one contiguous copy.

    Rows are ordered (c, i, j), like a weight (C_out, C, KH, KW) flattened to
    (C_out, C·KH·KW), and the rows of one group of channels are contiguous, so a grouped
    convolution views the columns as (groups, C/groups·KH·KW, N·OH·OW) for free.
    """
    v = windows(x, kernel, stride, padding, dilation, out_size)      # (N, C, KH, KW, OH, OW)
    N, C, KH, KW, OH, OW = v.shape
    v = v.transpose(1, 2, 3, 0, 4, 5)                                 # (C, KH, KW, N, OH, OW)
    return array_module(x).ascontiguousarray(v).reshape(C * KH * KW, N * OH * OW)


def col2im(cols: Any, x_shape: tuple, kernel: Pair, stride: Pair = (1, 1),
           padding: Padding = ((0, 0), (0, 0)), dilation: Pair = (1, 1),
           out_size: Pair | None = None) -> Any:
    """The adjoint of :func:`im2col`: add each column entry back to its pixel -> (N, C, H, W).

    Loops over the KH·KW kernel offsets (i, j); offset (i, j) of all windows reads the
    strided slice x_pad[:, :, i·DH :: SH, j·DW :: SW], so col2im adds that slice back.
    Exact and identical on NumPy and CuPy (no scatter with repeated indices).
    """
    xp = array_module(cols)
    N, C, H, W = x_shape
    (KH, KW), (SH, SW), ((PT, PB), (PL, PR)), (DH, DW) = kernel, stride, padding, dilation
    OH, OW = out_size or (window_count(H, KH, SH, (PT, PB), DH), window_count(W, KW, SW, (PL, PR), DW))
    if kernels.col2im_applies(cols, stride, dilation, (KH, KW), out_size, (OH, OW)) and \
            (H + PT + PB, W + PL + PR) == (OH + KH - 1, OW + KW - 1):   # GPU, stride 1: one fused kernel
        return kernels.col2im_stride1(cols, (C, KH, KW, N, OH, OW), padding, (H, W))
    if kernels.col2im_disjoint_applies(cols, stride, dilation, (KH, KW), padding):   # GPU, no overlap: one kernel
        return kernels.col2im_disjoint(cols, (C, KH, KW, N, OH, OW), stride, (H, W))
    cols = cols.reshape(C, KH, KW, N, OH, OW)
    # accumulate in (C, N, H, W) order, the order of the columns, then transpose once
    out = xp.zeros((C, N, H + PT + PB, W + PL + PR), dtype=cols.dtype)
    for i in range(KH):
        for j in range(KW):
            h0, w0 = i * DH, j * DW
            out[:, :, h0:h0 + SH * (OH - 1) + 1:SH, w0:w0 + SW * (OW - 1) + 1:SW] += cols[:, i, j]
    return xp.ascontiguousarray(out[:, :, PT:PT + H, PL:PL + W].transpose(1, 0, 2, 3))


class Im2Col(Function):
    """cols = im2col(x);  dL/dx = col2im(dL/dcols): the two are each other's transpose."""
    def __init__(self, kernel: Pair, stride: Pair, padding: Padding, dilation: Pair):
        self.args = (kernel, stride, padding, dilation)

    def forward(self, x):
        self.x_shape = x.shape
        return im2col(x, *self.args)

    def backward(self, g):
        return col2im(g, self.x_shape, *self.args)


class Col2Im(Function):
    """x = col2im(cols);  dL/dcols = im2col(dL/dx)."""
    def __init__(self, x_shape: tuple, kernel: Pair, stride: Pair, padding: Padding,
                 dilation: Pair, out_size: Pair | None = None):
        self.x_shape, self.args, self.out_size = tuple(x_shape), (kernel, stride, padding, dilation), out_size

    def forward(self, cols):
        return col2im(cols, self.x_shape, *self.args, out_size=self.out_size)

    def backward(self, g):
        return im2col(g, *self.args, out_size=self.out_size)
