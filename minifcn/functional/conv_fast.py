"""The convolution's three matrix products, tuned for speed and memory (the fast path).

``conv.py`` holds the readable forms; this module gives the *same three functions with the
same signatures and results* (to rounding), and ``conv.py`` calls these unless
``conv.use_fast_path`` is False:

    convolve(x, w, geo, keep_cols=False) -> (y, cols or None)    y  = 𝒞 x
    convolve_adjoint(y, w, geo) -> x                            x  = 𝒞ᵀ y
    weight_grad(x, y, w, geo, cols=None) -> dW                  dW = Y @ colsᵀ

x (N, C, H, W), y (N, C_out, OH, OW), w (C_out, C/G, KH, KW), geo an ``im2col.WindowGeometry``;
``cols`` is im2col of the whole batch, (C·KH·KW, N·OH·OW), handed from ``convolve`` to
``weight_grad`` (None: recompute). tests/test_conv.py property-tests these functions
against the readable ones; a faster kernel belongs here, behind the same three names: ``fastconv.py`` holds two (stride-1 convolutions by shifted
in-place GEMMs, depthwise by shifted multiply-adds), asked first by each function below.

What is tuned, and why:

- **Chunks.** The columns are KH·KW times larger than the input, so the batch is processed
  in chunks whose column buffer stays below ``limit_for(xp)`` bytes (one image is never
  split): 256 MiB on the CPU, a share of the free memory on a GPU (``gpu.workspace_budget``),
  or ``workspace_limit`` when set. ``convolve`` hands its columns on only when the whole
  batch fitted in one chunk.
- **Kept columns.** Handing them to ``weight_grad`` saves one im2col (a memory-bound
  copy) in backward, at the price of holding up to one budget of bytes per layer
  until backward; ``keep_columns = False`` recomputes them (big networks short of memory).
- **One scratch buffer** per dtype and device receives the columns that are not kept,
  reused from call to call: a fresh 100 MiB array costs a page fault per 4 KiB page when
  first written, about 15% of a 64-channel layer on the CPU. Not thread-safe; it holds at
  most the largest column buffer used; ``release_workspace()`` frees it.
- **Orientation.** weight_grad forms dWᵀ = cols @ Yᵀ: the same numbers, but OpenBLAS runs
  this orientation 1.2-3x faster (inner dimension n·OH·OW in the tens of thousands).
- **Threads.** The three functions run inside ``fastconv.own_threads`` (OpenBLAS on one
  thread, so its idle workers do not spin beside minifcn's), and the im2col products are
  split between minifcn's threads instead (``fastconv.matmul``).
- ``workspace_peak`` records the largest column buffer built (the benchmark reports it).
"""
from __future__ import annotations

import math
from typing import Any

from ..backend import array_module
from . import fastconv
from .im2col import WindowGeometry, col2im, windows

# Largest column buffer (bytes) built at once; bigger batches are processed in chunks.
# None: CPU_WORKSPACE on the CPU, gpu.workspace_budget (from the device's free memory) on a GPU;
# a number of bytes: that, on every device.
workspace_limit: int | None = None
CPU_WORKSPACE = 256 * 2**20
# Keep conv2d's forward columns for backward when they fit in one chunk (else recompute).
keep_columns = True
# The largest column buffer (bytes) built since the last reset_workspace_peak().
workspace_peak = 0


def reset_workspace_peak() -> None:
    """Start measuring ``workspace_peak`` afresh."""
    global workspace_peak
    workspace_peak = 0


def _record(nbytes: int) -> None:
    global workspace_peak
    workspace_peak = max(workspace_peak, int(nbytes))


def release_workspace() -> None:
    """Free the scratch buffers, fastconv's grids included (rebuilt on the next convolution)."""
    fastconv.release()


def _workspace(xp: Any, shape: tuple, dtype: Any) -> Any:
    """An uninitialised array of ``shape`` carved from the reusable column buffer (one per dtype
    and device; the same mechanism as fastconv's grids: ``fastconv._scratch``)."""
    return fastconv._scratch("cols", shape, dtype, xp)


def _im2col(x: Any, geo: WindowGeometry, out: Any = None) -> Any:
    """im2col.im2col, copied into ``out`` (scratch) when given instead of a new array."""
    v = windows(x, *geo.window_args).transpose(1, 2, 3, 0, 4, 5)    # (C, KH, KW, N, OH, OW)
    C, KH, KW, N, OH, OW = v.shape
    if out is None:
        cols = array_module(x).ascontiguousarray(v).reshape(C * KH * KW, N * OH * OW)
    else:
        cols = out
        cols.reshape(v.shape)[...] = v
    _record(cols.nbytes)
    return cols


def limit_for(xp: Any) -> int:
    """The column budget in bytes for arrays of ``xp``: ``workspace_limit`` when set, else
    ``CPU_WORKSPACE`` for NumPy and ``gpu.workspace_budget`` (per device) for CuPy."""
    if workspace_limit is not None:
        return int(workspace_limit)
    if not hasattr(xp, "cuda"):
        return CPU_WORKSPACE
    from .. import gpu
    return gpu.workspace_budget(xp)


