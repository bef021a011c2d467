"""Write ``tests/cupy_names.txt``: the public names that real CuPy offers.

The strict CuPy stand-in (``tests/strict_cupy.py``) only offers names listed in that file,
so code that passes the test suite on the stand-in never calls a function CuPy lacks.
Regenerate it with real CuPy installed (it imports without a GPU)::

    python -m pip install cupy-cuda12x
    python tests/make_cupy_names.py            # writes tests/cupy_names.txt
    python tests/make_cupy_names.py --probe    # prints strict_cupy.NEEDS_ARRAY_FIRST
    python -m pip uninstall -y cupy-cuda12x    # CI runs without CuPy

Each line is a qualified name: a module attribute (``cupy.exp``,
``cupy.lib.stride_tricks.as_strided``, ``cupyx.scipy.ndimage.distance_transform_edt``) or a
public attribute of one of CuPy's classes (``cupy.ndarray.reshape``, ``cupy.ufunc.at``,
``cupy.random.Generator.standard_normal``, ``cupy.cuda.Device.synchronize``).
"""
import __future__
import importlib
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

OUT = pathlib.Path(__file__).with_name("cupy_names.txt")


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


def write_names() -> None:
    import cupy

    names = collect_names()
    OUT.write_text("".join(f"{n}\n" for n in sorted(names)))
    print(f"wrote {len(names)} names from CuPy {cupy.__version__} to {OUT}")


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
        write_names()
