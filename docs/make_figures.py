"""Make the documentation's figures (PNG files under docs/figures/, checked in).

    python docs/make_figures.py               # everything: arithmetic figures + every lesson
    python docs/make_figures.py arith         # only the convolution-arithmetic figures
    python docs/make_figures.py 01 05         # only lessons 01 and 05

Arithmetic figures: ``minifcn.plotting.draw_kernel_positions`` for each case of the
convolution-arithmetic guide, into docs/figures/arith/ (the case list below is the one
the guide shows; the script checks each case's output size against ``minifcn.arith`` and
against the op itself).

Lesson figures and outputs: each lesson runs as a notebook (Jupytext cells, executed one by
one by nbclient, from the repository root) with ``MINIFCN_FIGURES`` pointing at a temporary
folder and ``MPLBACKEND=Agg``. What each code cell prints and the PNGs it saves are
recorded; when the lesson succeeds its PNGs and ``outputs.json`` (per code cell: a hash of
its source, its printed text, the figures it saved) replace docs/figures/<lesson>/ (a
failed lesson leaves the old ones as they were). The docs build (docs/hooks.py) puts these
outputs under their cells; a cell whose source changed since is executed again while
building. Run from anywhere; paths are relative to the repository.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "docs" / "figures"

# (file stem, kind, i, k, s, p, d, output_padding): the guide's cases, in its order.
ARITH_CASES = [
    ("conv_no_padding_unit_strides", "conv", 4, 3, 1, 0, 1, 0),          # relationship 1
    ("conv_arbitrary_padding", "conv", 5, 4, 1, 2, 1, 0),                # 2
    ("conv_half_padding", "conv", 5, 3, 1, 1, 1, 0),                     # 3
    ("conv_full_padding", "conv", 5, 3, 1, 2, 1, 0),                     # 4
    ("conv_no_padding_strides", "conv", 5, 3, 2, 0, 1, 0),               # 5
    ("conv_padding_strides", "conv", 5, 3, 2, 1, 1, 0),                  # 6
    ("conv_padding_strides_odd", "conv", 6, 3, 2, 1, 1, 0),              # 6, the odd case
    ("pool_2x2_stride_2", "pool", 4, 2, 2, 0, 1, 0),                     # 7
    ("transpose_no_padding_unit_strides", "transpose", 2, 3, 1, 0, 1, 0),  # 8
    ("transpose_arbitrary_padding", "transpose", 6, 4, 1, 2, 1, 0),      # 9
    ("transpose_half_padding", "transpose", 5, 3, 1, 1, 1, 0),           # 10
    ("transpose_full_padding", "transpose", 7, 3, 1, 2, 1, 0),           # 11
    ("transpose_no_padding_strides", "transpose", 2, 3, 2, 0, 1, 0),     # 12
    ("transpose_padding_strides", "transpose", 3, 3, 2, 1, 1, 0),        # 13
    ("transpose_padding_strides_odd", "transpose", 3, 3, 2, 1, 1, 1),    # 14
    ("dilation", "conv", 5, 3, 1, 0, 2, 0),                              # 15
]


def make_arith_figures() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("MPLBACKEND", "Agg")
    import numpy as np

    import minifcn as mf
    from minifcn import arith
    from minifcn import functional as F
    from minifcn.plotting import draw_kernel_positions

    out = FIGURES / "arith"
    out.mkdir(parents=True, exist_ok=True)
    for stem, kind, i, k, s, p, d, a in ARITH_CASES:
        rel = arith.relationship(kind, i, k, s, p, d, a)
        x = mf.tensor(np.zeros((1, 1, i, i), np.float32))
        w = mf.tensor(np.ones((1, 1, k, k), np.float32))
        if kind == "conv":
            y = F.conv2d(x, w, stride=s, padding=p, dilation=d)
        elif kind == "transpose":
            y = F.conv_transpose2d(x, w, stride=s, padding=p, output_padding=a, dilation=d)
        else:
            y = F.max_pool2d(x, k, s, p, d)
        assert y.shape[-2:] == (rel.value, rel.value), (stem, y.shape, rel)
        draw_kernel_positions(str(out / f"{stem}.png"), kind, i, k, s, p, d, a)
        print(f"{stem + '.png':42s} {rel.name.split(':')[0]:>16s}  {rel.formula}")


def cell_key(source: str) -> str:
    """The key of a code cell's stored outputs: a hash of its source (trailing blanks ignored)."""
    return hashlib.sha1(source.strip().encode("utf-8")).hexdigest()[:16]


