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
* Keywords and ufunc methods only where CuPy has them (``cupy_signatures.txt``, read from
  CuPy's own signatures): ``cupy.exp(x, where=m)``, ``x.max(initial=0)``,
  ``cupy.multiply.at(...)`` or ``cupy.maximum.reduce(...)`` fail here as they do in CuPy.
* ``use_names("13")`` serves CuPy 13's names instead (``cupy_names_13.txt``): code that
  must run on CuPy 13 is tested against what CuPy 13 has.
* It counts: ``counts["calls"]`` (every call into the array library: functions, ufuncs,
  array methods, operators, indexing; one ``ElementwiseKernel`` call is one call; those
  that only make a view, ``VIEW_CALLS``, are counted again in ``counts["views"]``, unless
  they had to copy, as ``reshape`` of a transposed array does: then ``<name>:copy``; a call
  that gives back its own argument, as ``x.astype(x.dtype, copy=False)``, launches nothing and
  is counted with the views as ``<name>:no-op``),
  ``counts["syncs"]`` (device -> host: ``.get()``, ``.item()``, ``float(x)``, ``bool(x)``,
  printing), ``counts["uploads"]`` (host -> device copies) and ``counts["float64"]``
  (results of dtype float64); ``by_name`` splits the calls.
* ``cupy.ElementwiseKernel`` is modelled by interpreting its operation (a small subset of
  C: assignments, arithmetic, sqrt/exp/log/fabs/fmax/fmin) with NumPy, so a fused kernel's
  own source is what the tests run.

Everything else is NumPy's (values, dtypes, views, strides, in-place writes), so tests
can compare the two paths value for value.
"""
from __future__ import annotations

import collections
import contextlib
import operator
import pathlib
import re
import types

import numpy as np
import scipy.ndimage

HERE = pathlib.Path(__file__).parent


def _read_signatures(suffix: str) -> tuple[dict, dict]:
    """cupy_signatures*.txt -> ({qualname: keywords or None (any)}, {ufunc qualname: methods})."""
    keywords, ufunc_methods = {}, {}
    for line in (HERE / f"cupy_signatures{suffix}.txt").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        words = line.split()
        if words[0] == "ufunc":
            ufunc_methods[words[1]] = frozenset(words[2:])
        else:
            rest = words[1:]
            keywords[words[0]] = None if ("?" in rest or "**" in rest) else frozenset(rest)
    return keywords, ufunc_methods


def _read(suffix: str) -> tuple[frozenset, dict, dict]:
    names = frozenset((HERE / f"cupy_names{suffix}.txt").read_text().split())
    return (names, *_read_signatures(suffix))


NAMES, KEYWORDS, UFUNC_METHODS = _read("")
VERSION = "14"
_NAMESPACES: list = []   # every _Namespace, to forget cached attributes when the names change

# the counters: calls into the array library, device -> host syncs, host -> device uploads
counts: collections.Counter = collections.Counter()
by_name: collections.Counter = collections.Counter()
_counting = [True]
SYNC_METHODS = frozenset({"item", "tolist", "get", "tobytes"})


# calls that make a view (no kernel launch in CuPy) are also counted as counts["views"]
VIEW_CALLS = frozenset(f"cupy.{n}" for n in """ndarray.reshape ndarray.transpose ndarray.view
    ndarray.swapaxes ndarray.squeeze broadcast_to expand_dims squeeze moveaxis swapaxes transpose
    reshape lib.stride_tricks.as_strided lib.stride_tricks.sliding_window_view
    ndarray.__getitem__:view""".split())


def _count(qualname: str) -> None:
    if _counting[0]:
        counts["calls"] += 1
        by_name[qualname] += 1
        if qualname in VIEW_CALLS:
            counts["views"] += 1


def _recount_as_copy(qualname: str) -> None:
    """A call of ``VIEW_CALLS`` that had to copy: a launch after all, counted as ``<name>:copy``."""
    if _counting[0]:
        counts["views"] -= 1
        by_name[qualname] -= 1
        by_name[qualname + ":copy"] += 1


def _recount_as_no_op(qualname: str) -> None:
    """A call that gave back its own argument (CuPy returns it too, no kernel): counted with the
    views (no launch), as ``<name>:no-op``."""
    if _counting[0]:
        counts["views"] += 1
        by_name[qualname] -= 1
        by_name[qualname + ":no-op"] += 1


def _sync(what: str) -> None:
    if _counting[0]:
        counts["syncs"] += 1
        by_name["sync: " + what] += 1


def reset_counts() -> None:
    """Start counting calls, syncs and uploads from zero."""
    counts.clear()
    by_name.clear()


@contextlib.contextmanager
def counting():
    """``with counting() as c:`` ... ``c["calls"]``, ``c["syncs"]``, ``c["uploads"]`` inside."""
    reset_counts()
    yield counts


def use_names(version: str = "14") -> None:
    """Serve CuPy ``version``'s names and signatures: "14" (the default) or "13"."""
    global NAMES, KEYWORDS, UFUNC_METHODS, VERSION
    NAMES, KEYWORDS, UFUNC_METHODS = _read("" if version == "14" else f"_{version}")
    VERSION = version
    for ns in _NAMESPACES:
        for name in ns._cached:
            ns.__dict__.pop(name, None)
        ns._cached.clear()


@contextlib.contextmanager
def names(version: str):
    """``with names("13"): ...`` runs the block against CuPy 13's names."""
    old = VERSION
    use_names(version)
    try:
        yield
    finally:
        use_names(old)


def _check_keywords(qualname: str, kwargs: dict) -> None:
    """Refuse keywords that CuPy's own signature of ``qualname`` lacks."""
    allowed = KEYWORDS.get(qualname)
    if kwargs and allowed is not None:
        bad = sorted(set(kwargs) - allowed)
        if bad:
            raise TypeError(f"{qualname}() got unexpected keyword argument(s) {bad}: CuPy "
                            f"{VERSION} accepts {sorted(allowed) or 'no keywords'} "
                            "(tests/cupy_signatures.txt)")

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
        if obj.dtype == np.float64 and _counting[0]:
            counts["float64"] += 1   # float64 results (a float32 model should make none)
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

    sync = owner is not None and name in SYNC_METHODS

    def call(*args, **kwargs):
        _check_keywords(qualname, kwargs)
        if sync:
            _sync(qualname)
        else:
            _count(qualname)
        if needs_array and args and not isinstance(args[0], ndarray):
            raise TypeError(f"{qualname}: the first argument must be a cupy.ndarray, not "
                            f"{type(args[0])} (CuPy refuses it; for host values use NumPy or "
                            "math, for device data convert with cupy.asarray first)")
        result = f(*_unwrap(args), **_unwrap(kwargs))
        source = owner if owner is not None else args[0] if args else None
        if qualname in VIEW_CALLS:   # e.g. reshape of a transposed array: CuPy copies (a launch)
            if isinstance(source, ndarray) and isinstance(result, np.ndarray) and \
                    not np.may_share_memory(result, source._a):
                _recount_as_copy(qualname)
        elif isinstance(source, ndarray) and result is source._a and not sync:
            _recount_as_no_op(qualname)   # x.astype(x.dtype, copy=False), ascontiguousarray(contiguous)
        for same in (kwargs.get("out"), owner, source):
            if isinstance(same, ndarray) and result is same._a:
                return same
        return _wrap(result)

    call.__name__, call.__qualname__ = name, qualname
    call.__doc__ = f"Strict CuPy stand-in for {qualname} (computed by NumPy/SciPy)."
    return call


def _adapt(value, qualname: str):
    """What the stand-in offers for a NumPy/SciPy attribute found under a CuPy name."""
    if isinstance(value, np.ufunc):
        if qualname not in UFUNC_METHODS:  # e.g. cupy.matmul: a function in CuPy
            return _function(value, qualname)
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
            raise AttributeError(f"{qualname} does not exist in CuPy {VERSION} (tests/cupy_names.txt)")
        if name in NOT_MODELLED or not hasattr(self._a, name):
            raise AttributeError(f"{qualname} exists in CuPy but is not modelled by the "
                                 "strict stand-in (tests/strict_cupy.py)")
        value = getattr(self._a, name)
        return _function(value, qualname, owner=self) if callable(value) else _wrap(value)

    # CuPy's own members
    def get(self, stream=None, order="C", out=None, blocking=True) -> np.ndarray:
        """A host (NumPy) copy: the one explicit device -> host crossing."""
        _sync("cupy.ndarray.get")
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
        fancy = any(isinstance(k, (ndarray, list)) for k in (key if isinstance(key, tuple) else (key,)))
        _count("cupy.ndarray.__getitem__" + ("" if fancy else ":view"))
        return _wrap(self._a[_unwrap(key)])

    def __setitem__(self, key, value):
        operand = _operand(value)
        if operand is NotImplemented:
            raise _unsupported(value)
        _count("cupy.ndarray.__setitem__")
        self._a[_unwrap(key)] = operand

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(row) for row in self._a)

    def __bool__(self):
        _sync("bool(x)")
        return bool(self._a)

    def __float__(self):
        _sync("float(x)")
        return float(self._a)

    def __int__(self):
        _sync("int(x)")
        return int(self._a)

    def __complex__(self):
        _sync("complex(x)")
        return complex(self._a)

    def __repr__(self):
        _sync("repr(x)")
        return repr(self._a)

    def __str__(self):
        _sync("str(x)")
        return str(self._a)

    def __format__(self, spec):
        _sync("format(x)")
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
        _count("cupy.ndarray." + op.__name__)
        return _wrap(op(other, self._a) if reflected else op(self._a, other))
    return method


