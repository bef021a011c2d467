"""The autograd core: graph bookkeeping, accumulation, no_grad, dtypes, devices, errors."""
import numpy as np
import pytest

import minifcn as mf
from minifcn import backend
from conftest import to_xp


def test_tensor_dtypes_follow_the_contract():
    assert mf.tensor([1.0, 2.0]).dtype == np.float32          # Python floats -> float32
    assert mf.tensor([1, 2]).dtype == np.int64                # Python ints -> int64
    assert mf.tensor(3.5).dtype == np.float32
    assert mf.tensor(np.zeros(2, np.float64)).dtype == np.float64  # arrays keep theirs
    assert mf.tensor([1, 2], dtype="float64").dtype == np.float64  # dtype= overrides
    assert mf.tensor(np.zeros(2, np.float16), dtype=np.float32).dtype == np.float32


def test_float64_is_kept_through_ops(device):
    x = mf.tensor(np.ones((2, 3)), device=device, requires_grad=True)
    y = (x * 2.0 + 1) / 3.0 - x ** 2
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float64


def test_scalars_do_not_upcast_float32(device):
    x = mf.tensor([1.0, 2.0], device=device)
    for y in (x * 2.5, 2.5 * x, x + 1, 1 - x, x / 3, 3 / x, x ** 2, 2 ** x):
        assert y.dtype == np.float32


def test_chain_rule_on_a_small_graph(device):
    # y = sum((a*b + a)^2): dy/da = 2(ab+a)(b+1), dy/db = 2(ab+a)a
    a_np, b_np = np.array([1.0, -2.0, 3.0]), np.array([0.5, 4.0, -1.0])
    a = mf.tensor(a_np, device=device, requires_grad=True)
    b = mf.tensor(b_np, device=device, requires_grad=True)
    ((a * b + a) ** 2).sum().backward()
    inner = a_np * b_np + a_np
    np.testing.assert_allclose(backend.to_numpy(a.grad), 2 * inner * (b_np + 1))
    np.testing.assert_allclose(backend.to_numpy(b.grad), 2 * inner * a_np)


def test_gradients_accumulate_when_a_tensor_is_used_twice(device):
    x = mf.tensor([3.0], device=device, requires_grad=True, dtype="float64")
    y = x * x + x          # dy/dx = 2x + 1 = 7
    y.backward()
    np.testing.assert_allclose(backend.to_numpy(x.grad), [7.0])
    y = x * x + x          # a second backward adds to .grad, as in PyTorch
    y.backward()
    np.testing.assert_allclose(backend.to_numpy(x.grad), [14.0])


def test_diamond_graph_visits_shared_node_once(device):
    x = mf.tensor([2.0], device=device, requires_grad=True, dtype="float64")
    h = x * 3.0
    y = h * h + h.exp()    # dy/dx = 3 (2h + e^h), h = 6
    y.backward()
    np.testing.assert_allclose(backend.to_numpy(x.grad), [3 * (12 + np.exp(6))])


def test_deep_graph_has_no_recursion_limit():
    x = mf.tensor([1.0], requires_grad=True, dtype="float64")
    y = x
    for _ in range(5000):
        y = y + 1.0
    y.backward()
    assert x.grad[0] == 1.0


