"""Make the documentation's figures (PNG files under docs/figures/, checked in).

    python docs/make_figures.py               # everything: arithmetic figures + every lesson
    python docs/make_figures.py arith         # only the convolution-arithmetic figures
    python docs/make_figures.py 01 05         # only lessons 01 and 05

Arithmetic figures: ``minifcn.plotting.draw_kernel_positions`` for each case of the
convolution-arithmetic guide, into docs/figures/arith/ (the case list below is the one
the guide shows; the script checks each case's output size against ``minifcn.arith`` and
against the op itself).

Lesson figures: each lesson runs as a script with ``MINIFCN_FIGURES`` pointing at a
temporary folder and ``MPLBACKEND=Agg``; when it succeeds its PNGs replace
docs/figures/<lesson>/ (a failed lesson leaves the old figures as they were). Run from
anywhere; paths are relative to the repository.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def run_lesson(lesson: Path) -> bool:
    """Run one lesson into a temporary figure folder; on success replace its figures."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, MINIFCN_FIGURES=tmp, MPLBACKEND="Agg",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        start = time.perf_counter()
        done = subprocess.run([sys.executable, str(lesson)], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            print(f"{lesson.name}: FAILED after {seconds:.1f} s (its figures are left as they were)\n"
                  f"{done.stdout[-2000:]}{done.stderr[-4000:]}")
            return False
        made = Path(tmp) / lesson.stem
        target = FIGURES / lesson.stem
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        pngs = sorted(made.glob("*.png")) if made.is_dir() else []
        for png in pngs:
            shutil.copy2(png, target / png.name)
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
