"""Fast CPU paths for the three products of a convolution layer (the readable ones: conv.py).

Same three functions, same arguments, same numbers as the im2col reference in conv.py:

    convolve(x, w, geo)          y  = 𝒞 x     (N, C, H, W)      -> (N, C_out, OH, OW)
    convolve_adjoint(y, w, geo)  x  = 𝒞ᵀ y    (N, C_out, OH, OW) -> (N, C, H, W)
    weight_grad(x, y, geo)       dW = dL/dW for input x and output gradient y

``conv_fast.py`` asks ``choose`` first and calls these only where a path applies (else it
runs the chunked im2col products; called without a path they raise). Four paths:

**pointwise** (any array module, 1×1 kernel, stride 1, no padding, no groups): one product per image,
y_n = W x_n, straight from and into the (N, C, H·W) layout.

**disjoint** (NumPy, kernel = stride, no padding, dilation or groups: U-Net's 2×2/2 transposed
convolution). The windows tile the input, so im2col is a plain gather (each tap's strided
view copied once, per image: ``_gather``), the adjoint's col2im a plain scatter with no sums
(``_scatter``), and the products run per image in the (N, C, H·W) layout, with no
transposes of the batch: 32→16 transposed at 64², forward + backward, 18.8 against 24.8 ms.

**shifted** (NumPy, float32/float64, stride 1, any padding, dilation, groups). No columns.
Lay the zero-padded input out channel-major and flat, ``xb[c, (n, h, w)]`` on the padded
grid (N, Hp, Wp). Kernel tap (i, j) reads the pixel ``off = i·DH·Wp + j·DW`` places further
along that flat axis, so its input matrix is just the *view* ``xb[:, off : off + N·Hp·Wp]``
(rows one buffer-length apart, columns contiguous), which a BLAS call reads in place:

    yb = Σ_{i,j}  W[:, :, i, j] @ xb[:, off_ij : off_ij + N·Hp·Wp]        (KH·KW GEMMs, β = 1)

``yb`` lives on the same padded grid; the (OH, OW) corner of each image is the output, the
rest (windows that run over a row or image edge) is discarded. The weight gradient reads the
same views against the output gradient placed on the grid (stacked tile by tile into small,
cache-sized column blocks, so its GEMMs have KH·KW·C/G rows), and the adjoint of a stride-1
convolution is a stride-1 convolution of the output gradient with the flipped, transposed
kernel. Memory traffic: one copy of the input into the grid and one copy of the output out
of it, instead of an im2col buffer KH·KW times the input (302 MB for 8×64×128²) and col2im.
NumPy's ``matmul`` cannot take these views (it copies them) nor accumulate (β = 1), so the
GEMMs are called through ``ctypes`` in the OpenBLAS that NumPy ships; without it the path
is off and the reference runs.

**depthwise** (any array module, groups = C_in = C_out, any stride, padding, dilation).
A per-channel kernel: KH·KW shifted multiply-adds of strided slices of the padded input,
instead of im2col followed by C products of one row each. On NumPy at stride 1 its weight
gradient is KH·KW dot products per plane on the shifted path's grids (no product arrays).

On NumPy the layout copies and the multiply-adds are split over the batch or the channels
between threads (NumPy releases the GIL while it copies and computes), so both cores work.
Set ``enabled = False`` to run the reference everywhere (the benchmark does, for a before
column). ``benchmarks/compare_torch.py`` measures both against PyTorch.

What did not pay (8×64×128², float32, this 2-core machine): the shifted GEMMs through
NumPy's matmul (a copy of every view plus a temporary per tap: slower than im2col); one
untiled GEMM per tap (the output is re-read KH·KW times: 51 against 75 GFLOP per CPU-second
with 4096-column tiles); letting OpenBLAS thread each of the many small GEMMs (on a loaded
machine every call waits for its threads: 5x slower than splitting the tiles between our own
threads with one BLAS thread each); one weight-gradient GEMM per tap over the whole grid (a
C/G × C_out/G result with an inner dimension of N·Hp·Wp: 39 against 64 GFLOP per CPU-second
at 64 channels, 61 against 84 at 128, one thread, than the stacked column blocks); the
depthwise forward and adjoint on flat planes (no faster; slower where padding widens rows).
Measured later (2026-11-30, one run each, interleaved): stacking the KH·KW views of a tile
into a column block for the *forward* too, so its GEMM has K = KH·KW·C (slower at every size,
16→16 @128² one thread 23 against 18 ms); the weight gradient per tap and tile without the
stacking copy (the same time); the depthwise path in a channels-last layout (faster at 16²,
slower from 32² up, the layout copies); MKL's sgemm instead of OpenBLAS's on these shapes
(10-25% faster, for a 944 MB dependency). The GEMMs themselves are the floor: OpenBLAS runs
16-channel shapes at ~50 GFLOP/s per core, 64-channel ones at ~85.
The grids live in reused buffers (``_scratch``): fresh ones cost a page fault per 4 KiB
page. Channels below ``min_channels`` (an RGB stem) stay on im2col, whose inner dimension
C·KH·KW is KH·KW times longer.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import glob
import math
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

import numpy as np

from ..backend import array_module

enabled = True
# the shifted path pays off once its GEMMs (channels per group in and out) are at least this big
min_channels = 16
# worker threads; None: as many as OpenBLAS uses (so OPENBLAS_NUM_THREADS / threadpoolctl limit us too)
threads: int | None = None
# bytes of one output tile of the shifted GEMMs (kept in the per-core cache across the taps)
tile_bytes = 2**20
min_tile = 512        # output columns per tile at least (fewer only so that every thread gets a tile)
min_share = 128       # ... but never fewer than this many
min_split = 2**22     # the weight gradient splits its sum between threads above this many multiply-adds
wgrad_bytes = 2**21   # weight gradient: bytes of the column block unfolded per tile (cache-sized)
wgrad_tile = 256      # ... but at least this many grid columns per tile
block_bytes = 2**18   # depthwise: bytes of output planes worked on at once (per thread)
parallel_from = 2**20 # elements: smaller copies and multiply-adds stay on the calling thread (DeepLabV3+
                      # step, interleaved: 187 ms at 2**20 against 228 at 2**16; U-Net unchanged)
matmul_from = 2**22   # multiply-adds: smaller products (``matmul``) stay on the calling thread
flat_slack = 1.25     # depthwise weight gradient on the grids when padded width <= this x output width

F = TypeVar("F", bound=Callable[..., Any])
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _workers() -> int:
    """How many threads share the work (``threads``, else OpenBLAS's count outside
    ``own_threads``, else the CPUs)."""
    if threads:
        return threads
    if _outside is not None:
        return max(1, _outside)
    _gemm_for(np.float32)
    return max(1, _blas["threads"][0]()) if _blas else os.cpu_count() or 1


# ---- one BLAS thread while our threads split the work -------------------------------------
# OpenBLAS's worker threads do not sleep when a call ends: they spin for about 2^28 cycles
# (0.11 s measured here: one 512³ product, then 1 s asleep, and its worker had used 110 ms of
# CPU) waiting for the next call. Any multi-threaded BLAS call inside a training step (a
# batch-norm dot product, an im2col product) thus left a spinning thread on the second core
# that our own threads then shared it with: the U-Net step took 1050 ms with both kinds of
# threads, 840 ms with OpenBLAS held to one thread and our pool splitting the work, 1090 ms on
# one thread. So every fast-path entry point runs inside ``own_threads``.
_outside: int | None = None   # OpenBLAS's thread count outside the outermost scope (None: in none)


@contextlib.contextmanager
def own_threads() -> Iterator[None]:
    """Inside: OpenBLAS on one thread; minifcn's threads (``_parallel``) split the work.

    Restores OpenBLAS's count on the way out (so a caller's own NumPy products stay as they
    were); nested scopes are free. Not thread-safe, as ``_parallel``.
    """
    global _outside
    if _outside is not None or _gemm_for(np.float32) is None:
        yield
        return
    get, set_ = _blas["threads"]
    _outside = get()
    if _outside != 1:
        set_(1)
    try:
        yield
    finally:
        if _outside != 1:
            set_(_outside)
        _outside = None


def on_own_threads(fn: F) -> F:
    """Decorator: ``fn`` runs inside ``own_threads()``."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with own_threads():
            return fn(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


def _parallel(fn: Callable[[int, int], Any], n: int, workers: int | None = None, size: int | None = None) -> None:
    """Run fn(a, b) over contiguous parts of range(n), one part per worker thread.

    ``size`` (elements the work touches) below ``parallel_from``: one call on this thread
    (handing a small copy to a worker costs more than the copy).

    Not re-entrant, and the BLAS thread setting it changes is process-wide: call it from one
    thread at a time (as the rest of conv.py's scratch buffers assume).
    """
    parts = 1 if size is not None and size < parallel_from else min(workers or _workers(), n)
    if parts <= 1:
        fn(0, n)
        return
    global _pool, _pool_size
    if _pool is None or _pool_size < parts - 1:
        _pool, _pool_size = ThreadPoolExecutor(parts - 1, thread_name_prefix="minifcn-conv"), parts - 1
    bounds = [n * k // parts for k in range(parts + 1)]
    futures = [_pool.submit(fn, bounds[k], bounds[k + 1]) for k in range(1, parts)]
    fn(bounds[0], bounds[1])
    for f in futures:
        f.result()


def matmul(a: Any, b: Any, out: Any = None) -> Any:
    """``xp.matmul(a, b, out=out)``; on NumPy, for big products, the output's columns (or rows,
    when it has more of them) are split between our threads, one BLAS thread each.

    2-D or batched (G, M, K) @ (G, K, N). Used for the im2col products, so that inside
    ``own_threads`` they still get every core.
    """
    xp = array_module(a)
    if xp is not np or a.shape[-2] * a.shape[-1] * b.shape[-1] < matmul_from:
        return xp.matmul(a, b, out=out)
    M, N = a.shape[-2], b.shape[-1]
    if out is None:
        out = np.empty(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (M, N), dtype=np.result_type(a, b))

    def columns(c0: int, c1: int) -> None:
        np.matmul(a, b[..., c0:c1], out=out[..., c0:c1])

    def rows(r0: int, r1: int) -> None:
        np.matmul(a[..., r0:r1, :], b, out=out[..., r0:r1, :])
    with own_threads():
        if N >= M:
            _parallel(columns, N)
        else:
            _parallel(rows, M)
    return out


# ---- reused buffers -------------------------------------------------------------------------
_buffers: dict = {}   # (name, array module, dtype, device) -> flat array reused from call to call


def _scratch(name: str, shape: tuple, dtype: Any, xp: Any = np) -> Any:
    """An uninitialised array of ``shape`` carved from the reusable buffer ``name``.

    The padded grids here and conv_fast's column buffers ("cols") are the size of a layer's
    input or output, or KH·KW times it: a fresh array of that size costs a page fault per
    4 KiB page on its first write (measured on this VM: the grid copy took 1.6 ms from a
    reused buffer, 6-20 ms from a fresh one, 8×128×64² float32). One buffer per name, dtype
    and device; not thread-safe; ``release()`` frees them all.
    """
    device = xp.cuda.Device().id if hasattr(xp, "cuda") else -1
    key, n = (name, xp.__name__, np.dtype(dtype).str, device), math.prod(shape)
    buf = _buffers.get(key)
    if buf is None or buf.size < n:
        _buffers[key] = None                      # free the old one before allocating
        buf = _buffers[key] = xp.empty(n, dtype=dtype)
    return buf[:n].reshape(shape)


def release() -> None:
    """Free the reused buffers (rebuilt on the next convolution)."""
    _buffers.clear()


# ---- GEMM with leading dimensions and β, from the OpenBLAS NumPy ships ---------------------
def _find_blas() -> dict:
    """From NumPy's bundled OpenBLAS: {dtype: cblas_?gemm, "threads": (get, set)}, or {}."""
    here = os.path.dirname(np.__file__)
    libs = sorted(glob.glob(os.path.join(here, "..", "numpy.libs", "*openblas*"))
                  + glob.glob(os.path.join(here, ".dylibs", "*openblas*")))
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix, int_t in (("scipy_", "64_", ctypes.c_int64), ("", "64_", ctypes.c_int64),
                                      ("scipy_", "", ctypes.c_int), ("", "", ctypes.c_int)):
            try:
                found = {np.dtype(np.float32): (getattr(lib, f"{prefix}cblas_sgemm{suffix}"), ctypes.c_float),
                         np.dtype(np.float64): (getattr(lib, f"{prefix}cblas_dgemm{suffix}"), ctypes.c_double)}
                get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}")
                set_ = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}")
            except AttributeError:
                continue
            e, i, p = ctypes.c_int, int_t, ctypes.c_void_p
            for fn, real in found.values():
                fn.argtypes = [e, e, e, i, i, i, real, p, i, p, i, real, p, i]
                fn.restype = None
            get.argtypes, get.restype, set_.argtypes, set_.restype = [], e, [e], None
            table: dict = {k: fn for k, (fn, _) in found.items()}
            table["threads"] = (get, set_)
            table["path"] = os.path.realpath(path)
            return table
    return {}


