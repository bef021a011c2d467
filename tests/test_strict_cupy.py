"""The strict CuPy stand-in: it offers only CuPy's names, refuses NumPy, and computes like NumPy.

Expected values come from NumPy/SciPy called directly on host arrays (the stand-in's values
must equal them) or from naive loops; the list of CuPy's names comes from real CuPy
(``tests/cupy_names.txt``, written by ``tests/make_cupy_names.py``).
"""
import copy
import operator
import pathlib
import pickle
import re

import numpy as np
import pytest
import scipy.ndimage

import strict_cupy
from conftest import REAL_GPU, to_xp
from minifcn import backend
from strict_cupy import NAMES
from strict_cupy import module as cp
from strict_cupy import ndimage as cnd

UNSUPPORTED_NUMPY = re.escape("Unsupported type <class 'numpy.ndarray'>")
UNSUPPORTED_LIST = re.escape("Unsupported type <class 'list'>")
NEEDS_ARRAY = "the first argument must be a cupy.ndarray"


def dev(a):
    """A stand-in device array holding a copy of ``a``."""
    return cp.asarray(np.asarray(a))


def host():
    return np.arange(12, dtype=np.float64).reshape(3, 4) - 4.5


def assert_same(result, expected):
    """``result`` is a stand-in array (never a NumPy one) equal to ``expected``."""
    assert isinstance(result, cp.ndarray), type(result)
    expected = np.asarray(expected)
    got = result.get()
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


NAMESPACES = {  # qualname -> (stand-in namespace, its NumPy/SciPy counterpart)
    "cupy": (cp, np),
    "cupy.linalg": (cp.linalg, np.linalg),
    "cupy.random": (cp.random, np.random),
    "cupy.lib.stride_tricks": (cp.lib.stride_tricks, np.lib.stride_tricks),
    "cupy.random.Generator": (cp.random.default_rng(0), np.random.default_rng(0)),
    "cupy.random.RandomState": (cp.random.RandomState(0), np.random.RandomState(0)),
    "cupyx.scipy.ndimage": (cnd, scipy.ndimage),
}


# --------------------------------------------------------------- the names file (contract)

def test_names_file_lists_cupy_names():
    lines = pathlib.Path(strict_cupy.__file__).with_name("cupy_names.txt").read_text().split("\n")
    names = [n for n in lines if n]
    assert len(names) > 1000
    assert names == sorted(set(names))
    assert all(re.fullmatch(r"cupyx?(\.[A-Za-z_][A-Za-z0-9_]*)+", n) for n in names)
    for core in ["cupy.exp", "cupy.ndarray.reshape", "cupy.ndarray.get", "cupy.ufunc.at",
                 "cupy.lib.stride_tricks.as_strided", "cupy.lib.stride_tricks.sliding_window_view",
                 "cupy.cuda.runtime.getDeviceCount", "cupyx.scipy.ndimage.distance_transform_edt"]:
        assert core in NAMES
    assert not any(n.split(".")[-1].startswith("_") for n in names)


# -------------------------------------------------- (a) only CuPy's names, all of them real

def _resolve_all(qualname, ns):
    """Touch every CuPy name under ``qualname``; return the attributes the stand-in gave."""
    prefix = qualname + "."
    for name in NAMES:
        if name.startswith(prefix) and "." not in name[len(prefix):]:
            try:
                getattr(ns, name[len(prefix):])
            except AttributeError as e:
                assert "not modelled" in str(e), e
    return [n for n in dir(ns) if not n.startswith("_")]


@pytest.mark.parametrize("qualname", list(NAMESPACES) + ["cupy.cuda", "cupy.cuda.runtime"])
def test_every_offered_name_is_a_cupy_name(qualname):
    ns = NAMESPACES[qualname][0] if qualname in NAMESPACES else (
        cp.cuda if qualname == "cupy.cuda" else cp.cuda.runtime)
    offered = _resolve_all(qualname, ns)
    assert offered, qualname
    assert sorted(n for n in offered if f"{qualname}.{n}" not in NAMES) == []


def test_core_names_are_offered():
    for name in ["exp", "maximum", "where", "zeros", "einsum", "float32", "pi", "newaxis",
                 "take_along_axis", "put_along_axis", "bincount", "pad"]:
        getattr(cp, name)
    assert cp.newaxis is None and cp.float32 is np.float32 and cp.pi == np.pi
    x = dev(host())
    for name in ["reshape", "transpose", "sum", "max", "argmax", "astype", "copy", "ravel",
                 "shape", "dtype", "ndim", "size", "T", "strides", "nbytes", "flags", "itemsize"]:
        getattr(x, name)


