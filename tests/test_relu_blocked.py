"""ReLU's CPU path for big arrays (``activation.ReLUBlocked``) against the readable ReLU.

The readable ``autograd.ReLU`` (y = a·(a > 0), dL/da = g·(a > 0)) is the reference; the
blocked path must give the same bits (NaN stays NaN, -inf·0 is NaN, a negative value gives
-0.0) on arrays cut into ranges that do not divide their size, split between three threads.
Independent of both: central differences in float64, and onnxruntime on an exported model
whose ReLU took the blocked path.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minifcn as mf
from minifcn import autograd, nn
from minifcn.functional import activation, fastconv


@pytest.fixture
def eager(monkeypatch):
    """Every float NumPy array takes the blocked path, in ranges of 3 to 40 elements, 3 threads."""
    monkeypatch.setattr(activation, "relu_blocked_from", 0)
    monkeypatch.setattr(fastconv, "threads", 3)
    monkeypatch.setattr(fastconv, "parallel_from", 0)
    return monkeypatch


def specials(rng, shape, dtype):
    """Normal values with ties at 0, -0.0, ±inf and NaN sprinkled in."""
    a = rng.standard_normal(shape).astype(dtype)
    pick = rng.random(shape)
    a[pick < 0.1] = 0.0
    a[(pick >= 0.1) & (pick < 0.15)] = -0.0
    a[(pick >= 0.15) & (pick < 0.2)] = np.inf
    a[(pick >= 0.2) & (pick < 0.25)] = -np.inf
    a[(pick >= 0.25) & (pick < 0.3)] = np.nan
    return a


@given(shape=st.lists(st.integers(1, 7), min_size=1, max_size=4).map(tuple), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float32, np.float64]), block=st.integers(3, 40))
def test_blocked_relu_gives_the_readable_bits(eager, shape, seed, dtype, block):
    eager.setattr(fastconv, "block_bytes", block * np.dtype(dtype).itemsize)
    rng = np.random.default_rng(seed)
    a, g = specials(rng, shape, dtype), specials(rng, shape, dtype)
    results = []
    for fn in (activation.relu, autograd.relu):
        x = mf.Tensor(a.copy(), requires_grad=True)
        with np.errstate(invalid="ignore"):       # -inf·0 and NaN·0: NaN, on both paths
            y = fn(x)
            y.backward(g)
        results.append((type(y.creator).__name__, y.data, x.grad))
    (name, y, gx), (ref_name, y_ref, gx_ref) = results
    assert (name, ref_name) == ("ReLUBlocked", "ReLU")
    assert y.dtype == gx.dtype == dtype
    for got, ref in ((y, y_ref), (gx, gx_ref)):       # same bits: NaN where NaN, the sign of zeros
        np.testing.assert_array_equal(got.view(f"u{got.itemsize}"), ref.view(f"u{ref.itemsize}"))


def test_blocked_relu_gradcheck(eager):
    x = mf.Tensor(np.random.default_rng(3).standard_normal((3, 5, 7)) + 0.05, requires_grad=True)
    assert type(activation.relu(x).creator).__name__ == "ReLUBlocked"
    assert mf.gradcheck(activation.relu, x)


def test_small_or_strided_arrays_stay_readable(monkeypatch):
    """Below the threshold, and for a non-contiguous view, the readable ReLU runs."""
    small = mf.Tensor(np.ones((2, 3)), requires_grad=True)
    assert type(activation.relu(small).creator).__name__ == "ReLU"
    monkeypatch.setattr(activation, "relu_blocked_from", 0)
    strided = mf.Tensor(np.ones((4, 6))[:, ::2], requires_grad=True)
    assert type(activation.relu(strided).creator).__name__ == "ReLU"
    monkeypatch.setattr(fastconv, "enabled", False)
    assert type(activation.relu(small).creator).__name__ == "ReLU"


def test_exported_blocked_relu_runs_in_onnxruntime(eager, tmp_path):
    onnx = pytest.importorskip("onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    from minifcn.export import to_onnx
    nn.init.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU()).eval()
    x = np.random.default_rng(4).standard_normal((2, 2, 6, 6)).astype(np.float32)
    path = tmp_path / "relu.onnx"
    proto = to_onnx(model, x, path)
    assert "Relu" in [node.op_type for node in proto.graph.node]
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (theirs,) = session.run(None, {"input": x})
    with mf.no_grad():
        ours = model(mf.tensor(x)).numpy()
    assert (ours == 0).any() and (ours > 0).any()
    np.testing.assert_allclose(theirs, ours, rtol=1e-5, atol=1e-6)
