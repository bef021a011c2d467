"""MkDocs hook: publish the lessons (../lessons/*.py) as pages, and link concept pages to them.

The lessons live outside ``docs/`` (students run them from ``lessons/``), so this hook adds
each ``lessons/NN_topic.py`` to the site as a virtual file ``lessons/NN_topic.py``;
mkdocs-jupyter then renders it as a notebook (Jupytext percent format, not executed). It
fills the "Lessons" section of the navigation with the lessons that exist, ends each
lesson page with the figures the lesson draws, and expands these markers in Markdown pages:

    <!-- lesson NN -->             a link to lesson NN
    <!-- figures NN -->            every PNG in docs/figures/<lesson NN>/, drawn by the lesson
    <!-- cli-help -->              ``minifcn --help``, generated from minifcn/cli.py
    <!-- cli-help COMMAND -->      ``minifcn COMMAND --help``
    <!-- cli-example ARGS -->      ``minifcn ARGS`` and what it prints (run while building)

The lessons are rendered without running them; ``python docs/make_figures.py`` runs them
and stores their PNGs. A missing lesson, a lesson whose figures were never drawn, or a
command that fails is a warning, so ``mkdocs build --strict`` fails on it.
"""
from __future__ import annotations

import contextlib
import html
import io
import logging
import os
import re
import shlex
import sys
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File
from mkdocs.utils import get_relative_url

log = logging.getLogger("mkdocs.hooks.minifcn")

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ROOT / "lessons"
FIGURES = Path(__file__).resolve().parent / "figures"
MARKER = re.compile(r"<!--\s*(lesson|figures)\s+(\d\d)\s*-->")
CLI_MARKER = re.compile(r"<!--\s*cli-(help|example)\s*(.*?)\s*-->")


def lessons() -> dict[str, Path]:
    """Lesson number ("01") -> lesson file, for every lessons/NN_*.py."""
    return {p.name[:2]: p for p in sorted(LESSONS.glob("[0-9][0-9]_*.py"))}


def lesson_title(path: Path) -> str:
    """The lesson's first Markdown heading ("# # Lesson 1 — ..."), else its file name."""
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"#\s+#\s+(.+)", line)
        if m:
            return m.group(1).strip()
    return path.stem


def figures(path: Path) -> list[Path]:
    """The lesson's PNGs in docs/figures/<lesson>/, in the order the lesson's source names them."""
    pngs = sorted((FIGURES / path.stem).glob("*.png"))
    source = path.read_text(encoding="utf-8")
    order = {name: n for n, name in enumerate(dict.fromkeys(re.findall(r"([\w.-]+)\.png", source)))}
    return sorted(pngs, key=lambda p: (order.get(p.stem, len(order)), p.name))


def caption(png: Path) -> str:
    return png.stem.replace("_", " ")


def png_width(png: Path) -> int:
    """Width in pixels, from the PNG header (IHDR)."""
    with open(png, "rb") as f:
        head = f.read(24)
    return int.from_bytes(head[16:20], "big") if head[:8] == b"\x89PNG\r\n\x1a\n" else 600


def gallery(path: Path, page_url: str) -> str:
    """Raw HTML: the lesson's figures, each shown at about half its pixel size, linked to the full one.

    Raw HTML is not rewritten by MkDocs, so the URLs are made relative to the page's URL here.
    """
    items = []
    for png in figures(path):
        url = html.escape(get_relative_url(png.relative_to(FIGURES.parent).as_posix(), page_url))
        items.append(f'<figure style="flex: 0 1 {png_width(png) // 2}px"><a href="{url}">'
                     f'<img src="{url}" alt="{html.escape(caption(png))}" loading="lazy"></a>'
                     f"<figcaption>{html.escape(caption(png))}</figcaption></figure>")
    return f'<div class="lesson-figures">{"".join(items)}</div>' if items else ""


def run_cli(args: list[str]) -> str:
    """What ``minifcn ARGS`` prints (stdout and stderr), at a fixed width of 88 columns."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from minifcn import cli
    out = io.StringIO()
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "88"
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                code = cli.main(args)
            except SystemExit as e:    # --help exits
                code = e.code
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
    if code not in (0, None):
        log.warning("docs: 'minifcn %s' exited with %s:\n%s", shlex.join(args), code, out.getvalue())
    return out.getvalue().rstrip()


def expand_cli(m: re.Match) -> str:
    what, rest = m.group(1), shlex.split(m.group(2))
    if what == "help":
        return f"```text\n$ minifcn {shlex.join(rest + ['--help'])}\n{run_cli(rest + ['--help'])}\n```"
    return f"```text\n$ minifcn {shlex.join(rest)}\n{run_cli(rest)}\n```"


# ---- events ---------------------------------------------------------------------------------
def on_config(config):
    """Fill the nav entry ``- Lessons: []`` with the lessons that exist."""
    found = lessons()
    for entry in config.nav or []:
        if isinstance(entry, dict) and "Lessons" in entry:
            entry["Lessons"] = [{lesson_title(p): f"lessons/{p.name}"} for p in found.values()]
    config.watch.append(str(LESSONS))
    return config


@event_priority(100)   # before mkdocs-jupyter's on_files, which turns .py pages into notebooks
def on_files(files, config):
    for path in lessons().values():
        # A real File rooted at the repository (not File.generated: mkdocs-jupyter's wrapper
        # reads abs_src_path through src_dir, which a generated file lacks).
        files.append(File(f"lessons/{path.name}", src_dir=str(ROOT), dest_dir=config.site_dir,
                          use_directory_urls=config.use_directory_urls))
    return files


def on_page_markdown(markdown, page, config, files):
    found = lessons()

    def expand(m: re.Match) -> str:
        what, number = m.group(1), m.group(2)
        path = found.get(number)
        if path is None:    # a warning: `mkdocs build --strict` fails on a concept page without its lesson
            if what == "lesson":
                log.warning("%s: links to lesson %s, but there is no lessons/%s_*.py", page.file.src_uri,
                            number, number)
            return ""
        here = page.file.src_uri
        if what == "lesson":
            target = get_relative_url(f"lessons/{path.name}", here)
            return (f'!!! example "The lesson"\n    [{lesson_title(path)}]({target}): run it with '
                    f"`python lessons/{path.name}`, or open it as a notebook.\n")
        if not (FIGURES / path.stem).is_dir():
            log.warning("%s: no figures of lessons/%s in docs/figures/%s/; draw them with "
                        "'python docs/make_figures.py %s'", page.file.src_uri, path.name, path.stem, number)
            return ""
        return f"\n\n{gallery(path, page.url)}\n\n"

    return CLI_MARKER.sub(expand_cli, MARKER.sub(expand, markdown))


def on_page_content(content, page, config, files):
    """Lesson pages: a download link under the title, the lesson's figures at the bottom."""
    src = page.file.src_uri
    if not (src.startswith("lessons/") and src.endswith(".py")):
        return content
    name = src.split("/", 1)[1]
    top = (f'<p><a href="{html.escape(name)}" download>Download {html.escape(name)}</a> '
           f"&middot; run it with <code>python lessons/{html.escape(name)}</code>, or open it as a "
           f'<a href="{get_relative_url("installation/", page.url)}#lessons-as-notebooks">notebook</a>.</p>')
    shown = gallery(LESSONS / name, page.url)
    if shown:
        shown = f'<h2 id="figures-this-lesson-draws">Figures this lesson draws</h2>{shown}'
    cut = content.find("</h1>")                      # the link goes under the lesson's title
    cut = cut + len("</h1>") if cut >= 0 else 0
    return content[:cut] + top + content[cut:] + shown