@pytest.mark.parametrize("qualname", list(NAMESPACES))
def test_numpy_names_cupy_lacks_raise_attribute_error(qualname):
    ns, source = NAMESPACES[qualname]
    missing = [n for n in dir(source) if not n.startswith("_") and f"{qualname}.{n}" not in NAMES]
    for name in missing + ["made_up_name"]:
        with pytest.raises(AttributeError, match=re.escape(f"{qualname}.{name}")):
            getattr(ns, name)


@pytest.mark.parametrize("name", [
    "cupy.block", "cupy.insert", "cupy.errstate", "cupy.isnat", "cupy.random.Generator.normal",
    "cupy.random.Generator.permutation", "cupyx.scipy.ndimage.distance_transform_cdt"])
def test_known_numpy_scipy_names_missing_from_cupy_are_refused(name):
    qualname, _, attr = name.rpartition(".")
    assert hasattr(NAMESPACES[qualname][1], attr) and name not in NAMES
    with pytest.raises(AttributeError, match=re.escape(name)):
        getattr(NAMESPACES[qualname][0], attr)


def test_ndarray_offers_only_cupy_members():
    assert [n for n in dir(cp.ndarray) if not n.startswith("_")
            and f"cupy.ndarray.{n}" not in NAMES] == []
    x = dev(host())
    for name in [n for n in dir(np.ndarray) if not n.startswith("_")
                 and f"cupy.ndarray.{n}" not in NAMES] + ["made_up"]:
        with pytest.raises(AttributeError, match=f"cupy.ndarray.{name} does not exist in CuPy"):
            getattr(x, name)
    with pytest.raises(AttributeError, match="not modelled"):
        x.data  # NumPy's would be host memory


def test_ufunc_attributes_are_cupy_names():
    assert cp.add.nin == 2 and cp.exp.nout == 1
    with pytest.raises(AttributeError, match="cupy.ufunc.signature does not exist"):
        cp.add.signature


# ------------------------------------------------------ (b) NumPy and stand-in do not mix

def _setitem(target, key, value):
    target[key] = value


REFUSED = {  # name -> (call, the error message it must give)
    "np.exp(x)": (lambda x, a: np.exp(x), "numpy.exp was called on a CuPy array"),
    "np.maximum(x, 0)": (lambda x, a: np.maximum(x, 0), "numpy.maximum was called"),
    "np.asarray(x)": (lambda x, a: np.asarray(x), "Implicit conversion to a NumPy array"),
    "np.array([x])": (lambda x, a: np.array([x]), "Implicit conversion to a NumPy array"),
    "np.sum(x)": (lambda x, a: np.sum(x), "numpy.sum was called on a CuPy array"),
    "np.concatenate": (lambda x, a: np.concatenate([x, x]), "numpy.concatenate was called"),
    "x + a": (lambda x, a: x + a, UNSUPPORTED_NUMPY),
    "a + x": (lambda x, a: a + x, UNSUPPORTED_NUMPY),
    "a * x": (lambda x, a: a * x, UNSUPPORTED_NUMPY),
    "x @ a.T": (lambda x, a: x @ a.T, UNSUPPORTED_NUMPY),
    "x < a": (lambda x, a: x < a, UNSUPPORTED_NUMPY),
    "x += a": (lambda x, a: operator.iadd(x, a), UNSUPPORTED_NUMPY),
    "a += x": (lambda x, a: operator.iadd(a, x), UNSUPPORTED_NUMPY),
    "x + list": (lambda x, a: x + [1.0, 2.0, 3.0, 4.0], UNSUPPORTED_LIST),
    "cp.exp(a)": (lambda x, a: cp.exp(a), UNSUPPORTED_NUMPY),
    "cp.exp(list)": (lambda x, a: cp.exp([1.0, 2.0]), UNSUPPORTED_LIST),
    "cp.maximum(x, a)": (lambda x, a: cp.maximum(x, a), UNSUPPORTED_NUMPY),
    "cp.where(x > 0, x, a)": (lambda x, a: cp.where(x > 0, x, a), UNSUPPORTED_NUMPY),
    "cp.concatenate([x, a])": (lambda x, a: cp.concatenate([x, a]), UNSUPPORTED_NUMPY),
    "cp.add.at(x, ., a)": (lambda x, a: cp.add.at(x, (0, 0), a), UNSUPPORTED_NUMPY),
    "cp.sum(a)": (lambda x, a: cp.sum(a), "cupy.sum: " + NEEDS_ARRAY),
    "cp.prod(shape)": (lambda x, a: cp.prod(x.shape),
                       f"cupy.prod: {NEEDS_ARRAY}, not <class 'tuple'>"),
    "cp.ascontiguousarray(a)": (lambda x, a: cp.ascontiguousarray(a), "must be a cupy.ndarray"),
    "x.dot(a.T)": (lambda x, a: x.dot(a.T), UNSUPPORTED_NUMPY),
    "x[a > 0]": (lambda x, a: x[a > 0], UNSUPPORTED_NUMPY),
    "x[index array]": (lambda x, a: x[np.array([0, 1])], UNSUPPORTED_NUMPY),
    "x[(0, index array)]": (lambda x, a: x[0, np.array([0, 1])], UNSUPPORTED_NUMPY),
    "x[a > 0] = 0": (lambda x, a: _setitem(x, a > 0, 0.0), UNSUPPORTED_NUMPY),
    "x[0] = a[0]": (lambda x, a: _setitem(x, 0, a[0]), UNSUPPORTED_NUMPY),
    "as_strided(a)": (lambda x, a: cp.lib.stride_tricks.as_strided(a, (2,), (8,)),
                      UNSUPPORTED_NUMPY),
    "ndimage(a)": (lambda x, a: cnd.distance_transform_edt(a), UNSUPPORTED_NUMPY),
    "linalg(a)": (lambda x, a: cp.linalg.norm(a), UNSUPPORTED_NUMPY),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_numpy_and_device_arrays_do_not_mix(name):
    call, message = REFUSED[name]
    a = host()
    x = dev(a)
    with pytest.raises(TypeError, match=message):
        call(x, a)
    np.testing.assert_array_equal(x.get(), host())  # nothing was half-done
    np.testing.assert_array_equal(a, host())


def test_python_and_numpy_scalars_are_accepted():
    a = host()
    x = dev(a)
    for got, want in [(x + 1, a + 1), (1 - x, 1 - a), (np.float32(2) * x, np.float32(2) * a),
                      (x * np.float64(0.5), a * 0.5), (2.0 ** dev(a[:1]), 2.0 ** a[:1]),
                      (cp.maximum(x, 0.0), np.maximum(a, 0.0)), (x > np.float64(0), a > 0),
                      (cp.full((2,), np.float32(3)), np.full((2,), np.float32(3))),
                      (x.astype(np.float32), a.astype(np.float32)),
                      (cp.zeros((2, 3), dtype=cp.float32), np.zeros((2, 3), np.float32))]:
        assert_same(got, want)


# --------------------------------------------------------- (c) same values as NumPy

BINARY = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
          operator.mod, operator.pow, operator.lt, operator.le, operator.eq, operator.ne,
          operator.gt, operator.ge]
