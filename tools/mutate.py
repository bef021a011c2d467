#!/usr/bin/env python3
"""Mutation testing for minifcn: plant one small bug at a time, see whether the tests notice.

A *mutant* is the library with one change a tired programmer could make: ``+`` for ``-``,
``<`` for ``<=``, a constant off by one, ``True`` for ``False``, ``and`` for ``or``, a
``not`` dropped, one statement (a call, an in-place update, a ``raise``) left out. The
mutants come from Python's ``ast``: every place such a change fits in the target modules.
For each mutant the covering tests run (``pytest -x``, with a timeout); the mutant is
*killed* if they fail (or time out) and *survives* if they pass. A survivor is either a
gap in the tests or an *equivalent* mutant (the change does not alter behaviour), which a
person has to tell apart.

Nothing is ever written into the working tree: the script copies ``minifcn/``, ``tests/``
and ``lessons/`` into a temporary directory (one per worker), writes each mutant there,
restores the file after the run (also on Ctrl-C or a crash) and deletes the copies at the end.

Which tests cover which module is a list of (glob pattern, test files) pairs, first match
wins, so a module moved or renamed inside ``minifcn/functional/`` is still covered by the
``functional/*.py`` entry. Override it with ``--map pattern=tests/a.py,tests/b.py``
(repeatable; checked before the defaults) or ``--config file.json`` ({pattern: [tests]}).
With ``--broad all-ops`` a mutant that survives its module's tests runs again against all
op tests before it counts as a survivor.

Usage (from the repository root; not part of CI):

    python tools/mutate.py                                  # every mutant of the default targets
    python tools/mutate.py --sample 200 --seed 14 -j 2      # a random sample, two workers
    python tools/mutate.py minifcn/metrics.py --list        # just list the mutants
    python tools/mutate.py --json mutants.json              # also write every result as JSON
"""
from __future__ import annotations

import argparse
import ast
import concurrent.futures
import copy
import dataclasses
import fnmatch
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_TARGETS = ["minifcn/autograd.py", "minifcn/functional/*.py", "minifcn/metrics.py",
                   "minifcn/checkpoint.py", "minifcn/train.py"]

OP_TESTS = ["tests/test_basic_ops.py", "tests/test_autograd.py", "tests/test_conv.py", "tests/test_pool.py",
            "tests/test_loss.py", "tests/test_norm.py", "tests/test_nn.py", "tests/test_behaviours.py",
            "tests/test_gaps.py"]

# (glob pattern relative to the repository root, test files), first match wins.
DEFAULT_MAP: list[tuple[str, list[str]]] = [
    ("minifcn/autograd.py", ["tests/test_gaps.py", "tests/test_autograd.py", "tests/test_basic_ops.py"]),
    ("minifcn/functional/im2col.py", ["tests/test_gaps.py", "tests/test_conv.py", "tests/test_pool.py"]),
    ("minifcn/functional/conv.py", ["tests/test_gaps.py", "tests/test_conv.py"]),
    ("minifcn/functional/pool.py", ["tests/test_gaps.py", "tests/test_pool.py", "tests/test_behaviours.py"]),
    ("minifcn/functional/unpool.py", ["tests/test_gaps.py", "tests/test_pool.py", "tests/test_behaviours.py"]),
    ("minifcn/functional/upsample.py", ["tests/test_gaps.py", "tests/test_pool.py"]),
    ("minifcn/functional/loss.py", ["tests/test_gaps.py", "tests/test_loss.py"]),
    ("minifcn/functional/norm.py", ["tests/test_gaps.py", "tests/test_norm.py"]),
    ("minifcn/functional/activation.py", ["tests/test_gaps.py", "tests/test_basic_ops.py", "tests/test_loss.py"]),
    ("minifcn/functional/basic.py", ["tests/test_gaps.py", "tests/test_basic_ops.py", "tests/test_autograd.py"]),
    ("minifcn/functional/*.py", OP_TESTS),      # anything new or moved in functional/
    ("minifcn/metrics.py", ["tests/test_gaps.py", "tests/test_metrics.py", "tests/test_behaviours.py"]),
    ("minifcn/checkpoint.py", ["tests/test_gaps.py", "tests/test_checkpoint.py", "tests/test_behaviours.py"]),
    ("minifcn/train.py", ["tests/test_gaps.py", "tests/test_train.py", "tests/test_behaviours.py", "tests/test_cli.py"]),
    ("minifcn/*.py", ["tests"]),
]