def _inplace(op):
    def method(self, other):
        other = _operand(other)
        if other is NotImplemented:
            return NotImplemented
        _count("cupy.ndarray." + op.__name__)
        op(self._a, other)  # NumPy writes into self._a's buffer
        return self
    return method


def _unary(op):
    def method(self):
        _count("cupy.ndarray." + op.__name__)
        return _wrap(op(self._a))
    return method


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
    """A CuPy ufunc: inputs must be device arrays or scalars (CuPy refuses lists too).

    Calls take CuPy's keywords only (``out``, ``dtype``, ``casting``: no ``where``), and the
    methods ``.at/.reduce/.accumulate/.reduceat`` exist only for the ufuncs CuPy implements
    them for (``cupy_signatures.txt``); the others raise NotImplementedError as CuPy does.
    """

    CALL_KEYWORDS = frozenset({"out", "dtype", "casting"})

    def __init__(self, f: np.ufunc, qualname: str):
        self._f, self._qualname, self.__name__ = f, qualname, f.__name__
        self._call = _function(f, qualname)

    def __call__(self, *args, **kwargs):
        bad = sorted(set(kwargs) - self.CALL_KEYWORDS)
        if bad:
            raise TypeError(f"Wrong arguments {bad}: CuPy's {self._qualname} takes the keywords "
                            "out, dtype and casting only (no where=; use cupy.where)")
        for arg in args[: self._f.nin]:
            if not isinstance(arg, (ndarray, *SCALARS)):
                raise _unsupported(arg)
        return self._call(*args, **kwargs)

    def __getattr__(self, name):
        """``.at``, ``.reduce``, ``.outer``, ... and ``.nin``, ``.nout``, ``.types``."""
        if name.startswith("_") or f"cupy.ufunc.{name}" not in NAMES:
            raise AttributeError(f"cupy.ufunc.{name} does not exist in CuPy")
        value = getattr(self._f, name)
        if not callable(value):
            return value
        if name not in UFUNC_METHODS.get(self._qualname, ()):
            def not_supported(*args, **kwargs):
                raise NotImplementedError(
                    f"`{self._qualname}.{name}` is not supported by CuPy {VERSION} (it has "
                    f"{sorted(UFUNC_METHODS.get(self._qualname, ()))} for this ufunc; "
                    "tests/cupy_signatures.txt)")
            return not_supported
        method = _function(value, f"cupy.ufunc.{name}")

        def checked(*args, **kwargs):
            if name != "outer" and args and not isinstance(args[0], ndarray):
                raise _unsupported(args[0])  # CuPy calls a method of the array
            return method(*args, **kwargs)
        return checked

    def __repr__(self):
        return f"<ufunc '{self.__name__}'>"