_blas: dict | None = None


def _gemm_for(dtype: Any) -> Any:
    global _blas
    if _blas is None:
        _blas = _find_blas()
    return _blas.get(np.dtype(dtype))


def describe() -> str:
    """One line on the CPU fast paths for ``minifcn doctor``: on or off, the BLAS they call,
    and how many threads share the work."""
    if not enabled:
        return "CPU fast paths: off (fastconv.enabled = False): the readable im2col products run"
    if _gemm_for(np.float32) is None:
        return ("CPU fast paths: on, but NumPy's BLAS is not an OpenBLAS they can call (NumPy built "
                "with another BLAS?): stride-1 convolutions fall back to im2col, which is slower")
    return (f"CPU fast paths: on; NumPy's OpenBLAS {os.path.basename(_blas['path'])} "
            f"({_blas['threads'][0]()} threads, held to 1 inside the fast paths), "
            f"{_workers()} minifcn threads (fastconv.threads)")


def _blas_parallel(fn: Callable[[int, int], Any], n: int) -> None:
    """_parallel with one BLAS thread per caller: our threads split the work, not OpenBLAS."""
    with own_threads():
        _parallel(fn, n)


_ROW, _N, _T = 101, 111, 112   # CblasRowMajor, CblasNoTrans, CblasTrans