INTEGER = [operator.and_, operator.or_, operator.xor, operator.lshift, operator.rshift]


@pytest.mark.parametrize("op", BINARY + INTEGER + [divmod], ids=lambda op: op.__name__)
def test_operators_match_numpy(op):
    if op in INTEGER:
        a, b = np.arange(12).reshape(3, 4), np.array([1, 2, 3, 1])
    else:
        a, b = host(), np.array([2.0, -1.0, 0.5, 3.0])
        a = np.abs(a) if op is operator.pow else a  # no NaN from fractional powers
    for got, want in [(op(dev(a), dev(b)), op(a, b)), (op(dev(a), 2), op(a, 2)),
                      (op(3, dev(b)), op(3, b))]:
        if op is divmod:
            assert isinstance(got, tuple) and len(got) == 2
            for g, w in zip(got, want):
                assert_same(g, w)
        else:
            assert_same(got, want)


@pytest.mark.parametrize("op", ["iadd", "isub", "imul", "itruediv", "ifloordiv", "imod", "ipow",
                                "iand", "ior", "ixor", "ilshift", "irshift"])
def test_inplace_operators_write_into_the_same_buffer(op):
    integer = op in ("iand", "ior", "ixor", "ilshift", "irshift")
    a = np.arange(12).reshape(3, 4) if integer else host()
    b = np.array([1, 2, 3, 1]) if integer else np.array([2.0, -1.0, 0.5, 3.0])
    a = np.abs(a) if op == "ipow" else a
    x = dev(a)
    row = x[1]  # a view: must see the update
    result = getattr(operator, op)(x, dev(b))
    expected = getattr(operator, op)(a.copy(), b)
    assert result is x
    assert_same(x, expected)
    assert_same(row, expected[1])


def test_matmul_and_unary_operators_match_numpy():
    a, b = host(), host().T.copy()
    assert_same(dev(a) @ dev(b), a @ b)
    for op in [operator.neg, operator.pos, abs]:
        assert_same(op(dev(a)), op(a))
    assert_same(~dev(np.arange(4)), ~np.arange(4))


