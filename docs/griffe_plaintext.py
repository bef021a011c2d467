"""Griffe extension: show minifcn's plain-text docstrings as they read in the source.

minifcn's docstrings are written for ``help()`` and the source, not as Markdown: formula
tables and worked examples are indented under the sentence that introduces them, and
argument descriptions are lines of the form ``name: what it is``. Read as Markdown, both
would melt into one paragraph, and ``>>>`` examples would become block quotes. Before
mkdocstrings renders a docstring, this extension

- turns ``>>>`` examples into ``pycon`` code blocks,
- turns an indented run of lines into a ``text`` code block when its layout matters (a
  line with aligned columns, i.e. two spaces inside it, or a run after a blank line or a
  line ending in ":"); otherwise (a hanging indent) joins it to its paragraph,
- ends a line with a Markdown line break when the next line starts a ``name: ...`` item,
  so such items keep one line each.

Everything else (prose, lists, ``code``) is already valid Markdown and stays as it is.
"""
from __future__ import annotations

import re
import textwrap
from typing import Any

from griffe import Extension

ITEM = re.compile(r"^(-\s|\*\s|``[^`]+``\s*:|`[^`]+`\s*:|[\w.*\[\]]+(,\s*[\w.*]+)*\s*:\s|\"\w+\"\s*:)")
LAYOUT = re.compile(r"\S {2,}\S")


def indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def plaintext_to_markdown(text: str) -> str:
    lines, out, n = text.splitlines(), [], 0

    def fence(block: list[str], lang: str) -> None:
        if out and out[-1].strip():
            out.append("")
        out.extend([f"```{lang}", *textwrap.dedent("\n".join(block)).splitlines(), "```", ""])

    while n < len(lines):
        line = lines[n]
        if line.lstrip().startswith("```"):                      # an existing fence: copy it
            end = next((m for m in range(n + 1, len(lines)) if lines[m].lstrip().startswith("```")), len(lines) - 1)
            out.extend(lines[n:end + 1])
            n = end + 1
            continue
        if line.lstrip().startswith(">>>"):                      # a doctest: up to the next blank line
            end = next((m for m in range(n, len(lines)) if not lines[m].strip()), len(lines))
            fence(lines[n:end], "pycon")
            n = end
            continue
        if indent(line) > 0 and line.strip():                   # an indented run (blank lines inside it too)
            end = n
            while end < len(lines) and (indent(lines[end]) > 0 or not lines[end].strip()):
                if not lines[end].strip() and not (end + 1 < len(lines) and indent(lines[end + 1]) > 0
                                                   and lines[end + 1].strip()):
                    break
                end += 1
            block = lines[n:end]
            before = out[-1].rstrip() if out else ""
            if (not before.strip() or before.endswith(":") or any(LAYOUT.search(b.strip()) for b in block)):
                fence(block, "text")
            else:                                               # a hanging indent: part of the paragraph
                out.extend(b.strip() for b in block)
                if end < len(lines) and indent(lines[end]) == 0 and ITEM.match(lines[end]):
                    out[-1] += "  "
            n = end
            continue
        nxt = lines[n + 1] if n + 1 < len(lines) else ""
        if line.strip() and nxt.strip() and indent(nxt) == 0 and ITEM.match(nxt) and not line.lstrip().startswith(("-", "*")):
            line += "  "                                        # Markdown line break: the next item on its own line
        out.append(line)
        n += 1
    return "\n".join(out).rstrip() + "\n"


class PlainTextDocstrings(Extension):
    """Rewrite every docstring of the loaded objects with :func:`plaintext_to_markdown`."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plaintext_to_markdown(obj.docstring.value)
