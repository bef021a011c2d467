#!/usr/bin/env python3
"""The slide map (docs/slides.md): every lecture slide topic -> lesson -> the assertion behind it.

Each row of the table names its check by a piece of the check's own text (the last column,
in backticks), which must occur on exactly one *check line* of the lesson file: an ``assert``
statement (an exact fact checked against an independent witness) or a line with a
``claim(`` call (an empirical claim of ``minifcn.lesson.claim``, with its statistic, that
``tools/seed_sweep.py`` reruns over seeds). Prose and comments that quote it do not count.
The ``file:line`` column is derived from it, so it cannot go stale unnoticed:

    python tools/slide_map.py            # check: exit 1 and list the problems if any
    python tools/slide_map.py --write    # rewrite the file:line column from the lessons

tests/test_slides.py runs the check, and also checks that every slide topic listed in
issue 18 (``REQUIRED``) has a row.
"""
from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "docs" / "slides.md"

REQUIRED = (
    "context", "patch-size", "rf-context", "unet-few-images", "unet-superres", "ae-bottleneck",
    "masking", "misnomer", "d2l-2x2", "ce-log-pt", "dsc", "hausdorff-directed", "strided-vs-pool",
    "learned-vs-bilinear", "deeplab-trained", "aspp-multiscale", "unitary-stride-slip", "atrous-macs",
)
"""Row keys for the slide topics issue 18 lists as needing a lesson and an assertion."""

ROW = re.compile(r"^\| *`(?P<key>[a-z0-9-]+)` *\|(?P<topic>[^|]*)\| *`(?P<file>lessons/[0-9]{2}_[a-z_]+\.py):(?P<line>\d+)` *"
                 r"\| *`(?P<anchor>[^`|]+)` *\| *$")


def rows(text: str) -> list[dict]:
    """The table rows of docs/slides.md (lines that look like a row of the map)."""
    return [m.groupdict() | {"index": i} for i, line in enumerate(text.splitlines())
            if (m := ROW.match(line))]


def check_lines(source: str) -> set[int]:
    """The 1-based first lines of the ``assert`` statements and ``claim(...)`` calls in ``source``
    (found by parsing it, so strings and comments that mention them do not count)."""
    lines = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assert):
            lines.add(node.lineno)
        elif isinstance(node, ast.Call) and (getattr(node.func, "id", None) == "claim"
                                             or getattr(node.func, "attr", None) == "claim"):
            lines.add(node.func.lineno)
    return lines


def locate(root: Path, file: str, anchor: str) -> tuple[int | None, str | None]:
    """(1-based line of the one check line (``assert`` or ``claim(``) in ``file`` that contains
    ``anchor``, or None; problem or None)."""
    path = root / file
    if not path.is_file():
        return None, f"{file}: no such lesson"
    source = path.read_text(encoding="utf-8")
    try:
        checks = check_lines(source)
    except SyntaxError as err:
        return None, f"{file}: does not parse ({err})"
    lines = source.splitlines()
    hits = [n for n, line in enumerate(lines, 1) if anchor in line and n in checks]
    if len(hits) != 1:
        where = "" if hits else f" (it occurs on {sum(anchor in line for line in lines)} other lines)"
        return None, f"{file}: `{anchor}` is on {len(hits)} assert/claim lines (must be exactly 1){where}"
    return hits[0], None


def problems(root: Path = ROOT, table: Path | None = None) -> list[str]:
    """Everything wrong with the slide map: anchors not found or not unique, stale line numbers,
    duplicate keys, required topics missing."""
    text = (table or root / "docs" / "slides.md").read_text(encoding="utf-8")
    found, out = rows(text), []
    keys = [r["key"] for r in found]
    out += [f"key `{k}` appears {keys.count(k)} times" for k in sorted(set(keys)) if keys.count(k) > 1]
    out += [f"required slide topic `{k}` has no row" for k in REQUIRED if k not in keys]
    for r in found:
        line, problem = locate(root, r["file"], r["anchor"])
        if problem:
            out.append(f"`{r['key']}`: {problem}")
        elif line != int(r["line"]):
            out.append(f"`{r['key']}`: the table says {r['file']}:{r['line']}, the check is on line {line}")
    if not found:
        out.append("no rows found")
    return out


def rewrite(root: Path = ROOT) -> int:
    """Rewrite the file:line column from the lessons (atomically); return the number of rows changed."""
    sys.path.insert(0, str(ROOT))
    from minifcn.atomic import atomic_open
    path = root / "docs" / "slides.md"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    changed = 0
    for r in rows("".join(lines)):
        line, problem = locate(root, r["file"], r["anchor"])
        if problem is None and line != int(r["line"]):
            old = f"`{r['file']}:{r['line']}`"
            lines[r["index"]] = lines[r["index"]].replace(old, f"`{r['file']}:{line}`", 1)
            changed += 1
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write("".join(lines))
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite the file:line column (default: check only)")
    args = parser.parse_args(argv)
    if args.write:
        print(f"{rewrite()} rows updated in {TABLE.relative_to(ROOT)}")
    found = problems()
    for p in found:
        print(p)
    if not found:
        print(f"{TABLE.relative_to(ROOT)}: {len(rows(TABLE.read_text(encoding='utf-8')))} rows, all current")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