@pytest.mark.parametrize("reduction", ["sum", "mean", "max", "min", "argmax", "argmin", "std",
                                       "var", "prod", "any", "all", "cumsum"])
def test_reductions_match_numpy_and_give_device_arrays(reduction):
    a = host()
    x = dev(a)
    several_axes = reduction not in ("argmax", "argmin", "cumsum")
    for kwargs in [{}, {"axis": 0}, {"axis": 1}] + several_axes * [{"axis": (0, 1),
                                                                     "keepdims": True}]:
        want = getattr(np, reduction)(a, **kwargs)
        assert_same(getattr(x, reduction)(**kwargs), want)  # a 0-d array, never a scalar
        assert_same(getattr(cp, reduction)(x, **kwargs), want)


INDEXES = {
    "int": lambda d: 1, "int pair": lambda d: (1, 2), "negative": lambda d: -1,
    "slice": lambda d: (slice(None), slice(1, 3)),
    "step": lambda d: (Ellipsis, slice(None, None, 2)),
    "newaxis": lambda d: (None, Ellipsis, 0), "int array": lambda d: d(np.array([2, 0, 2])),
    "bool mask": lambda d: d(host() > 0),
    "array pair": lambda d: (d(np.array([0, 2])), d(np.array([3, 1]))),
    "list": lambda d: [0, 2], "0-d array": lambda d: d(np.array(1)),
    "mixed": lambda d: (slice(0, 2), d(np.array([[0], [3]]))),
}


@pytest.mark.parametrize("name", list(INDEXES))
def test_getitem_and_setitem_match_numpy(name):
    a = host()
    x = dev(a)
    assert_same(x[INDEXES[name](dev)], a[INDEXES[name](np.asarray)])
    for value in [7.0, dev(np.full(np.shape(a[INDEXES[name](np.asarray)]), -1.0))]:
        x[INDEXES[name](dev)] = value
        a[INDEXES[name](np.asarray)] = value if np.isscalar(value) else value.get()
        assert_same(x, a)


def test_views_share_memory_like_numpy():
    x = dev(host())
    view = x[1:, ::2]
    view[...] = 0.0
    expected = host()
    expected[1:, ::2] = 0.0
    assert_same(x, expected)
    x.reshape(-1)[0] = 100.0  # reshape of a contiguous array is a view
    assert float(x[0, 0]) == 100.0


def test_python_protocols():
    a = host()
    x = dev(a)
    assert len(x) == 3
    rows = list(x)
    assert len(rows) == 3 and all(isinstance(r, cp.ndarray) for r in rows)
    assert_same(rows[2], a[2])
    assert float(x[0, 1]) == a[0, 1] and int(x[2, 3]) == int(a[2, 3])
    assert bool(x[0, 0] < 0) and not bool(x[2, 3] < 0)
    assert x[0, 0].item() == a[0, 0] and x.tolist() == a.tolist()
    assert f"{x[0, 0]:.2f}" == f"{a[0, 0]:.2f}" and repr(x) == repr(a)
    with pytest.raises(ValueError):
        bool(x)  # ambiguous truth value, as in NumPy and CuPy
    assert x.shape == a.shape and x.dtype == a.dtype and x.ndim == 2 and x.size == 12
    assert x.strides == a.strides and x.nbytes == a.nbytes and x.itemsize == 8
    assert x.flags.c_contiguous and not x.T.flags.c_contiguous
    assert_same(x.T, a.T)
    assert_same(copy.deepcopy(x), a)
    assert_same(pickle.loads(pickle.dumps(x)), a)


def test_unknown_operands_defer_to_their_reflected_operator():
    class Other:  # e.g. an autograd Tensor holding device arrays
        def __radd__(self, other):
            return "Other.__radd__"

    assert dev(host()) + Other() == "Other.__radd__"


def test_host_device_copies_are_explicit_and_independent():
    a = host()
    x = cp.asarray(a)
    a[0, 0] = 99.0  # the device copy does not see later host writes
    assert float(x[0, 0]) == -4.5
    h = x.get()
    h[0, 1] = 99.0  # nor does it see writes to a host copy
    assert float(x[0, 1]) == -3.5
    assert type(h) is np.ndarray and type(cp.asnumpy(x)) is np.ndarray
    assert cp.asarray(x) is x and cp.array(x) is not x
    assert cp.asarray(x, dtype=np.dtype("float32")).dtype == np.float32
    assert_same(cp.asarray([[1, 2], [3, 4]], dtype=cp.float32), np.array([[1, 2], [3, 4]], "f4"))
    assert_same(cp.asarray([x[0, 0], x[1, 1]]), np.array([-4.5, 0.5]))
    assert_same(cp.ascontiguousarray(x.T), np.ascontiguousarray(host().T))
    x.set(np.zeros((3, 4)))
    assert_same(x, np.zeros((3, 4)))
    assert cp.get_array_module(x) is cp and cp.get_array_module(a, 1.0) is np
    assert cp.ndarray((2, 3), dtype=cp.float32).shape == (2, 3)


