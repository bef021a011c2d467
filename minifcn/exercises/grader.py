"""The grader: the smallest input on which a student's function is wrong, printed in full.

For one exercise, hypothesis draws inputs (small first, see ``catalogue``) and asks "is the
student's answer wrong here?" (``hypothesis.find``, derandomized, a bounded number of
examples). When it finds one it shrinks it to a minimal one; the report shows that input,
the expected and the actual output, the first position where they differ, and a hint.

Isolation: each exercise is graded in its own Python process (``python -m
minifcn.exercises._worker --serve ...``,
which forks one child per exercise) with a time limit, so a syntax error,
an exception, a wrong type or an endless loop is reported and never stops the others.
Inside the worker every call of the student's function also has a time limit (SIGALRM).
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import numbers
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..atomic import atomic_open
from .catalogue import BY_NAME, EXERCISES, Exercise

PASS, FAIL, NOT_STARTED, ERROR = "PASS", "FAIL", "NOT STARTED", "ERROR"
CALL_LIMIT_S = 0.5          # one call of the student's function (inputs are at most 2x2x5x5)
MAX_TIMEOUTS = 8            # calls that ran past it before the search stops and reports
SHRINK_BUDGET_S = 6.0       # seconds from the start of an exercise after which shrinking stops
EXERCISE_LIMIT_S = 60.0     # one exercise, process start to result


# ---- comparing an answer with the expected one ----------------------------------------------
def _describe_type(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"a NumPy array of shape {v.shape} and dtype {v.dtype}"
    return f"{type(v).__name__} {v!r}" if not isinstance(v, (list, tuple)) else f"a {type(v).__name__} of {len(v)}"


def _num(v: Any) -> str:
    """A number as a student reads it: 0.25, not np.float64(0.2500000000349445)."""
    v = v.item() if isinstance(v, np.generic) else v
    return f"{v + 0.0:.10g}" if isinstance(v, float) else repr(v)


def compare(expected: Any, actual: Any, rtol: float, atol: float, where: str = "the result") -> dict | None:
    """None when ``actual`` matches ``expected``; else {problem, where, expected, actual}."""
    def mismatch(problem: str, exp: Any = expected, act: Any = actual, pos: str = where) -> dict:
        return {"problem": problem, "where": pos, "expected": exp, "actual": act}

    if isinstance(expected, tuple):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            return mismatch(f"{where} should be a tuple of {len(expected)}, got {_describe_type(actual)}")
        return None
    if isinstance(expected, np.ndarray):
        if not isinstance(actual, np.ndarray):
            return mismatch(f"{where} should be a NumPy array of shape {expected.shape}, got {_describe_type(actual)}")
        if actual.shape != expected.shape:
            return mismatch(f"{where} has shape {actual.shape}, expected {expected.shape}")
        if actual.dtype.kind not in "biuf":
            return mismatch(f"{where} has dtype {actual.dtype}, expected numbers ({expected.dtype})")
        if expected.dtype.kind in "iub" and actual.dtype.kind == "f" and expected.dtype.kind != "b":
            return mismatch(f"{where} has dtype {actual.dtype}, expected integers ({expected.dtype})")
        close = np.isclose(actual.astype(np.float64), expected.astype(np.float64), rtol=rtol, atol=atol,
                           equal_nan=True)
        if not close.all():
            first = tuple(int(i) for i in np.argwhere(~close)[0])
            return mismatch(f"{where} differs at index {list(first)}: expected {_num(expected[first])}, "
                            f"yours {_num(actual[first])} ({int((~close).sum())} of {close.size} entries differ)")
        return None
    if isinstance(expected, bool) or isinstance(expected, numbers.Integral):
        if isinstance(actual, bool) or not isinstance(actual, numbers.Integral):
            return mismatch(f"{where} should be an int, got {_describe_type(actual)}")
        if int(actual) != int(expected):
            return mismatch(f"{where} is {actual}, expected {expected}")
        return None
    if isinstance(expected, numbers.Real):
        if isinstance(actual, np.ndarray) and actual.shape == ():
            actual = actual[()]
        if isinstance(actual, bool) or not isinstance(actual, numbers.Real):
            return mismatch(f"{where} should be a float, got {_describe_type(actual)}")
        if not np.isclose(float(actual), float(expected), rtol=rtol, atol=atol, equal_nan=True):
            return mismatch(f"{where} is {_num(actual)}, expected {_num(expected)}")
        return None
    raise TypeError(f"cannot compare with {type(expected).__name__}")


def check_answer(ex: Exercise, case: dict, actual: Any) -> dict | None:
    """Compare one answer with the expected result of ``case`` (parts of a tuple one by one)."""
    expected = ex.expected_for(case)
    problem = compare(expected, actual, ex.rtol, ex.atol)
    if problem is not None or not isinstance(expected, tuple):
        return problem
    for name, e, a in zip(ex.outputs, expected, actual):
        problem = compare(e, a, ex.rtol, ex.atol, where=name)
        if problem is not None:
            return problem
    return None


# ---- running the student's function ---------------------------------------------------------
class CallTimeout(BaseException):
    """One call ran past the per-call limit (BaseException: a student's ``except Exception`` lets it through)."""


class _Stop(BaseException):
    """Ends the search at once (not started, or an endless loop)."""

    def __init__(self, status: str, case: dict | None, message: str) -> None:
        super().__init__(message)
        self.status, self.case, self.message = status, case, message


def _copy(case: dict) -> list:
    return [v.copy() if isinstance(v, np.ndarray) else (list(v) if isinstance(v, list) else v)
            for v in case.values()]


def call_with_limit(fn: Callable, case: dict, limit: float = CALL_LIMIT_S) -> Any:
    """fn(*case values) on copies of the arguments, interrupted after ``limit`` seconds."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):  # overflow etc. show up as wrong answers
        warnings.simplefilter("ignore")
        if limit is None or not hasattr(signal, "setitimer") or \
                signal.getsignal(signal.SIGALRM) not in (signal.SIG_DFL, _alarm, None):
            return fn(*_copy(case))
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            return fn(*_copy(case))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


def _alarm(signum: int, frame: Any) -> None:
    raise CallTimeout()


def _student_traceback(exc: BaseException, path: str | None) -> str:
    """The exception and the frames in the student's file (not the grader's)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if path is None or
              os.path.abspath(f.filename) == os.path.abspath(path)]
    lines = [f"  line {f.lineno}: {f.line}" for f in frames[-3:]]
    return "\n".join([f"{type(exc).__name__}: {exc}"] + lines)


