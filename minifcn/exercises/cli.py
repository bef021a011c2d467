"""``minifcn exercises init|list|check|class``: the command-line side of the workbook."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    """Add the ``exercises`` command (with init, list, check) to the main parser's subparsers."""
    ex = sub.add_parser("exercises", help="a workbook of exercises (write im2col, pooling, losses, ...) and its grader",
                        description="Write the core pieces of minifcn yourself; the grader shows the smallest "
                                    "input on which your code is wrong.")
    verbs = ex.add_subparsers(dest="verb", metavar="VERB", parser_class=type(ex),
                             help="init, list, check or class; minifcn exercises VERB --help lists its options")
    init = verbs.add_parser("init", help="write one file per exercise into DIR (never overwrites a file)")
    init.add_argument("dir", help="workbook folder (created if missing)")
    init.add_argument("--solutions", action="store_true",
                      help="write the reference solutions instead of the stubs, for instructors (default: stubs)")
    ls = verbs.add_parser("list", help="the exercises in lesson order (with DIR: the state of each file)")
    ls.add_argument("dir", nargs="?", default=None, help="a workbook folder (optional)")
    ck = verbs.add_parser("check", help="grade the workbook: PASS / FAIL / NOT STARTED / ERROR and a score; "
                                        "exit code 0 only if every exercise asked for passes")
    ck.add_argument("dir", help="workbook folder")
    ck.add_argument("names", nargs="*", metavar="NAME", help="exercises to grade (default: all)")
    ck.add_argument("--json", action="store_true", help="print machine-readable results (JSON) instead of text "
                                                        "(the same as --format json; default: off, text)")
    ck.add_argument("--format", choices=("text", "json", "gradescope"), default=None,
                    help="text (default), json, or gradescope: Gradescope's autograder results.json "
                         "(one test per exercise; redirect it to /autograder/results/results.json)")
    ck.add_argument("--jobs", type=int, default=None, help="exercises graded at once (default: min(2, CPUs))")
    ck.add_argument("--examples", type=int, default=None,
                    help="hypothesis examples per exercise (default: each exercise's own, 60 to 100)")
    ck.add_argument("--time-limit", type=float, default=60.0,
                    help="seconds per exercise before it is stopped and reported (default: 60)")
    cl = verbs.add_parser("class", help="grade many workbooks (one folder per student) and print a CSV: "
                                        "one row per workbook, one column per exercise, the score")
    cl.add_argument("dirs", nargs="+", metavar="DIR", help="workbook folders, e.g. submissions/*/")
    cl.add_argument("--examples", type=int, default=None,
                    help="hypothesis examples per exercise (default: each exercise's own)")
    cl.add_argument("--jobs", type=int, default=None, help="exercises graded at once (default: min(2, CPUs))")


def run(args: argparse.Namespace) -> int:
    """Run ``minifcn exercises VERB``; returns the exit code."""
    try:
        import hypothesis  # noqa: F401  (the catalogue's inputs are hypothesis strategies)
    except ImportError:
        print("minifcn exercises: needs hypothesis, a dependency of minifcn: pip install hypothesis "
              "(or reinstall minifcn: pip install -e .)",
              file=sys.stderr)
        return 2
    if args.verb == "init":
        from .workbook import init_workbook
        written, kept = init_workbook(args.dir, solutions=args.solutions)
        what = "reference solutions" if args.solutions else "exercise stubs"
        print(f"{args.dir}: wrote {len(written)} {what}" + (f", kept {len(kept)} existing file(s) unchanged"
                                                           if kept else ""))
        for path in written:
            print(f"  {path}")
        print(f"next: open a file (as a script or, with jupytext, as a notebook) and run "
              f"'minifcn exercises check {args.dir}'")
        return 0
    if args.verb == "list":
        from .workbook import list_lines
        print("\n".join(list_lines(args.dir)))
        return 0
    if args.verb == "check":
        return _check(args)
    if args.verb == "class":
        return _class(args)
    print("minifcn exercises: say init, list, check or class (see 'minifcn exercises --help')", file=sys.stderr)
    return 2


def _check(args: argparse.Namespace) -> int:
    from .catalogue import BY_NAME
    from .grader import PASS, check_workbook, format_result, score_line
    if args.jobs is not None and args.jobs < 1:
        raise ValueError(f"--jobs {args.jobs} must be >= 1")
    if args.examples is not None and args.examples < 1:
        raise ValueError(f"--examples {args.examples} must be >= 1")
    if not args.time_limit > 0:
        raise ValueError(f"--time-limit {args.time_limit} must be > 0")
    fmt = args.format or ("json" if args.json else "text")
    args.json = fmt != "text"
    names = args.names or list(BY_NAME)
    order = [n for n in BY_NAME if n in names]
    shown: list[str] = []
    done: dict[str, dict] = {}

    def show(result: dict) -> None:      # print in catalogue order as results arrive
        done[result["name"]] = result
        while len(shown) < len(order) and order[len(shown)] in done:
            name = order[len(shown)]
            if not args.json:
                print(format_result(done[name]), flush=True)
            shown.append(name)

    results = check_workbook(args.dir, names, jobs=args.jobs, time_limit=args.time_limit,
                             max_examples=args.examples, on_result=show)
    passed = sum(r["status"] == PASS for r in results)
    if fmt == "gradescope":
        json.dump(gradescope_results(results), sys.stdout, indent=1)
        print()
    elif args.json:
        json.dump({"workbook": str(args.dir), "passed": passed, "total": len(results),
                   "score": passed / len(results) if results else 0.0, "exercises": results}, sys.stdout, indent=1)
        print()
    else:
        print(score_line(results))
    return 0 if passed == len(results) else 1


def gradescope_results(results: list[dict], points: float = 1.0) -> dict:
    """Gradescope's autograder results.json: one test per exercise (``points`` for a PASS, else 0)."""
    from .grader import PASS, format_result
    tests = []
    for r in results:
        tests.append({"name": f"{r['name']} (lesson {r['lesson']})", "score": points if r["status"] == PASS else 0.0,
                      "max_score": points, "status": "passed" if r["status"] == PASS else "failed",
                      "output": format_result(r), "visibility": "visible"})
    return {"score": sum(t["score"] for t in tests), "execution_time": round(sum(r.get("seconds", 0.0)
                                                                                for r in results), 1),
            "output": f"{sum(r['status'] == PASS for r in results)} of {len(results)} exercises pass",
            "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}


def _class(args: argparse.Namespace) -> int:
    """One CSV row per workbook: the folder, each exercise's status, the number passed."""
    import csv
    from pathlib import Path

    from .catalogue import EXERCISES
    from .grader import PASS, check_workbook
    if args.examples is not None and args.examples < 1:
        raise ValueError(f"--examples {args.examples} must be >= 1")
    missing = [d for d in args.dirs if not Path(d).is_dir()]
    if missing:
        raise FileNotFoundError(f"not a workbook folder: {', '.join(missing)}")
    writer = csv.writer(sys.stdout)
    writer.writerow(["workbook"] + [e.name for e in EXERCISES] + ["passed", "total"])
    for d in args.dirs:
        results = check_workbook(d, jobs=args.jobs, max_examples=args.examples)
        writer.writerow([Path(d).name] + [r["status"] for r in results]
                        + [sum(r["status"] == PASS for r in results), len(results)])
        sys.stdout.flush()
    return 0