def test_functions_and_ufunc_methods_match_numpy():
    a = host()
    x = dev(a)
    idx = np.array([[0, 2, 1, 0], [1, 1, 2, 0]])
    assert_same(cp.take_along_axis(x, dev(idx), axis=0), np.take_along_axis(a, idx, axis=0))
    assert_same(cp.pad(x, ((1, 0), (0, 2))), np.pad(a, ((1, 0), (0, 2))))
    assert_same(cp.einsum("ij,kj->ik", x, x), np.einsum("ij,kj->ik", a, a))
    assert_same(cp.where(x > 0, x, 0.0), np.where(a > 0, a, 0.0))
    assert_same(cp.concatenate([x, x], axis=1), np.concatenate([a, a], axis=1))
    assert_same(cp.add.reduce(x, axis=0), np.add.reduce(a, axis=0))
    assert_same(cp.linalg.norm(x), np.linalg.norm(a))
    nonzero = cp.nonzero(x > 0)
    assert isinstance(nonzero, tuple) and len(nonzero) == 2
    assert_same(nonzero[0], np.nonzero(a > 0)[0])
    out = cp.empty((3, 4))
    assert cp.multiply(x, 2.0, out=out) is out
    assert_same(out, a * 2.0)


def test_add_at_accumulates_repeated_indices():
    values = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    index = np.array([3, 0, 3, 3, 1])
    expected = np.zeros(5)
    for i, v in zip(index, values):  # naive reference
        expected[i] += v
    y = cp.zeros(5)
    assert cp.add.at(y, dev(index), dev(values)) is None
    assert_same(y, expected)
    assert_same(cp.bincount(dev(index), weights=dev(values), minlength=5), expected)


def test_as_strided_views_the_same_buffer():
    a = np.arange(10.0)
    x = dev(a)
    stride = x.strides[0]
    windows = cp.lib.stride_tricks.as_strided(x, shape=(4, 3), strides=(2 * stride, stride))
    assert_same(windows, np.array([[2 * i + j for j in range(3)] for i in range(4)], float))
    windows[1, 0] = -1.0  # writes reach x's buffer: element 2 * 1 + 0
    assert float(x[2]) == -1.0
    x[6] = 60.0  # and x's writes show in every window that overlaps element 6
    assert float(windows[2, 2]) == 60.0 and float(windows[3, 0]) == 60.0
    with pytest.raises(TypeError):
        cp.lib.stride_tricks.as_strided(x, (2,), (8,), writeable=False)  # not in CuPy


def test_sliding_window_view_matches_numpy():
    a = host()
    got = cp.lib.stride_tricks.sliding_window_view(dev(a), (2, 3))
    want = np.lib.stride_tricks.sliding_window_view(a, (2, 3))
    assert_same(got, want)
    assert_same(got[:, ::2, :, ::2], want[:, ::2, :, ::2])
    assert_same(got.reshape(2, 2, 6).sum(axis=2), want.reshape(2, 2, 6).sum(axis=2))


def test_ndimage_matches_scipy():
    mask = np.array([[0, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0]])
    assert_same(cnd.distance_transform_edt(dev(mask)), scipy.ndimage.distance_transform_edt(mask))
    labels, count = cnd.label(dev(mask))
    want_labels, want_count = scipy.ndimage.label(mask)
    assert_same(labels, want_labels)
    assert count == want_count


def test_random_cuda_and_generator():
    first = cp.random.default_rng(3).standard_normal((2, 3), dtype=np.float32)
    assert_same(first, np.random.default_rng(3).standard_normal((2, 3), dtype=np.float32))
    cp.random.seed(5)
    assert_same(cp.random.rand(2), (np.random.seed(5), np.random.rand(2))[1])
    assert cp.cuda.runtime.getDeviceCount() == 1 and cp.cuda.is_available() and cp.is_available()
    assert cp.cuda.Device().synchronize() is None
    assert dev(host()).device.id == 0


# ------------------------------------------------------ (d) the backend serves the stand-in

