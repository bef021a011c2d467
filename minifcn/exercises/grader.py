"""The grader: the smallest input on which a student's function is wrong, printed in full.

For one exercise, hypothesis draws inputs (small first, see ``catalogue``) and asks "is the
student's answer wrong here?" (``hypothesis.find``, derandomized, a bounded number of
examples), after the exercise's explicit examples (inputs that reach rare mistakes). When it
finds a wrong answer it shrinks the input to a minimal one; the report shows that input, the
expected and the actual output, the first position where they differ, and a hint.

"Wrong" is any of: an exception; an argument changed in place; a result that shares memory
with an argument (a view of it); a result of the wrong type, shape or dtype; a value that
differs from the expected one. Each has its own message.

Where the student's code runs
-----------------------------
Never here. The student's file is imported and called in a separate process
(``_child.py``: standard library and NumPy only) whose one channel back is a pipe carrying
the results: arrays as raw bytes with dtype and shape (numbers and booleans only, size
capped), numbers, strings, tuples and lists; anything else arrives as its type name. This
process (the grader) never imports the student's module: the reference, the comparison,
hypothesis' search and the verdict live here, so a workbook file that patches NumPy, the
grader or the reference changes only its own answers. A child that crashes or runs past its
time limit is killed (and, for the next exercise, a fresh one started).

Timing: importing the file and the first call (which may import SciPy, ...) are not timed
against the per-call limit (``Exercise.call_limit_s``, 1 s of CPU time by default); a call
that takes longer is reported as slow (TOO SLOW, with its time), and a call that does not
return within ``hard_limit`` seconds of wall time is stopped.

Library use: a file (or an exercise file it imports) that imports minifcn (its reference
solutions, functional ops, metrics, ...) for the piece it is asked to write is reported as
USES LIBRARY, found both by reading the source and by the modules loaded in the child.
"""
from __future__ import annotations

import ast
import contextlib
import json
import numbers
import os
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..atomic import atomic_open
from . import _child
from .catalogue import BY_NAME, EXERCISES, Exercise

PASS, FAIL, NOT_STARTED, ERROR = "PASS", "FAIL", "NOT STARTED", "ERROR"
USES_LIBRARY, TOO_SLOW = "USES LIBRARY", "TOO SLOW"
STATUSES = (PASS, FAIL, TOO_SLOW, USES_LIBRARY, ERROR, NOT_STARTED)
IMPORT_LIMIT_S = 30.0       # importing the student's file (wall time; SciPy may load)
FIRST_CALL_LIMIT_S = 15.0   # wall time for the first call (lazy imports): not timed against the per-call limit
HARD_LIMIT_S = 10.0         # wall time after which a call is stopped (the limit itself is CPU time)
SLOW_CALLS = 3              # calls over the per-call limit before an exercise is reported TOO SLOW
SHRINK_BUDGET_S = 6.0       # seconds from the start of an exercise after which shrinking stops
EXERCISE_LIMIT_S = 60.0     # one exercise, process start to result
PRINT_LINES = 10            # lines of the student's prints shown under a counterexample
ALLOWED_MINIFCN = {("minifcn.exercises", "check_here")}   # the check cell's import
_BOOT = "import runpy, sys; runpy.run_path(sys.argv.pop(1), run_name='__main__')"


# ---- what comes back from the student's process ------------------------------------------------
class Other:
    """A returned value that is not a number, string, tuple, list or numeric NumPy array."""

    def __init__(self, what: str, text: str = "") -> None:
        self.what, self.text = what, text

    def __repr__(self) -> str:
        return self.text or f"<{self.what}>"


def _decode(node: Any, blobs: list[bytes]) -> Any:
    """A value from the child's description; arrays are checked (numeric dtypes, sizes) and copied."""
    if isinstance(node, dict):
        if "array" in node or "scalar" in node:
            dtype = np.dtype(node["dtype"])
            if dtype.kind not in "biufc" or dtype.hasobject or dtype.fields is not None:
                return Other(f"an array of dtype {dtype}")
            if "scalar" in node:
                return np.frombuffer(blobs[node["scalar"]], dtype=dtype, count=1)[0]
            shape = tuple(int(n) for n in node["shape"])
            data = blobs[node["array"]]
            if len(data) != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
                return Other("a damaged array")
            return np.frombuffer(data, dtype=dtype).reshape(shape).copy()
        if "float" in node:
            return float(node["float"])
        if "tuple" in node:
            return tuple(_decode(v, blobs) for v in node["tuple"])
        if "list" in node:
            return [_decode(v, blobs) for v in node["list"]]
        return Other(str(node.get("other", "something")), str(node.get("repr", "")))
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    return Other(type(node).__name__)


def _decode_reply(header: dict, blobs: list[bytes]) -> dict:
    reply = dict(header)
    for key in ("result",):
        if key in reply:
            reply[key] = _decode(reply[key], blobs)
    if "args_after" in reply:
        reply["args_after"] = [_decode(a, blobs) for a in reply["args_after"]]
    return reply