class _Shrunk(BaseException):
    """Shrinking has used its time budget: stop and report the smallest failing input so far."""


def search(ex: Exercise, fn: Callable, path: str | None = None, max_examples: int | None = None,
           call_limit: float = CALL_LIMIT_S, shrink_budget_s: float = SHRINK_BUDGET_S) -> dict:
    """Grade ``fn`` for exercise ``ex``: {status, seconds, case?, report fields...}.

    Hypothesis looks for an input where ``fn`` is wrong and shrinks it; after
    ``shrink_budget_s`` seconds the smallest failing input found so far is reported, so a
    student never waits long for feedback (on an idle machine shrinking ends well before).
    """
    _need_hypothesis()
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample

    t0, c0 = time.perf_counter(), time.process_time()
    calls = [0]
    timeouts: list[dict] = []
    failing: list[dict] = []    # the smallest failing input so far (hypothesis only tries smaller ones)

    def wrong(case: dict) -> bool:
        calls[0] += 1
        if failing and time.perf_counter() - t0 > shrink_budget_s:
            raise _Shrunk()     # long enough: report the smallest failing input found so far
        if is_wrong(case):
            failing[:] = [case]
            return True
        return False

    def is_wrong(case: dict) -> bool:
        try:
            actual = call_with_limit(fn, case, call_limit)
        except NotImplementedError as e:
            if calls[0] == 1:
                raise _Stop(NOT_STARTED, None, f"{ex.name}() raises NotImplementedError ({e}): "
                                               f"write it in {Path(path).name if path else ex.name + '.py'}") from None
            return True
        except CallTimeout:
            # an endless loop is a failure like any other, so hypothesis shrinks it too; but each
            # costs call_limit seconds, so after a few the smallest one so far is reported
            timeouts.append(case)
            if len(timeouts) >= MAX_TIMEOUTS:
                raise _Stop(ERROR, case, f"a call ran longer than {call_limit:g} s (an endless loop?)") from None
            return True
        except Exception:
            return True
        try:
            return check_answer(ex, case, actual) is not None
        except Exception:       # an answer so odd that comparing it fails: wrong
            return True

    cfg = settings(max_examples=max_examples or ex.max_examples, derandomize=True, database=None,
                   deadline=None, suppress_health_check=list(HealthCheck),
                   phases=[Phase.generate, Phase.shrink], report_multiple_bugs=False)
    result: dict = {"name": ex.name, "lesson": ex.lesson}
    try:
        try:
            case = find(ex.cases(), wrong, settings=cfg)
        except _Shrunk:
            case = failing[0]
        result["cpu_seconds"] = time.process_time() - c0      # to the shrunk counterexample
    except NoSuchExample:
        return {**result, "status": PASS, "seconds": time.perf_counter() - t0, "examples": calls[0]}
    except _Stop as stop:
        result.update(status=stop.status, message=stop.message, seconds=time.perf_counter() - t0)
        if stop.case is not None:
            result["case"] = stop.case
        return result
    except Exception as e:      # e.g. hypothesis finds the student's function flaky
        return {**result, "status": ERROR, "message": f"grading stopped: {type(e).__name__}: {e}",
                "seconds": time.perf_counter() - t0}
    # the shrunk counterexample: run it once more to report it
    result.update(case=case, seconds=time.perf_counter() - t0)
    try:
        actual = call_with_limit(fn, case, call_limit)
    except CallTimeout:
        return {**result, "status": ERROR, "message": f"a call ran longer than {call_limit:g} s (an endless loop?)"}
    except BaseException as e:  # noqa: BLE001 - the student's exception is the report
        return {**result, "status": ERROR, "message": "your function raised on this input:\n"
                + _student_traceback(e, path), "expected": ex.expected_for(case)}
    try:
        problem = check_answer(ex, case, actual)
    except Exception as e:      # noqa: BLE001
        problem = {"problem": f"your answer could not be compared ({type(e).__name__}: {e}); it should be "
                              f"{_describe_type(ex.expected_for(case))}", "where": "the result",
                   "expected": ex.expected_for(case), "actual": actual}
    problem = problem or {"problem": "wrong on this input (it passed when run again: "
                                                            "does it depend on something besides its arguments?)",
                                                 "where": "the result", "expected": ex.expected_for(case),
                                                 "actual": actual}
    return {**result, "status": FAIL, **problem}