# ---- finding mutants ----------------------------------------------------------------------
@dataclasses.dataclass
class Mutant:
    path: str            # relative to the root
    line: int
    kind: str            # e.g. "binop Add->Sub"
    before: str          # the source lines that change
    after: str
    start: int = 0       # character offsets of the replaced text in the file
    end: int = 0
    text: str = ""       # what replaces it
    status: str = ""     # killed / survived / timeout / error
    seconds: float = 0.0
    detail: str = ""     # the first failing test, for a killed mutant

    def label(self) -> str:
        return f"{self.path}:{self.line} {self.kind}: {self.before.strip()}  -->  {self.after.strip()}"


BINOP_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
               ast.FloorDiv: ast.Mult, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult,
               ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd, ast.MatMult: ast.Mult}
CMP_SWAPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
             ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
CMP_FLIPS = {ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE}


def _line_offsets(source: str) -> list[int]:
    starts, pos = [0], 0
    for line in source.splitlines(keepends=True):
        pos += len(line)
        starts.append(pos)
    return starts


class _Finder(ast.NodeVisitor):
    """Collects (node, replacement node or None for 'drop', kind) for every mutation point."""

    def __init__(self):
        self.points: list[tuple[ast.AST, ast.AST | None, str]] = []
        self.skip_depth = 0

    # places where a change only alters a message, a type hint or documentation
    def _skip(self, node):
        self.skip_depth += 1
        self.generic_visit(node)
        self.skip_depth -= 1

    def visit_JoinedStr(self, node): pass                     # f-strings: messages
    def visit_arg(self, node): pass                           # annotations
    def visit_AnnAssign(self, node):
        if node.value is not None:
            self.visit(node.value)

    def visit_FunctionDef(self, node):
        for d in node.args.defaults + node.args.kw_defaults:
            if d is not None:
                self.visit(d)                                 # default values do matter
        for d in node.decorator_list:
            self.visit(d)
        self._body(node.body)
    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        self._body(node.body)

    def visit_Module(self, node):
        self._body(node.body)

    def _body(self, body):
        for i, stmt in enumerate(body):
            if i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) \
                    and isinstance(stmt.value.value, str):
                continue                                      # a docstring
            self.visit(stmt)

    def generic_visit(self, node):
        for field, value in ast.iter_fields(node):
            if isinstance(value, list):
                if value and isinstance(value[0], ast.stmt):
                    self._body(value)
                    continue
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)

    def _add(self, node, new, kind):
        if self.skip_depth == 0 and getattr(node, "lineno", None) is not None:
            self.points.append((node, new, kind))

    # statements
    def visit_Raise(self, node):
        self._add(node, None, "drop raise")
        # the message is not mutated
    def visit_Assert(self, node): pass
    def visit_Import(self, node): pass
    def visit_ImportFrom(self, node): pass
    def visit_Global(self, node): pass

    def visit_Expr(self, node):
        if isinstance(node.value, ast.Call):
            self._add(node, None, "drop call")
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._add(node, None, "drop update")
        if type(node.op) in BINOP_SWAPS:
            self._add(node, ast.AugAssign(target=node.target, op=BINOP_SWAPS[type(node.op)](), value=node.value),
                      f"augassign {type(node.op).__name__}->{BINOP_SWAPS[type(node.op)].__name__}")
        self.visit(node.value)

    def visit_Assign(self, node):
        if all(isinstance(t, (ast.Attribute, ast.Subscript)) for t in node.targets):
            self._add(node, None, "drop store")
        self.generic_visit(node)

    def visit_Continue(self, node): self._add(node, None, "drop continue")
    def visit_Break(self, node): self._add(node, None, "drop break")

    def visit_If(self, node):
        self._add(node.test, ast.UnaryOp(op=ast.Not(), operand=node.test), "negate if")
        self.generic_visit(node)

    # expressions
    def visit_BinOp(self, node):
        new = BINOP_SWAPS.get(type(node.op))
        if new is not None and not (isinstance(node.left, ast.Constant) and isinstance(node.left.value, str)):
            self._add(node, ast.BinOp(left=node.left, op=new(), right=node.right),
                      f"binop {type(node.op).__name__}->{new.__name__}")
        self.generic_visit(node)

    def visit_Compare(self, node):
        for i, op in enumerate(node.ops):
            for table, what in ((CMP_SWAPS, "compare"), (CMP_FLIPS, "flip")):
                new = table.get(type(op))
                if new is not None:
                    ops = list(node.ops)
                    ops[i] = new()
                    self._add(node, ast.Compare(left=node.left, ops=ops, comparators=node.comparators),
                              f"{what} {type(op).__name__}->{new.__name__}")
        self.generic_visit(node)

    def visit_BoolOp(self, node):
        new = ast.Or if isinstance(node.op, ast.And) else ast.And
        self._add(node, ast.BoolOp(op=new(), values=node.values), f"boolop {type(node.op).__name__}->{new.__name__}")
        self.generic_visit(node)

    def visit_UnaryOp(self, node):
        if isinstance(node.op, (ast.Not, ast.USub)):
            self._add(node, node.operand, f"drop {type(node.op).__name__}")
        self.generic_visit(node)

    def visit_Constant(self, node):
        v = node.value
        if isinstance(v, bool):
            self._add(node, ast.Constant(not v), f"const {v}->{not v}")
        elif isinstance(v, int):
            self._add(node, ast.Constant(v + 1), f"const {v}->{v + 1}")
            if v != 0:
                self._add(node, ast.Constant(v - 1), f"const {v}->{v - 1}")
        elif isinstance(v, float) and v == v and abs(v) != float("inf"):
            self._add(node, ast.Constant(v * 2 if v else 1.0), f"const {v}->{v * 2 if v else 1.0}")