@pytest.mark.skipif(REAL_GPU, reason="a real GPU is visible: conftest serves real CuPy")
def test_backend_serves_the_stand_in_as_cuda():
    x = to_xp(host(), "cuda")
    assert isinstance(x, strict_cupy.module.ndarray)
    assert backend.array_module(x) is strict_cupy.module
    assert backend.module_for("cuda") is strict_cupy.module and backend.cuda_available()
    assert backend.ndimage_module(backend.array_module(x)) is strict_cupy.ndimage
    assert backend.device_of(x) == "cuda" and backend.is_array(x)
    back = backend.to_device(x, "cpu")
    assert type(back) is np.ndarray
    np.testing.assert_array_equal(back, host())
    np.testing.assert_array_equal(backend.to_numpy(x), host())


def test_device_fixture_gives_the_matching_module(device, xp):
    x = to_xp(host(), device)
    assert backend.array_module(x) is xp
    assert backend.device_of(x) == device


# ---------------------------------------------------- (e) against real CuPy, where present

def test_offered_names_exist_in_installed_cupy():
    cupy = pytest.importorskip("cupy", reason="real CuPy is not installed (the usual CI case)")
    import make_cupy_names
    missing = NAMES - make_cupy_names.collect_names()
    assert not missing, f"cupy_names.txt lists names this CuPy {cupy.__version__} lacks: {sorted(missing)[:20]}"
    for name in ["exp", "maximum", "where", "take_along_axis", "bincount", "pad", "einsum"]:
        assert hasattr(cupy, name) and hasattr(cp, name)
    assert hasattr(cupy.lib.stride_tricks, "as_strided") and hasattr(cupy.add, "at")


def test_values_match_real_cupy():
    cupy = pytest.importorskip("cupy", reason="real CuPy is not installed (the usual CI case)")
    if not backend._gpu_count(cupy):
        pytest.skip("real CuPy is installed but sees no GPU")
    a = host()
    for xp_fn in [lambda xp, x: xp.exp(x) * 2 - x.sum(axis=0), lambda xp, x: x[xp.asarray([2, 0])],
                  lambda xp, x: xp.lib.stride_tricks.sliding_window_view(x, (2, 2)).mean((2, 3)),
                  lambda xp, x: xp.maximum(x, 0.0).max(axis=1, keepdims=True)]:
        real, stand_in = xp_fn(cupy, cupy.asarray(a)), xp_fn(cp, cp.asarray(a))
        np.testing.assert_allclose(stand_in.get(), real.get(), rtol=1e-12)
    with pytest.raises(TypeError, match=UNSUPPORTED_NUMPY):
        cupy.asarray(a) + a  # the behaviour the stand-in copies


# ------------------------------- (f) keywords, ufunc methods and versions as in CuPy's source

def test_signatures_file_is_cupys():
    keywords, methods = strict_cupy._read_signatures("")
    assert keywords["cupy.sum"] == {"a", "axis", "dtype", "out", "keepdims"}
    assert keywords["cupy.ndarray.max"] == {"axis", "out", "keepdims"}  # no initial/where
    assert keywords["cupy.pad"] is None  # **kwargs
    # CuPy 14.2's _kernel.pyx: .at only with a scatter op, .reduce for add and multiply
    assert {u for u, m in methods.items() if "at" in m} == {
        f"cupy.{n}" for n in "add subtract maximum minimum bitwise_and bitwise_or bitwise_xor".split()}
    assert {u for u, m in methods.items() if "reduce" in m} == {"cupy.add", "cupy.multiply"}
    assert {u for u, m in methods.items() if "reduceat" in m} == {"cupy.add"}
    assert all("outer" in m for m in methods.values()) and len(methods) > 100


@pytest.mark.parametrize("call", [
    lambda x: cp.multiply.at(x, dev(np.array([0])), 2.0),
    lambda x: cp.maximum.reduce(x, axis=0),
    lambda x: cp.logical_or.reduce(x > 0),
    lambda x: cp.maximum.accumulate(x, axis=0),
    lambda x: cp.multiply.reduceat(x, dev(np.array([0, 2])), axis=0),
])
def test_ufunc_methods_cupy_lacks_raise(call):
    x = dev(host())
    with pytest.raises(NotImplementedError, match="is not supported by CuPy"):
        call(x)


def test_ufunc_methods_cupy_has_match_numpy():
    a, idx = host(), np.array([2, 0, 2])
    x = dev(a)
    assert_same(cp.add.reduce(x, axis=1), np.add.reduce(a, axis=1))
    assert_same(cp.multiply.accumulate(x, axis=0), np.multiply.accumulate(a, axis=0))
    assert_same(cp.add.reduceat(x, dev(np.array([0, 2])), axis=1), np.add.reduceat(a, [0, 2], axis=1))
    assert_same(cp.subtract.outer(x[0], x[1]), np.subtract.outer(a[0], a[1]))
    for u in ("maximum", "minimum", "subtract"):
        b, y = a.copy(), x.copy()
        getattr(np, u).at(b, idx, 1.5)
        getattr(cp, u).at(y, dev(idx), 1.5)
        assert_same(y, b)
    with pytest.raises(TypeError, match="Unsupported type <class 'list'>"):
        cp.add.reduce([1.0, 2.0])  # CuPy calls the array's own .sum