# ------------------------------------------------------------------- ElementwiseKernel

_C_FUNCTIONS = {"sqrt": "sqrt", "exp": "exp", "log": "log", "fabs": "abs", "abs": "abs", "isnan": "isnan",
                "fmax": "maximum", "fmin": "minimum", "max": "maximum", "min": "minimum",
                "tanh": "tanh", "pow": "power"}
_C_TYPES = {"float": np.float32, "double": np.float64, "int": np.int32, "bool": np.bool_,
            "long long": np.int64}


class ElementwiseKernel:
    """``cupy.ElementwiseKernel`` modelled by interpreting its operation with NumPy.

    Supported: parameters ``"T a, float32 b, int64 c"``-style lists without ``raw``;
    statements ``[type ]name = expr;`` and ``name op= expr;`` whose expressions use
    + - * / == < > <= >= != || && parentheses, numbers, the parameters, earlier locals and the
    functions in ``_C_FUNCTIONS``, and at most one top-level ``cond ? a : b`` per statement
    (``||``/``&&`` become NumPy's ``|``/``&``, which bind tighter than comparisons: the
    kernels put comparisons in parentheses, as C style guides ask anyway). Anything else is refused as "not modelled", so a kernel the
    stand-in cannot read does not pass unseen. Arrays bound to one type letter must share
    a dtype (CuPy raises otherwise); scalars take that dtype; results are written into
    the output arrays in place, broadcasting like CuPy.
    """

    def __init__(self, in_params, out_params, operation, name="kernel", reduce_dims=True,
                 preamble="", no_return=False, return_tuple=False, loop_prep="",
                 after_loop="", **kwargs):
        self.name = name
        self.in_params = self._params(in_params)
        self.out_params = self._params(out_params)
        if preamble or loop_prep or after_loop:
            raise NotImplementedError("strict stand-in: ElementwiseKernel preamble/loop_prep/"
                                      "after_loop are not modelled")
        self.statements = self._parse(operation)

    @staticmethod
    def _params(text: str) -> list[tuple[str, str]]:
        params = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            words = part.split()
            if len(words) != 2:
                raise NotImplementedError(f"strict stand-in: parameter {part!r} not modelled")
            params.append((words[0], words[1]))
        return params

    def _parse(self, operation: str) -> list[tuple[str | None, str, str, str]]:
        statements = []
        types_ = "|".join(["T", "U", "S", "float", "double", "int", "bool", "long long"]
                          + [t for t, _ in self.in_params + self.out_params])
        for stmt in filter(None, (s.strip() for s in operation.split(";"))):
            m = re.fullmatch(rf"(?:(?:const\s+)?({types_})\s+)?([A-Za-z_]\w*)\s*([-+*/]?=)\s*(.+)",
                             stmt, re.S)
            if not m or "[" in stmt or stmt.count("?") > 1:
                raise NotImplementedError(f"strict stand-in: statement {stmt!r} of kernel "
                                          f"{self.name} is not modelled")
            expr = m.group(4)
            expr = re.sub(r"(\d+\.\d*|\d*\.\d+)f\b", r"\1", expr)  # 1.0f -> 1.0
            for word in re.findall(r"[A-Za-z_]\w*", expr):
                if word not in _C_FUNCTIONS and not any(word == p for _, p in
                                                        self.in_params + self.out_params) \
                        and word not in [s[1] for s in statements]:
                    raise NotImplementedError(f"strict stand-in: {word!r} in kernel {self.name} "
                                              "is not modelled (or not defined)")
            expr = re.sub(r"\b(" + "|".join(_C_FUNCTIONS) + r")\s*\(",
                          lambda k: f"_xp.{_C_FUNCTIONS[k.group(1)]}(", expr)
            expr = expr.replace("||", "|").replace("&&", "&")
            if "?" in expr:
                cond, _, rest = expr.partition("?")
                a, colon, b = rest.partition(":")
                if not colon or ":" in b:
                    raise NotImplementedError(f"strict stand-in: statement {stmt!r} of kernel "
                                              f"{self.name} is not modelled")
                expr = f"_xp.where(({cond}), ({a}), ({b}))"
            statements.append((m.group(1), m.group(2), m.group(3), expr))
        return statements

    def _allocate(self, args: tuple) -> tuple:
        """Outputs CuPy allocates when they are omitted: the inputs' broadcast shape, the dtype
        a type letter got from an input array (or scalar's parameter type), else refused."""
        arrays = [a for a in args if isinstance(a, ndarray)]
        if not arrays:
            raise ValueError(f"kernel {self.name}: cannot determine the output shape without an input array")
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
        bound = {t: a.dtype for (t, _), a in zip(self.in_params, args) if isinstance(a, ndarray)}
        outs = []
        for t, p in self.out_params:
            dt = np.dtype(_C_TYPES[t]) if t in _C_TYPES else bound.get(t) if len(t) == 1 else np.dtype(t)
            if dt is None:
                raise TypeError(f"kernel {self.name}: the type of output {p} ({t}) cannot be determined "
                                "from the inputs; pass the output array")
            outs.append(ndarray._of(np.empty(shape, dtype=dt)))   # allocated inside the one call
        return tuple(outs)

    def __call__(self, *args, size=None, block_size=None, stream=None):
        params = self.in_params + self.out_params
        if len(args) == len(self.in_params) and self.out_params:
            args = args + self._allocate(args)
        if len(args) != len(params):
            raise TypeError(f"Wrong number of arguments for {self.name!r}: {len(params)} "
                            f"expected, {len(args)} given")
        dtypes = {}
        for (t, p), a in zip(params, args):
            if isinstance(a, ndarray):
                want = dtypes.setdefault(t, _C_TYPES.get(t, None) and np.dtype(_C_TYPES[t]))
                if t in _C_TYPES or len(t) > 1:
                    want = np.dtype(_C_TYPES.get(t, t))
                if want is None:
                    dtypes[t] = a.dtype
                elif a.dtype != want:
                    raise TypeError(f"Type is mismatched. {p} {a.dtype} {want} (kernel {self.name})")
            elif not isinstance(a, SCALARS):
                raise _unsupported(a)
        for (t, _), a in zip(self.out_params, args[len(self.in_params):]):
            if not isinstance(a, ndarray):
                raise TypeError(f"kernel {self.name}: output arguments must be cupy.ndarray")
        env = {"_xp": module}
        for (t, p), a in zip(params, args):
            if isinstance(a, ndarray):
                env[p] = a
            else:
                dt = dtypes.get(t) if len(t) == 1 else np.dtype(_C_TYPES.get(t, t))
                env[p] = (np.dtype(dt).type(a) if dt is not None else a)
        _count("cupy.ElementwiseKernel:" + self.name)
        _counting[0] = False
        try:
            out_names = {p: a for (_, p), a in zip(self.out_params, args[len(self.in_params):])}
            for ctype, target, op, expr in self.statements:
                value = eval(expr, {"__builtins__": {}}, env)  # noqa: S307 - our own parser's output
                if op != "=":
                    value = eval(f"_t {op[0]} _v", {}, {"_t": env[target], "_v": value})
                if ctype is not None:
                    dt = dtypes.get(ctype) if len(ctype) == 1 else np.dtype(_C_TYPES[ctype])
                    value = module.asarray(value, dtype=dt) if dt is not None else value
                if target in out_names:
                    out_names[target][...] = value
                    value = out_names[target]
                env[target] = value
        finally:
            _counting[0] = True
        outs = args[len(self.in_params):]
        return outs[0] if len(outs) == 1 else outs


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
        self._qualname, self._source, self._cached = qualname, source, set()
        _NAMESPACES.append(self)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        qualname = f"{self._qualname}.{name}"
        if qualname not in NAMES:
            raise AttributeError(f"{qualname} does not exist in CuPy {VERSION} (tests/cupy_names.txt)")
        value = getattr(self._source, name, _MISSING)
        if value is _MISSING or isinstance(value, types.ModuleType):
            raise AttributeError(f"{qualname} exists in CuPy but is not modelled by the "
                                 "strict stand-in (tests/strict_cupy.py)")
        value = _adapt(value, qualname)
        setattr(self, name, value)  # found once, then a plain attribute (until use_names)
        self._cached.add(name)
        return value

    def __repr__(self):
        return f"<strict CuPy stand-in for {self._qualname}>"


