"""Write ``tests/cupy_names.txt``: the public names that real CuPy offers.

The strict CuPy stand-in (``tests/strict_cupy.py``) only offers names listed in that file,
so code that passes the test suite on the stand-in never calls a function CuPy lacks.
Regenerate it with real CuPy installed (it imports without a GPU)::

    python -m pip install cupy-cuda12x
    python tests/make_cupy_names.py            # writes tests/cupy_names.txt, cupy_signatures.txt
    python tests/make_cupy_names.py --probe    # prints strict_cupy.NEEDS_ARRAY_FIRST
    python -m pip uninstall -y cupy-cuda12x    # CI runs without CuPy

With an older CuPy installed, ``--suffix 13`` writes ``cupy_names_13.txt`` and
``cupy_signatures_13.txt`` instead (the stand-in's CuPy 13 mode, ``strict_cupy.use_names("13")``).

``cupy_names.txt``: each line is a qualified name: a module attribute (``cupy.exp``,
``cupy.lib.stride_tricks.as_strided``, ``cupyx.scipy.ndimage.distance_transform_edt``) or a
public attribute of one of CuPy's classes (``cupy.ndarray.reshape``, ``cupy.ufunc.at``,
``cupy.random.Generator.standard_normal``, ``cupy.cuda.Device.synchronize``).

``cupy_signatures.txt``: what each callable accepts as keywords, read from CuPy's own
signatures (``inspect.signature``, or the signature line Cython writes at the top of a
docstring): ``cupy.sum a axis dtype out keepdims`` (``**`` at the end: any keyword;
``?``: no signature found, anything goes), and for every ufunc the methods that work
(``ufunc cupy.add outer at reduce accumulate reduceat``; CuPy has ``.at`` only for a few
scatter ufuncs and ``.reduce`` only for add and multiply), found by calling each method
with a fake array that records what CuPy asks of it (no GPU needed).
"""
import __future__
import ast
import importlib
import inspect
import pathlib
import re
import sys
import warnings

MODULES = [
    "cupy",
    "cupy.lib",
    "cupy.lib.stride_tricks",
    "cupy.random",
    "cupy.linalg",
    "cupy.cuda",
    "cupy.cuda.runtime",
    "cupyx",
    "cupyx.scipy.ndimage",
]

HERE = pathlib.Path(__file__).parent
UFUNC_METHODS = ("outer", "at", "reduce", "accumulate", "reduceat")


def public(obj) -> list[str]:
    """Public attribute names, without leaked ``from __future__ import annotations``."""
    return [n for n in dir(obj) if not n.startswith("_")
            and not isinstance(getattr(obj, n, None), __future__._Feature)]


def classes():
    """CuPy's classes whose methods the stand-in models, by the name it lists them under."""
    import cupy
    from cupy.random._generator_api import Generator  # what cupy.random.default_rng returns
    return {"cupy.ndarray": cupy.ndarray, "cupy.ufunc": type(cupy.add),
            "cupy.random.Generator": Generator, "cupy.random.RandomState": cupy.random.RandomState,
            "cupy.cuda.Device": cupy.cuda.Device}


def collect_names() -> set[str]:
    """The qualified public names of the installed CuPy (modules and classes above)."""
    names = set()
    for mod_name in MODULES:
        names.update(f"{mod_name}.{n}" for n in public(importlib.import_module(mod_name)))
    for cls_name, cls in classes().items():
        names.update(f"{cls_name}.{n}" for n in public(cls))
    return names


def keywords(f) -> str:
    """The keyword-capable parameters of ``f`` ("a axis dtype", "... **", or "?")."""
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        line = (getattr(f, "__doc__", None) or "").strip().split("\n")[0]
        m = re.match(r"[\w.]+\((.*)\)(\s*->.*)?$", line)
        if not m:
            return "?"
        try:
            args = ast.parse(f"def f({m.group(1)}): pass").body[0].args
        except SyntaxError:
            return "?"
        names = [a.arg for a in args.args + args.kwonlyargs]
        return " ".join([n for n in names if n != "self"] + (["**"] if args.kwarg else []))
    names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
             and p.name != "self"]
    return " ".join(names + (["**"] if any(p.kind == p.VAR_KEYWORD for p in params) else []))