def code_cells(lesson: Path) -> list[str]:
    """The sources of the lesson's code cells, as Jupytext reads them (what the page shows)."""
    import jupytext
    nb = jupytext.read(lesson)
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def _pngs(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.png"))} \
        if folder.is_dir() else {}


def execute_lesson(lesson: Path, figure_root: Path, timeout: int = 600) -> dict:
    """Run a lesson as a notebook; return its outputs: per code cell, the text and the figures.

    The figures go to ``figure_root/<lesson stem>/``; a cell's figures are the PNGs that
    appeared or changed while it ran. Printed paths under ``figure_root`` read as the
    default ``lessons/figures`` a student sees. Raises ``nbclient``'s error on a failing cell.
    """
    import jupytext
    from nbclient import NotebookClient
    nb = jupytext.read(lesson)
    folder = figure_root / lesson.stem
    before: dict[str, str] = {}
    cells: list[dict] = []

    def executed(cell, cell_index, execute_reply):   # nbclient calls this after each cell
        nonlocal before
        if cell.cell_type != "code":
            return
        outputs: list[dict] = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                text = str(out.get("text", "")).replace(str(figure_root), "lessons/figures")
                if outputs and "text" in outputs[-1]:
                    outputs[-1]["text"] += text
                else:
                    outputs.append({"text": text})
            elif out.get("output_type") == "execute_result" and "text/plain" in out.get("data", {}):
                outputs.append({"result": str(out["data"]["text/plain"])})
        now = _pngs(folder)
        outputs += [{"figure": name} for name, digest in now.items() if before.get(name) != digest]
        before = now
        cells.append({"key": cell_key(cell.source), "outputs": outputs})

    env = {"MINIFCN_FIGURES": str(figure_root), "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)                          # the kernel inherits this environment
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", on_cell_executed=executed,
                       resources={"metadata": {"path": str(ROOT)}}).execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return {"lesson": lesson.name, "cells": cells}


def figure_output(png: Path) -> dict:
    """A notebook display_data output showing a PNG, named by its alt text (the file name)."""
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    return {"output_type": "display_data", "metadata": {},
            "data": {"text/html": f'<img src="data:image/png;base64,{data}" alt="{png.name}">',
                     "text/plain": f"<figure {png.name}>"}}


def notebook_with_outputs(lesson: Path, record: dict, figures: Path) -> Any:
    """The lesson as a notebook whose code cells carry the recorded outputs (figures from ``figures``)."""
    import jupytext
    import nbformat
    nb = jupytext.read(lesson)
    stored = {c["key"]: c["outputs"] for c in record["cells"]}
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        count += 1
        cell.execution_count = count
        outs = []
        for out in stored.get(cell_key(cell.source), []):
            if "text" in out:
                outs.append(nbformat.v4.new_output("stream", name="stdout", text=out["text"]))
            elif "result" in out:
                outs.append(nbformat.v4.new_output("execute_result", data={"text/plain": out["result"]},
                                                   execution_count=count))
            elif (figures / out["figure"]).is_file():
                outs.append(nbformat.from_dict(figure_output(figures / out["figure"])))
        cell.outputs = outs
    return nb


def stale_cells(lesson: Path, record: dict | None) -> list[int]:
    """Numbers (1-based) of the lesson's code cells that have no stored outputs for their source."""
    keys = {c["key"] for c in record["cells"]} if record else set()
    return [n for n, src in enumerate(code_cells(lesson), 1) if cell_key(src) not in keys]


def run_lesson(lesson: Path) -> bool:
    """Run one lesson as a notebook into a temporary folder; on success replace its figures and outputs."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        try:
            record = execute_lesson(lesson, Path(tmp))
        except Exception as e:     # a failing cell (nbclient's CellExecutionError) or a dead kernel
            print(f"{lesson.name}: FAILED after {time.perf_counter() - start:.1f} s "
                  f"(its figures are left as they were)\n{str(e)[-4000:]}")
            return False
        seconds = time.perf_counter() - start
        made = Path(tmp) / lesson.stem
        target = FIGURES / lesson.stem
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        pngs = sorted(made.glob("*.png")) if made.is_dir() else []
        for png in pngs:
            shutil.copy2(png, target / png.name)
        (target / "outputs.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        print(f"{lesson.name}: {seconds:.1f} s, {len(pngs)} figures: {', '.join(p.name for p in pngs)}")
        return True


def main(argv: list[str]) -> int:
    wanted = set(argv)
    ok = True
    if not wanted or "arith" in wanted:
        make_arith_figures()
    lessons = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py"))
    for lesson in lessons:
        if not wanted or lesson.name[:2] in wanted:
            ok = run_lesson(lesson) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