def _gemm(fn, M, N, K, a, lda, b, ldb, c, ldc, beta, trans_b=False):
    """c[:M, :N] = a[:M, :K] @ b[:K, :N] (bᵀ when trans_b) + β·c; a, b, c are byte addresses."""
    fn(_ROW, _N, _T if trans_b else _N, M, N, K, 1.0, a, lda, b, ldb, beta, c, ldc)


# ---- choosing a path ----------------------------------------------------------------------
def choose(kind: str, x: Any, w: Any, geo: Any) -> str | None:
    """The fast path ``kind`` ("convolve", "adjoint", "weight_grad") takes for this call, or None.

    ``x`` is the array the product reads (the input, or for "adjoint" the output gradient);
    ``w`` the weight (C_out, C/G, KH, KW).
    """
    if not enabled:
        return None
    G = geo.groups
    C_out, C = w.shape[0], w.shape[1] * G
    if w.shape[1] == 1 and C_out == G > 1:                   # depthwise, no channel multiplier
        return "depthwise"
    if geo.kernel == (1, 1) and geo.stride == (1, 1) and G == 1 and geo.padding == ((0, 0), (0, 0)) \
            and geo.in_size == geo.out_size and x.size > 0:
        return "pointwise"
    if geo.kernel == geo.stride != (1, 1) and G == 1 and geo.padding == ((0, 0), (0, 0)) \
            and geo.dilation == (1, 1) and array_module(x) is np and x.size > 0:
        return "disjoint"
    if array_module(x) is not np or geo.stride != (1, 1) or _gemm_for(x.dtype) is None or x.size == 0:
        return None
    if min(C // G, C_out // G) < min_channels:             # thin GEMMs: im2col's K = C·KH·KW wins
        return None
    if kind == "adjoint" and min(_adjoint_padding(geo)[0] + _adjoint_padding(geo)[1]) < 0:
        return None
    return "shifted"


def _no_path(fn: str) -> ValueError:
    return ValueError(f"fastconv.{fn}: no fast path for this geometry (ask choose() first; "
                      f"conv_fast.{fn} runs the im2col products then)")


@on_own_threads
def convolve(x: Any, w: Any, geo: Any) -> Any:
    """y = 𝒞 x, (N, C, H, W) -> (N, C_out, OH, OW) for w (C_out, C/G, KH, KW): as conv.convolve."""
    path = choose("convolve", x, w, geo)
    if path == "depthwise":
        return _dw_forward(x, w, geo)
    if path == "pointwise":
        return _pointwise(w.reshape(w.shape[0], -1), x)
    if path == "disjoint":
        y = matmul(w.reshape(w.shape[0], -1), _gather(x, geo))
        return y.reshape(y.shape[:2] + tuple(geo.out_size))
    if path == "shifted":
        return _shifted(x, w, geo.padding, geo.dilation, geo.groups, geo.out_size)
    raise _no_path("convolve")


@on_own_threads
def convolve_adjoint(y: Any, w: Any, geo: Any) -> Any:
    """x = 𝒞ᵀ y, (N, C_out, OH, OW) -> (N, C, H, W): as conv.convolve_adjoint."""
    path = choose("adjoint", y, w, geo)
    if path == "depthwise":
        return _dw_adjoint(y, w, geo)
    if path == "pointwise":
        return _pointwise(w.reshape(w.shape[0], -1).T, y)
    if path == "disjoint":
        cols = matmul(w.reshape(w.shape[0], -1).T, y.reshape(y.shape[:2] + (-1,)))
        return _scatter(cols, (y.shape[0], w.shape[1]) + tuple(geo.in_size), geo)
    if path == "shifted":
        return _shifted(y, _flip(w, geo.groups), _adjoint_padding(geo), geo.dilation, geo.groups, geo.in_size)
    raise _no_path("convolve_adjoint")


@on_own_threads
def weight_grad(x: Any, y: Any, geo: Any) -> Any:
    """dL/dW (C_out, C/G, KH, KW) for input x (N, C, H, W) and dL/dy = y: as conv.weight_grad."""
    xp, G = array_module(x), geo.groups
    w_shape = (y.shape[1], x.shape[1] // G) + tuple(geo.kernel)
    w = xp.empty(w_shape, dtype=x.dtype)          # only its shape and dtype are read
    path = choose("weight_grad", x, w, geo)
    if path == "depthwise":
        return _dw_flat_weight_grad(x, y, geo) if _flat_applies(x, geo) else _dw_weight_grad(x, y, geo)
    if path == "pointwise":
        x3, y3 = x.reshape(x.shape[0], x.shape[1], -1), y.reshape(y.shape[0], y.shape[1], -1)
        return xp.matmul(y3, x3.transpose(0, 2, 1)).sum(axis=0).reshape(w_shape)
    if path == "disjoint":
        y3 = y.reshape(y.shape[:2] + (-1,))
        return matmul(y3, _gather(x, geo).transpose(0, 2, 1)).sum(axis=0).reshape(w_shape)
    if path == "shifted":
        return _shifted_weight_grad(x, y, w_shape, geo)
    raise _no_path("weight_grad")


# ---- the pointwise path -------------------------------------------------------------------
def _pointwise(m: Any, x: Any) -> Any:
    """A 1×1 convolution (stride 1, no padding): y_n = M x_n for every image, M (C_out, C).

    One matrix product per image straight from and into the (N, C, H·W) layout: no grid,
    no columns, no transposes (its adjoint is Mᵀ, its weight gradient Σ_n g_n x_nᵀ). On the
    GPU too: one batched product instead of im2col's copies.
    """
    N, C = x.shape[:2]
    return array_module(x).matmul(m, x.reshape(N, C, -1)).reshape((N, m.shape[0]) + x.shape[2:])


# ---- the disjoint-windows path -------------------------------------------------------------
def _gather(x: Any, geo: Any) -> Any:
    """(N, C, H, W) -> (N, C·KH·KW, OH·OW) for windows that tile the input (kernel = stride, no
    padding): row (c, i, j) of image n holds tap (i, j) of channel c of every window. One
    strided copy per tap (im2col without overlap, in the per-image layout), split over images."""
    N, C = x.shape[:2]
    (KH, KW), (OH, OW) = geo.kernel, geo.out_size
    cols = np.empty((N, C, KH, KW, OH, OW), dtype=x.dtype)

    def copy(a: int, b: int) -> None:
        for i in range(KH):
            for j in range(KW):
                cols[a:b, :, i, j] = x[a:b, :, i:i + KH * OH:KH, j:j + KW * OW:KW]
    _parallel(copy, N, size=cols.size)
    return cols.reshape(N, C * KH * KW, OH * OW)


def _scatter(cols: Any, shape: tuple, geo: Any) -> Any:
    """The transpose of ``_gather``: (N, C·KH·KW, OH·OW) -> (N, C, H, W), each tap back to its
    pixel (no window overlaps another: no sums); rows/columns no window covers get 0."""
    N, C, H, W = shape
    (KH, KW), (OH, OW) = geo.kernel, geo.out_size
    c6 = cols.reshape(N, C, KH, KW, OH, OW)
    x = np.empty(shape, dtype=cols.dtype)

    def copy(a: int, b: int) -> None:
        x[a:b, :, KH * OH:] = 0
        x[a:b, :, :, KW * OW:] = 0
        for i in range(KH):
            for j in range(KW):
                x[a:b, :, i:i + KH * OH:KH, j:j + KW * OW:KW] = c6[a:b, :, i, j]
    _parallel(copy, N, size=x.size)
    return x


# ---- the shifted path ---------------------------------------------------------------------
def _adjoint_padding(geo: Any) -> tuple:
    """Padding of the stride-1 convolution of dL/dy that gives dL/dx (negative: does not apply)."""
    (KH, KW), (DH, DW), (H, W), (OH, OW) = geo.kernel, geo.dilation, geo.in_size, geo.out_size
    (pt, _), (pl, _) = geo.padding
    top, left = DH * (KH - 1) - pt, DW * (KW - 1) - pl
    return (top, H - OH + pt), (left, W - OW + pl)


def _flip(w: Any, G: int) -> Any:
    """The kernel of the adjoint: per group, channels in and out swapped and taps reversed."""
    C_out, Cg, KH, KW = w.shape
    wg = w.reshape(G, C_out // G, Cg, KH, KW)[:, :, :, ::-1, ::-1].transpose(0, 2, 1, 3, 4)
    return wg.reshape(G * Cg, C_out // G, KH, KW)


def _to_grid(x: Any, padding: tuple, rows: int, cols: int, tail: int, name: str = "in") -> tuple:
    """x (N, C, H, W) copied into a zeroed (C, N·rows·cols + tail) buffer at offset (top, left)."""
    N, C, H, W = x.shape
    (pt, _), (pl, _) = padding
    L = N * rows * cols
    buf = _scratch(name, (C, L + tail), x.dtype)
    grid = buf[:, :L].reshape(C, N, rows, cols)
    h, w = H, W

    def fill(a: int, b: int) -> None:
        g = grid[a:b]
        g[:, :, :pt] = 0
        g[:, :, pt + h:] = 0
        g[:, :, pt:pt + h, :pl] = 0
        g[:, :, pt:pt + h, pl + w:] = 0
        g[:, :, pt:pt + h, pl:pl + w] = x[:, a:b].transpose(1, 0, 2, 3)
        buf[a:b, L:] = 0
    _parallel(fill, C, size=buf.size)
    return buf, L


def _tiles(L: int, most: int, workers: int) -> tuple[int, int]:
    """(columns per tile, tile count) for L columns: tiles of at most ``most`` columns, their
    count rounded up to a multiple of ``workers`` so that the threads get equal shares (a
    256-channel layer at 8x8 had one tile, so one busy thread), as long as tiles keep
    ``min_share`` columns."""
    tiles = -(-L // max(1, most))
    if workers > 1 and tiles % workers:
        tiles = min(tiles + workers - tiles % workers, max(tiles, L // min_share))
    T = -(-L // tiles)
    return T, -(-L // T)


def _shifted(x: Any, w: Any, padding: tuple, dilation: tuple, G: int, out_size: tuple) -> Any:
    """Stride-1 convolution by KH·KW GEMMs on shifted views of the flat padded input."""
    N, C, H, W = x.shape
    C_out, Cg, KH, KW = w.shape
    (pt, pb), (pl, pr) = padding
    (DH, DW), (OH, OW) = dilation, out_size
    rows, cols = max(H + pt + pb, OH + DH * (KH - 1)), max(W + pl + pr, OW + DW * (KW - 1))
    tail = DH * (KH - 1) * cols + DW * (KW - 1)
    xb, L = _to_grid(x, padding, rows, cols, tail)
    R = L + tail
    Og = C_out // G
    wt = np.ascontiguousarray(w.transpose(2, 3, 0, 1))            # (KH, KW, C_out, C/G)
    yb = _scratch("out", (C_out, L), x.dtype)
    fn, s = _gemm_for(x.dtype), x.itemsize
    xa, wa, ya = xb.ctypes.data, wt.ctypes.data, yb.ctypes.data
    # tiles of output columns small enough that a tile of yb stays in cache over the KH·KW GEMMs
    T, tiles = _tiles(L, max(min_tile, tile_bytes // (Og * s)), _workers())

    def gemms(t0: int, t1: int) -> None:
        for a in range(t0 * T, min(t1 * T, L), T):
            n = min(T, L - a)
            for i in range(KH):
                for j in range(KW):
                    off, beta = i * DH * cols + j * DW, 0.0 if i == j == 0 else 1.0
                    for g in range(G):
                        _gemm(fn, Og, n, Cg, wa + s * (((i * KW + j) * C_out + g * Og) * Cg), Cg,
                              xa + s * (g * Cg * R + off + a), R, ya + s * (g * Og * L + a), L, beta)
    _blas_parallel(gemms, tiles)
    y = np.empty((N, C_out, OH, OW), dtype=x.dtype)
    grid = yb.reshape(C_out, N, rows, cols)

    def crop(a: int, b: int) -> None:
        y[:, a:b] = grid[a:b, :, :OH, :OW].transpose(1, 0, 2, 3)
    _parallel(crop, C_out, size=y.size)
    return y


def _shifted_weight_grad(x: Any, y: Any, w_shape: tuple, geo: Any) -> Any:
    """dW[:, :, i, j] = Σ_p dy_grid[:, p] · xb[:, p + off_ij]: the same views, summed over the grid.

    One GEMM per tap would have a tiny output (C/G × C_out/G) and an inner dimension of the
    whole grid, a shape OpenBLAS runs at about half its rate. So the grid is cut into tiles of
    about ``wgrad_bytes`` of columns; each tile's KH·KW shifted views are stacked into a small column
    block (KH·KW·C/G rows, im2col of that tile only, cache-sized) and one GEMM per group adds
    block @ dy_tileᵀ into dWᵀ. Each thread sums its share of the tiles into its own dWᵀ.
    """
    H, W = x.shape[2:]
    C_out, Cg, KH, KW = w_shape
    G, (DH, DW), (OH, OW) = geo.groups, geo.dilation, geo.out_size
    (pt, pb), (pl, pr) = geo.padding
    rows, cols = max(H + pt + pb, OH + DH * (KH - 1)), max(W + pl + pr, OW + DW * (KW - 1))
    tail = DH * (KH - 1) * cols + DW * (KW - 1)
    xb, L = _to_grid(x, geo.padding, rows, cols, tail)
    yb, _ = _to_grid(y, ((0, 0), (0, 0)), rows, cols, 0, name="out")   # dL/dy at the grid's corner
    Og, KK = C_out // G, KH * KW
    fn, s = _gemm_for(x.dtype), x.itemsize
    offs = [i * DH * cols + j * DW for i in range(KH) for j in range(KW)]
    parts = min(_workers(), max(1, L * KK * Cg * C_out // min_split))
    T, tiles = _tiles(L, max(wgrad_tile, wgrad_bytes // (KK * Cg * s)), parts)
    parts = min(parts, tiles)
    gwT = np.zeros((parts, G, KK * Cg, Og), dtype=x.dtype)          # per thread: dWᵀ, rows (i, j, c)
    ya, ga = yb.ctypes.data, gwT.ctypes.data

    def gemms(p0: int, p1: int) -> None:       # part p sums the tiles [tiles·p/parts, tiles·(p+1)/parts)
        block = np.empty((KK, Cg, T), dtype=x.dtype)
        for p in range(p0, p1):
            for t in range(tiles * p // parts, tiles * (p + 1) // parts):
                a = t * T
                n = min(T, L - a)
                for g in range(G):
                    src = xb[g * Cg:(g + 1) * Cg]
                    for k, off in enumerate(offs):
                        block[k, :, :n] = src[:, off + a:off + a + n]
                    _gemm(fn, KK * Cg, Og, n, block.ctypes.data, T, ya + s * (g * Og * L + a), L,
                          ga + s * ((p * G + g) * KK * Cg * Og), Og, 1.0, trans_b=True)
    _blas_parallel(gemms, parts)
    gwT = gwT.sum(axis=0).reshape(G, KH, KW, Cg, Og)
    return np.ascontiguousarray(gwT.transpose(0, 4, 3, 1, 2).reshape(C_out, Cg, KH, KW))


# ---- the depthwise path -------------------------------------------------------------------
def _flat_applies(x: Any, geo: Any) -> bool:
    """The depthwise weight gradient on the shifted path's grids (below): NumPy, stride 1, a non-empty input, and
    padded rows at most ``flat_slack`` times the output's (each run also sums the Wp - OW padding
    columns: at 8×64×16², dilation and padding 4, Wp/OW = 1.5 made it slower, 1.24 against 1.01 ms)."""
    return (array_module(x) is np and geo.stride == (1, 1) and x.size > 0
            and _padded_size(geo)[1] <= flat_slack * geo.out_size[1])


def _taps(geo: Any) -> list:
    """(i, j, rows, cols) per kernel tap: the strided slices of the padded input it reads."""
    (KH, KW), (SH, SW), (DH, DW), (OH, OW) = geo.kernel, geo.stride, geo.dilation, geo.out_size
    return [(i, j, slice(i * DH, i * DH + SH * (OH - 1) + 1, SH), slice(j * DW, j * DW + SW * (OW - 1) + 1, SW))
            for i in range(KH) for j in range(KW)]


def _padded_size(geo: Any) -> tuple:
    """(rows, cols) of the zero-padded input, large enough for every window."""
    (KH, KW), (SH, SW), (DH, DW), (OH, OW) = geo.kernel, geo.stride, geo.dilation, geo.out_size
    (pt, pb), (pl, pr) = geo.padding
    H, W = geo.in_size
    return (max(H + pt + pb, SH * (OH - 1) + DH * (KH - 1) + 1),
            max(W + pl + pr, SW * (OW - 1) + DW * (KW - 1) + 1))


def _padded(xp: Any, x: Any, geo: Any) -> Any:
    """x (N, C, H, W) zero-padded as the windows read it."""
    (pt, _), (pl, _) = geo.padding
    N, C, H, W = x.shape
    out = xp.zeros((N, C) + _padded_size(geo), dtype=x.dtype)
    out[:, :, pt:pt + H, pl:pl + W] = x
    return out


def _blocks(xp: Any, fn: Callable[[int, int, Any], Any], rows: int, row_size: int, dtype: Any) -> None:
    """fn(r0, r1, tmp) over blocks of the N·C planes: on NumPy cache-sized blocks split between
    threads, each with a scratch ``tmp`` of one block; elsewhere one call with tmp = None."""
    if xp is not np:
        fn(0, rows, None)
        return
    per = max(1, block_bytes // max(1, row_size * np.dtype(dtype).itemsize))

    def part(a: int, b: int) -> None:
        tmp = np.empty((min(per, b - a), row_size), dtype=dtype)
        for r in range(a, b, per):
            fn(r, min(r + per, b), tmp)
    _parallel(part, rows, size=rows * row_size)


def elementwise(fn: Callable[[int, int], Any], n: int, itemsize: int) -> None:
    """fn(i0, i1) over cache-sized ranges of n elements (``block_bytes``), split between
    threads: for passes over flat arrays (ReLU's on the CPU) that chain several NumPy calls per
    range, so each range is read from memory once and the rest stays in cache."""
    per = max(1, block_bytes // max(1, itemsize))

    def part(a: int, b: int) -> None:
        for r in range(a, b):
            fn(r * per, min((r + 1) * per, n))
    _parallel(part, -(-n // per), size=n)


def _mul(a: Any, b: Any, tmp: Any) -> Any:
    """a·b, into ``tmp`` (reshaped to a's shape) when there is one."""
    if tmp is None:
        return a * b
    return np.multiply(a, b, out=tmp[:a.shape[0]].reshape(a.shape))


def _per_plane(w: Any, N: int) -> Any:
    """The depthwise weight as (KH·KW, N·C, 1, 1): the tap weight of every (image, channel) plane."""
    xp, C = array_module(w), w.shape[0]
    wt = w.reshape(C, -1).T                                          # (KH·KW, C)
    return xp.ascontiguousarray(xp.broadcast_to(wt[:, None, :], (wt.shape[0], N, C))).reshape(-1, N * C, 1, 1)


def _dw_forward(x: Any, w: Any, geo: Any) -> Any:
    """y[n, c] = Σ_{i,j} w[c, 0, i, j] · x_pad[n, c, i·DH + SH·oh, j·DW + SW·ow]."""
    xp, (N, C) = array_module(x), x.shape[:2]
    xpad = _padded(xp, x, geo).reshape((N * C,) + _padded_size(geo))
    OH, OW = geo.out_size
    y = xp.empty((N * C, OH, OW), dtype=x.dtype)
    wp = _per_plane(w, N)

    def block(r0: int, r1: int, tmp: Any) -> None:
        for t, (i, j, rs, cs) in enumerate(_taps(geo)):
            prod = _mul(xpad[r0:r1, rs, cs], wp[t, r0:r1], tmp)
            if t == 0:
                y[r0:r1] = prod
            else:
                y[r0:r1] += prod
    _blocks(xp, block, N * C, OH * OW, x.dtype)
    return y.reshape(N, C, OH, OW)


def _dw_adjoint(g: Any, w: Any, geo: Any) -> Any:
    """dL/dx: every tap adds w·g back onto the pixels it read (col2im without the columns)."""
    xp, (N, C) = array_module(g), g.shape[:2]
    (pt, _), (pl, _) = geo.padding
    (H, W), (OH, OW) = geo.in_size, geo.out_size
    gx = xp.zeros((N * C,) + _padded_size(geo), dtype=g.dtype)
    gr = g.reshape(N * C, OH, OW)
    wp = _per_plane(w, N)

    def block(r0: int, r1: int, tmp: Any) -> None:
        for t, (i, j, rs, cs) in enumerate(_taps(geo)):
            gx[r0:r1, rs, cs] += _mul(gr[r0:r1], wp[t, r0:r1], tmp)
    _blocks(xp, block, N * C, OH * OW, g.dtype)
    return xp.ascontiguousarray(gx.reshape((N, C) + gx.shape[1:])[:, :, pt:pt + H, pl:pl + W])


def _dw_weight_grad(x: Any, g: Any, geo: Any) -> Any:
    """dW[c, 0, i, j] = Σ_{n, oh, ow} g[n, c, oh, ow] · x_pad[n, c, i·DH + SH·oh, j·DW + SW·ow]."""
    xp, (N, C) = array_module(x), x.shape[:2]
    xpad = _padded(xp, x, geo).reshape((N * C,) + _padded_size(geo))
    OH, OW = geo.out_size
    gr = g.reshape(N * C, OH, OW)
    taps = _taps(geo)
    sums = xp.empty((N * C, len(taps)), dtype=x.dtype)               # per plane and tap

    def block(r0: int, r1: int, tmp: Any) -> None:
        for t, (i, j, rs, cs) in enumerate(taps):
            sums[r0:r1, t] = _mul(gr[r0:r1], xpad[r0:r1, rs, cs], tmp).sum(axis=(1, 2))
    _blocks(xp, block, N * C, OH * OW, x.dtype)
    return sums.reshape(N, C, -1).sum(axis=0).reshape(C, 1, geo.kernel[0], geo.kernel[1])


# The weight gradient at stride 1 on NumPy: on the shifted path's grids (``_to_grid``) each
# tap's sum is one dot product per channel and image over that image's rows of width Wp, with
# no product array (measured 8x64x64²: 11 against 26 ms; the forward and adjoint gained
# nothing this way and stay as above)
def _dw_flat_weight_grad(x: Any, g: Any, geo: Any) -> Any:
    """dW[c, 0, i, j] = Σ_n Σ_p g_grid[c, n, p] · x_grid[c, n, p + off_ij] over the OH·Wp grid
    positions p of each image (dL/dy sits at the grid's corner, zero past column OW)."""
    N, C = x.shape[:2]
    (KH, KW), (DH, DW), (OH, _) = geo.kernel, geo.dilation, geo.out_size
    rows, cols = _padded_size(geo)                          # at stride 1: the shifted path's grid
    xb, L = _to_grid(x, geo.padding, rows, cols, DH * (KH - 1) * cols + DW * (KW - 1))
    gb, _ = _to_grid(g, ((0, 0), (0, 0)), rows, cols, 0, name="out")
    run = OH * cols                                         # the grid positions an output row can hold
    gp = gb.reshape(C, N, rows * cols)[:, :, :run]
    offs = [i * DH * cols + j * DW for i in range(KH) for j in range(KW)]
    sums = np.empty((C, N, len(offs)), dtype=x.dtype)

    def block(c0: int, c1: int, tmp: Any) -> None:
        for t, off in enumerate(offs):
            xv = xb[c0:c1, off:off + L].reshape(c1 - c0, N, rows * cols)[:, :, :run]
            sums[c0:c1, :, t] = np.matmul(gp[c0:c1, :, None, :], xv[..., None])[..., 0, 0]
    _blocks(np, block, C, N * run, x.dtype)
    return sums.sum(axis=1).reshape(C, 1, KH, KW)