def _need_hypothesis() -> None:
    try:
        import hypothesis  # noqa: F401
    except ImportError:
        raise ImportError("the exercise grader needs hypothesis: pip install 'minifcn[exercises]' "
                          "(or pip install hypothesis)") from None


# ---- loading a student's file ---------------------------------------------------------------
def load_function(path: str | os.PathLike, name: str) -> Callable:
    """Import the workbook file and return its function ``name`` (raises on any problem)."""
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


def grade_file(name: str, path: str | os.PathLike, call_limit: float = CALL_LIMIT_S,
               max_examples: int | None = None) -> dict:
    """Grade one workbook file in this process (the worker's job)."""
    ex = BY_NAME[name]
    if not Path(path).exists():
        return {"name": name, "lesson": ex.lesson, "status": NOT_STARTED, "message": f"{Path(path).name} is missing",
                "seconds": 0.0}
    try:
        with _alarm_after(max(call_limit * 10, 5.0)):
            fn = load_function(path, name)
    except CallTimeout:
        return {"name": name, "lesson": ex.lesson, "status": ERROR, "seconds": 0.0,
                "message": f"importing {Path(path).name} took longer than {max(call_limit * 10, 5.0):g} s"}
    except SyntaxError as e:
        return {"name": name, "lesson": ex.lesson, "status": ERROR, "seconds": 0.0,
                "message": f"syntax error in {Path(path).name}, line {e.lineno}: {e.msg}\n  {(e.text or '').rstrip()}"}
    except BaseException as e:  # noqa: BLE001
        return {"name": name, "lesson": ex.lesson, "status": ERROR, "seconds": 0.0,
                "message": f"importing {Path(path).name} failed:\n" + _student_traceback(e, str(path))}
    return search(ex, fn, str(path), max_examples=max_examples, call_limit=call_limit)


@contextlib.contextmanager
def _alarm_after(seconds: float):
    if not hasattr(signal, "setitimer"):
        yield
        return
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# ---- many exercises, each in its own process --------------------------------------------------
def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return {"array": np.where(np.isfinite(v), v, 0).tolist() if v.dtype.kind == "f" else v.tolist(),
                "shape": list(v.shape), "dtype": str(v.dtype), "repr": _fmt(v)}
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if np.isfinite(v) else repr(float(v))
    if v is None or isinstance(v, (bool, int, str)):
        return v
    return repr(v)


def _fmt(v: Any) -> str:
    if isinstance(v, np.ndarray):
        with np.printoptions(precision=6, suppress=True, linewidth=100, threshold=100000):
            return np.array2string(v, separator=", ") if v.ndim <= 1 else str(v)
    return repr(v)


