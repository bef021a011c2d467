"""Packaging step pyproject.toml cannot say: the lessons go into the wheel as package data.

The repository's ``lessons/NN_topic.py`` are the single source of the lessons; building the
wheel (``pip wheel .``, ``python -m build``) copies them into ``minifcn/_lessons/`` of the
build, where ``minifcn lessons`` finds them. Nothing is copied into the source tree.
Everything else about the package is in pyproject.toml.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

LESSONS = Path(__file__).resolve().parent / "lessons"


class build_py_with_lessons(build_py):
    """build_py, then lessons/[0-9][0-9]_*.py -> <build>/minifcn/_lessons/."""

    def run(self):
        super().run()
        if self.editable_mode:        # an editable install reads lessons/ of the clone itself
            return
        found = sorted(LESSONS.glob("[0-9][0-9]_*.py"))
        if not found:
            raise SystemExit(f"setup.py: no lessons in {LESSONS} (an sdist without lessons/?)")
        target = Path(self.build_lib) / "minifcn" / "_lessons"
        target.mkdir(parents=True, exist_ok=True)
        for path in found:
            shutil.copyfile(path, target / path.name)


setup(cmdclass={"build_py": build_py_with_lessons})