class ChildGone(Exception):
    """The student's process ended (os._exit, a crash) or ran past a time limit."""

    def __init__(self, reason: str, code: int | None = None, timed_out: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.code, self.timed_out = reason, code, timed_out


class StudentProcess:
    """The student's file, imported in its own process and called over a pipe (see ``_child``)."""

    def __init__(self, path: str | os.PathLike, name: str, folder: str | os.PathLike | None = None) -> None:
        self.path, self.name = os.path.abspath(path), name
        self.folder = os.path.abspath(folder if folder is not None else os.path.dirname(self.path))
        self.proc: subprocess.Popen | None = None
        self.log = tempfile.TemporaryFile()
        self.hello = self._start()

    def _start(self) -> dict:
        from_parent, to_child = os.pipe()      # (read end, write end)
        from_child, to_parent = os.pipe()
        env = dict(os.environ)
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
        package_root = str(Path(__file__).resolve().parents[2])     # as installed or from a checkout
        env["PYTHONPATH"] = os.pathsep.join([package_root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        cmd = [sys.executable, "-c", _BOOT, _child.__file__, self.path, self.name, self.folder,
               str(from_parent), str(to_parent)]
        self.proc = subprocess.Popen(cmd, pass_fds=(from_parent, to_parent), stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log, cwd=self.folder, env=env)
        os.close(from_parent)
        os.close(to_parent)
        self.to_child, self.from_child = to_child, from_child
        return self._receive(IMPORT_LIMIT_S)

    def _read(self, n: int, deadline: float) -> bytes:
        chunks = []
        while n:
            left = deadline - time.perf_counter()
            ready, _, _ = select.select([self.from_child], [], [], max(left, 0))
            if not ready:
                raise ChildGone("time", timed_out=deadline)
            chunk = os.read(self.from_child, min(n, 1 << 20))
            if not chunk:
                raise ChildGone("ended", code=self._exit_code())
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def _exit_code(self) -> int | None:
        try:
            return self.proc.wait(timeout=5) if self.proc else None
        except subprocess.TimeoutExpired:
            return None

    def _receive(self, limit: float) -> dict:
        deadline = time.perf_counter() + limit
        try:
            n_header, n_blobs = struct.unpack("<QQ", self._read(16, deadline))
            if n_header > 2 ** 24 or n_blobs > _child.MAX_BYTES + 2 ** 20:
                raise ChildGone("garbled")
            header = json.loads(self._read(n_header, deadline))
            (count,) = struct.unpack("<Q", self._read(8, deadline))
            if count > 100000:
                raise ChildGone("garbled")
            sizes = struct.unpack(f"<{count}Q", self._read(8 * count, deadline)) if count else ()
            if sum(sizes) > _child.MAX_BYTES:
                raise ChildGone("garbled")
            blobs = [self._read(s, deadline) for s in sizes]
        except ChildGone:
            self.close()
            raise
        except (ValueError, struct.error, UnicodeDecodeError, RecursionError) as e:
            self.close()
            raise ChildGone("garbled") from e
        if not isinstance(header, dict):
            self.close()
            raise ChildGone("garbled")
        try:
            return _decode_reply(header, blobs)
        except (ValueError, TypeError, KeyError, IndexError, RecursionError) as e:
            self.close()
            raise ChildGone("garbled") from e

    def call(self, case: dict, limit: float) -> dict:
        """The student's function on the case's values: a reply dict (see ``_child.main``)."""
        if self.proc is None:
            raise ChildGone("ended")
        blobs: list[bytes] = []
        header = {"args": [_child.encode(v, blobs, np) for v in case.values()]}
        try:
            _child.send(self.to_child, header, blobs)
        except OSError:
            code = self._exit_code()
            self.close()
            raise ChildGone("ended", code=code) from None
        return self._receive(limit)

    def output_tail(self, n: int = 6) -> str:
        """The last lines the process wrote to its own stdout/stderr (outside any call)."""
        self.log.seek(0)
        lines = self.log.read()[-4000:].decode(errors="replace").strip().splitlines()
        return "\n".join(lines[-n:])

    def close(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(OSError):
                os.close(self.to_child)
            with contextlib.suppress(OSError):
                os.close(self.from_child)
            if self.proc.poll() is None:
                with contextlib.suppress(OSError):
                    self.proc.kill()
            self.proc.wait()
            self.proc = None


class InProcess:
    """A stand-in for ``StudentProcess`` that calls a Python function here (tests of the graders only:
    no isolation). Arguments and results go through the same encoding as across the pipe."""

    def __init__(self, fn: Callable) -> None:
        self.fn, self.hello, self.folder = fn, {"ok": True, "modules": [], "siblings": []}, ""

    def call(self, case: dict, limit: float) -> dict:
        blobs: list[bytes] = []
        args = [_child.decode(_child.encode(v, blobs, np), blobs, np) for v in case.values()]
        c0, w0 = time.process_time(), time.perf_counter()
        try:
            with np.errstate(all="ignore"):
                result = self.fn(*args)
            reply: dict = {"ok": True}
        except BaseException as e:  # noqa: BLE001
            reply, result = {"ok": False, "exception": _child.describe(e, "")}, None
        reply.update(cpu=time.process_time() - c0, wall=time.perf_counter() - w0, printed="", modules=[],
                     siblings=[])
        out: list[bytes] = []
        if reply["ok"]:
            reply["result"] = _child.encode(result, out, np)
            reply["result_bounds"] = _child.bounds(result, np, [])
        reply["args_after"] = [_child.encode(a, out, np) for a in args]
        reply["args_bounds"] = [_child.bounds(a, np, []) for a in args]
        return _decode_reply(reply, out)

    def close(self) -> None:
        pass


# ---- minifcn's own code in a student's file ------------------------------------------------------
def library_imports(path: str | os.PathLike) -> list[str]:
    """Lines of ``path`` that import minifcn (other than the check cell's ``check_here``), as 'file, line N: text'."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        tree = ast.parse(text)
    except (OSError, SyntaxError, ValueError):
        return []
    lines = text.splitlines()
    found = []
    for node in ast.walk(tree):
        modules: list[tuple[str, str | None]] = []
        if isinstance(node, ast.Import):
            modules = [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [(node.module, a.name) for a in node.names]
        bad = [m for m, n in modules if (m == "minifcn" or m.startswith("minifcn.")) and (m, n) not in ALLOWED_MINIFCN]
        if bad:
            found.append(f"{path.name}, line {node.lineno}: {lines[node.lineno - 1].strip()}")
    return found


def _uses_library_message(static: list[str], modules: list[str], name: str) -> str:
    lines = [f"{name}() must be your own code, not minifcn's: the grader does not score a solution that "
             "imports the library's version of the piece it asks for (its reference solutions, "
             "functional ops or metrics)."]
    if static:
        lines += ["  " + s for s in static]
    elif modules:
        base = {"minifcn", "minifcn.autograd", "minifcn.backend", "minifcn.checks", "minifcn.functional",
                "minifcn.functional.basic", "minifcn.gradcheck", "minifcn.arith"}    # what 'import minifcn' loads
        first = ("minifcn.exercises.solutions", "minifcn.metrics", "minifcn.convmatrix", "minifcn.functional.loss",
                 "minifcn.functional.im2col", "minifcn.functional.pool", "minifcn.functional.unpool")
        telling = sorted(modules, key=lambda m: (m not in first, m in base, m))
        lines.append("  modules of minifcn loaded while importing or running it: " + ", ".join(telling[:6])
                     + (", ..." if len(telling) > 6 else ""))
    lines.append("NumPy, SciPy and your own earlier exercises (e.g. 'from im2col import im2col') are allowed.")
    return "\n".join(lines)


# ---- comparing an answer with the expected one ---------------------------------------------------
def _describe_type(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"a NumPy array of shape {v.shape} and dtype {v.dtype}"
    if isinstance(v, Other):
        return v.what
    if isinstance(v, np.generic):
        return f"a NumPy {v.dtype} scalar {v!r}"
    return f"{type(v).__name__} {v!r}" if not isinstance(v, (list, tuple)) else f"a {type(v).__name__} of {len(v)}"


def _num(v: Any) -> str:
    """A number as a student reads it: 0.25, not np.float64(0.2500000000349445)."""
    v = v.item() if isinstance(v, np.generic) else v
    return f"{v + 0.0:.10g}" if isinstance(v, float) else repr(v)


def _dtype_wanted(spec: str | None, case: dict) -> tuple[np.dtype | None, str]:
    """(dtype, words) of a dtype spec: 'float64', 'int64', 'bool', 'like:ARG' (ARG's dtype)."""
    if spec is None:
        return None, ""
    if spec.startswith("like:"):
        arg = spec[5:]
        dt = np.asarray(case[arg]).dtype
        return dt, f"{dt} (the dtype of {arg})"
    if spec in ("float", "int"):
        return None, spec
    return np.dtype(spec), spec


def compare(expected: Any, actual: Any, rtol: float, atol: float, where: str = "the result",
            dtype: str | None = None, case: dict | None = None) -> dict | None:
    """None when ``actual`` matches ``expected``; else {problem, where, expected, actual[, kind]}."""
    def mismatch(problem: str, kind: str = "value") -> dict:
        return {"problem": problem, "where": where, "expected": expected, "actual": actual, "kind": kind}

    if isinstance(expected, tuple):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            return mismatch(f"{where} should be a tuple of {len(expected)}, got {_describe_type(actual)}", "type")
        return None
    if isinstance(expected, np.ndarray):
        if not isinstance(actual, np.ndarray):
            return mismatch(f"{where} should be a NumPy array of shape {expected.shape}, got {_describe_type(actual)}",
                            "type")
        if actual.shape != expected.shape:
            return mismatch(f"{where} has shape {actual.shape}, expected {expected.shape}", "shape")
        want, words = _dtype_wanted(dtype, case or {})
        if actual.dtype.kind not in "biuf":
            return mismatch(f"{where} has dtype {actual.dtype}, expected {words or expected.dtype}", "dtype")
        if want is not None and actual.dtype != want:
            return mismatch(f"{where} has dtype {actual.dtype}, expected {words}", "dtype")
        if want is None and expected.dtype.kind in "iu" and actual.dtype.kind == "f":
            return mismatch(f"{where} has dtype {actual.dtype}, expected integers ({expected.dtype})", "dtype")
        e, a = expected.astype(np.float64), actual.astype(np.float64)
        if expected.dtype == np.float32 or actual.dtype == np.float32:      # float32 sums round at ~1e-7
            finite = np.abs(e[np.isfinite(e)])
            rtol, atol = max(rtol, 1e-5), max(atol, 1e-6 * (1 + (finite.max() if finite.size else 0.0)))
        close = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
        if not close.all():
            first = tuple(int(i) for i in np.argwhere(~close)[0])
            return mismatch(f"{where} differs at index {list(first)}: expected {_num(expected[first])}, "
                            f"yours {_num(actual[first])} ({int((~close).sum())} of {close.size} entries differ)")
        return None
    if isinstance(expected, bool) or isinstance(expected, numbers.Integral):
        if isinstance(actual, (bool, np.bool_)) or not isinstance(actual, numbers.Integral):
            return mismatch(f"{where} should be an int, got {_describe_type(actual)}", "type")
        if int(actual) != int(expected):
            return mismatch(f"{where} is {actual}, expected {expected}")
        return None
    if isinstance(expected, numbers.Real):
        if isinstance(actual, np.ndarray) and actual.shape == () and actual.dtype.kind == "f":
            actual = actual[()]
        if isinstance(actual, (bool, np.bool_)) or not isinstance(actual, numbers.Real):
            return mismatch(f"{where} should be a float, got {_describe_type(actual)}", "type")
        if isinstance(actual, np.floating) and actual.dtype != np.float64:
            return mismatch(f"{where} is a NumPy {actual.dtype} number, expected a float (Python float or "
                            "np.float64): compute it in float64", "dtype")
        if not np.isclose(float(actual), float(expected), rtol=rtol, atol=atol, equal_nan=True):
            return mismatch(f"{where} is {_num(actual)}, expected {_num(expected)}")
        return None
    raise TypeError(f"cannot compare with {type(expected).__name__}")


def _spec(ex: Exercise, i: int | None) -> str | None:
    dtypes = getattr(ex, "dtypes", ()) or ()
    if i is None:
        return dtypes[0] if len(dtypes) == 1 else None
    return dtypes[i] if i < len(dtypes) else None


def check_answer(ex: Exercise, case: dict, actual: Any, expected: Any = None) -> dict | None:
    """Compare one answer with the expected result of ``case`` (parts of a tuple one by one)."""
    expected = ex.expected_for(case) if expected is None else expected
    problem = compare(expected, actual, ex.rtol, ex.atol, dtype=None if isinstance(expected, tuple) else _spec(ex, None),
                      case=case)
    if problem is not None or not isinstance(expected, tuple):
        return problem
    names = tuple(ex.outputs) + tuple(f"{m} (after the call)" for m in getattr(ex, "modifies", ()))
    for i, (name, e, a) in enumerate(zip(names, expected, actual)):
        problem = compare(e, a, ex.rtol, ex.atol, where=name, dtype=_spec(ex, i), case=case)
        if problem is not None:
            return problem
    return None


def _changed(before: Any, after: Any) -> str | None:
    """How an argument differs after the call (None: unchanged)."""
    if isinstance(before, np.ndarray):
        if not isinstance(after, np.ndarray) or after.shape != before.shape or after.dtype != before.dtype:
            return f"it is now {_describe_type(after)}"
        same = (before == after) | ((before != before) & (after != after))
        if same.all():
            return None
        first = tuple(int(i) for i in np.argwhere(~same)[0])
        return f"entry {list(first)} was {_num(before[first])} and is now {_num(after[first])}"
    if isinstance(before, list):
        return None if after == before else f"it was {before!r} and is now {after!r}"
    return None


def _overlaps(a: list | None, b: list | None) -> bool:
    return a is not None and b is not None and a[0] < b[1] and b[0] < a[1]


def judge(ex: Exercise, case: dict, reply: dict) -> dict | None:
    """The first thing wrong with one reply of the student's process (None: all right)."""
    if not reply.get("ok"):
        if "too_big" in reply:
            return {"kind": "too big", "problem": f"your result is {reply['too_big'] / 2 ** 20:.0f} MB: far larger "
                                                  "than any answer on these small inputs"}
        return {"kind": "exception", "exception": reply.get("exception", {})}
    names = list(case)
    modifies = tuple(getattr(ex, "modifies", ()))
    for name, before, after in zip(names, case.values(), reply.get("args_after", [])):
        if name in modifies:
            continue
        how = _changed(before, after)
        if how is not None:
            return {"kind": "modified", "arg": name,
                    "problem": f"your function changed its argument `{name}` in place ({how}). The caller's "
                               f"array must stay as it was: write the result into a new array, or work on "
                               f"`{name}.copy()`."}
    may_alias = tuple(getattr(ex, "may_alias", ()))
    result_bounds = reply.get("result_bounds") or []
    for name, arg_bounds in zip(names, reply.get("args_bounds", [])):
        if name in may_alias or name in modifies:
            continue
        if any(_overlaps(r, a) for r in result_bounds for a in arg_bounds):
            return {"kind": "aliased", "arg": name,
                    "problem": f"your result shares memory with the argument `{name}` (it is a view of it, e.g. "
                               f"from a reshape, a slice or np.broadcast_to): a caller who later changes "
                               f"`{name}` would change your result too. Return a new array (`.copy()`)."}
    actual = reply["result"]
    expected = ex.expected_for(case)
    if modifies:
        extra = tuple(reply["args_after"][names.index(m)] for m in modifies)
        actual = (tuple(actual) if isinstance(actual, (tuple, list)) else (actual,)) + extra
    return check_answer(ex, case, actual, expected)


# ---- the search ----------------------------------------------------------------------------------
class _Stop(BaseException):
    """Ends the search at once (not started, too slow, the process ended)."""

    def __init__(self, status: str, case: dict | None, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.case, self.message, self.extra = status, case, message, extra


class _Shrunk(BaseException):
    """Shrinking has used its time budget: stop and report the smallest failing input so far."""


def _need_hypothesis() -> None:
    try:
        import hypothesis  # noqa: F401
    except ImportError:
        raise ImportError("the exercise grader needs hypothesis: pip install hypothesis "
                          "(it comes with pip install minifcn)") from None


def _exception_text(info: dict, own: str) -> str:
    kind, msg = info.get("type", "Exception"), info.get("message", "")
    if kind == "SystemExit":
        head = (f"your code called sys.exit({msg if msg != 'None' else ''}) (or exit()/quit()), which ends the "
                "program; a function should return its result instead")
    elif kind == "KeyboardInterrupt":
        head = "your code raised KeyboardInterrupt (as Ctrl-C does); a function should return its result instead"
    else:
        head = f"{kind}: {msg}" if msg else kind
    frames = info.get("frames") or []
    lines = [head] + [f"  {f} line {n}: {t}" if f != own else f"  line {n}: {t}" for f, n, t in frames]
    return "\n".join(lines)


def _gone_text(gone: ChildGone, when: str) -> str:
    if gone.reason == "garbled":
        return (f"the process running your code sent back something that is not an answer {when} (did your "
                "code write to the grader's pipe?)")
    if gone.reason == "ended":
        code = gone.code
        how = f" (exit code {code})" if code not in (None, 0) and code > 0 else \
            (f" (signal {-code})" if code is not None and code < 0 else "")
        return (f"the process running your code ended {when}{how}: os._exit(), a crash, or running out of "
                "memory. A function should return its result; it must not end the program.")
    return f"the process running your code stopped answering {when}"


def search(ex: Exercise, runner: Any, own: str | None = None, max_examples: int | None = None,
           shrink_budget_s: float = SHRINK_BUDGET_S, hard_limit: float = HARD_LIMIT_S,
           call_limit: float | None = None) -> dict:
    """Grade one exercise: {name, lesson, status, seconds, ...report fields}.

    ``runner`` is a ``StudentProcess`` (or an ``InProcess`` function, or a plain function, for
    tests). Hypothesis looks for an input where the answer is wrong and shrinks it; after
    ``shrink_budget_s`` seconds the smallest failing input found so far is reported.
    """
    _need_hypothesis()
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample

    if callable(runner) and not hasattr(runner, "call"):
        runner = InProcess(runner)
    own = own or f"{ex.name}.py"
    limit = call_limit if call_limit is not None else getattr(ex, "call_limit_s", 1.0)
    t0 = time.perf_counter()
    calls = [0]
    slow: list[tuple[float, dict]] = []
    modules: set[str] = set(runner.hello.get("modules", []))
    siblings: set[str] = set(runner.hello.get("siblings", []))
    failing: list[tuple[dict, dict, dict]] = []     # (case, reply, problem): the smallest failing input so far

    def run(case: dict) -> dict:
        calls[0] += 1
        first = calls[0] == 1
        try:
            reply = runner.call(case, FIRST_CALL_LIMIT_S if first else hard_limit)
        except ChildGone as gone:
            if gone.reason == "time":
                raise _Stop(TOO_SLOW, case, f"your function did not return within "
                                            f"{FIRST_CALL_LIMIT_S if first else hard_limit:g} s on this input "
                                            f"(the limit is {limit:g} s of CPU time per call): a loop that never "
                                            "ends, or a very slow one") from None
            raise _Stop(ERROR, case, _gone_text(gone, "during a call on this input")) from None
        modules.update(reply.get("modules", []))
        siblings.update(reply.get("siblings", []))
        if first and not reply.get("ok") and reply.get("exception", {}).get("type") == "NotImplementedError":
            frames = reply["exception"].get("frames") or []
            if not frames or frames[-1][0] == own:
                raise _Stop(NOT_STARTED, None, f"{ex.name}() raises NotImplementedError: write it in {own}")
        if not first and reply.get("cpu", 0.0) > limit:
            slow.append((reply["cpu"], case))
        return reply

    def wrong(case: dict) -> bool:
        case = _in_signature_order(ex, case)
        if failing and time.perf_counter() - t0 > shrink_budget_s:
            raise _Shrunk()     # long enough: report the smallest failing input found so far
        reply = run(case)
        problem = judge_safely(case, reply)
        if len(slow) >= SLOW_CALLS and problem is None:
            raise _Stop(TOO_SLOW, slow[-1][1], _slow_text(slow, limit))
        if problem is not None:
            failing[:] = [(case, reply, problem)]
            return True
        return False

    def judge_safely(case: dict, reply: dict) -> dict | None:
        try:
            return judge(ex, case, reply)
        except Exception as e:      # noqa: BLE001 - an answer so odd that comparing it fails: wrong
            expected = ex.expected_for(case)
            return {"kind": "type", "problem": f"your answer could not be compared ({type(e).__name__}: {e}); it "
                                               f"should be {_describe_type(expected)}",
                    "expected": expected, "actual": reply.get("result"), "where": "the result"}

    cfg = settings(max_examples=max_examples or ex.max_examples, derandomize=True, database=None,
                   deadline=None, suppress_health_check=list(HealthCheck),
                   phases=[Phase.generate, Phase.shrink], report_multiple_bugs=False)
    result: dict = {"name": ex.name, "lesson": ex.lesson}
    status = None
    try:
        for case in getattr(ex, "examples", ()):        # inputs that reach rare mistakes, first
            if wrong(dict(case)):
                break
        else:
            try:
                find(ex.cases(), wrong, settings=cfg)
            except _Shrunk:
                pass
    except NoSuchExample:
        status = PASS
    except _Stop as stop:
        result.update(status=stop.status, message=stop.message)
        if stop.case is not None:
            result["case"] = stop.case
            if stop.status == TOO_SLOW:
                result["expected"] = ex.expected_for(stop.case)
        status = stop.status
    except _Shrunk:
        pass
    except Exception as e:      # noqa: BLE001 - e.g. hypothesis finds the answers unreliable
        if not failing:
            status = ERROR
            result["message"] = (f"the grader could not finish ({type(e).__name__}): your function seems to give "
                                 "different answers for the same input (does it use random numbers or a value "
                                 "kept between calls?)")
        else:
            result["note"] = ("your function gave different answers for the same input (random numbers, or a "
                              "value kept between calls?); this input was wrong once")
    result["seconds"] = time.perf_counter() - t0
    result["examples"] = calls[0]
    result["modules"], result["siblings"] = sorted(modules), sorted(siblings)
    if status is None and not failing:
        status = PASS
    if status == PASS and len(slow) >= SLOW_CALLS:
        status = TOO_SLOW
        result.update(message=_slow_text(slow, limit), case=slow[-1][1])
    if status is not None:
        result["status"] = status
        return result
    case, reply, problem = failing[0]
    result["case"] = case
    result.update(_report_fields(ex, case, reply, problem, own))
    return result


def _in_signature_order(ex: Exercise, case: dict) -> dict:
    """The case's arguments in the order of the reference's parameters (they are passed positionally)."""
    try:
        import inspect
        names = [n for n in inspect.signature(ex.reference).parameters if n in case]
    except (AttributeError, TypeError, ValueError):
        return case
    return {**{n: case[n] for n in names}, **{k: v for k, v in case.items() if k not in names}}


def _slow_text(slow: list[tuple[float, dict]], limit: float) -> str:
    times = sorted(t for t, _ in slow)
    return (f"your answers are right so far, but your function took {times[len(times) // 2]:.2g} s per call "
            f"(CPU time; {len(slow)} calls over the limit, the slowest {times[-1]:.2g} s); the limit is "
            f"{limit:g} s per call on these small inputs. Loop over kernel taps or classes, not over pixels, "
            "and let NumPy do the rest.")


def _report_fields(ex: Exercise, case: dict, reply: dict, problem: dict, own: str) -> dict:
    """The status and the fields of the report for a wrong answer."""
    out: dict = {"printed": reply.get("printed", ""), "shrunk": True}
    kind = problem.get("kind")
    if kind == "exception":
        out.update(status=ERROR, message="your function raised on this input:\n"
                   + _exception_text(problem["exception"], own), expected=ex.expected_for(case))
        return out
    out["status"] = FAIL
    out["problem"] = problem["problem"]
    out["kind"] = kind
    if kind in ("modified", "aliased", "too big"):
        out["expected"] = ex.expected_for(case)
        return out
    out.update(where=problem.get("where", "the result"), expected=problem.get("expected"),
               actual=problem.get("actual"))
    if kind == "dtype":
        out["hint_override"] = ("Create the result with the dtype the task asks for: np.zeros/np.empty/np.full "
                                "default to float64 (pass the dtype, e.g. dtype=x.dtype), and integer buffers round values.")
    picker = getattr(ex, "pick_hints", None)
    if picker is not None and "hint_override" not in out:
        try:
            chosen = picker(case, ex.expected_for(case), reply.get("result"))     # the whole answers
        except Exception:       # noqa: BLE001 - a hint is never worth a crash
            chosen = None
        if chosen is not None:
            out["hints"] = list(chosen)
    return out


# ---- grading one file (in the grader's process; the student's code runs in a child) -----------------
def grade_file(name: str, path: str | os.PathLike, max_examples: int | None = None,
               folder: str | os.PathLike | None = None, shown_as: str | None = None) -> dict:
    """Grade one workbook file: imports and calls it only in a child process (``StudentProcess``)."""
    ex = BY_NAME[name]
    path = Path(path)
    own = shown_as or path.name
    base = {"name": name, "lesson": ex.lesson, "seconds": 0.0}
    if not path.exists():
        return {**base, "status": NOT_STARTED, "message": f"{own} is missing"}
    _need_hypothesis()
    static = library_imports(path)
    t0 = time.perf_counter()
    try:
        runner = StudentProcess(path, name, folder)
    except ChildGone as gone:
        if gone.reason == "time":
            return {**base, "status": ERROR, "message": f"importing {own} took longer than {IMPORT_LIMIT_S:g} s"}
        return {**base, "status": ERROR, "message": _gone_text(gone, f"while importing {own}")}
    try:
        hello = runner.hello
        if not hello.get("ok"):
            if hello.get("missing"):
                return {**base, "status": ERROR, "message": f"{own} defines no function {name}()"}
            info = hello.get("exception", {})
            printed = hello.get("printed", "")
            if info.get("type") in ("SyntaxError", "IndentationError", "TabError"):
                file = own if info.get("file") == path.name else info.get("file") or own
                msg = f"syntax error in {file}, line {info.get('line')}: {info.get('msg')}\n  {info.get('text', '')}"
                if file != own:
                    msg += f"\n({file} is imported by {own}: fix {file} first)"
            elif info.get("type") == "ModuleNotFoundError" and "minifcn" not in info.get("message", ""):
                msg = f"importing {own} failed:\n" + _exception_text(info, own)
            else:
                msg = f"importing {own} failed:\n" + _exception_text(info, own)
            result = {**base, "status": ERROR, "message": msg, "printed": printed}
            if static:
                result.update(status=USES_LIBRARY, message=_uses_library_message(static, [], name) + "\n" + msg)
            return result
        result = search(ex, runner, path.name, max_examples=max_examples)
    finally:
        runner.close()
    if static or result.get("modules"):
        result["verdict_without_library"] = result["status"]
        result["status"] = USES_LIBRARY
        result["message"] = _uses_library_message(static, result.get("modules", []), name)
        for key in ("case", "expected", "actual", "problem", "hints", "hint_override"):
            result.pop(key, None)
    result["seconds"] = time.perf_counter() - t0
    return result


def load_function(path: str | os.PathLike, name: str) -> Callable:
    """Import the workbook file and return its function ``name`` (for running a model on it, not grading)."""
    import importlib.util
    path = Path(path)
    folder = str(path.parent.resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)      # a student may import their own other exercises
    spec = importlib.util.spec_from_file_location(f"workbook_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)     # type: ignore[union-attr]
    fn = getattr(module, name, None)
    if not callable(fn):
        raise AttributeError(f"{path.name} defines no function {name}()")
    return fn


# ---- many exercises, each in its own grading process ----------------------------------------------
def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return {"array": np.where(np.isfinite(v), v, 0).tolist() if v.dtype.kind == "f" else v.tolist(),
                "shape": list(v.shape), "dtype": str(v.dtype), "repr": _fmt(v)}
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if np.isfinite(v) else repr(float(v))
    if v is None or isinstance(v, (int, str)):
        return v
    return repr(v)


def _fmt(v: Any) -> str:
    if isinstance(v, np.ndarray):
        with np.printoptions(precision=6, suppress=True, linewidth=100, threshold=100000):
            return np.array2string(v, separator=", ") if v.ndim <= 1 else str(v)
    if isinstance(v, (float, np.floating)) and not isinstance(v, bool):
        return _num(v)
    return repr(v)


def _result_json(result: dict) -> dict:
    """A result as JSON: the report text is formatted here, where the arrays are."""
    text = {k: v for k, v in result.items() if k not in ("case", "expected", "actual")}
    text["report"] = format_details(result)
    for key in ("case", "expected", "actual"):
        if key in result:
            text[key] = _jsonable(result[key])
    return _jsonable(text)


def _write_json(obj: dict, out: str) -> None:
    with atomic_open(out, "w") as f:
        json.dump(obj, f)


def _stopped(name: str, seconds: float, message: str) -> dict:
    result = {"name": name, "lesson": BY_NAME[name].lesson, "status": ERROR, "seconds": seconds, "message": message}
    result["report"] = format_details(result)
    return result


def _grade_job(name: str, path: str, folder: str, examples: int, shown_as: str | None) -> dict:
    return _result_json(grade_file(name, path, max_examples=examples or None, folder=folder, shown_as=shown_as))


def _serve(folder: str, names: list[str], jobs: int, time_limit: float, tmp: str, examples: int = 0,
           files: dict | None = None) -> int:
    """The grading server: imports the grader once, then forks one grading process per exercise.

    Each grading process starts the student's process for its exercise, grades, writes its
    JSON and exits; the server kills one that runs past ``time_limit`` and prints one JSON
    line per finished exercise. No student code ever runs in the server or its forks.
    """
    files = files or {}
    pending = list(names)
    running: dict[int, tuple[str, float, str]] = {}
    try:
        _serve_loop(folder, pending, running, jobs, time_limit, tmp, examples, files)
    finally:                        # interrupted: the grading processes (and their students') go too
        for pid in running:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
    return 0


def _serve_loop(folder: str, pending: list[str], running: dict, jobs: int, time_limit: float, tmp: str,
                examples: int, files: dict) -> None:
    while pending or running:
        while pending and len(running) < jobs:
            name = pending.pop(0)
            out = os.path.join(tmp, name + ".json")
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:                        # the grading process: grade, write, leave at once
                code = 0
                try:
                    os.setsid()                 # its student process dies with it when the server kills it
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, 1)         # hypothesis' own prints stay out of the protocol
                    path, shown = files.get(name, (os.path.join(folder, name + ".py"), None))
                    _write_json(_grade_job(name, path, folder, examples, shown), out)
                except BaseException:       # noqa: BLE001
                    code = 1
                finally:
                    os._exit(code)
            running[pid] = (name, time.perf_counter(), out)
        time.sleep(0.01)
        for pid, (name, start, out) in list(running.items()):
            elapsed = time.perf_counter() - start
            done, _ = os.waitpid(pid, os.WNOHANG)
            if not done and elapsed < time_limit:
                continue
            if not done:
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGKILL)
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                result = _stopped(name, elapsed, f"grading this exercise took longer than its limit of "
                                                 f"{time_limit:g} s (is each call slow?)")
            elif os.path.exists(out):
                with open(out) as f:
                    result = json.load(f)
                result["seconds"] = elapsed
            else:
                result = _stopped(name, elapsed, "the grader stopped without a result (an error in the grader; "
                                                 "please report it)")
            del running[pid]
            print(json.dumps(result), flush=True)


def _dependencies(folder: Path, names: list[str]) -> list[str]:
    """``names`` plus the exercises their files import (``from im2col import im2col``), transitively."""
    want, todo = set(names), list(names)
    while todo:
        path = folder / f"{todo.pop()}.py"
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except (OSError, SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            for m in mods:
                if m in BY_NAME and m not in want and (folder / f"{m}.py").exists():
                    want.add(m)
                    todo.append(m)
    return [e.name for e in EXERCISES if e.name in want]


def _add_sibling_notes(results: dict[str, dict]) -> None:
    """'uses your im2col, which FAILs: fix that first' above the report of an exercise whose sibling fails."""
    words = {FAIL: "FAILs", ERROR: "has an ERROR", NOT_STARTED: "is NOT STARTED", USES_LIBRARY: "USES the LIBRARY",
             TOO_SLOW: "is TOO SLOW"}
    for name, r in results.items():
        bad = [s for s in r.get("siblings", []) if s != name and s in results and results[s]["status"] != PASS]
        if not bad or r["status"] in (PASS, NOT_STARTED):
            continue
        note = "; ".join(f"uses your {s}, which {words.get(results[s]['status'], results[s]['status'])}" for s in bad)
        if r.get("depends_on_failing"):
            continue
        r["depends_on_failing"] = bad
        r["message"] = note + ": fix that first." + ("\n" + r["message"] if r.get("message") else "")
        lines = [line for line in r.get("report", "").splitlines() if not line.startswith("  hint:")]
        r["report"] = "\n".join([f"  {note}: fix that first."] + lines)


def check_workbook(folder: str | os.PathLike, names: list[str] | None = None, jobs: int | None = None,
                   time_limit: float = EXERCISE_LIMIT_S, on_result: Callable[[dict], None] | None = None,
                   max_examples: int | None = None, files: dict[str, tuple[str, str]] | None = None) -> list[dict]:
    """Grade the exercises ``names`` (default: all) of a workbook, each in its own processes.

    Returns one dict per exercise, in catalogue order: name, lesson, status, seconds,
    report (the text shown to the student) and, on FAIL/ERROR, the counterexample.
    ``on_result`` is called with each result as soon as it is there (exercises that an
    asked-for one imports are graded too, for the "fix that first" note, but not returned);
    ``max_examples`` overrides each exercise's number of hypothesis examples; ``files`` maps
    a name to (file to grade, name to show) instead of ``folder/NAME.py``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"workbook folder {str(folder)!r} does not exist; create it with "
                                f"'minifcn exercises init {folder}'")
    names = list(names) if names else [e.name for e in EXERCISES]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise ValueError(f"unknown exercise(s) {', '.join(unknown)}; the exercises are: "
                         f"{', '.join(e.name for e in EXERCISES)}")
    names = [e.name for e in EXERCISES if e.name in names]
    graded = _dependencies(folder, names)
    jobs = jobs or max(1, min(2, os.cpu_count() or 1))
    results: dict[str, dict] = {}
    pending_notes: list[str] = []

    def arrived(result: dict) -> None:
        results[result["name"]] = result
        if on_result is None or result["name"] not in names:
            return
        pending_notes.append(result["name"])
        # report in order; an exercise waits for the siblings it uses, for the note
        for n in list(pending_notes):
            r = results[n]
            if all(s in results for s in r.get("siblings", []) if s in graded):
                _add_sibling_notes({k: v for k, v in results.items() if k == n or k in r.get("siblings", [])})
                pending_notes.remove(n)
                on_result(r)

    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([package_root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    with tempfile.TemporaryDirectory(prefix="minifcn-grade-") as tmp:
        if hasattr(os, "fork"):
            spec = os.path.join(tmp, "files.json")
            with open(spec, "w") as f:
                json.dump(files or {}, f)
            cmd = [sys.executable, "-m", "minifcn.exercises._worker", "--serve", str(folder.resolve()),
                   ",".join(graded), str(jobs), str(time_limit), tmp, str(max_examples or 0), spec]
            with subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                  text=True) as server:
                for line in server.stdout:          # type: ignore[union-attr]
                    if line.startswith("{"):
                        arrived(json.loads(line))
            for name in graded:
                if name not in results:
                    arrived(_stopped(name, 0.0, f"the grading server stopped (exit code {server.returncode})"))
        else:                                       # no fork (Windows): one grading interpreter per exercise
            for name in graded:
                out = os.path.join(tmp, name + ".json")
                path, shown = (files or {}).get(name, (str(folder / f"{name}.py"), None))
                t0 = time.perf_counter()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    subprocess.run([sys.executable, "-m", "minifcn.exercises._worker", "--worker", name, path, out,
                                    str(folder), shown or ""], cwd=tmp, env=env, capture_output=True,
                                   timeout=time_limit)
                if os.path.exists(out):
                    with open(out) as f:
                        result = json.load(f)
                else:
                    result = _stopped(name, time.perf_counter() - t0, "no result (time limit or crash)")
                result["seconds"] = time.perf_counter() - t0
                arrived(result)
    for n in list(pending_notes):
        on_result(results[n])       # type: ignore[misc]
    _add_sibling_notes(results)
    return [results[n] for n in names]


# ---- what the student reads ----------------------------------------------------------------------
def _indent(text: str, by: str = "    ") -> str:
    return "\n".join((by + line).rstrip() for line in text.splitlines())


def _show(value: Any) -> tuple[str, str]:
    """(text, '   # shape ..., dtype') of a value of a case, from a live array or its JSON form."""
    if isinstance(value, dict) and "repr" in value and "shape" in value:
        return value["repr"], f"   # shape {tuple(value['shape'])}, {value['dtype']}"
    if isinstance(value, np.ndarray):
        return _fmt(value), f"   # shape {value.shape}, {value.dtype}"
    return _fmt(value), ""


def _printed_lines(printed: str) -> list[str]:
    if not printed.strip():
        return []
    lines = printed.rstrip().splitlines()
    shown = [line[:160] for line in lines[:PRINT_LINES]]
    more = f" (first {PRINT_LINES} of {len(lines)} lines)" if len(lines) > PRINT_LINES else ""
    return [f"  your function printed{more}:"] + ["    | " + line for line in shown]


def format_details(result: dict) -> str:
    """The lines under an exercise's status line (empty for PASS)."""
    status = result["status"]
    if status == PASS:
        return ""
    lines = []
    if result.get("message"):
        lines.append(_indent(result["message"], "  "))
    if result.get("note"):
        lines.append(f"  note: {result['note']}")
    case = result.get("case")
    ex = BY_NAME.get(result["name"])
    if case is not None:
        lines.append("  smallest input found (shrunk by hypothesis):" if result.get("shrunk") else "  on this input:")
        for key, value in case.items():
            text, shape = _show(value)
            if "\n" in text:
                lines.append(f"    {key} ={shape}\n" + _indent(text, "      "))
            else:
                lines.append(f"    {key} = {text}{shape}")
    if "expected" in result and result.get("kind") not in ("modified", "aliased"):
        part = result.get("where", "the result")
        part = "" if part == "the result" else f" {part}"
        names = tuple(ex.outputs) + tuple(f"{m} (after the call)" for m in getattr(ex, "modifies", ())) if ex else ()
        for label, key in ((f"expected{part}", "expected"), (f"yours{part}", "actual")):
            if key not in result or (key == "actual" and status != FAIL):
                continue
            value = result[key]
            parts = value if isinstance(value, (tuple, list)) and names and len(names) == len(value) \
                and not part else None
            if parts is not None:
                lines.append(f"  {label}:")
                for pname, v in zip(names, parts):
                    text, shape = _show(v)
                    lines.append(f"    {pname} =" + (f"{shape}\n" + _indent(text, "      ") if shape or "\n" in text
                                                     else f" {text}"))
            else:
                text, shape = _show(value)
                lines.append(f"  {label}:{shape}\n" + _indent(text, "    ") if "\n" in text or shape
                             else f"  {label}: {text}")
    if result.get("problem"):
        lines.append(("  first difference: " if result.get("kind") in ("value", "shape", "type", "dtype", None)
                      else "  problem: ") + result["problem"])
    lines += _printed_lines(result.get("printed", ""))
    if ex is not None and status in (FAIL, ERROR) and case is not None and not result.get("depends_on_failing"):
        if result.get("hint_override"):
            hints = [result["hint_override"]]
        elif result.get("kind") in ("modified", "aliased", "too big"):
            hints = []
        else:
            hints = result.get("hints") if result.get("hints") is not None else list(ex.hints)
        lines.extend(f"  hint: {h}" for h in hints)
    return "\n".join(lines)


def format_result(result: dict) -> str:
    head = f"{result['status']:<12} {result['name']:<24} lesson {result['lesson']:>2}  {result.get('seconds', 0):5.1f} s"
    details = result.get("report", format_details(result))
    return head + ("\n" + details if details else "")


def score_line(results: list[dict]) -> str:
    passed = sum(r["status"] == PASS for r in results)
    counts = {s: sum(r["status"] == s for r in results) for s in STATUSES}
    return (f"score: {passed}/{len(results)} passed  ("
            + ", ".join(f"{v} {k.lower()}" for k, v in counts.items() if v) + ")")


# ---- checking from inside a workbook file or notebook ----------------------------------------------
def _kernel_source(namespace: dict) -> str | None:
    """The definitions made in this notebook's kernel, as the text of a module (None: not a notebook).

    From every cell run so far, in order (IPython's ``In``), the top-level imports, function
    and class definitions and assignments of plain constants: what a module needs to define
    the function, without re-running the cells' other effects (prints, plots, the check).
    """
    cells = namespace.get("In") or namespace.get("_ih")
    if not isinstance(cells, list) or not cells:
        return None
    kept: list[str] = []
    for cell in cells:
        try:
            tree = ast.parse(cell or "")
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                kept.append(ast.get_source_segment(cell, node, padded=True) or ast.unparse(node))
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                with contextlib.suppress(ValueError):
                    ast.literal_eval(node.value)
                    kept.append(ast.get_source_segment(cell, node) or ast.unparse(node))
    return "\n\n".join(textwrap_dedent(k) for k in kept) + "\n"


def textwrap_dedent(text: str) -> str:
    import textwrap
    return textwrap.dedent(text)


def check_here(name: str, where: str | dict | None = None) -> bool:
    """Grade one exercise from inside its workbook file (``where`` = ``__file__``) or notebook.

    In a notebook (``where`` = the notebook's ``globals()``, with no ``__file__``), the
    function graded is the one defined in the kernel: the definitions of every cell run so far
    are written to a temporary module and graded like a file (the workbook folder, the kernel's
    current directory, stays on the path for your earlier exercises). Prints the same report as
    ``minifcn exercises check``; returns True on PASS.
    """
    namespace = where if isinstance(where, dict) else None
    path = where if isinstance(where, (str, os.PathLike)) else (namespace or {}).get("__file__")
    if path:
        file = Path(path)
        [result] = check_workbook(file.parent, [name], files={name: (str(file.resolve()), file.name)})
    else:
        source = _kernel_source(namespace) if namespace is not None else None
        if source is None:
            file = Path.cwd() / f"{name}.py"
            [result] = check_workbook(file.parent, [name])
        else:
            with tempfile.TemporaryDirectory(prefix="minifcn-notebook-") as tmp:
                module = Path(tmp) / f"{name}.py"
                module.write_text(source, encoding="utf-8")
                [result] = check_workbook(Path.cwd(), [name], files={name: (str(module), f"{name} (this notebook)")})
    print(format_result(result))
    return result["status"] == PASS


def main(argv: list[str]) -> int:
    """``--serve FOLDER NAMES JOBS LIMIT TMP EXAMPLES FILES`` (fork per exercise) or ``--worker NAME FILE OUT FOLDER SHOWN``."""
    if len(argv) == 8 and argv[0] == "--serve":
        folder, names, jobs, limit, tmp, examples, spec = argv[1:]
        with open(spec) as f:
            files = {k: tuple(v) for k, v in json.load(f).items()}
        return _serve(folder, names.split(","), int(jobs), float(limit), tmp, int(examples), files)
    if len(argv) == 6 and argv[0] == "--worker":
        name, path, out, folder, shown = argv[1:]
        _write_json(_grade_job(name, path, folder, 0, shown or None), out)
        return 0
    print("usage: python -m minifcn.exercises._worker (--serve FOLDER NAMES JOBS LIMIT TMP EXAMPLES FILES | "
          "--worker NAME FILE OUT FOLDER SHOWN)", file=sys.stderr)
    return 2