@pytest.mark.parametrize("call, word", [
    (lambda x: cp.exp(x, where=x > 0), "where"),
    (lambda x: cp.add(x, x, order="C"), "order"),
    (lambda x: x.max(initial=0.0), "initial"),
    (lambda x: x.sum(where=x > 0), "where"),
    (lambda x: cp.sum(x, initial=1.0), "initial"),
    (lambda x: cp.add.reduce(x, initial=0.0), "initial"),
    (lambda x: cp.zeros(3, like=x), "like"),
    (lambda x: cp.mean(x, where=x > 0), "where"),
])
def test_keywords_cupy_lacks_are_refused(call, word):
    x = dev(host())
    with pytest.raises(TypeError, match=word):
        call(x)


def test_keywords_cupy_has_are_accepted():
    a = host()
    x = dev(a)
    assert_same(x.max(axis=0, keepdims=True), a.max(axis=0, keepdims=True))
    assert_same(cp.sum(x, axis=1, dtype=np.float32), a.sum(axis=1, dtype=np.float32))
    assert_same(cp.exp(x, dtype=np.float32), np.exp(a, dtype=np.float32))
    assert_same(x.astype(np.float32, copy=False), a.astype(np.float32))


def test_cupy_13_names():
    keywords, methods = strict_cupy._read_signatures("_13")
    assert "cupy.put_along_axis" not in strict_cupy._read("_13")[0]
    x = dev(host())
    with strict_cupy.names("13"):
        assert strict_cupy.VERSION == "13"
        with pytest.raises(AttributeError, match="cupy.put_along_axis does not exist in CuPy 13"):
            cp.put_along_axis
        cp.take_along_axis  # noqa: B018 - both versions have it
    assert cp.put_along_axis is not None and strict_cupy.VERSION == "14"


# -------------------------------------------------------------------- (g) the launch counter

def test_counter_counts_calls_syncs_and_uploads():
    a = host()
    with strict_cupy.counting() as c:
        x = cp.asarray(a)                       # 1 upload
        y = cp.exp(x) * 2.0 + x                 # 3 calls: exp, mul, add
        y += 1.0                                # 1 call
        s = y.sum(axis=0)                       # 1 call
        z = y[1:, :2]                           # 1 call (indexing)
        assert (c["calls"], c["syncs"], c["uploads"]) == (6, 0, 1)
        float(s[0])                             # 1 call (s[0]) + 1 sync
        s.get()                                 # 1 sync
        z.item  # noqa: B018 - looking is free
        y[0, 0].item()                          # 1 call + 1 sync
        assert (c["calls"], c["syncs"], c["uploads"]) == (8, 3, 1)
    assert strict_cupy.by_name["cupy.exp"] == 1 and strict_cupy.by_name["sync: cupy.ndarray.item"] == 1


def test_counter_counts_a_known_op():
    """A 2x2/2 max pool makes a known number of calls (its loop: 4 taps x 4 calls + set-up)."""
    import minifcn as mf
    from minifcn import functional as F
    x = mf.tensor(np.arange(32.0, dtype=np.float32).reshape(1, 2, 4, 4), device="cuda")
    with strict_cupy.counting() as c:
        F.relu(x)
        relu_calls = c["calls"]
    assert relu_calls >= 1 and c["syncs"] == 0
    with strict_cupy.counting() as c:
        cp.maximum(x.data, 0.0)
    assert c["calls"] == 1


# ------------------------------------------------------------ (h) ElementwiseKernel, modelled

def test_elementwise_kernel_runs_its_operation():
    a = host()
    g, p0 = a.astype(np.float32), np.ones_like(a, dtype=np.float32)
    k = cp.ElementwiseKernel("T g, T lr", "T p, T m", "T d = lr * g; m = 0.5f * m + d; p -= sqrt(fabs(m))",
                             "test_kernel")
    p, m = dev(p0), dev(np.zeros_like(p0))
    with strict_cupy.counting() as c:
        assert k(dev(g), 0.25, p, m) == (p, m)
    assert c["calls"] == 1
    d = np.float32(0.25) * g
    np.testing.assert_allclose(m.get(), d, rtol=1e-6)
    np.testing.assert_allclose(p.get(), p0 - np.sqrt(np.abs(d)), rtol=1e-6)
    assert p.dtype == np.float32 and m.dtype == np.float32


