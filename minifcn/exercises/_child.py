"""The process where a student's code runs (and nothing that decides a grade does).

Started by the grader as ``python -c "<run this file>" FILE NAME FOLDER IN_FD OUT_FD``
(see ``grader.StudentProcess``). It imports only the standard library and NumPy: no part of
minifcn, no hypothesis, no reference solution. It imports the student's file, then answers
requests on a pipe: "call your function on these arguments" -> the result, the arguments
as they are after the call (did it change them?), the byte ranges of every array (does a
result share memory with an argument?), the CPU seconds of the call, what it printed, and
the minifcn modules loaded so far. Arrays travel as raw bytes with their dtype and shape
(numbers and booleans only), never pickled; anything else travels as its type name and a
short repr. Whatever the student's code patches here (NumPy, this file, anything) changes
only the answers it sends back; the comparison and the verdict happen in the grader.
"""
import io
import json
import os
import struct
import sys
import time
import traceback

MAX_BYTES = 32 * 2 ** 20        # one message's arrays: far more than any answer on the grader's small inputs
MAX_PRINTED = 4000              # characters of the student's prints kept per call


# ---- messages: a JSON header and the arrays' bytes ----------------------------------------------
def encode(value, blobs, np, depth=0):
    """A JSON-able description of ``value``; arrays' bytes are appended to ``blobs``."""
    if depth > 20:
        return {"other": "a structure nested too deeply", "repr": ""}
    if type(value) is np.ndarray:
        if value.dtype.kind not in "biufc" or value.dtype.hasobject:
            return {"other": f"a NumPy array of dtype {value.dtype}", "repr": _short(value)}
        blobs.append(np.ascontiguousarray(value).tobytes())
        return {"array": len(blobs) - 1, "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, np.generic) and type(value).__module__ == "numpy" and \
            getattr(value, "dtype", None) is not None and value.dtype.kind in "biufc":
        blobs.append(np.asarray(value).tobytes())
        return {"scalar": len(blobs) - 1, "dtype": value.dtype.str}
    if value is None or type(value) in (bool, str):
        return value if type(value) is not str or len(value) < 10000 else value[:10000]
    if type(value) is int:
        return value if abs(value) < 2 ** 63 else {"float": repr(float(value))}
    if type(value) is float:
        return value if value == value and abs(value) != float("inf") else {"float": repr(value)}
    if type(value) in (tuple, list):
        if len(value) > 10000:
            return {"other": f"a {type(value).__name__} of {len(value)} items", "repr": ""}
        return {type(value).__name__: [encode(v, blobs, np, depth + 1) for v in value]}
    return {"other": f"{type(value).__module__}.{type(value).__qualname__}", "repr": _short(value)}


def _short(value):
    try:
        text = repr(value)
    except BaseException:   # noqa: BLE001
        text = "?"
    return text[:200]


def bounds(value, np, out):
    """(low, high) byte addresses of every array in ``value`` (nested tuples/lists), in order."""
    if type(value) is np.ndarray or isinstance(value, np.ndarray):
        if value.size:
            info = value.__array_interface__
            low = high = info["data"][0]
            strides = info["strides"] or _contiguous_strides(value.shape, value.itemsize)
            for n, s in zip(value.shape, strides):
                low, high = low + min(0, (n - 1) * s), high + max(0, (n - 1) * s)
            out.append([low, high + value.itemsize])
        else:
            out.append(None)
    elif type(value) in (tuple, list):
        for v in value:
            bounds(v, np, out)
    return out


def _contiguous_strides(shape, itemsize):
    strides, step = [], itemsize
    for n in reversed(shape):
        strides.insert(0, step)
        step *= n
    return strides


def send(fd, header, blobs):
    data = json.dumps(header).encode()
    size = sum(len(b) for b in blobs)
    if size > MAX_BYTES:
        header = {"ok": False, "too_big": size}
        data, blobs = json.dumps(header).encode(), []
    parts = [struct.pack("<QQ", len(data), sum(len(b) for b in blobs)), data, struct.pack("<Q", len(blobs))]
    parts += [struct.pack("<Q", len(b)) for b in blobs] + list(blobs)
    payload = b"".join(parts)
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view):]


def _read(fd, n):
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def receive(fd):
    n_header, _ = struct.unpack("<QQ", _read(fd, 16))
    header = json.loads(_read(fd, n_header))
    (count,) = struct.unpack("<Q", _read(fd, 8))
    sizes = struct.unpack(f"<{count}Q", _read(fd, 8 * count)) if count else ()
    return header, [_read(fd, s) for s in sizes]


