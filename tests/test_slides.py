"""The slide map (docs/slides.md, tools/slide_map.py): every slide topic of issue 18 has a row,
every row points at one real assertion, and its file:line is current; every lesson opens
with its "This lesson covers:" line."""
import importlib.util
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py"))

spec = importlib.util.spec_from_file_location("slide_map", ROOT / "tools" / "slide_map.py")
slide_map = importlib.util.module_from_spec(spec)
spec.loader.exec_module(slide_map)


def test_the_slide_map_is_current_and_complete():
    problems = slide_map.problems()
    assert problems == [], "run `python tools/slide_map.py --write`, or fix:\n" + "\n".join(problems)


def test_every_lesson_has_a_row_in_the_slide_map():
    files = {row["file"] for row in slide_map.rows((ROOT / "docs" / "slides.md").read_text(encoding="utf-8"))}
    assert files == {f"lessons/{p.name}" for p in LESSONS}


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_every_lesson_opens_with_what_it_covers(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "# %% [markdown]" and lines[1].startswith("# # Lesson")
    assert lines[2] == "#" and lines[3].startswith("# **This lesson covers:** ")
    covered = " ".join(line[2:] for line in lines[3:lines.index("#", 3)])
    assert covered.endswith(".") and covered.count(";") >= 1      # topics, separated by ";"


def fake_project(tmp_path, table_rows, lesson):
    (tmp_path / "lessons").mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / "lessons" / "01_demo.py").write_text(textwrap.dedent(lesson), encoding="utf-8")
    header = "| Key | Slide topic | Assertion (file:line) | Asserts |\n|---|---|---|---|\n"
    (tmp_path / "docs" / "slides.md").write_text(header + "\n".join(table_rows) + "\n", encoding="utf-8")
    return tmp_path


LESSON = """\
    x = 2
    # the claim x == 2 is asserted below
    assert x == 2
    y = 3
    assert y > x
    gain = claim("gain-over-seeds", y - x, ">", 0.5,
                 note="mean paired difference")
    # claim("in-a-comment", 1, ">", 0)
    print('claim("in-a-string", ...) is not called here')
    """


def problems_of(tmp_path, *table_rows):
    root = fake_project(tmp_path, list(table_rows), LESSON)
    return [p for p in slide_map.problems(root) if "required slide topic" not in p]


def test_the_check_accepts_a_correct_row(tmp_path):
    assert problems_of(tmp_path, "| `a` | topic | `lessons/01_demo.py:3` | `x == 2` |") == []


def test_the_check_accepts_a_claim_line(tmp_path):
    assert problems_of(tmp_path, '| `a` | topic | `lessons/01_demo.py:6` | `claim("gain-over-seeds"` |') == []


@pytest.mark.parametrize("row, message", [
    ("| `a` | topic | `lessons/01_demo.py:4` | `x == 2` |", "the check is on line 3"),            # stale line
    ("| `a` | topic | `lessons/01_demo.py:1` | `x = 2` |", "is on 0 assert/claim lines"),        # not a check
    ("| `a` | topic | `lessons/01_demo.py:5` | `x` |", "is on 3 assert/claim lines"),             # ambiguous
    ("| `a` | topic | `lessons/01_demo.py:7` | `mean paired` |", "is on 0 assert/claim lines"),  # claim's 2nd line
    ("| `a` | topic | `lessons/01_demo.py:9` | `in-a-comment` |", "is on 0 assert/claim lines"),
    ("| `a` | topic | `lessons/01_demo.py:10` | `in-a-string` |", "is on 0 assert/claim lines"),
    ("| `a` | topic | `lessons/02_gone.py:3` | `x == 2` |", "no such lesson"),
])
def test_the_check_catches_a_stale_or_wrong_row(tmp_path, row, message):
    found = problems_of(tmp_path, row)
    assert len(found) == 1 and message in found[0]


def test_the_check_catches_duplicate_keys_and_missing_topics(tmp_path):
    root = fake_project(tmp_path, ["| `a` | t | `lessons/01_demo.py:3` | `x == 2` |"] * 2, LESSON)
    found = slide_map.problems(root)
    assert "key `a` appears 2 times" in found
    assert {f"required slide topic `{k}` has no row" for k in slide_map.REQUIRED} <= set(found)


def test_write_brings_the_line_numbers_up_to_date(tmp_path):
    root = fake_project(tmp_path, ["| `a` | t | `lessons/01_demo.py:9` | `y > x` |"], LESSON)
    assert slide_map.rewrite(root) == 1
    assert "`lessons/01_demo.py:5`" in (root / "docs" / "slides.md").read_text(encoding="utf-8")
    assert [p for p in slide_map.problems(root) if "required" not in p] == []