def _spans(n: int, bytes_per_image: int, xp: Any = None) -> list[tuple[int, int]]:
    """Split range(n) into equal chunks whose column buffer fits ``limit_for(xp)``."""
    per = max(1, limit_for(xp) // max(1, bytes_per_image))
    count = -(-n // per)
    size = -(-n // count)
    return [(a, min(a + size, n)) for a in range(0, n, size)]


def _rows(a: Any) -> Any:
    """(N, C, H, W) -> (C, N·H·W): the layout the matrix products use (one copy)."""
    return array_module(a).ascontiguousarray(a.transpose(1, 0, 2, 3)).reshape(a.shape[1], -1)


def _col_shape(w: Any, geo: WindowGeometry, n: int) -> tuple[int, int]:
    """Shape of the columns of n images: C·KH·KW rows (C = w.shape[1]·G) by n·OH·OW."""
    return (w.shape[1] * geo.groups * geo.kernel[0] * geo.kernel[1], n * geo.out_size[0] * geo.out_size[1])


def _col_bytes(w: Any, geo: WindowGeometry) -> int:
    """Bytes of one image's columns."""
    return math.prod(_col_shape(w, geo, 1)) * w.dtype.itemsize


@fastconv.on_own_threads
def convolve(x: Any, w: Any, geo: WindowGeometry, keep_cols: bool = False) -> tuple[Any, Any]:
    """y = 𝒞 x: (N, C, H, W) -> (N, C_out, OH, OW) with w (C_out, C/G, KH, KW), in chunks.

    Returns (y, cols); cols is the column matrix when ``keep_cols`` (and ``keep_columns``)
    and the batch was done in one chunk, else None (always None on a ``fastconv`` path).
    """
    if fastconv.choose("convolve", x, w, geo):      # no columns at all (fastconv.py)
        return fastconv.convolve(x, w, geo), None
    xp, G, (OH, OW) = array_module(x), geo.groups, geo.out_size
    N, C_out = x.shape[0], w.shape[0]
    wg = w.reshape(G, C_out // G, -1)                                  # (G, C_out/G, C/G·KH·KW)
    spans = _spans(N, _col_bytes(w, geo), xp)
    keep = keep_cols and keep_columns and len(spans) == 1
    y = xp.empty((N, C_out, OH, OW), dtype=x.dtype) if len(spans) > 1 else None
    for a, b in spans:
        out = None if keep else _workspace(xp, _col_shape(w, geo, b - a), x.dtype)
        cols = _im2col(x[a:b], geo, out=out)                           # (C·KH·KW, n·OH·OW)
        yg = fastconv.matmul(wg, cols.reshape(G, -1, cols.shape[1]))   # one GEMM per group
        yg = yg.reshape(C_out, b - a, OH, OW).transpose(1, 0, 2, 3)
        if y is None:                                                  # one chunk: one copy, no empty
            y = xp.ascontiguousarray(yg)
        else:
            y[a:b] = yg
    return y, (cols if keep else None)


@fastconv.on_own_threads
def convolve_adjoint(y: Any, w: Any, geo: WindowGeometry) -> Any:
    """x = 𝒞ᵀ y: (N, C_out, OH, OW) -> (N, C, H, W), i.e. col2im(W₂ᵀ @ Y), in chunks."""
    if fastconv.choose("adjoint", y, w, geo):
        return fastconv.convolve_adjoint(y, w, geo)
    xp, G = array_module(y), geo.groups
    N, C_out, C = y.shape[0], w.shape[0], w.shape[1] * geo.groups
    wgT = w.reshape(G, C_out // G, -1).transpose(0, 2, 1)              # (G, C/G·KH·KW, C_out/G)
    parts = []
    for a, b in _spans(N, _col_bytes(w, geo), xp):
        rows = _rows(y[a:b]).reshape(G, C_out // G, -1)                # (G, C_out/G, n·OH·OW)
        cols = _workspace(xp, (G, wgT.shape[1], rows.shape[2]), y.dtype)
        fastconv.matmul(wgT, rows, out=cols)                           # (G, C/G·KH·KW, n·OH·OW)
        _record(cols.nbytes)
        parts.append(col2im(cols.reshape(-1, rows.shape[2]), (b - a, C) + geo.in_size, *geo.window_args))
    return parts[0] if len(parts) == 1 else xp.concatenate(parts)


@fastconv.on_own_threads
def weight_grad(x: Any, y: Any, w: Any, geo: WindowGeometry, cols: Any = None) -> Any:
    """dL/dW = Y @ colsᵀ per group (shape of w), for input x (N, C, H, W) and dL/dy = y (N, C_out, OH, OW).

    ``cols`` (im2col of the whole batch) is used when given, else recomputed per chunk.
    """
    if cols is None and fastconv.choose("weight_grad", x, w, geo):
        return fastconv.weight_grad(x, y, geo)
    xp, G, C_out = array_module(x), geo.groups, w.shape[0]
    # on a GPU dW itself (G, C_out/G, C/G·KH·KW), contiguous in w's layout (cuBLAS takes either
    # orientation; the optimiser then reads it without a copy); on the CPU dWᵀ (see above)
    as_w = hasattr(xp, "cuda")
    gw = None
    spans = [(0, x.shape[0])] if cols is not None else _spans(x.shape[0], _col_bytes(w, geo), xp)
    for a, b in spans:
        c = cols if cols is not None else _im2col(x[a:b], geo, out=_workspace(xp, _col_shape(w, geo, b - a), x.dtype))
        rows = _rows(y[a:b]).reshape(G, C_out // G, -1)                # (G, C_out/G, n·OH·OW)
        c = c.reshape(G, -1, c.shape[1])
        part = fastconv.matmul(rows, c.transpose(0, 2, 1)) if as_w else \
            fastconv.matmul(c, rows.transpose(0, 2, 1))
        if gw is None:                                                 # the first chunk: no zeros + add
            gw = part
        else:
            gw += part
    return (gw if as_w else gw.transpose(0, 2, 1)).reshape(w.shape)
