"""What every lesson script does first (device, figure folder, seed), and how it states a claim.

A lesson's empirical claims go through :func:`claim`: it asserts, and it records the claim's
name, value and threshold, so that ``tools/seed_sweep.py`` can print every claim's margin at
every seed. Exact facts (an identity, a shape) stay plain ``assert`` statements.
"""
from __future__ import annotations

import json
import os
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


def seed(s: int = 0) -> int:
    """The seed ``s`` offset by ``$MINIFCN_SEED`` (default 0): every seed a lesson uses goes
    through this, so ``MINIFCN_SEED=3 python lessons/10_unet.py`` reruns the whole lesson on
    other random draws. Distinct ``s`` stay distinct for any offset."""
    raw = os.environ.get("MINIFCN_SEED", "0")
    try:
        offset = int(raw)
    except ValueError:
        raise ValueError(f"MINIFCN_SEED must be an integer, got {raw!r}") from None
    if offset < 0:
        raise ValueError(f"MINIFCN_SEED must be >= 0, got {offset}")
    return int(s) + 1000 * offset


def claim(name: str, value: float, op: str, threshold: float, note: str = "") -> float:
    """Assert ``value <op> threshold`` (op one of ">", ">=", "<", "<=") and record it.

    ``name`` is a short identifier (the slide map cites it); ``value`` is the measured
    statistic (e.g. a mean paired difference over seeds, or a count of seeds won). The margin
    recorded is how far ``value`` is on the right side of ``threshold`` (negative: false).
    A false claim raises ``AssertionError`` naming the claim, its value and threshold.
    If ``$MINIFCN_CLAIMS`` names a file, each claim is appended to it as a JSON line.
    """
    ops = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
           "<": lambda a, b: a < b, "<=": lambda a, b: a <= b}
    if op not in ops:
        raise ValueError(f"claim {name!r}: op must be one of {sorted(ops)}, got {op!r}")
    value, threshold = float(value), float(threshold)
    margin = value - threshold if op in (">", ">=") else threshold - value
    holds = bool(ops[op](value, threshold))
    record = {"name": name, "value": value, "op": op, "threshold": threshold,
              "margin": margin, "holds": holds, "note": note,
              "seed": int(os.environ.get("MINIFCN_SEED", "0") or 0)}
    _CLAIMS.append(record)
    path = os.environ.get("MINIFCN_CLAIMS")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
    if not holds:
        raise AssertionError(f"claim {name!r} is false: {value:.6g} {op} {threshold:.6g} does not hold"
                             + (f" ({note})" if note else ""))
    return value
