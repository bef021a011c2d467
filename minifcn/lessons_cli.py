"""``minifcn lessons list|init|run``: the course's lessons, shipped inside the package.

    minifcn lessons list                      # number, title, what it covers, minutes to run
    minifcn lessons init course               # course/NN_topic.py for every lesson
    minifcn lessons init course --notebooks   # and course/NN_topic.ipynb (plain Jupyter notebooks)
    minifcn lessons run 05                    # run lesson 5 as a script; says where its figures went

The lesson files of the repository (``lessons/NN_topic.py``) are the single source: building
the wheel copies them into the package (``minifcn/_lessons/``, see setup.py); running from a
clone (or an editable install) reads ``lessons/`` itself. Each lesson is a Jupytext
percent-format script; :func:`to_notebook` turns one into notebook JSON (nbformat 4) here,
without Jupytext, so the installed package needs nothing more to write ``.ipynb`` files.
``init`` never overwrites a file (a second ``init`` only adds what is missing).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .atomic import write_new

PACKAGED = Path(__file__).resolve().parent / "_lessons"            # in a wheel: copied in by setup.py
REPOSITORY = Path(__file__).resolve().parent.parent / "lessons"     # in a clone / editable install

# Seconds each lesson took as a notebook (nbclient, from an installed wheel; issue 25, on a
# loaded 2-core machine, so an upper bound). A lesson not measured yet shows "?".
SECONDS = {
    "01_dense_classification": 6, "02_patches_vs_fully_convolutional": 14, "03_downsampling_saves_compute": 7,
    "05_unpooling": 8, "06_transposed_convolution": 12, "07_conv_arithmetic": 18, "08_losses": 12,
    "09_metrics": 11, "10_unet": 36, "11_autoencoders": 40, "12_keypoints": 38, "13_atrous_separable": 43,
    "15_touching_objects": 39,
}


@dataclass(frozen=True)
class Lesson:
    """One lesson file: its number ("05"), file, title and a one-line summary."""
    number: str
    path: Path
    title: str
    summary: str

    @property
    def stem(self) -> str:
        return self.path.stem


def lesson_folder() -> Path:
    """Where the lessons are: the package's copy (an installed wheel), else the clone's lessons/."""
    for folder in (PACKAGED, REPOSITORY):
        if folder.is_dir() and any(folder.glob("[0-9][0-9]_*.py")):
            return folder
    raise FileNotFoundError(f"no lessons found in {PACKAGED} (an installed wheel) nor in {REPOSITORY} "
                            "(a clone); reinstall minifcn from a wheel or sdist built with setup.py")


def _title_and_summary(text: str, fallback: str) -> tuple[str, str]:
    """The first '# # ...' heading, and the first clause of 'This lesson covers:' (else of the first paragraph)."""
    title, para, seen_title = fallback, [], False
    for line in text.splitlines():
        if not seen_title:
            m = re.match(r"#\s+#\s+(.+)", line)
            if m:
                title, seen_title = m.group(1).strip(), True
            continue
        body = line[1:].strip() if line.startswith("#") else None
        if body is None or (not body and para) or body.startswith("%%"):
            if para:
                break
            continue
        if body:
            para.append(body)
    summary = " ".join(para)
    summary = re.sub(r"\*\*This lesson covers:\*\*\s*", "", summary)
    summary = re.sub(r"[*`\"$]", "", summary).split(";")[0].strip().rstrip(".")
    return title, summary


def lessons() -> list[Lesson]:
    """Every lesson, in number order, read from its file."""
    found = []
    for path in sorted(lesson_folder().glob("[0-9][0-9]_*.py")):
        title, summary = _title_and_summary(path.read_text(encoding="utf-8"), path.stem)
        found.append(Lesson(path.name[:2], path, title, summary))
    return found


def find(which: str) -> Lesson:
    """A lesson by number ("5", "05"), file stem ("05_unpooling") or file name."""
    all_ = lessons()
    key = which.strip()
    for lesson in all_:
        if key in (lesson.stem, lesson.path.name) or (key.isdigit() and int(key) == int(lesson.number)):
            return lesson
    raise ValueError(f"lesson {which!r} does not exist; valid: "
                     + ", ".join(f"{lesson.number} ({lesson.stem})" for lesson in all_))


# ---- percent format -> notebook ---------------------------------------------------------------
_CELL = re.compile(r"^# %%(.*)$")


def percent_cells(text: str) -> list[tuple[str, str]]:
    """(cell type, source) of a Jupytext percent-format script.

    ``# %%`` starts a code cell, ``# %% [markdown]`` (or ``[md]``) a Markdown cell whose lines
    lose their leading ``# `` (or ``#``). Blank lines at the end of a cell are dropped, as
    Jupytext does; text before the first marker (if any) is a code cell.
    """
    cells: list[tuple[str, list[str]]] = []
    kind, lines = "code", []
    for line in text.splitlines():
        m = _CELL.match(line)
        if m:
            cells.append((kind, lines))
            kind = "markdown" if re.search(r"\[(markdown|md)\]", m.group(1)) else "code"
            lines = []
            continue
        if kind == "markdown":
            line = line[2:] if line.startswith("# ") else line[1:] if line.startswith("#") else line
        lines.append(line)
    cells.append((kind, lines))
    out = []
    for n, (kind, body) in enumerate(cells):
        source = "\n".join(body).rstrip("\n")
        if n == 0 and not source:          # nothing before the first marker
            continue
        out.append((kind, source))
    return out


def to_notebook(text: str) -> dict[str, Any]:
    """Notebook JSON (nbformat 4.5) of a percent-format lesson: no outputs, cell ids cell-1, cell-2, ..."""
    cells = []
    for n, (kind, source) in enumerate(percent_cells(text), 1):
        cell: dict[str, Any] = {"cell_type": kind, "id": f"cell-{n}", "metadata": {},
                                "source": source.splitlines(keepends=True)}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        cells.append(cell)
    return {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                         "language_info": {"name": "python", "pygments_lexer": "ipython3"}}}


def notebook_text(text: str) -> str:
    """The ``.ipynb`` file's text (JSON, one-space indent, as Jupyter writes it)."""
    return json.dumps(to_notebook(text), indent=1, ensure_ascii=False) + "\n"