def decode(node, blobs, np):
    """The arguments the grader sent: fresh, writable arrays (the student may not tell them from the caller's)."""
    if isinstance(node, dict):
        if "array" in node:
            return np.frombuffer(bytearray(blobs[node["array"]]), dtype=np.dtype(node["dtype"])).reshape(node["shape"])
        if "scalar" in node:
            return np.frombuffer(blobs[node["scalar"]], dtype=np.dtype(node["dtype"]))[0]
        if "float" in node:
            return float(node["float"])
        if "tuple" in node:
            return tuple(decode(v, blobs, np) for v in node["tuple"])
        if "list" in node:
            return [decode(v, blobs, np) for v in node["list"]]
    return node


# ---- the student's code ----------------------------------------------------------------------------
STUDENT_DIRS = set()        # the workbook folder and the graded file's folder


def _frames(exc, folder=None):
    """The traceback's frames that lie in the student's files."""
    out = []
    for f in traceback.extract_tb(exc.__traceback__):
        if os.path.dirname(os.path.abspath(f.filename)) in STUDENT_DIRS:
            out.append([os.path.basename(f.filename), f.lineno, (f.line or "").strip()])
    return out[-4:]


def describe(exc, folder):
    info = {"type": type(exc).__name__, "message": _short(str(exc)) if str(exc) else "",
            "frames": _frames(exc, folder)}
    if isinstance(exc, SyntaxError):
        info.update(file=os.path.basename(exc.filename or ""), line=exc.lineno, text=(exc.text or "").rstrip(),
                    msg=exc.msg)
    if isinstance(exc, SystemExit):
        info["message"] = repr(exc.code)
    return info


def minifcn_modules():
    return sorted(m for m in list(sys.modules) if m == "minifcn" or m.startswith("minifcn."))


def workbook_modules(folder):
    names = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and os.path.dirname(os.path.abspath(path)) == folder:
            names.append(name)
    return sorted(names)


class _Capture(io.StringIO):
    def write(self, s):
        if self.tell() < MAX_PRINTED:
            super().write(s[:MAX_PRINTED])
        return len(s)


def main(argv):
    path, name, folder, in_fd, out_fd = argv[0], argv[1], os.path.abspath(argv[2]), int(argv[3]), int(argv[4])
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"           # CPU time per call = the call's own time
    sys.path.insert(0, folder)          # the student may import their own earlier exercises
    STUDENT_DIRS.update({folder, os.path.dirname(os.path.abspath(path))})
    import numpy as np
    import importlib.util

    stdout, stderr = sys.stdout, sys.stderr
    printed = _Capture()
    sys.stdout = sys.stderr = printed
    t0 = time.perf_counter()
    try:
        spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        fn = getattr(module, name, None)
        hello = {"ok": callable(fn), "missing": not callable(fn)}
    except BaseException as e:  # noqa: BLE001 - anything the import raises is the report
        hello = {"ok": False, "exception": describe(e, folder)}
    finally:
        sys.stdout, sys.stderr = stdout, stderr
    hello.update(seconds=time.perf_counter() - t0, printed=printed.getvalue(), modules=minifcn_modules(),
                 siblings=workbook_modules(folder))
    send(out_fd, hello, [])
    if not hello["ok"]:
        return
    while True:
        try:
            request, blobs = receive(in_fd)
        except EOFError:
            return
        args = [decode(a, blobs, np) for a in request["args"]]
        printed = _Capture()
        sys.stdout = sys.stderr = printed
        c0, w0 = time.process_time(), time.perf_counter()
        try:
            with np.errstate(all="ignore"):
                import warnings
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result = fn(*args)
            reply = {"ok": True}
        except BaseException as e:  # noqa: BLE001 - SystemExit and KeyboardInterrupt too: they are the report
            reply, result = {"ok": False, "exception": describe(e, folder)}, None
        finally:
            sys.stdout, sys.stderr = stdout, stderr
        reply.update(cpu=time.process_time() - c0, wall=time.perf_counter() - w0, printed=printed.getvalue(),
                     modules=minifcn_modules(), siblings=workbook_modules(folder))
        out = []
        try:
            if reply["ok"]:
                reply["result"] = encode(result, out, np)
                reply["result_bounds"] = bounds(result, np, [])
            reply["args_after"] = [encode(a, out, np) for a in args]
            reply["args_bounds"] = [bounds(a, np, []) for a in args]
        except BaseException as e:  # noqa: BLE001 - e.g. an array whose repr raises
            reply, out = {"ok": False, "exception": describe(e, folder), "cpu": reply["cpu"],
                          "wall": reply["wall"], "printed": reply["printed"], "modules": minifcn_modules(),
                          "siblings": workbook_modules(folder)}, []
        send(out_fd, reply, out)


if __name__ == "__main__":
    main(sys.argv[1:])
