"""Threads on the CPU: OpenBLAS held to one thread inside the fast paths, and the split matmul.

OpenBLAS's worker threads spin for about 0.1 s after every multi-threaded call, so a fast
path that mixed OpenBLAS's threads with minifcn's own pool left the two fighting over the
cores (fastconv.py, "one BLAS thread while our threads split the work"). These tests check
the mechanism: inside ``own_threads`` OpenBLAS has one thread and minifcn's pool still knows
how many cores to use; outside, the caller's setting is back, also after an error; every BLAS
call of a training step (convolutions, transposed convolutions, batch norm) happens inside;
and ``fastconv.matmul``, which splits a product between the pool's threads, gives NumPy's
``matmul`` result (the independent reference) for drawn shapes, layouts and dtypes.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minifcn as mf
from conftest import to_xp
from minifcn import backend, nn
from minifcn.functional import conv_fast, fastconv, fastnorm
from minifcn.models import UNet


def blas_threads():
    """(get, set) of NumPy's OpenBLAS thread count; this test machine's NumPy ships OpenBLAS."""
    assert fastconv._gemm_for(np.float32) is not None, "NumPy's OpenBLAS was not found"
    return fastconv._blas["threads"]


@pytest.fixture
def two_blas_threads(monkeypatch):
    """OpenBLAS set to 2 threads for the test (restored after), minifcn's count automatic."""
    get, set_ = blas_threads()
    before = get()
    set_(2)
    monkeypatch.setattr(fastconv, "threads", None)
    yield get
    set_(before)


def test_own_threads_holds_blas_to_one_and_restores(two_blas_threads):
    get = two_blas_threads
    with fastconv.own_threads():
        assert get() == 1
        assert fastconv._workers() == 2          # the pool still splits over the caller's count
        with fastconv.own_threads():             # nested: free, and does not restore early
            assert get() == 1
        assert get() == 1
    assert get() == 2
    with pytest.raises(ZeroDivisionError):
        with fastconv.own_threads():
            1 / 0
    assert get() == 2                            # restored after an error too
    blas_threads()[1](1)
    with fastconv.own_threads():
        assert get() == 1 and fastconv._workers() == 1
    assert get() == 1


def test_a_training_step_calls_blas_only_on_one_thread(two_blas_threads, monkeypatch):
    """Record OpenBLAS's thread count at every BLAS entry of the fast paths during a U-Net
    training step (its convolutions, transposed convolutions, 1x1 head and batch norms)."""
    get, seen = two_blas_threads, []

    def spy(module, name):
        real = getattr(module, name)

        def wrapped(*args, **kwargs):
            seen.append((name, get()))
            return real(*args, **kwargs)
        monkeypatch.setattr(module, name, wrapped)
    spy(fastconv, "_gemm")          # the shifted path's GEMMs
    spy(fastconv, "matmul")         # conv_fast's im2col products (stem, transposed convolutions)
    spy(fastconv, "_pointwise")     # the 1x1 head
    spy(fastnorm, "_dots")          # batch norm's per-channel dot products
    rng = np.random.default_rng(0)
    nn.init.manual_seed(0)
    model = UNet(3, 2, base_channels=4, depth=2)
    x = mf.tensor(rng.random((2, 3, 16, 16), dtype=np.float32))
    loss = mf.functional.cross_entropy(model(x), rng.integers(0, 2, (2, 16, 16)))
    loss.backward()
    assert {name for name, _ in seen} == {"_gemm", "matmul", "_pointwise", "_dots"}
    assert {n for _, n in seen} == {1}, [s for s in seen if s[1] != 1][:5]
    assert get() == 2


def test_conv_fast_entry_points_are_scoped(two_blas_threads, monkeypatch):
    """conv_fast's three products run inside own_threads even on the im2col path."""
    get, seen = two_blas_threads, []
    real = np.matmul
    monkeypatch.setattr(fastconv, "min_channels", 10**9)          # no shifted path: im2col
    monkeypatch.setattr(fastconv.np, "matmul", lambda *a, **k: seen.append(get()) or real(*a, **k))
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 4, 6, 6)), rng.standard_normal((5, 4, 3, 3))
    geo = mf.functional.conv.conv2d_geometry(x, w, None, padding=1)
    y, _ = conv_fast.convolve(x, w, geo)
    conv_fast.convolve_adjoint(y, w, geo)
    conv_fast.weight_grad(x, y, w, geo)
    monkeypatch.undo()
    assert len(seen) == 3 and set(seen) == {1}
    assert get() == 2


@st.composite
def products(draw):
    """(a, b, transpose b?) for a (G?, M, K) @ (G?, K, N) product."""
    batch = draw(st.sampled_from([(), (1,), (3,)]))
    m, k, n = draw(st.integers(1, 9)), draw(st.integers(1, 9)), draw(st.integers(1, 40))
    return batch, m, k, n, draw(st.booleans()), draw(st.sampled_from([np.float32, np.float64]))


@given(case=products(), seed=st.integers(0, 2**16), with_out=st.booleans())
def test_matmul_matches_numpy(device, monkeypatch, case, seed, with_out):
    """The split product against NumPy's matmul: columns split when N >= M, else rows; b
    given transposed (a strided view, as weight_grad passes it); into ``out`` or not."""
    monkeypatch.setattr(fastconv, "matmul_from", 0)                # split every product
    monkeypatch.setattr(fastconv, "threads", 3)
    batch, m, k, n, transposed, dtype = case
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(batch + (m, k)).astype(dtype)
    b = rng.standard_normal(batch + ((n, k) if transposed else (k, n))).astype(dtype)
    b = np.swapaxes(b, -1, -2) if transposed else b
    expected = np.matmul(a, b)
    ad, bd = to_xp(a, device), to_xp(b, device)
    if transposed:                                                 # keep the strided layout on the device
        bd = backend.module_for(device).swapaxes(to_xp(np.swapaxes(b, -1, -2), device), -1, -2)
    out = backend.module_for(device).empty(expected.shape, dtype=dtype) if with_out else None
    got = fastconv.matmul(ad, bd, out=out)
    assert backend.device_of(got) == device
    if with_out:
        assert got is out
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(backend.to_numpy(got), expected, rtol=tol, atol=tol)


def test_separable_maps_are_scoped(two_blas_threads, monkeypatch):
    """Bilinear upsampling and adaptive pooling (Separable2d's two tensordots) run inside."""
    get, seen = two_blas_threads, []
    real = np.tensordot
    monkeypatch.setattr(np, "tensordot", lambda *a, **k: seen.append(get()) or real(*a, **k))
    x = mf.tensor(np.random.default_rng(2).standard_normal((2, 3, 5, 7)), requires_grad=True)
    y = mf.functional.interpolate(x, scale_factor=2, mode="bilinear")
    y.backward(np.ones(y.shape))
    monkeypatch.undo()
    assert len(seen) == 4 and set(seen) == {1}
    assert get() == 2


@given(L=st.integers(1, 5000), most=st.integers(1, 3000), workers=st.integers(1, 4))
def test_tiles_cover_the_columns_and_give_every_thread_work(L, most, workers):
    """fastconv._tiles: tiles of at most ``most`` columns cover all L columns with none empty,
    and whenever the columns allow ``min_share`` per thread every thread gets a tile (a layer
    whose columns fit one tile used to run on one thread)."""
    T, tiles = fastconv._tiles(L, most, workers)
    assert 1 <= T <= most
    assert T * tiles >= L > T * (tiles - 1)
    if L // fastconv.min_share >= workers:
        assert tiles >= workers