# ---- the commands --------------------------------------------------------------------------------
def init_lessons(folder: str | os.PathLike, notebooks: bool = False) -> tuple[list[Path], list[Path]]:
    """Write every lesson (and with ``notebooks`` its .ipynb) into ``folder``; never overwrites.

    Returns (written, kept as they were)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"lessons folder {str(folder)!r} exists and is not a folder; give a folder name")
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    kept: list[Path] = []
    for lesson in lessons():
        text = lesson.path.read_text(encoding="utf-8")
        files = [(folder / lesson.path.name, text)]
        if notebooks:
            files.append((folder / f"{lesson.stem}.ipynb", notebook_text(text)))
        for path, content in files:
            (written if write_new(path, content) else kept).append(path)
    return written, kept


def _minutes(stem: str) -> str:
    s = SECONDS.get(stem)
    return "?" if s is None else f"{max(s / 60, 0.1):.1f}"


def list_lines() -> list[str]:
    """One line per lesson: number, title, what it covers, minutes to run on a CPU."""
    rows = []
    for lesson in lessons():
        title = re.sub(r"^Lesson\s+\d+\s*[—–-]\s*", "", lesson.title)
        rows.append(f"{lesson.number}  {title}\n    {lesson.summary}  [{_minutes(lesson.stem)} min]")
    return rows


def run_lesson(which: str, figures: str | None = None) -> int:
    """Run one lesson as a script (python FILE) in the current folder; returns its exit code."""
    lesson = find(which)
    env = dict(os.environ)
    env.setdefault("MPLBACKEND", "Agg")
    if figures is not None:
        env["MINIFCN_FIGURES"] = figures
    folder = Path(env.get("MINIFCN_FIGURES", "lessons/figures")) / lesson.stem
    print(f"running {lesson.title} ({lesson.path})", flush=True)
    start = time.perf_counter()
    code = subprocess.call([sys.executable, str(lesson.path)], env=env)
    seconds = time.perf_counter() - start
    pngs = sorted(folder.glob("*.png")) if folder.is_dir() else []
    state = "finished" if code == 0 else f"FAILED (exit code {code})"
    print(f"lesson {lesson.number} {state} in {seconds:.0f} s; its figures ({len(pngs)} PNG files) are in "
          f"{folder.resolve()}")
    return code


def add_parser(sub: Any) -> None:
    """Add ``lessons`` (list, init, run) to the main parser's subparsers."""
    le = sub.add_parser("lessons", help="the course's lessons: list them, copy them (as scripts or notebooks), run one",
                        description="The lessons ship with minifcn: list them, write them into a folder of yours "
                                    "(scripts, and notebooks with --notebooks), or run one.")
    verbs = le.add_subparsers(dest="verb", metavar="VERB", parser_class=type(le),
                              help="list, init or run; minifcn lessons VERB --help lists its options")
    verbs.add_parser("list", help="number, title, what each lesson covers and about how long it runs")
    init = verbs.add_parser("init", help="write every lesson into DIR (never overwrites a file)")
    init.add_argument("dir", help="folder for the lessons (created if missing)")
    init.add_argument("--notebooks", action="store_true",
                      help="also write each lesson as a Jupyter notebook NN_topic.ipynb (default: scripts only)")
    run = verbs.add_parser("run", help="run one lesson as a script and say where its figures went")
    run.add_argument("lesson", help="lesson number (e.g. 5 or 05) or file name (05_unpooling)")
    run.add_argument("--figures", default=None, metavar="DIR",
                     help="save the figures under DIR/<lesson>/ (default: $MINIFCN_FIGURES, else lessons/figures)")


def run(args: argparse.Namespace) -> int:
    """Run ``minifcn lessons VERB``; returns the exit code."""
    if args.verb == "list":
        print("\n".join(list_lines()))
        print("run one: minifcn lessons run NN; copy them all: minifcn lessons init DIR [--notebooks]")
        return 0
    if args.verb == "init":
        written, kept = init_lessons(args.dir, notebooks=args.notebooks)
        print(f"{args.dir}: wrote {len(written)} file(s)" + (f", kept {len(kept)} existing file(s) unchanged"
                                                             if kept else ""))
        for path in written:
            print(f"  {path}")
        first = next((p for p in written + kept if p.suffix == ".py"), None)
        print(f"next: cd {args.dir} && python {first.name if first else 'NN_topic.py'}"
              + ("  (or open the .ipynb files in Jupyter)" if args.notebooks else ""))
        return 0
    if args.verb == "run":
        return run_lesson(args.lesson, args.figures)
    print("minifcn lessons: say list, init or run (see 'minifcn lessons --help')", file=sys.stderr)
    return 2


__all__ = ["Lesson", "lessons", "find", "percent_cells", "to_notebook", "notebook_text", "init_lessons",
           "list_lines", "run_lesson", "add_parser", "run"]
