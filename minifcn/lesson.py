"""What every lesson script does first (device, figure folder, seed), and how it states a claim.

A lesson's empirical claims go through :func:`claim`: it asserts, and it records the claim's
name, value and threshold, so that ``tools/seed_sweep.py`` can print every claim's margin at
every seed. Exact facts (an identity, a shape) stay plain ``assert`` statements.
"""
from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from .backend import check_device

_CLAIMS: list[dict] = []


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


def seed_offset() -> int:
    """``$MINIFCN_SEED`` as an integer >= 0 (unset or empty: 0); a clear ``ValueError`` otherwise."""
    raw = os.environ.get("MINIFCN_SEED", "").strip()
    if raw == "":
        return 0
    try:
        offset = int(raw)
    except ValueError:
        raise ValueError(f"MINIFCN_SEED must be an integer >= 0 (e.g. MINIFCN_SEED=3), got {raw!r}") from None
    if offset < 0:
        raise ValueError(f"MINIFCN_SEED must be an integer >= 0 (e.g. MINIFCN_SEED=3), got {offset}")
    return offset


def seed(s: int = 0) -> int:
    """The seed ``s`` offset by ``1000 * $MINIFCN_SEED`` (default 0): every seed a lesson uses
    goes through this, so ``MINIFCN_SEED=3 python lessons/10_unet.py`` reruns the whole lesson
    on other random draws. Distinct ``s`` in ``0..999`` stay distinct for any offset."""
    if isinstance(s, bool) or int(s) != s or s < 0:
        raise ValueError(f"seed: s must be an integer >= 0, got {s!r}")
    return int(s) + 1000 * seed_offset()


_OPS = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
        "<": lambda a, b: a < b, "<=": lambda a, b: a <= b}


def claim(name: str, value: float, op: str, threshold: float, note: str = "") -> float:
    """Assert ``value <op> threshold`` (op one of ">", ">=", "<", "<=") and record it.

    ``name`` is a short identifier (the slide map and the seed sweep cite it); ``value`` is
    the measured statistic (e.g. a mean paired difference over seeds, or a count of seeds
    won), ``note`` says which statistic it is. The margin recorded is how far ``value`` is on
    the right side of ``threshold`` (negative: false; NaN: a NaN value, false).
    A false claim raises ``AssertionError`` naming the claim, its value and threshold.
    If ``$MINIFCN_CLAIMS`` names a file, each claim is appended to it as one JSON line with
    the keys name, value, op, threshold, margin, holds, note, seed (``$MINIFCN_SEED``),
    file and line (where ``claim`` was called). Returns ``value`` as a float.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"claim: name must be a non-empty string, got {name!r}")
    if op not in _OPS:
        raise ValueError(f"claim {name!r}: op must be one of {sorted(_OPS)}, got {op!r}")
    try:
        value, threshold = float(value), float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"claim {name!r}: value and threshold must be numbers (one scalar each), "
                         f"got value={value!r}, threshold={threshold!r}") from None
    if not math.isfinite(threshold):
        raise ValueError(f"claim {name!r}: threshold must be finite, got {threshold}")
    margin = value - threshold if op in (">", ">=") else threshold - value
    holds = bool(_OPS[op](value, threshold))                    # False for a NaN value
    caller = sys._getframe(1)
    record = {"name": name, "value": value, "op": op, "threshold": threshold,
              "margin": margin, "holds": holds, "note": note, "seed": seed_offset(),
              "file": Path(caller.f_code.co_filename).name, "line": caller.f_lineno}
    _CLAIMS.append(record)
    path = os.environ.get("MINIFCN_CLAIMS")
    if path:
        with open(path, "a", encoding="utf-8") as f:          # one short line: appends stay whole
            f.write(json.dumps(record) + "\n")
    print(f"claim {name}: {value:.4g} {op} {threshold:.4g} (margin {margin:+.3g})" + (f"; {note}" if note else ""))
    if not holds:
        raise AssertionError(f"claim {name!r} is false: {value:.6g} {op} {threshold:.6g} does not hold"
                             + (f" ({note})" if note else ""))
    return value