def test_broadcasting_gradients_reduce_to_each_input_shape(device):
    a = mf.tensor(np.ones((2, 1, 3)), device=device, requires_grad=True)
    b = mf.tensor(np.ones((4, 1)), device=device, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (2, 1, 3) and b.grad.shape == (4, 1)
    np.testing.assert_allclose(backend.to_numpy(a.grad), np.full((2, 1, 3), 4.0))
    np.testing.assert_allclose(backend.to_numpy(b.grad), np.full((4, 1), 6.0))


def test_no_grad_records_nothing(device):
    x = mf.tensor([1.0], device=device, requires_grad=True)
    with mf.no_grad():
        y = x * 2
    assert not y.requires_grad and y.creator is None
    assert mf.is_grad_enabled()
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_detach_cuts_the_graph(device):
    x = mf.tensor([2.0], device=device, requires_grad=True, dtype="float64")
    y = x * x.detach()     # only the first factor carries a gradient: dy/dx = x = 2
    y.backward()
    np.testing.assert_allclose(backend.to_numpy(x.grad), [2.0])


def test_comparisons_are_boolean_and_outside_the_graph(device):
    x = mf.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    for m in (x > 2, x >= 2, x < 2, x <= 2, x == 2, x != 2):
        assert m.dtype == np.bool_ and not m.requires_grad
    np.testing.assert_array_equal((x > 1.5).numpy(), [False, True, True])


def test_backward_needs_grad_for_non_scalars(device):
    x = mf.tensor([1.0, 2.0], device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="one-element"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"has shape \(3,\), expected \(2,\)"):
        (x * 2).backward(to_xp(np.ones(3, np.float32), device))


def test_requires_grad_needs_float():
    with pytest.raises(TypeError, match="floating dtype"):
        mf.tensor([1, 2], requires_grad=True)


def test_to_and_numpy_round_trip(device):
    x = mf.tensor([[1.0, 2.0]], device=device)
    assert x.device == device
    assert isinstance(x.numpy(), np.ndarray)
    y = x.to("cpu").to(device)
    np.testing.assert_array_equal(y.numpy(), [[1.0, 2.0]])
    assert x.to(device) is x


def test_unknown_device_is_named():
    with pytest.raises(ValueError, match=r"device='tpu' is not a known device"):
        mf.tensor([1.0], device="tpu")


def test_mixed_devices_name_both():
    a = mf.tensor([1.0], device="cpu")
    b = mf.tensor([1.0], device="cuda")
    with pytest.raises(ValueError, match="cpu and cuda"):
        a + b


def test_cuda_errors_say_what_is_missing(monkeypatch):
    saved = (backend._cupy, backend._cupy_ndimage, backend._cupy_error)
    try:
        backend.use_cupy(None)
        monkeypatch.setitem(__import__("sys").modules, "cupy", None)  # import cupy -> ImportError
        with pytest.raises(RuntimeError, match=r"needs CuPy.*pip install 'minifcn\[gpu\]'"):
            mf.tensor([1.0], device="cuda")
        assert mf.cuda_available() is False

        class NoGPU:  # CuPy installed, but no device visible
            ndarray = type("ndarray", (), {})

            class cuda:
                class runtime:
                    @staticmethod
                    def getDeviceCount():
                        raise RuntimeError("cudaErrorNoDevice")
        backend.use_cupy(NoGPU)
        with pytest.raises(RuntimeError, match="CuPy is installed but sees no GPU"):
            mf.tensor([1.0], device="cuda")
    finally:
        backend._cupy, backend._cupy_ndimage, backend._cupy_error = saved


def test_array_module_tells_numpy_from_cupy(device, xp):
    x = mf.tensor([1.0], device=device)
    assert backend.array_module(x.data) is xp
    assert x.xp is xp


def test_repr_shows_values_and_device():
    r = repr(mf.tensor([1.5], requires_grad=True))
    assert "1.5" in r and "cpu" in r and "requires_grad=True" in r


def test_tensor_of_a_device_array_stays_on_its_device(device):
    a = to_xp(np.ones(3, np.float32), device)
    assert mf.tensor(a).device == device
    assert mf.tensor(a, device="cpu").device == "cpu"


# ---- every Tensor method resolves and equals its functional form (and NumPy) ------------------
from minifcn import functional as F  # noqa: E402

_A = np.array([[0.5, -1.25, 2.0], [1.5, 0.75, -0.3]])       # no ties, no zeros (kinks)
_B = np.array([[1.1, 0.4, -2.0], [0.6, 1.3, 0.9]])
_M = np.array([[0.2, -0.7], [1.4, 0.5], [-0.6, 0.8]])

# method call, functional call, NumPy value (an independent reference)
TENSOR_METHODS = {
    "__add__": (lambda a, b: a + b, F.add, lambda a, b: a + b),
    "__radd__": (lambda a, b: 2.0 + a, lambda a, b: F.add(2.0, a), lambda a, b: 2.0 + a),
    "__sub__": (lambda a, b: a - b, F.sub, lambda a, b: a - b),
    "__rsub__": (lambda a, b: 2.0 - a, lambda a, b: F.sub(2.0, a), lambda a, b: 2.0 - a),
    "__mul__": (lambda a, b: a * b, F.mul, lambda a, b: a * b),
    "__rmul__": (lambda a, b: 3.0 * a, lambda a, b: F.mul(3.0, a), lambda a, b: 3.0 * a),
    "__truediv__": (lambda a, b: a / b, F.div, lambda a, b: a / b),
    "__rtruediv__": (lambda a, b: 2.0 / b, lambda a, b: F.div(2.0, b), lambda a, b: 2.0 / b),
    "__pow__": (lambda a, b: abs(a) ** b, lambda a, b: F.pow(F.abs(a), b), lambda a, b: np.abs(a) ** b),
    "__rpow__": (lambda a, b: 2.0 ** a, lambda a, b: F.pow(2.0, a), lambda a, b: 2.0 ** a),
    "__matmul__": (lambda a, b: a @ b, F.matmul, lambda a, b: a @ b),
    "__rmatmul__": (lambda a, b: a.__rmatmul__(b), lambda a, b: F.matmul(b, a), lambda a, b: b @ a),
    "__neg__": (lambda a, b: -a, lambda a, b: F.neg(a), lambda a, b: -a),
    "__abs__": (lambda a, b: abs(a), lambda a, b: F.abs(a), lambda a, b: np.abs(a)),
    "__getitem__": (lambda a, b: a[1, ::2], lambda a, b: F.getitem(a, (1, slice(None, None, 2))),
                    lambda a, b: a[1, ::2]),
    "sum": (lambda a, b: a.sum(axis=1), lambda a, b: F.sum(a, axis=1), lambda a, b: a.sum(axis=1)),
    "mean": (lambda a, b: a.mean(axis=0, keepdims=True), lambda a, b: F.mean(a, 0, True),
             lambda a, b: a.mean(axis=0, keepdims=True)),
    "max": (lambda a, b: a.max(axis=1), lambda a, b: F.max(a, 1), lambda a, b: a.max(axis=1)),
    "min": (lambda a, b: a.min(), lambda a, b: F.min(a), lambda a, b: a.min()),
    "reshape": (lambda a, b: a.reshape(3, 2), lambda a, b: F.reshape(a, (3, 2)), lambda a, b: a.reshape(3, 2)),
    "transpose": (lambda a, b: a.transpose(1, 0), lambda a, b: F.transpose(a, (1, 0)), lambda a, b: a.T),
    "T": (lambda a, b: a.T, lambda a, b: F.transpose(a), lambda a, b: a.T),
    "exp": (lambda a, b: a.exp(), lambda a, b: F.exp(a), lambda a, b: np.exp(a)),
    "log": (lambda a, b: abs(a).log(), lambda a, b: F.log(F.abs(a)), lambda a, b: np.log(np.abs(a))),
    "sqrt": (lambda a, b: abs(a).sqrt(), lambda a, b: F.sqrt(F.abs(a)), lambda a, b: np.sqrt(np.abs(a))),
    "relu": (lambda a, b: a.relu(), lambda a, b: F.relu(a), lambda a, b: np.maximum(a, 0)),
    "sigmoid": (lambda a, b: a.sigmoid(), lambda a, b: F.sigmoid(a), lambda a, b: 1 / (1 + np.exp(-a))),
    "tanh": (lambda a, b: a.tanh(), lambda a, b: F.tanh(a), lambda a, b: np.tanh(a)),
    "clip": (lambda a, b: a.clip(-1.0, 1.0), lambda a, b: F.clip(a, -1.0, 1.0), lambda a, b: np.clip(a, -1, 1)),
    "astype": (lambda a, b: a.astype("float32"), lambda a, b: F.astype(a, np.float32),
               lambda a, b: a.astype(np.float32)),
}
# methods that are not differentiable ops (tested elsewhere in this file)
NOT_OPS = {"backward", "numpy", "item", "to", "detach", "zero_grad", "xp", "shape", "dtype", "ndim",
           "size", "device", "__init__", "__len__", "__repr__", "__lt__", "__le__", "__gt__", "__ge__",
           "__eq__", "__ne__", "__hash__"}


def test_every_tensor_method_is_listed_here():
    names = {n for n in vars(mf.Tensor) if not (n.startswith("__") and n.endswith("__"))
             or n in TENSOR_METHODS or n in NOT_OPS}
    names -= {"__array_priority__", "__dict__", "__weakref__", "__module__", "__doc__", "__qualname__",
              "__firstlineno__", "__static_attributes__", "__annotations__"}
    dunders = {n for n in vars(mf.Tensor) if n.startswith("__") and callable(vars(mf.Tensor)[n])}
    assert names | dunders <= set(TENSOR_METHODS) | NOT_OPS, (names | dunders) - set(TENSOR_METHODS) - NOT_OPS


@pytest.mark.parametrize("name", sorted(TENSOR_METHODS))
def test_tensor_method_equals_its_functional_form(name, device):
    method, functional, reference = TENSOR_METHODS[name]
    outs, grads = [], []
    for call in (method, functional):
        a = mf.tensor(_M.T.copy() if name in ("__matmul__", "__rmatmul__") else _A, device=device, requires_grad=True)
        b = mf.tensor(_M if name in ("__matmul__", "__rmatmul__") else _B, device=device, requires_grad=True)
        y = call(a, b)
        assert isinstance(y, mf.Tensor)
        (y * mf.tensor(np.linspace(0.5, 1.5, y.size).reshape(y.shape).astype(y.dtype), device=device)
         ).sum().backward()
        outs.append(y.numpy())
        grads.append((None if a.grad is None else backend.to_numpy(a.grad),
                      None if b.grad is None else backend.to_numpy(b.grad)))
    a_ref, b_ref = (_M.T.copy(), _M) if name in ("__matmul__", "__rmatmul__") else (_A, _B)
    np.testing.assert_allclose(outs[0], reference(a_ref, b_ref), rtol=1e-6)
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-12)
    for g_method, g_functional in zip(*grads):
        assert (g_method is None) == (g_functional is None)
        if g_method is not None:
            np.testing.assert_allclose(g_method, g_functional, rtol=1e-12)


