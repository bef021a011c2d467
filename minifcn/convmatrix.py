"""The convolution written out as a matrix.

Shape notation: C channels, H W input size, KH KW kernel, SH SW stride, PH PW padding,
DH DW dilation, OH OW output size, G groups.

For a fixed weight, conv2d is linear in its input, so it *is* a matrix C of shape
(C_out·OH·OW, C_in·H·W) acting on the flattened image of one batch item:

    conv2d(x).ravel() == C @ x.ravel()
    conv_transpose2d(y).ravel() == C.T @ y.ravel()      (same weight, stride, padding, dilation)

The second line is where the transposed convolution gets its name. Row (o, oh, ow) of C
holds the kernel W[o] placed where the window of output pixel (oh, ow) sits:

    C[(o, oh, ow), (c, h, w)] = W[o, c - g·C_in/G, i, j]
        for h = oh·SH - PH + i·DH,  w = ow·SW - PW + j·DW  inside the image,
        and c in the group g = o // (C_out/G) of output channel o

and zero elsewhere (taps that land in the zero padding drop out). This module builds C
from that index arithmetic alone, without calling conv2d, so comparing the two tests both.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import arith, backend
from .autograd import unwrap


def conv_matrix(weight: Any, input_size: int | tuple[int, int], stride: Any = 1, padding: Any = 0,
                dilation: Any = 1, groups: int = 1, sparse: bool = False, max_mib: float = 256.0) -> Any:
    """The matrix C (C_out·OH·OW, C_in·H·W) of conv2d with ``weight`` (C_out, C_in/groups, KH, KW).

    ``input_size`` is H or (H, W); ``stride``, ``padding``, ``dilation`` are ints or pairs.
    The dense result is on the weight's device; it is refused when it would exceed
    ``max_mib`` MiB. ``sparse=True`` returns a ``scipy.sparse.csr_matrix`` (on the host)
    holding only the C_out·C_in/G·KH·KW·OH·OW kernel entries.
    """
    w = backend.to_numpy(unwrap(weight))
    if w.ndim != 4:
        raise ValueError(f"conv_matrix: weight must be 4-D (C_out, C_in/groups, KH, KW), got shape {w.shape}")
    C_out, Cg, KH, KW = w.shape
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1 or C_out % groups:
        raise ValueError(f"conv_matrix: groups must be an integer >= 1 dividing C_out = weight.shape[0] = "
                         f"{C_out}, got {groups!r}")
    (H, W), (SH, SW) = arith.pair(input_size, "input_size"), arith.pair(stride, "stride")
    (PH, PW), (DH, DW) = arith.pair(padding, "padding"), arith.pair(dilation, "dilation")
    OH, OW = arith.conv_output_size(H, KH, SH, PH, DH), arith.conv_output_size(W, KW, SW, PW, DW)
    shape = (C_out * OH * OW, Cg * groups * H * W)

    # one entry per (o, c, i, j, oh, ow): every weight at every window position
    o, c, i, j, oh, ow = np.ix_(range(C_out), range(Cg), range(KH), range(KW), range(OH), range(OW))
    h, v = oh * SH - PH + i * DH, ow * SW - PW + j * DW                  # the input pixel it reads
    c_in = o // (C_out // groups) * Cg + c                               # its channel, in the group of o
    full = (C_out, Cg, KH, KW, OH, OW)
    inside = np.broadcast_to((h >= 0) & (h < H) & (v >= 0) & (v < W), full)
    rows = np.broadcast_to((o * OH + oh) * OW + ow, full)[inside]
    cols = np.broadcast_to((c_in * H + h) * W + v, full)[inside]
    vals = np.broadcast_to(w[:, :, :, :, None, None], full)[inside]

    if sparse:
        import scipy.sparse
        return scipy.sparse.csr_matrix((vals, (rows, cols)), shape=shape)
    mib = shape[0] * shape[1] * w.dtype.itemsize / 2**20
    if mib > max_mib:
        raise ValueError(f"conv_matrix: the dense matrix would be {shape[0]} x {shape[1]} {w.dtype} = "
                         f"{mib:.1f} MiB, over max_mib={max_mib:g}; use a smaller input_size, raise "
                         "max_mib, or pass sparse=True")
    C = np.zeros(shape, dtype=w.dtype)
    C[rows, cols] = vals           # each (row, col) pair occurs once: one tap per window and pixel
    return backend.to_device(C, backend.device_of(unwrap(weight)))


def conv_matrix_1d(kernel: Any, input_size: int, stride: int = 1, padding: int = 0,
                   dilation: int = 1) -> np.ndarray:
    """The (o, i) matrix of a 1-D cross-correlation with ``kernel`` (a sequence of k numbers).

    Row r holds the kernel starting at column r·s - p, its taps d apart: a banded
    (Toeplitz) matrix for s = 1, every s-th row of it for a stride s. For example
    conv_matrix_1d([1, 2, 3], 4) == [[1, 2, 3, 0], [0, 1, 2, 3]]. It is conv_matrix of the
    1 x k kernel applied to a 1 x i image.
    """
    k = np.asarray(kernel)
    if k.ndim != 1 or k.size == 0:
        raise ValueError(f"conv_matrix_1d: kernel must be a non-empty 1-D sequence, got shape {k.shape}")
    return conv_matrix(k.reshape(1, 1, 1, -1), (1, input_size), stride=(1, stride),
                       padding=(0, padding), dilation=(1, dilation))
