"""A strict stand-in for CuPy, built on NumPy, so the GPU code path runs in CI without a GPU.

``module`` acts as ``cupy`` and ``ndimage`` as ``cupyx.scipy.ndimage``. Their arrays
(``module.ndarray``) wrap a NumPy array but are a distinct type that behaves like a CuPy
array where it matters for catching bugs:

* NumPy refuses them: ``np.exp(x)``, ``np.sum(x)``, ``np.asarray(x)`` and
  ``numpy_array + x`` raise ``TypeError``, as a stray ``np.`` call on GPU data would
  (or, worse, would silently copy it to the host).
* They refuse NumPy arrays: ``x + numpy_array``, ``module.exp(numpy_array)``,
  ``x[numpy_index]`` raise ``TypeError: Unsupported type <class 'numpy.ndarray'>`` as CuPy
  does. Host data crosses only through ``module.asarray``/``module.array`` and ``.get()``.
* They offer only what CuPy has: every attribute is looked up in ``cupy_names.txt``
  (written from real CuPy by ``make_cupy_names.py``), so a name that exists in NumPy but
  not in CuPy fails here as it would on a GPU. Functions that CuPy only accepts a
  cupy.ndarray for (``cupy.sum(shape_tuple)`` fails in CuPy) refuse anything else too.
* Like CuPy, reductions and integer indexing give 0-d arrays, never NumPy scalars.

Everything else is NumPy's (values, dtypes, views, strides, in-place writes), so tests
can compare the two paths value for value.
"""
from __future__ import annotations

import operator
import pathlib
import types

import numpy as np
import scipy.ndimage

NAMES = frozenset(pathlib.Path(__file__).with_name("cupy_names.txt").read_text().split())

# cupy.* functions that fail in real CuPy unless their first argument is a cupy.ndarray
# (a list, tuple or scalar is refused); found by `python tests/make_cupy_names.py --probe`.
NEEDS_ARRAY_FIRST = frozenset("""
    all alltrue amax amin any argmax argmin argpartition argsort argwhere array_equal
    array_split ascontiguousarray asfortranarray bincount broadcast_to byte_bounds choose
    clip common_type convolve copy copyto corrcoef correlate count_nonzero cov cumprod
    cumproduct cumsum diagflat diagonal digitize dot dsplit empty_like expand_dims
    fill_diagonal flatnonzero flip fliplr flipud full_like histogram histogram2d hsplit
    in1d inner intersect1d isfortran isin lexsort matmul matrix_transpose max
    may_share_memory mean median meshgrid min moveaxis msort nanargmax nanargmin nancumprod
    nancumsum nanmax nanmean nanmedian nanmin nanprod nanstd nansum nanvar nonzero
    ones_like outer packbits pad partition permute_dims poly polyadd polyfit polymul
    polysub prod product ptp put put_along_axis ravel real_if_close repeat reshape roll
    rollaxis roots rot90 setdiff1d setxor1d shares_memory size sometrue sort sort_complex
    split squeeze std sum swapaxes take tensordot trace transpose tril_indices_from
    trim_zeros triu_indices_from union1d unique unique_all unique_counts unique_inverse
    unique_values unpackbits var vdot vsplit where zeros_like
""".split())

# ndarray attributes CuPy has but this stand-in must not hand out NumPy's version of
# (NumPy's would give host memory: a memoryview, a flatiter of NumPy scalars).
NOT_MODELLED = frozenset({"data", "flat"})

SCALARS = (bool, int, float, complex, np.generic)
# NumPy ufuncs behind Python's binary operators
OPERATOR_UFUNCS = frozenset("""add subtract multiply divide true_divide floor_divide remainder
    power matmul bitwise_and bitwise_or bitwise_xor left_shift right_shift divmod
    less less_equal equal not_equal greater greater_equal""".split())
_MISSING = object()


# ---------------------------------------------------------------- crossing the boundary

def _unsupported(obj) -> TypeError:
    return TypeError(f"Unsupported type {type(obj)} (strict CuPy stand-in: host data reached a "
                     "CuPy call; move it to the device explicitly with cupy.asarray(...))")


def _numpy_called(func) -> TypeError:
    return TypeError(f"numpy.{func.__name__} was called on a CuPy array (strict stand-in): use "
                     "the array's own module, xp = backend.array_module(x), and "
                     f"xp.{func.__name__}(...); use .get() for an explicit host copy")