@pytest.mark.parametrize("data", [np.array(["a", "b"]), np.array([1, None], dtype=object), ["a", "b"],
                                  np.array([b"x"]), [1.0, "2"]])
def test_tensor_refuses_strings_and_objects_naming_the_dtype(data):
    dtype = np.asarray(data).dtype
    with pytest.raises(TypeError, match=f"dtype {dtype}"):
        mf.tensor(data)


def test_tensor_refuses_a_non_numeric_dtype_argument():
    with pytest.raises(TypeError, match="dtype <U1"):
        mf.tensor([1, 2], dtype="U1")


@pytest.mark.parametrize("index", [
    (1, slice(None, None, 2)), (Ellipsis, slice(3, 0, -1)), (None, slice(1, 3), -1), 2,
    (np.array([0, 2, 0]),), (slice(None), np.array([1, 1, 3])),       # repeated integer indices add up
])
def test_getitem_backward_scatters_every_kind_of_index(device, index):
    """Central differences (float64) on a[index]: basic indices take the assignment, integer
    arrays (with repeats) take add.at; both must give the true gradient."""
    a = mf.Tensor(to_xp(np.random.default_rng(0).standard_normal((3, 4)), device), requires_grad=True)
    idx = tuple(to_xp(i, device) if isinstance(i, np.ndarray) else i for i in index) \
        if isinstance(index, tuple) else index
    assert mf.gradcheck(lambda a: F.getitem(a, idx) ** 2, a)
