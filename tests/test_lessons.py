"""Lessons are tests: every lesson runs top to bottom as a script and its assertions hold."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py"))


def test_there_are_lessons():
    assert LESSONS, "no lessons found under lessons/"


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_runs(path, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg", MINIFCN_FIGURES=str(tmp_path), MINIFCN_DEVICE="cpu",
               PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    start = time.perf_counter()
    result = subprocess.run([sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=180)
    seconds = time.perf_counter() - start
    assert result.returncode == 0, f"{path.name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    figures = list(tmp_path.rglob("*.png"))
    assert figures, f"{path.name} saved no figure"
    assert seconds < 60, f"{path.name} took {seconds:.1f} s (limit 60 s)"