class _Recorder:
    """A fake array: ufunc methods that CuPy implements call one of these and succeed."""

    def _scatter_op(self, *args): return "ok"
    def sum(self, *args): return "ok"
    def prod(self, *args): return "ok"
    def cumsum(self, *args): return "ok"
    def cumprod(self, *args): return "ok"
    def _add_reduceat(self, *args): return "ok"


def ufunc_methods(u) -> list[str]:
    """The methods of CuPy ufunc ``u`` that do not raise NotImplementedError."""
    works = ["outer"]  # CuPy's outer reshapes and calls the ufunc: always there
    for method, args in [("at", (0, 0)), ("reduce", ()), ("accumulate", ()), ("reduceat", ((0,),))]:
        try:
            getattr(u, method)(_Recorder(), *args)
        except NotImplementedError:
            continue
        except Exception:  # noqa: BLE001 - it got past the "supported?" check
            pass
        works.append(method)
    return works


def collect_signatures() -> list[str]:
    """Lines of cupy_signatures.txt for the installed CuPy."""
    import cupy
    lines = []
    for mod_name in MODULES:
        mod = importlib.import_module(mod_name)
        for n in public(mod):
            f = getattr(mod, n)
            if isinstance(f, cupy.ufunc):
                lines.append(f"ufunc {mod_name}.{n} " + " ".join(ufunc_methods(f)))
            elif callable(f) and not isinstance(f, type):
                lines.append(f"{mod_name}.{n} {keywords(f)}".rstrip())
    for cls_name, cls in classes().items():
        for n in public(cls):
            f = getattr(cls, n, None)
            if callable(f) and not isinstance(f, type):
                lines.append(f"{cls_name}.{n} {keywords(f)}".rstrip())
    return sorted(set(lines))


def write_names(suffix: str = "") -> None:
    import cupy

    names = collect_names()
    out = HERE / f"cupy_names{suffix}.txt"
    out.write_text("".join(f"{n}\n" for n in sorted(names)))
    print(f"wrote {len(names)} names from CuPy {cupy.__version__} to {out}")
    sigs = collect_signatures()
    out = HERE / f"cupy_signatures{suffix}.txt"
    out.write_text(f"# CuPy {cupy.__version__}: written by tests/make_cupy_names.py\n"
                   + "".join(f"{s}\n" for s in sigs))
    print(f"wrote {len(sigs)} signatures to {out}")


def probe_needs_array_first() -> list[str]:
    """The cupy.* functions that refuse anything but a cupy.ndarray as first argument.

    Calls each function with a Python list and with a Python float (and a few guesses at
    the remaining arguments); CuPy checks the type before it touches the GPU, so this runs
    without one. Functions that get as far as the GPU accept such arguments.
    """
    import cupy

    refusal = re.compile(r"must be a cupy\.ndarray|incorrect type|has no attribute|Unsupported"
                         r"|should be of type cupy\.ndarray|Only cupy arrays|must be cupy\.ndarray")
    skip = {"save", "savetxt", "savez", "savez_compressed", "fromfile", "load", "loadtxt",
            "genfromtxt", "who", "disp"}  # file I/O and printing
    found = set()
    warnings.simplefilter("ignore")
    for name in public(cupy):
        f = getattr(cupy, name)
        if name in skip or isinstance(f, (type, cupy.ufunc)) or not callable(f):
            continue
        for first in ([1, 2], 1.5):
            for rest in [(), (0,), (1, 0), ((2,),), (0, 0, 0)]:
                try:
                    f(first, *rest)
                except Exception as e:  # noqa: BLE001 - classifying CuPy's own errors
                    message = str(e)
                    if refusal.search(message) and (type(first).__name__ in message
                                                    or "Unsupported" in message):
                        found.add(name)
                    elif "CUDA" not in type(e).__name__:
                        continue  # wrong guess at the other arguments: try the next one
                break
    return sorted(found)


def format_probe(names: list[str]) -> str:
    """The probe's result as the Python literal that strict_cupy.py holds."""
    lines, line = [], "   "
    for n in names:
        if len(line) + len(n) > 90:
            lines.append(line)
            line = "   "
        line += " " + n
    return 'NEEDS_ARRAY_FIRST = frozenset("""\n' + "\n".join(lines + [line]) + '\n""".split())'


if __name__ == "__main__":
    if "--probe" in sys.argv:
        print(format_probe(probe_needs_array_first()))
    else:
        write_names("_" + sys.argv[sys.argv.index("--suffix") + 1] if "--suffix" in sys.argv else "")
