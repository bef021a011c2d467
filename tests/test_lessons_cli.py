"""``minifcn lessons``: the lessons ship in the wheel, init never overwrites, notebooks without Jupytext.

The notebook cells are checked against Jupytext's own reading of each lesson (an independent
implementation of the percent format), and the wheel against the repository's lesson files.
"""
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from minifcn import cli, lessons_cli

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py"))

FAKE = """# %% [markdown]
# # Lesson 4 — A fake lesson
#
# **This lesson covers:** saving one figure; nothing else.

# %%
import os, pathlib
folder = pathlib.Path(os.environ.get("MINIFCN_FIGURES", "lessons/figures")) / "04_fake"
folder.mkdir(parents=True, exist_ok=True)
(folder / "one.png").write_bytes(b"not really a png")
print("saved")
"""


@pytest.fixture
def fake_lessons(tmp_path, monkeypatch):
    """A lesson folder of two lessons (one failing), in place of the real ones."""
    folder = tmp_path / "lessons_src"
    folder.mkdir()
    (folder / "04_fake.py").write_text(FAKE, encoding="utf-8")
    (folder / "14_broken.py").write_text("# %% [markdown]\n# # Lesson 14 — Broken\n\n# %%\nraise SystemExit(3)\n",
                                         encoding="utf-8")
    monkeypatch.setattr(lessons_cli, "lesson_folder", lambda: folder)
    return folder


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_notebook_cells_agree_with_jupytext(lesson):
    jupytext = pytest.importorskip("jupytext")
    theirs = [(c.cell_type, c.source) for c in jupytext.read(lesson).cells]
    mine = lessons_cli.percent_cells(lesson.read_text(encoding="utf-8"))
    assert mine == theirs


def test_percent_format_edge_cases_agree_with_jupytext():
    jupytext = pytest.importorskip("jupytext")
    text = ("import os\n\n# %% [markdown]\n# # Title\n#\n# two  spaces, $x$\n#no space\n\n\n"
            "# %%\n\n\nx = 1\n\n# a comment\ny = 2\n\n\n# %% [md]\n# end\n")
    theirs = [(c.cell_type, c.source) for c in jupytext.reads(text, fmt="py:percent").cells]
    assert lessons_cli.percent_cells(text) == theirs


def test_notebook_is_valid_nbformat_4_with_fixed_ids():
    nbformat = pytest.importorskip("nbformat")
    text = LESSONS[0].read_text(encoding="utf-8")
    nb = nbformat.reads(lessons_cli.notebook_text(text), as_version=4)
    nbformat.validate(nb)
    assert [c.id for c in nb.cells] == [f"cell-{n}" for n in range(1, len(nb.cells) + 1)]
    assert lessons_cli.notebook_text(text) == lessons_cli.notebook_text(text)   # reproducible


def test_list_reads_titles_from_the_files(fake_lessons, capsys):
    assert cli.main(["lessons", "list"]) == 0
    out = capsys.readouterr().out
    assert "04  A fake lesson" in out and "saving one figure" in out and "nothing else" not in out
    assert "14  Broken" in out


def test_list_of_the_real_lessons_has_every_lesson(capsys):
    assert cli.main(["lessons", "list"]) == 0
    out = capsys.readouterr().out
    for lesson in LESSONS:
        assert f"\n{lesson.name[:2]}  " in "\n" + out, lesson.name


def test_init_writes_scripts_and_notebooks_and_never_overwrites(fake_lessons, tmp_path, capsys):
    course = tmp_path / "course"
    course.mkdir()
    mine = course / "04_fake.py"
    mine.write_text("# my edits\n", encoding="utf-8")
    assert cli.main(["lessons", "init", str(course), "--notebooks"]) == 0
    assert mine.read_text(encoding="utf-8") == "# my edits\n"             # the student's file is kept
    assert (course / "14_broken.py").read_text(encoding="utf-8") == (fake_lessons / "14_broken.py").read_text()
    nb = json.loads((course / "04_fake.ipynb").read_text(encoding="utf-8"))
    assert [c["cell_type"] for c in nb["cells"]] == ["markdown", "code"]
    assert "kept 1 existing file(s)" in capsys.readouterr().out
    (course / "04_fake.ipynb").write_text("{}", encoding="utf-8")
    written, kept = lessons_cli.init_lessons(course, notebooks=True)     # a second init adds nothing
    assert written == [] and len(kept) == 4
    assert (course / "04_fake.ipynb").read_text(encoding="utf-8") == "{}"


def test_init_refuses_a_file_as_folder(tmp_path, capsys):
    target = tmp_path / "afile"
    target.write_text("x", encoding="utf-8")
    assert cli.main(["lessons", "init", str(target)]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_run_says_where_the_figures_went(fake_lessons, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["lessons", "run", "4"]) == 0
    out = capsys.readouterr().out
    folder = tmp_path / "lessons" / "figures" / "04_fake"
    assert (folder / "one.png").is_file()
    assert f"1 PNG files) are in {folder}" in out
    assert cli.main(["lessons", "run", "04_fake", "--figures", str(tmp_path / "f")]) == 0
    assert str(tmp_path / "f" / "04_fake") in capsys.readouterr().out


def test_run_reports_a_failing_lesson_and_an_unknown_one(fake_lessons, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["lessons", "run", "14"]) == 3
    assert "FAILED (exit code 3)" in capsys.readouterr().out
    assert cli.main(["lessons", "run", "7"]) == 2
    err = capsys.readouterr().err
    assert "lesson '7' does not exist" in err and "04 (04_fake)" in err


def _source_copy(tmp_path):
    """The files a build reads, copied (a build writes egg-info beside them)."""
    import shutil
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "figures", "*.egg-info")
    for name in ("minifcn", "lessons"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("setup.py", "pyproject.toml", "README.md", "LICENSE", "MANIFEST.in"):
        shutil.copy(ROOT / name, src / name)
    return src


def test_the_build_copies_every_lesson_into_the_package(tmp_path):
    """setup.py's build_py step: lessons/*.py -> minifcn/_lessons/, byte for byte, nothing else."""
    src = _source_copy(tmp_path)
    done = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path / "lib")],
                          cwd=src, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    copied = sorted((tmp_path / "lib" / "minifcn" / "_lessons").iterdir())
    assert [p.name for p in copied] == [p.name for p in LESSONS]
    assert all(c.read_bytes() == p.read_bytes() for c, p in zip(copied, LESSONS))
    assert not (ROOT / "minifcn" / "_lessons").exists()      # nothing copied into the source tree


def test_the_wheel_ships_every_lesson_and_the_licence(tmp_path):
    """pip wheel (offline: no build isolation, so it needs the wheel package) holds lessons/*.py and LICENSE."""
    pytest.importorskip("wheel")
    src = _source_copy(tmp_path)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    wheel = next((tmp_path / "dist").glob("minifcn-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        for lesson in LESSONS:
            assert z.read(f"minifcn/_lessons/{lesson.name}") == lesson.read_bytes(), lesson.name
        assert [n for n in names if n.startswith("minifcn/_lessons/")] == \
            [f"minifcn/_lessons/{p.name}" for p in LESSONS]
        licence = [n for n in names if n.endswith("/LICENSE")]
        assert licence and b"MIT License" in z.read(licence[0])