@pytest.mark.parametrize("args, error", [
    (lambda g: (g, 0.1, dev(np.zeros(3))), "Type is mismatched"),            # float64 out for T
    (lambda g: (g.get(), 0.1, dev(np.zeros(3, np.float32))), "Unsupported type"),
    (lambda g: (1.0, 0.1), "output shape"),                                 # nothing to allocate from
])
def test_elementwise_kernel_checks_its_arguments(args, error):
    k = cp.ElementwiseKernel("T g, T lr", "T p", "p -= lr * g", "k")
    g = dev(np.ones(3, np.float32))
    with pytest.raises((TypeError, NotImplementedError, ValueError), match=error):
        k(*args(g))


def test_elementwise_kernel_allocates_omitted_outputs_in_the_one_call():
    # CuPy: outputs may be omitted; they get the inputs' broadcast shape and the bound dtype
    k = cp.ElementwiseKernel("T x, T b, float32 s", "T y, int64 i, float64 d",
                             "y = x + b; i = (x > b) ? 1 : 0; d = s * x", "alloc")
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([[1.0], [4.0]], np.float32)
    with strict_cupy.counting() as c:
        y, i, d = k(dev(x), dev(b), 2.0)
    assert c["calls"] == 1
    assert (y.shape, y.dtype, i.dtype, d.dtype) == ((2, 3), np.float32, np.int64, np.float64)
    np.testing.assert_array_equal(y.get(), x + b)
    np.testing.assert_array_equal(i.get(), (x > b).astype(np.int64))
    np.testing.assert_array_equal(d.get(), 2.0 * x)
    with pytest.raises(TypeError, match="cannot be determined"):
        cp.ElementwiseKernel("float32 x", "T y", "y = x", "k")(dev(x))


def test_elementwise_kernel_refuses_what_it_cannot_read():
    with pytest.raises(NotImplementedError, match="not modelled"):
        cp.ElementwiseKernel("T x", "T y", "y = (x > 0) ? ((x > 1) ? x : 1) : 0", "k")
    with pytest.raises(NotImplementedError, match="not modelled"):
        cp.ElementwiseKernel("raw T x", "T y", "y = x[0]", "k")
    with pytest.raises(NotImplementedError, match="not modelled"):
        cp.ElementwiseKernel("T x", "T y", "y = undefined_thing(x)", "k")


def test_elementwise_kernel_ternary_and_logic_follow_c():
    a = np.array([1.0, np.nan, -2.0, 3.0, -np.inf], np.float32)
    b = np.array([0.5, 1.0, np.nan, 3.0, -1.0], np.float32)
    k = cp.ElementwiseKernel("T a, T b, int64 base", "T y, int64 i",
                             "bool w = (b > a) || isnan(b); y = w ? b : a; i = w ? base + 1 : base", "k")
    y, i = cp.empty(5, np.float32), cp.empty(5, np.int64)
    k(dev(a), dev(b), 10, y, i)
    wins = [bb > aa or np.isnan(bb) for aa, bb in zip(a, b)]  # C semantics, element by element
    np.testing.assert_array_equal(y.get(), [bb if w else aa for aa, bb, w in zip(a, b, wins)])
    np.testing.assert_array_equal(i.get(), [11 if w else 10 for w in wins])


def test_a_view_call_that_has_to_copy_counts_as_a_launch():
    a = dev(np.arange(12, dtype=np.float32).reshape(3, 4))
    with strict_cupy.counting() as c:
        a.reshape(4, 3)                      # contiguous: a view
        a.T.reshape(-1)                      # transposed: CuPy copies (a kernel)
    assert c["calls"] == 2 and c["views"] == 1    # (.T is an attribute, not a call)
    assert strict_cupy.by_name["cupy.ndarray.reshape:copy"] == 1 and strict_cupy.by_name["cupy.ndarray.reshape"] == 1


def test_a_call_that_gives_back_its_argument_launches_nothing():
    a = dev(np.arange(12, dtype=np.float32).reshape(3, 4))
    with strict_cupy.counting() as c:
        assert a.astype(np.float32, copy=False) is a           # CuPy: the same array, no kernel
        assert cp.ascontiguousarray(a) is a
        b = a.astype(np.float64, copy=False)                     # a cast: a kernel
        cp.ascontiguousarray(a.T)                                # a copy: a kernel
    assert b.dtype == np.float64
    assert c["calls"] == 4 and c["views"] == 2
    assert strict_cupy.by_name["cupy.ndarray.astype:no-op"] == 1 and strict_cupy.by_name["cupy.ndarray.astype"] == 1
    assert strict_cupy.by_name["cupy.ascontiguousarray:no-op"] == 1