def _result_json(result: dict) -> dict:
    """The worker's result as JSON: the report text is formatted here, where the arrays are."""
    text = {k: v for k, v in result.items() if k not in ("case", "expected", "actual")}
    text["report"] = format_details(result)
    for key in ("case", "expected", "actual"):
        if key in result:
            text[key] = _jsonable(result[key])
    return text


def _write_json(obj: dict, out: str) -> None:
    with atomic_open(out, "w") as f:
        json.dump(obj, f)


def _stopped(name: str, seconds: float, message: str) -> dict:
    result = {"name": name, "lesson": BY_NAME[name].lesson, "status": ERROR, "seconds": seconds, "message": message}
    result["report"] = format_details(result)
    return result


def _tail(path: str, n: int = 8) -> str:
    try:
        with open(path, errors="replace") as f:
            lines = f.read().strip().splitlines()
    except OSError:
        return ""
    return "\n".join("  " + line for line in lines[-n:])


def _serve(folder: str, names: list[str], jobs: int, time_limit: float, tmp: str, examples: int = 0) -> int:
    """The grading server: imports everything once, then forks one child per exercise.

    A child grades one exercise and writes its JSON; the server kills a child that runs past
    ``time_limit`` and prints one JSON line per finished exercise (the caller reads them).
    Forking gives each exercise a fresh process (a student's file cannot disturb the next one)
    without paying the interpreter's and the imports' start-up time again.
    """
    pending = list(names)
    running: dict[int, tuple[str, float, str, str]] = {}
    while pending or running:
        while pending and len(running) < jobs:
            name = pending.pop(0)
            out, log = os.path.join(tmp, name + ".json"), os.path.join(tmp, name + ".log")
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:                        # the child: grade, write, leave at once
                code = 0
                try:
                    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                    os.dup2(fd, 1)              # the student's prints go to the log, not the protocol
                    os.dup2(fd, 2)
                    _write_json(_result_json(grade_file(name, os.path.join(folder, name + ".py"),
                                                        max_examples=examples or None)), out)
                except BaseException:       # noqa: BLE001
                    traceback.print_exc()
                    code = 1
                finally:
                    os._exit(code)
            running[pid] = (name, time.perf_counter(), out, log)
        time.sleep(0.01)
        for pid, (name, start, out, log) in list(running.items()):
            elapsed = time.perf_counter() - start
            done, _ = os.waitpid(pid, os.WNOHANG)
            if not done and elapsed < time_limit:
                continue
            if not done:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                result = _stopped(name, elapsed, f"no result within the time limit of {time_limit:g} s "
                                                 "(an endless loop?)")
            elif os.path.exists(out):
                with open(out) as f:
                    result = json.load(f)
                result["seconds"] = elapsed
            else:
                result = _stopped(name, elapsed, "the grading process stopped without a result:\n" + _tail(log))
            del running[pid]
            print(json.dumps(result), flush=True)
    return 0


