#!/usr/bin/env python3
"""Run lessons at several seeds and print every claim's margin at each seed.

Each lesson states its empirical claims through ``minifcn.lesson.claim``, which records the
claim's value, threshold and margin (how far the value is on the right side of the
threshold) to ``$MINIFCN_CLAIMS``. This tool runs every (lesson, seed) pair as its own
process, in parallel, with ``MINIFCN_SEED`` set, ``MINIFCN_CLAIMS`` pointing at a fresh JSON
Lines file, ``MPLBACKEND=Agg`` and ``MINIFCN_FIGURES`` a temporary folder, and prints a table:
one row per (lesson, claim), its margin at each seed and the smallest margin. A claim false
at some seed, or missing there because its lesson crashed first, is marked; a crashed run
prints the tail of its stderr. The exit status is 1 when anything failed, else 0.

    python tools/seed_sweep.py                          # every lesson, seeds 0-4
    python tools/seed_sweep.py --seeds 5-7 05 06        # lessons 05 and 06 at seeds 5, 6, 7
    python tools/seed_sweep.py --json sweep.json 02     # also write the table as JSON
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LESSONS_DIR = ROOT / "lessons"
_RUNNING: set[int] = set()          # process groups of the runs in progress (killed if the sweep is stopped)
_LOCK = threading.Lock()


def parse_seeds(text: str) -> list[int]:
    """Seeds from "0-4", "0,2,5" or "0-2,7" (ranges inclusive), sorted, each once."""
    seeds: set[int] = set()
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part[1:]:
                lo, hi = part.split("-", 1)
                lo_i, hi_i = int(lo), int(hi)
                if hi_i < lo_i:
                    raise ValueError
                seeds.update(range(lo_i, hi_i + 1))
            else:
                seeds.add(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--seeds must be like 0-4, 0,2,5 or 0-2,7 (integers >= 0, ranges low-high), got {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"--seeds must name integers >= 0, got {text!r}")
    return sorted(seeds)


def find_lessons(lessons_dir: Path, wanted: list[str]) -> list[Path]:
    """The lesson files: all ``NN_*.py`` in ``lessons_dir``, or those named by ``wanted``
    (a path, a file name, or a prefix such as "05" or "05_unpooling")."""
    every = sorted(lessons_dir.glob("[0-9][0-9]_*.py"))
    if not wanted:
        return every
    chosen: list[Path] = []
    for w in wanted:
        path = Path(w)
        if path.suffix == ".py" and path.is_file():
            hits = [path.resolve()]
        else:
            hits = [p for p in every if p.name.startswith(Path(w).name)]
        if not hits:
            names = ", ".join(p.stem for p in every) or "none"
            raise SystemExit(f"seed_sweep: no lesson matches {w!r} in {lessons_dir} (lessons: {names})")
        chosen += [h for h in hits if h not in chosen]
    return chosen


def run_one(lesson: Path, seed: int, workdir: Path, timeout: float) -> dict:
    """Run one lesson at one seed; return its claims, exit status, CPU seconds and stderr tail."""
    tag = f"{lesson.stem}.seed{seed}"
    claims_file, figures = workdir / f"{tag}.claims.jsonl", workdir / f"{tag}.figures"
    env = dict(os.environ, MINIFCN_SEED=str(seed), MINIFCN_CLAIMS=str(claims_file), MPLBACKEND="Agg",
               MINIFCN_FIGURES=str(figures),
               PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    start = time.perf_counter()
    with open(workdir / f"{tag}.out", "wb") as out, open(workdir / f"{tag}.err", "wb") as err:
        proc = subprocess.Popen([sys.executable, str(lesson)], env=env, stdout=out, stderr=err,
                                cwd=str(lesson.parent.parent), start_new_session=True)
        with _LOCK:
            _RUNNING.add(proc.pid)
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)         # wait4: this child's own CPU time
        finally:
            timer.cancel()
            with _LOCK:
                _RUNNING.discard(proc.pid)
    proc.returncode = returncode = os.waitstatus_to_exitcode(status)
    claims = []
    if claims_file.is_file():
        claims = [json.loads(line) for line in claims_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    stderr = (workdir / f"{tag}.err").read_text(encoding="utf-8", errors="replace")
    if timed_out.is_set():
        stderr += f"\n(seed_sweep: killed after {timeout:g} s)"
    return {"lesson": lesson.stem, "seed": seed, "returncode": returncode, "timed_out": timed_out.is_set(),
            "cpu_s": usage.ru_utime + usage.ru_stime, "wall_s": time.perf_counter() - start,
            "claims": claims, "stderr_tail": "\n".join(stderr.rstrip().splitlines()[-15:])}


def table(runs: list[dict], seeds: list[int]) -> list[dict]:
    """One row per (lesson, claim name): margins and values by seed, the smallest margin, and
    whether it holds at every seed swept. A name recorded k > 1 times in one run gets
    "#2", "#3"... on its later occurrences."""
    rows: dict[tuple[str, str], dict] = {}
    for run in runs:
        seen: dict[str, int] = {}
        for c in run["claims"]:
            seen[c["name"]] = seen.get(c["name"], 0) + 1
            name = c["name"] if seen[c["name"]] == 1 else f"{c['name']}#{seen[c['name']]}"
            row = rows.setdefault((run["lesson"], name), {
                "lesson": run["lesson"], "name": name, "op": c["op"], "threshold": c["threshold"],
                "note": c.get("note", ""), "line": c.get("line"), "margins": {}, "values": {}, "holds": {}})
            row["margins"][seed := run["seed"]] = c["margin"]
            row["values"][seed] = c["value"]
            row["holds"][seed] = bool(c["holds"])
    out = []
    for row in rows.values():
        margins = [m for m in row["margins"].values() if m == m]       # NaN margins drop out of the min
        row["min_margin"] = min(margins) if margins else float("nan")
        row["missing"] = [s for s in seeds if s not in row["margins"]]
        row["ok"] = all(row["holds"].get(s, False) for s in seeds)
        out.append(row)
    order = {run["lesson"]: i for i, run in enumerate(sorted(runs, key=lambda r: r["lesson"]))}
    return sorted(out, key=lambda r: (order[r["lesson"]], r["line"] or 0))


def render(rows: list[dict], runs: list[dict], seeds: list[int]) -> str:
    """The table as text, then one block per crashed run."""
    head = ["lesson", "claim", "test"] + [f"seed {s}" for s in seeds] + ["min margin", ""]
    body = []
    for r in rows:
        cells = []
        for s in seeds:
            if s not in r["margins"]:
                cells.append("missing")
            else:
                cells.append(f"{r['margins'][s]:+.4g}" + ("" if r["holds"][s] else " FAIL"))
        body.append([r["lesson"][:2], r["name"], f"{r['op']} {r['threshold']:.4g}"] + cells
                    + [f"{r['min_margin']:+.4g}", "ok" if r["ok"] else "FAIL"])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)] if body else [len(h) for h in head]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() for line in [head] + body]
    cpu = {}
    for run in runs:
        cpu.setdefault(run["lesson"], []).append(run["cpu_s"])
    lines.append("")
    lines += [f"{lesson}: CPU seconds (user+sys) per run, max {max(v):.1f}, mean {sum(v) / len(v):.1f}"
              for lesson, v in sorted(cpu.items())]
    for run in sorted(runs, key=lambda r: (r["lesson"], r["seed"])):
        if run["returncode"] != 0:
            lines += ["", f"CRASHED: {run['lesson']} at MINIFCN_SEED={run['seed']} (exit {run['returncode']});"
                      " the tail of its stderr:"] + ["    " + x for x in run["stderr_tail"].splitlines()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].replace(".", ";") + " exit 1 if a claim fails or a lesson crashes.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("lessons", nargs="*", metavar="LESSON",
                        help="lesson files or prefixes such as 05; none: every NN_*.py in --lessons-dir")
    parser.add_argument("--seeds", type=parse_seeds, default="0-4",
                        help="MINIFCN_SEED values: a range 0-4, a list 0,2,5, or both 0-2,7")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="processes run at once (the default is this machine's CPU count)")
    parser.add_argument("--lessons-dir", type=Path, default=LESSONS_DIR, help="where the lessons are")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before one run is killed")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="also write the table (and each run's exit status and CPU time) as JSON to FILE")
    parser.add_argument("--force", action="store_true", help="let --json replace an existing FILE")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    if not args.lessons_dir.is_dir():
        parser.error(f"--lessons-dir {args.lessons_dir} is not a folder")
    if args.json and args.json.exists() and not args.force:
        parser.error(f"--json {args.json} exists; pass --force to replace it, or name another file")
    lessons = find_lessons(args.lessons_dir, args.lessons)
    if not lessons:
        parser.error(f"no lessons (NN_*.py) in {args.lessons_dir}")
    jobs = [(lesson, s) for lesson in lessons for s in args.seeds]
    print(f"seed_sweep: {len(lessons)} lessons x seeds {args.seeds} = {len(jobs)} runs, {args.jobs} at a time",
          flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))      # stopped: end the runs too (below)
    with tempfile.TemporaryDirectory(prefix="seed_sweep_") as tmp:
        pool = ThreadPoolExecutor(max_workers=args.jobs)
        try:
            runs = list(pool.map(lambda job: run_one(job[0], job[1], Path(tmp), args.timeout), jobs))
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            with _LOCK:
                for pgid in _RUNNING:
                    try:
                        os.killpg(pgid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            raise
        pool.shutdown()
    rows = table(runs, args.seeds)
    print(render(rows, runs, args.seeds))
    failed = [r for r in rows if not r["ok"]]
    crashed = [r for r in runs if r["returncode"] != 0]
    print(f"\n{len(rows)} claims, {len(failed)} failing; {len(runs)} runs, {len(crashed)} crashed")
    if args.json:
        sys.path.insert(0, str(ROOT))
        from minifcn.atomic import atomic_open
        doc = {"seeds": args.seeds, "claims": rows,
               "runs": [{k: v for k, v in r.items() if k != "claims"} for r in runs]}
        with atomic_open(args.json, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, default=str)
        print(f"wrote {args.json}")
    return 1 if failed or crashed else 0


if __name__ == "__main__":
    sys.exit(main())