def _is_host_array(obj) -> bool:
    """NumPy arrays and anything NumPy would turn into one through ``__array__``."""
    return isinstance(obj, np.ndarray) or (
        not isinstance(obj, (type, np.generic, np.dtype, ndarray))
        and (hasattr(obj, "__array__") or hasattr(obj, "__array_interface__")))


def _unwrap(obj):
    """Stand-in arrays -> their NumPy arrays, recursively; host arrays are refused."""
    if isinstance(obj, ndarray):
        return obj._a
    if isinstance(obj, (tuple, list)):
        items = [_unwrap(o) for o in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        return {k: _unwrap(v) for k, v in obj.items()}
    if _is_host_array(obj):
        raise _unsupported(obj)
    return obj


def _unwrap_host(obj):
    """Like ``_unwrap`` but lets host data through: only for explicit host -> device copies."""
    if isinstance(obj, ndarray):
        return obj._a
    if isinstance(obj, (tuple, list)):
        items = [_unwrap_host(o) for o in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    return obj


def _wrap(obj):
    """NumPy results -> stand-in arrays (NumPy scalars become 0-d arrays, as in CuPy)."""
    if isinstance(obj, np.ndarray):
        return ndarray._of(obj)
    if isinstance(obj, np.generic):
        return ndarray._of(np.asarray(obj))
    if isinstance(obj, list):
        return [_wrap(o) for o in obj]
    if isinstance(obj, tuple):
        items = [_wrap(o) for o in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)  # namedtuples
    return obj


def _function(f, qualname: str, owner: ndarray | None = None):
    """Wrap a NumPy/SciPy callable as the CuPy function ``qualname``.

    ``owner`` is the array a method is bound to: a result that *is* its NumPy array (e.g.
    ``x.astype(x.dtype, copy=False)``) is returned as ``owner`` itself, as CuPy would.
    """
    module_name, _, name = qualname.rpartition(".")
    needs_array = module_name == "cupy" and name in NEEDS_ARRAY_FIRST

    def call(*args, **kwargs):
        if needs_array and args and not isinstance(args[0], ndarray):
            raise TypeError(f"{qualname}: the first argument must be a cupy.ndarray, not "
                            f"{type(args[0])} (CuPy refuses it; for host values use NumPy or "
                            "math, for device data convert with cupy.asarray first)")
        result = f(*_unwrap(args), **_unwrap(kwargs))
        for same in (kwargs.get("out"), owner):
            if isinstance(same, ndarray) and result is same._a:
                return same
        return _wrap(result)

    call.__name__, call.__qualname__ = name, qualname
    call.__doc__ = f"Strict CuPy stand-in for {qualname} (computed by NumPy/SciPy)."
    return call


def _adapt(value, qualname: str):
    """What the stand-in offers for a NumPy/SciPy attribute found under a CuPy name."""
    if isinstance(value, np.ufunc):
        return ufunc(value, qualname)
    if isinstance(value, type) or not callable(value):
        return value  # dtypes, exception classes, finfo/iinfo, constants (pi, inf, newaxis)
    return _function(value, qualname)


# ------------------------------------------------------------------------------ arrays

def _operand(other):
    """The NumPy operand for an operator, NotImplemented for types we do not know."""
    if isinstance(other, ndarray):
        return other._a
    if isinstance(other, SCALARS):
        return other
    if isinstance(other, (tuple, list)) or _is_host_array(other):
        raise _unsupported(other)
    return NotImplemented  # e.g. a Tensor: let its reflected operator answer


class ndarray:
    """A device array of the stand-in: a NumPy array (``_a``) behind CuPy's interface."""

    __slots__ = ("_a",)

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        if memptr is not None or strides is not None:
            raise NotImplementedError("strict CuPy stand-in: ndarray(memptr=, strides=) "
                                      "is not modelled")
        self._a = np.empty(shape, dtype, order=order)  # uninitialised, as in CuPy

    @classmethod
    def _of(cls, a: np.ndarray) -> ndarray:
        x = object.__new__(cls)
        x._a = a
        return x

    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def __array_ufunc__(self, func, method, *inputs, **kwargs):
        # A NumPy scalar on the left of an operator (np.float32(2) * x) arrives here as
        # np.multiply(scalar, x): CuPy accepts that, so compute it with the stand-in.
        if (method == "__call__" and not kwargs and func.__name__ in OPERATOR_UFUNCS
                and all(isinstance(i, (ndarray, *SCALARS)) for i in inputs)):
            return getattr(module, func.__name__)(*inputs)
        for i in inputs:
            if _is_host_array(i):
                raise _unsupported(i)  # numpy_array + x
        raise _numpy_called(func)

    def __array_function__(self, func, types, args, kwargs):
        raise _numpy_called(func)  # np.sum(x), np.concatenate([x, x]), ...

    def __getattr__(self, name):
        """NumPy's attribute or method, if CuPy's ndarray has one of that name."""
        if name.startswith("_"):
            raise AttributeError(name)
        qualname = "cupy.ndarray." + name
        if qualname not in NAMES:
            raise AttributeError(f"{qualname} does not exist in CuPy (tests/cupy_names.txt)")
        if name in NOT_MODELLED or not hasattr(self._a, name):
            raise AttributeError(f"{qualname} exists in CuPy but is not modelled by the "
                                 "strict stand-in (tests/strict_cupy.py)")
        value = getattr(self._a, name)
        return _function(value, qualname, owner=self) if callable(value) else _wrap(value)

    # CuPy's own members
    def get(self, stream=None, order="C", out=None, blocking=True) -> np.ndarray:
        """A host (NumPy) copy: the one explicit device -> host crossing."""
        if out is not None:
            out[...] = self._a
            return out
        return np.array(self._a, order=order, copy=True)

    def set(self, arr, stream=None) -> None:
        """Copy a host NumPy array of the same shape and dtype into this array."""
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray, got {type(arr)}")
        if arr.shape != self._a.shape or arr.dtype != self._a.dtype:
            raise ValueError(f"shape/dtype mismatch: {arr.shape} {arr.dtype} into "
                             f"{self._a.shape} {self._a.dtype}")
        self._a[...] = arr

    @property
    def device(self):
        return _Device()

    # indexing, iteration, conversion to Python scalars (allowed by CuPy: it synchronises)
    def __getitem__(self, key):
        return _wrap(self._a[_unwrap(key)])

    def __setitem__(self, key, value):
        operand = _operand(value)
        if operand is NotImplemented:
            raise _unsupported(value)
        self._a[_unwrap(key)] = operand

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(row) for row in self._a)

    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __complex__(self):
        return complex(self._a)

    def __repr__(self):
        return repr(self._a)

    def __str__(self):
        return str(self._a)

    def __format__(self, spec):
        return format(self._a, spec)

    def __copy__(self):
        return ndarray._of(self._a.copy())

    def __deepcopy__(self, memo):
        return ndarray._of(self._a.copy())

    def __reduce__(self):
        return ndarray._of, (self._a,)


def _binary(op, reflected=False):
    def method(self, other):
        other = _operand(other)
        if other is NotImplemented:
            return NotImplemented
        return _wrap(op(other, self._a) if reflected else op(self._a, other))
    return method


def _inplace(op):
    def method(self, other):
        other = _operand(other)
        if other is NotImplemented:
            return NotImplemented
        op(self._a, other)  # NumPy writes into self._a's buffer
        return self
    return method


def _unary(op):
    return lambda self: _wrap(op(self._a))


# CuPy's operators (it has no in-place @=)
for _name in ("add sub mul truediv floordiv mod pow matmul and or xor lshift rshift "
              "divmod").split():
    _op = divmod if _name == "divmod" else getattr(operator, _name + ("_" if _name in
                                                                      ("and", "or") else ""))
    setattr(ndarray, f"__{_name}__", _binary(_op))
    setattr(ndarray, f"__r{_name}__", _binary(_op, reflected=True))
    if _name not in ("matmul", "divmod"):
        setattr(ndarray, f"__i{_name}__", _inplace(getattr(operator, "i" + _name)))
for _name in "lt le eq ne gt ge".split():
    setattr(ndarray, f"__{_name}__", _binary(getattr(operator, _name)))
for _name in "neg pos abs invert".split():
    setattr(ndarray, f"__{_name}__", _unary(getattr(operator, _name)))
ndarray.__hash__ = None


class ufunc:
    """A CuPy ufunc: inputs must be device arrays or scalars (CuPy refuses lists too)."""

    def __init__(self, f: np.ufunc, qualname: str):
        self._f, self._qualname, self.__name__ = f, qualname, f.__name__
        self._call = _function(f, qualname)

    def __call__(self, *args, **kwargs):
        for arg in args[: self._f.nin]:
            if not isinstance(arg, (ndarray, *SCALARS)):
                raise _unsupported(arg)
        return self._call(*args, **kwargs)

    def __getattr__(self, name):
        """``.at``, ``.reduce``, ``.outer``, ... and ``.nin``, ``.nout``, ``.types``."""
        if name.startswith("_") or f"cupy.ufunc.{name}" not in NAMES:
            raise AttributeError(f"cupy.ufunc.{name} does not exist in CuPy")
        value = getattr(self._f, name)
        return _function(value, f"{self._qualname}.{name}") if callable(value) else value

    def __repr__(self):
        return f"<ufunc '{self.__name__}'>"


# --------------------------------------------------------------------- modules and friends

class _Namespace(types.ModuleType):
    """A CuPy module (or object) served from a NumPy/SciPy counterpart ``source``.

    An attribute is offered only when ``<qualname>.<name>`` is a CuPy name; ``extras``
    are the stand-in's own implementations of CuPy names that NumPy does not provide.
    """

    def __init__(self, qualname: str, source=None, extras: dict | None = None):
        super().__init__(qualname)
        unknown = [n for n in extras or {} if f"{qualname}.{n}" not in NAMES]
        assert not unknown, f"not CuPy names: {qualname}.{unknown}"
        self.__dict__.update(extras or {})
        self._qualname, self._source = qualname, source

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        qualname = f"{self._qualname}.{name}"
        if qualname not in NAMES:
            raise AttributeError(f"{qualname} does not exist in CuPy (tests/cupy_names.txt)")
        value = getattr(self._source, name, _MISSING)
        if value is _MISSING or isinstance(value, types.ModuleType):
            raise AttributeError(f"{qualname} exists in CuPy but is not modelled by the "
                                 "strict stand-in (tests/strict_cupy.py)")
        value = _adapt(value, qualname)
        setattr(self, name, value)  # found once, then a plain attribute
        return value

    def __repr__(self):
        return f"<strict CuPy stand-in for {self._qualname}>"


class _Device:
    """``cupy.cuda.Device``: the stand-in has one device, 0, and nothing to wait for."""

    id = 0

    def __init__(self, device=None):
        pass

    def synchronize(self) -> None:
        pass

    def use(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def as_strided(x, shape=None, strides=None):
    """A view of ``x``'s own buffer (CuPy's signature: no ``subok``/``writeable``)."""
    if not isinstance(x, ndarray):
        raise _unsupported(x)
    return ndarray._of(np.lib.stride_tricks.as_strided(x._a, shape, strides))


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    """Host data -> a new device array (always a copy); device arrays are copied if asked."""
    if not isinstance(obj, ndarray):
        return ndarray._of(np.array(_unwrap_host(obj), dtype=dtype, order=order, ndmin=ndmin))
    a = obj._a.astype(obj._a.dtype if dtype is None else dtype, order=order or "K",
                      copy=bool(copy))
    if a.ndim < ndmin:
        a = a.reshape((1,) * (ndmin - a.ndim) + a.shape)
    return obj if a is obj._a else ndarray._of(a)


def asarray(a, dtype=None, order=None, *, copy=None, blocking=False):
    if copy is False and not isinstance(a, ndarray):
        raise ValueError("a host -> device transfer always copies (copy=False)")
    return array(a, dtype=dtype, copy=copy, order=order)


def asnumpy(a, stream=None, order="C", out=None, blocking=True) -> np.ndarray:
    if isinstance(a, ndarray):
        return a.get(order=order, out=out)
    result = np.asarray(a, order=order)
    if out is not None:
        out[...] = result
        return out
    return result


def get_array_module(*args):
    return module if any(isinstance(a, ndarray) for a in args) else np


def _seeded(qualname, make):
    return lambda seed=None: _Namespace(qualname, make(_unwrap(seed)))


random = _Namespace("cupy.random", np.random, {
    "default_rng": _seeded("cupy.random.Generator", np.random.default_rng),
    "RandomState": _seeded("cupy.random.RandomState", np.random.RandomState)})

cuda = _Namespace("cupy.cuda", None, {
    "is_available": lambda: True,
    "Device": _Device,
    "runtime": _Namespace("cupy.cuda.runtime", None, {
        "getDeviceCount": lambda: 1, "getDevice": lambda: 0,
        "deviceSynchronize": lambda: None})})

module = _Namespace("cupy", np, {
    "ndarray": ndarray, "ufunc": ufunc,
    "asarray": asarray, "asanyarray": asarray, "array": array,
    "asnumpy": asnumpy, "get_array_module": get_array_module, "is_available": lambda: True,
    "cuda": cuda, "random": random, "linalg": _Namespace("cupy.linalg", np.linalg),
    "lib": _Namespace("cupy.lib", None, {"stride_tricks": _Namespace(
        "cupy.lib.stride_tricks", np.lib.stride_tricks, {"as_strided": as_strided})}),
})

ndimage = _Namespace("cupyx.scipy.ndimage", scipy.ndimage)