def check_workbook(folder: str | os.PathLike, names: list[str] | None = None, jobs: int | None = None,
                   time_limit: float = EXERCISE_LIMIT_S, on_result: Callable[[dict], None] | None = None,
                   max_examples: int | None = None) -> list[dict]:
    """Grade the exercises ``names`` (default: all) of a workbook, each in its own process.

    Returns one dict per exercise, in catalogue order: name, lesson, status, seconds,
    report (the text shown to the student) and, on FAIL/ERROR, the counterexample.
    ``on_result`` is called with each result as soon as it is there; ``max_examples``
    overrides each exercise's number of hypothesis examples.
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
    jobs = jobs or max(1, min(2, os.cpu_count() or 1))
    results: dict[str, dict] = {}
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([package_root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    with tempfile.TemporaryDirectory(prefix="minifcn-grade-") as tmp:
        if hasattr(os, "fork"):
            cmd = [sys.executable, "-m", "minifcn.exercises._worker", "--serve", str(folder.resolve()),
                   ",".join(names), str(jobs), str(time_limit), tmp, str(max_examples or 0)]
            with subprocess.Popen(cmd, cwd=str(folder), env=env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                  text=True) as server:
                for line in server.stdout:          # type: ignore[union-attr]
                    if line.startswith("{"):
                        result = json.loads(line)
                        results[result["name"]] = result
                        if on_result is not None:
                            on_result(result)
            for name in names:
                if name not in results:
                    results[name] = _stopped(name, 0.0, f"the grading server stopped (exit code {server.returncode})")
        else:                                       # no fork (Windows): one interpreter per exercise
            for name in names:
                out = os.path.join(tmp, name + ".json")
                t0 = time.perf_counter()
                try:
                    subprocess.run([sys.executable, "-m", "minifcn.exercises._worker", "--worker", name,
                                    str(folder / f"{name}.py"), out], cwd=str(folder), env=env,
                                   capture_output=True, timeout=time_limit)
                except subprocess.TimeoutExpired:
                    pass
                if os.path.exists(out):
                    with open(out) as f:
                        result = json.load(f)
                else:
                    result = _stopped(name, time.perf_counter() - t0, "no result (time limit or crash)")
                result["seconds"] = time.perf_counter() - t0
                results[name] = result
                if on_result is not None:
                    on_result(result)
    return [results[n] for n in names]


# ---- what the student reads -----------------------------------------------------------------
def _indent(text: str, by: str = "    ") -> str:
    return "\n".join((by + line).rstrip() for line in text.splitlines())


def format_details(result: dict) -> str:
    """The lines under an exercise's status line (empty for PASS)."""
    status = result["status"]
    if status == PASS:
        return ""
    lines = []
    if "message" in result:
        lines.append(_indent(result["message"], "  "))
    case = result.get("case")
    if case is not None:
        lines.append("  smallest input found (shrunk by hypothesis):" if status == FAIL or "expected" in result
                     else "  on this input:")
        for key, value in case.items():
            shape = f"   # shape {value.shape}, {value.dtype}" if isinstance(value, np.ndarray) else ""
            text = _fmt(value)
            if "\n" in text:
                lines.append(f"    {key} ={shape}\n" + _indent(text, "      "))
            else:
                lines.append(f"    {key} = {text}{shape}")
    ex = BY_NAME.get(result["name"])
    if "expected" in result:
        part = result.get("where", "the result")
        part = "" if part == "the result" else f" {part}"
        for label, key in ((f"expected{part}", "expected"), (f"yours{part}", "actual")):
            if key not in result:
                continue
            value = result[key]
            parts = value if isinstance(value, tuple) and ex and len(ex.outputs) == len(value) else None
            if parts is not None:
                lines.append(f"  {label}:")
                for part, v in zip(ex.outputs, parts):
                    lines.append(f"    {part} =" + (f"   # shape {v.shape}\n" + _indent(_fmt(v), "      ")
                                                    if isinstance(v, np.ndarray) else f" {_fmt(v)}"))
            else:
                shape = f"   # shape {value.shape}" if isinstance(value, np.ndarray) else ""
                text = _fmt(value)
                lines.append(f"  {label}:{shape}\n" + _indent(text, "    ") if "\n" in text or shape
                             else f"  {label}: {text}")
    if "problem" in result:
        lines.append(f"  first difference: {result['problem']}")
    if ex is not None and status in (FAIL, ERROR) and case is not None:
        lines.extend(f"  hint: {h}" for h in ex.hints)
    return "\n".join(lines)


def format_result(result: dict) -> str:
    head = f"{result['status']:<11}  {result['name']:<24} lesson {result['lesson']:>2}  {result.get('seconds', 0):5.1f} s"
    details = result.get("report", format_details(result))
    return head + ("\n" + details if details else "")


def score_line(results: list[dict]) -> str:
    passed = sum(r["status"] == PASS for r in results)
    counts = {s: sum(r["status"] == s for r in results) for s in (PASS, FAIL, ERROR, NOT_STARTED)}
    return (f"score: {passed}/{len(results)} passed  ("
            + ", ".join(f"{v} {k.lower()}" for k, v in counts.items() if v) + ")")


def check_here(name: str, path: str | None = None) -> bool:
    """Grade one exercise from inside its own workbook file or notebook; prints the report."""
    file = Path(path) if path else Path.cwd() / f"{name}.py"
    [result] = check_workbook(file.parent, [name])
    print(format_result(result))
    return result["status"] == PASS


def main(argv: list[str]) -> int:
    """``--serve FOLDER NAMES JOBS LIMIT TMP EXAMPLES`` (fork per exercise) or ``--worker NAME FILE OUT`` (one)."""
    if len(argv) == 7 and argv[0] == "--serve":
        folder, names, jobs, limit, tmp, examples = argv[1:]
        return _serve(folder, names.split(","), int(jobs), float(limit), tmp, int(examples))
    if len(argv) == 4 and argv[0] == "--worker":
        name, path, out = argv[1:]
        _write_json(_result_json(grade_file(name, path)), out)
        return 0
    print("usage: python -m minifcn.exercises._worker (--serve FOLDER NAMES JOBS LIMIT TMP EXAMPLES | --worker NAME FILE OUT)",
          file=sys.stderr)
    return 2