def find_mutants(path: Path, root: Path = ROOT) -> list[Mutant]:
    source = path.read_text()
    tree = ast.parse(source)
    finder = _Finder()
    finder.visit(tree)
    offsets = _line_offsets(source)
    lines = source.splitlines(keepends=True)
    rel = str(path.resolve().relative_to(root))
    out, seen, original = [], set(), ast.dump(tree)
    for node, new, kind in finder.points:
        if new is None:                                   # drop a statement: keep the line count
            first, last = node.lineno, node.end_lineno
            start, end = offsets[first - 1] + node.col_offset, offsets[last - 1] + node.end_col_offset
            text = "pass" + "\n" * (last - first)
        else:
            if node.lineno != node.end_lineno:
                continue                                  # one-line mutants only
            start = offsets[node.lineno - 1] + node.col_offset
            end = offsets[node.end_lineno - 1] + node.end_col_offset
            text = ast.unparse(ast.fix_missing_locations(new))
            if isinstance(new, (ast.BinOp, ast.BoolOp, ast.Compare, ast.UnaryOp)) or isinstance(node, ast.UnaryOp):
                text = f"({text})"
        mutated = source[:start] + text + source[end:]
        try:
            if ast.dump(ast.parse(mutated)) == original:
                continue                                  # no change after all
        except SyntaxError:
            continue
        first, last = node.lineno, node.end_lineno
        before = "".join(lines[first - 1:last]).rstrip("\n")
        after_lines = mutated.splitlines()[first - 1:last]
        key = (start, end, text)
        if key in seen:
            continue
        seen.add(key)
        out.append(Mutant(rel, first, kind, before, "\n".join(after_lines), start, end, text))
    return out


# ---- which tests ---------------------------------------------------------------------------
def tests_for(rel: str, mapping: list[tuple[str, list[str]]]) -> list[str]:
    for pattern, tests in mapping:
        if fnmatch.fnmatch(rel, pattern):
            return tests
    return ["tests"]


