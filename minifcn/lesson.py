"""What every lesson script does first: pick the device and the folder for its figures."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .backend import check_device


def lesson_setup(lesson: str) -> tuple[str, Any]:
    """(device, figure folder) for a lesson script.

    The device is ``$MINIFCN_DEVICE`` (default "cpu"; "cuda" when asked for); figures go to
    ``$MINIFCN_FIGURES/<lesson>`` (default ``lessons/figures/<lesson>``), created and printed.
    """
    device = os.environ.get("MINIFCN_DEVICE", "cpu")
    check_device(device)
    folder = Path(os.environ.get("MINIFCN_FIGURES", "lessons/figures")) / lesson
    folder.mkdir(parents=True, exist_ok=True)
    print(f"lesson {lesson}: device {device}; figures are saved under {folder}")
    return device, folder
