"""Exercises: the student writes the core pieces, minifcn grades them.

    minifcn exercises init DIR [--solutions]     # one Jupytext file per exercise
    minifcn exercises list [DIR]
    minifcn exercises check DIR [NAME ...] [--json | --format gradescope]
    minifcn exercises class DIR [DIR ...] > marks.csv   # a class's workbooks, one CSV row each
    minifcn train --exercises DIR                # the U-Net runs on the student's pieces

The catalogue (``catalogue.EXERCISES``) lists each exercise with its lesson, task, hints and
the inputs its grader draws; ``solutions`` holds readable reference solutions; ``grader``
finds and prints the smallest input on which a student's function is wrong (the student's
code runs only in a child process, ``_child``, that sends back its results); ``swap`` puts
the student's pieces into a model, its loss and its Adam (``student_ops``,
``train_with_student_ops``).

Names are imported on first use, so ``import minifcn.exercises`` stays cheap (hypothesis
is only loaded when something is graded).
"""
from __future__ import annotations

import importlib
from typing import Any

_WHERE = {"EXERCISES": "catalogue", "BY_NAME": "catalogue", "Exercise": "catalogue",
          "check_here": "grader", "check_workbook": "grader", "format_result": "grader", "score_line": "grader",
          "gradescope_results": "cli",
          "init_workbook": "workbook", "list_lines": "workbook",
          "student_ops": "swap", "StudentPiecesFail": "swap", "train_with_student_ops": "swap"}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'minifcn.exercises' has no attribute {name!r}")