# ---- running ---------------------------------------------------------------------------------
class Workspace:
    """A private copy of the tree; ``apply`` writes a mutant, ``restore`` puts the file back."""

    def __init__(self, root: Path):
        self.dir = Path(tempfile.mkdtemp(prefix="minifcn-mutate-"))
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", ".pytest_cache")
        for name in ("minifcn", "tests", "lessons"):
            if (root / name).exists():
                shutil.copytree(root / name, self.dir / name, ignore=ignore)
        for name in ("pyproject.toml", "conftest.py"):
            if (root / name).exists():
                shutil.copy2(root / name, self.dir / name)
        self.originals: dict[str, str] = {}

    def apply(self, m: Mutant) -> None:
        target = self.dir / m.path
        source = self.originals.setdefault(m.path, target.read_text())
        target.write_text(source[:m.start] + m.text + source[m.end:])

    def restore(self) -> None:
        for rel, text in self.originals.items():
            (self.dir / rel).write_text(text)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def run_tests(ws: Workspace, tests: list[str], timeout: float) -> tuple[str, str, float]:
    """('passed' | 'failed' | 'timeout', first failing test, seconds)."""
    env = dict(os.environ, PYTHONPATH=str(ws.dir), PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    cmd = [sys.executable, "-B", "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header",
           "-o", "addopts=", *tests]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ws.dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return "timeout", "", time.perf_counter() - t0
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    seconds = time.perf_counter() - t0
    if proc.returncode == 0:
        return "passed", "", seconds
    failed = next((line.split(" ")[1] for line in out.splitlines() if line.startswith(("FAILED", "ERROR"))), "")
    return "failed", failed or out.strip().splitlines()[-1] if out.strip() else failed, seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("targets", nargs="*", help=f"module files or globs (default: {' '.join(DEFAULT_TARGETS)})")
    ap.add_argument("--sample", type=int, default=0, help="run a random sample of N mutants (default: all)")
    ap.add_argument("--seed", type=int, default=14, help="seed of the sample (default: 14)")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="parallel workers, one tree copy each (default: 1)")
    ap.add_argument("--timeout", type=float, default=0,
                    help="seconds per mutant run; given, the unmutated runs are skipped "
                         "(default: 3 x the unmutated run + 30)")
    ap.add_argument("--map", action="append", default=[], metavar="PATTERN=TEST[,TEST]",
                    help="which tests cover which modules (repeatable; checked before the defaults)")
    ap.add_argument("--config", help="JSON file {pattern: [test files]}, checked before the defaults")
    ap.add_argument("--broad", default="",
                    help="tests a survivor of its module's tests runs against before it counts "
                         "(comma-separated, e.g. the op tests: --broad all-ops; default: none)")
    ap.add_argument("--only", metavar="JSON",
                    help="run only the mutants that survived in an earlier --json report "
                         "(matched by file, kind and the changed lines, so edits elsewhere do not matter)")
    ap.add_argument("--minutes", type=float, default=0,
                    help="start no new mutant after this many minutes; the report covers those run (default: no limit)")
    ap.add_argument("--list", action="store_true", help="list the mutants and stop")
    ap.add_argument("--json", help="write every mutant and its result to this JSON file")
    args = ap.parse_args(argv)

    mapping = [(p, t.split(",")) for p, t in (m.split("=", 1) for m in args.map)]
    if args.config:
        mapping += [(p, list(t)) for p, t in json.loads(Path(args.config).read_text()).items()]
    mapping += DEFAULT_MAP
    def matches(pattern: str) -> list[Path]:
        if Path(pattern).is_absolute():
            pattern = os.path.relpath(pattern, ROOT)
        return [p for p in ROOT.glob(pattern)
                if p.suffix == ".py" and (p.name != "__init__.py" or Path(pattern).name == p.name)]
    files = sorted({p for t in (args.targets or DEFAULT_TARGETS) for p in matches(t)})
    if not files:
        ap.error(f"no module matches {args.targets or DEFAULT_TARGETS}")
    mutants = [m for f in files for m in find_mutants(f)]
    total = len(mutants)
    if args.sample and args.sample < total:
        mutants = sorted(random.Random(args.seed).sample(mutants, args.sample), key=lambda m: (m.path, m.start))
    if args.only:
        wanted = {(m["path"], m["kind"], m["before"].strip(), m["after"].strip())
                  for m in json.loads(Path(args.only).read_text()) if m["status"] == "survived"}
        mutants = [m for m in mutants if (m.path, m.kind, m.before.strip(), m.after.strip()) in wanted]
        print(f"{len(wanted)} survivors in {args.only}; {len(mutants)} of them found again")
    by_file = {}
    for m in mutants:
        by_file[m.path] = by_file.get(m.path, 0) + 1
    print(f"{total} mutants in {len(files)} files; running {len(mutants)}"
          + (f" (a uniform random sample, seed {args.seed})" if len(mutants) < total else ""))
    for f, n in by_file.items():
        print(f"  {n:4d}  {f}  <- {' '.join(tests_for(f, mapping))}")
    if args.list:
        for m in mutants:
            print(m.label())
        return 0
    random.Random(args.seed + 1).shuffle(mutants)       # any prefix of the run is a uniform sample too
    deadline = time.monotonic() + 60 * args.minutes if args.minutes else float("inf")

    broad = OP_TESTS if args.broad == "all-ops" else [t for t in args.broad.split(",") if t]
    workspaces: list[Workspace] = []
    lock, done = threading.Lock(), [0]
    pool = threading.local()
    try:
        base = Workspace(ROOT)
        workspaces.append(base)
        budgets = {}
        for tests in sorted({tuple(tests_for(m.path, mapping)) for m in mutants} | ({tuple(broad)} if broad else set())):
            if args.timeout:                              # trust the tree; skip the unmutated runs
                budgets[tests] = args.timeout
                continue
            status, failed, seconds = run_tests(base, list(tests), timeout=3600)
            if status != "passed":
                print(f"the unmutated tree fails {' '.join(tests)} ({failed}); fix that first")
                return 2
            budgets[tests] = args.timeout or 3 * seconds + 30
            print(f"  unmutated: {' '.join(tests)} passes in {seconds:.1f} s")

        def workspace() -> Workspace:
            if not hasattr(pool, "ws"):
                pool.ws = Workspace(ROOT)
                with lock:
                    workspaces.append(pool.ws)
            return pool.ws

        def one(m: Mutant) -> Mutant:
            if time.monotonic() > deadline:
                m.status = "not run"
                return m
            ws = workspace()
            try:
                ws.apply(m)
                tests = tests_for(m.path, mapping)
                status, failed, seconds = run_tests(ws, tests, budgets[tuple(tests)])
                if status == "passed" and broad and broad != tests:
                    status, failed, more = run_tests(ws, broad, budgets[tuple(broad)])
                    seconds += more
            finally:
                ws.restore()
            m.status = {"passed": "survived", "failed": "killed", "timeout": "timeout"}[status]
            m.detail, m.seconds = failed, seconds
            with lock:
                done[0] += 1
                mark = "SURVIVED" if m.status == "survived" else m.status
                print(f"[{done[0]}/{len(mutants)}] {mark:8s} {seconds:5.1f}s  {m.label()}", flush=True)
                if args.json:
                    Path(args.json).write_text(json.dumps([dataclasses.asdict(m) for m in mutants], indent=1))
            return m

        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
            list(ex.map(one, mutants))
    except KeyboardInterrupt:
        print("\ninterrupted: the working tree was never touched; temporary copies removed")
        return 130
    finally:
        for ws in workspaces:
            ws.remove()

    skipped = sum(m.status == "not run" for m in mutants)
    if skipped:
        print(f"\n--minutes {args.minutes} ran out: {skipped} mutants not run, left out of the score")
        mutants = [m for m in mutants if m.status != "not run"]
    killed = sum(m.status in ("killed", "timeout") for m in mutants)
    survivors = [m for m in mutants if m.status == "survived"]
    timeouts = sum(m.status == "timeout" for m in mutants)
    print(f"\nkilled {killed} of {len(mutants)} mutants ({100 * killed / max(len(mutants), 1):.1f}%; "
          f"{timeouts} of them by the timeout); {len(survivors)} survived:")
    for m in survivors:
        print("  " + m.label())
    if args.json:
        Path(args.json).write_text(json.dumps([dataclasses.asdict(m) for m in mutants], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
