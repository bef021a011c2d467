"""The workbook: one Jupytext percent-format file per exercise (opens as a notebook).

``init`` never overwrites: a student's file is never lost, a second ``init`` only adds the
files that are missing. Files are written atomically (temp file + rename, refusing to
replace an existing name).
"""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

from ..atomic import write_new
from .catalogue import BY_NAME, EXERCISES, Exercise

STUB_MARK = "write your solution here"


def _comment(text: str, width: int = 92) -> str:
    """Markdown lines of a Jupytext cell: '# ' + text, each paragraph wrapped to ``width``."""
    lines = []
    for para in text.split("\n"):
        lines += textwrap.wrap(para, width) or [""]
    return "\n".join(("# " + line).rstrip() for line in lines)


def render(ex: Exercise, solution: bool = False) -> str:
    """The text of ``NAME.py`` for exercise ``ex`` (the stub, or the reference solution)."""
    body = ex.solution_source() if solution else ex.stub_source()
    imports = ex.imports
    for helper in ex.uses:
        imports += f"\nfrom {helper} import {helper}  # your own {helper}, from {helper}.py in this folder"
    hints = "\n".join(_comment(textwrap.fill(h, 90, initial_indent="- ", subsequent_indent="  ")) for h in ex.hints)
    return f"""# %% [markdown]
# # Exercise `{ex.name}` (lesson {ex.lesson})
#
{_comment(ex.task)}
#
# Write the function below. The grader tries small inputs (chosen by hypothesis) and, if your
# answer is wrong on one, shows the smallest such input, the expected and your output.
# Leave the arguments unchanged and return new arrays (not views of the arguments), with the
# dtype the task states. Each call may take {ex.call_limit_s:g} s of CPU time (the first call, which
# may import SciPy, is not timed). Use NumPy, SciPy and your own earlier exercises, not
# minifcn's versions of the piece (that is graded USES LIBRARY).
#
# <details><summary>Hints</summary>
#
{hints}
#
# </details>

# %%
{imports}


{body}

# %% [markdown]
# Check this exercise (or all of them: `minifcn exercises check .` in this folder).

# %%
if __name__ == "__main__":      # in a notebook: grades the {ex.name} defined in this kernel
    from minifcn.exercises import check_here
    check_here("{ex.name}", globals())
"""




def init_workbook(folder: str | os.PathLike, solutions: bool = False) -> tuple[list[Path], list[Path]]:
    """Write the missing exercise files into ``folder``; returns (written, kept as they were)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"workbook folder {str(folder)!r} exists and is not a folder; give a folder name")
    folder.mkdir(parents=True, exist_ok=True)
    written, kept = [], []
    for ex in EXERCISES:
        path = folder / f"{ex.name}.py"
        (written if write_new(path, render(ex, solution=solutions)) else kept).append(path)
    return written, kept


def file_status(folder: str | os.PathLike, name: str) -> str:
    """A quick look without grading: 'missing', 'not started' (still the stub) or 'written'."""
    path = Path(folder) / f"{name}.py"
    if not path.exists():
        return "missing"
    text = path.read_text(encoding="utf-8", errors="replace")
    return "not started" if f'"{name}: {STUB_MARK}"' in text else "written"


def list_lines(folder: str | os.PathLike | None = None) -> list[str]:
    """One line per exercise: name, lesson, task; with ``folder``, the state of its file."""
    if folder is not None and not Path(folder).is_dir():
        raise FileNotFoundError(f"workbook folder {str(folder)!r} does not exist; create it with "
                                f"'minifcn exercises init {folder}'")
    lines = []
    for ex in EXERCISES:
        first = ex.task.splitlines()[0]
        status = f"  [{file_status(folder, ex.name)}]" if folder is not None else ""
        lines.append(f"{ex.name:<24} lesson {ex.lesson:>2}  {first}{status}")
    return lines


__all__ = ["BY_NAME", "EXERCISES", "init_workbook", "list_lines", "render", "file_status"]