# what the stand-in's device reports as cupy.cuda.Device().mem_info: (free, total) bytes
MEM_INFO = [12 * 2**30, 16 * 2**30]


class _Device:
    """``cupy.cuda.Device``: the stand-in has one device, 0, and nothing to wait for."""

    id = 0

    @property
    def mem_info(self) -> tuple[int, int]:
        """(free, total) bytes of the device, as CuPy's ``Device.mem_info`` (``MEM_INFO``)."""
        return tuple(int(v) for v in MEM_INFO)

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
        if _counting[0]:
            counts["uploads"] += 1
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


def _random_sample(size=None, dtype=float):
    """CuPy's random_sample/random: uniform [0, 1) in float32 or float64, drawn on the device."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"cupy.random.random_sample: dtype must be float32 or float64, got {dtype}")
    _count("cupy.random.random_sample")
    return _wrap(np.random.random_sample(size).astype(dtype))


random = _Namespace("cupy.random", np.random, {
    "random_sample": _random_sample, "random": _random_sample,
    "default_rng": _seeded("cupy.random.Generator", np.random.default_rng),
    "RandomState": _seeded("cupy.random.RandomState", np.random.RandomState)})

cuda = _Namespace("cupy.cuda", None, {
    "is_available": lambda: True,
    "Device": _Device,
    "runtime": _Namespace("cupy.cuda.runtime", None, {
        "getDeviceCount": lambda: 1, "getDevice": lambda: 0,
        "deviceSynchronize": lambda: None})})

module = _Namespace("cupy", np, {
    "ndarray": ndarray, "ufunc": ufunc, "ElementwiseKernel": ElementwiseKernel,
    "asarray": asarray, "asanyarray": asarray, "array": array,
    "asnumpy": asnumpy, "get_array_module": get_array_module, "is_available": lambda: True,
    "cuda": cuda, "random": random, "linalg": _Namespace("cupy.linalg", np.linalg),
    "lib": _Namespace("cupy.lib", None, {"stride_tricks": _Namespace(
        "cupy.lib.stride_tricks", np.lib.stride_tricks, {"as_strided": as_strided})}),
})

ndimage = _Namespace("cupyx.scipy.ndimage", scipy.ndimage)
