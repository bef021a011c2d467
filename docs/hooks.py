"""MkDocs hook: publish the lessons (../lessons/*.py) as pages, and link concept pages to them.

The lessons live outside ``docs/`` (students run them from ``lessons/``), so this hook adds
each ``lessons/NN_topic.py`` to the site as a virtual file ``lessons/NN_topic.py``;
mkdocs-jupyter then renders it as a notebook with each code cell's output (printed text,
the figures it saved) under the cell: the outputs stored by ``python docs/make_figures.py``
in docs/figures/<lesson>/outputs.json, or, for a lesson whose cells changed since, the
outputs of running it while building. It fills the "Lessons" section of the navigation
with the lessons that exist, serves MathJax from the site itself (the ``mathjax`` files of
the django-static-mathjax package, so formulas render offline) and drops the scripts that
notebook pages would load from another host. Each lesson page gets "Download notebook" and
"Download script" links under its title, its figures as files beside it (each linked to its
full size) and a table of contents made from its own headings; notebook cell ids are fixed,
so the same tree builds the same pages. Images of Markdown pages are linked to their
full-size files too. It expands these markers in Markdown pages:

    <!-- lesson NN -->             a link to lesson NN
    <!-- figures NN -->            every PNG in docs/figures/<lesson NN>/, drawn by the lesson
    <!-- cli-help -->              ``minifcn --help``, generated from minifcn/cli.py
    <!-- cli-help COMMAND -->      ``minifcn COMMAND --help``
    <!-- cli-example ARGS -->      ``minifcn ARGS`` and what it prints (run while building)

A missing lesson, a lesson whose figures were never drawn, a lesson that fails while
building, a missing MathJax, or a command that fails is a warning, so
``mkdocs build --strict`` fails on it.
"""
from __future__ import annotations

import base64
import contextlib
import html
import io
import json
import logging
import os
import re
import shlex
import shutil
import sys
import tempfile
import time
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


# ---- lesson notebooks with their outputs ----------------------------------------------------
_BUILD: dict[str, Path] = {}      # "dir": a temporary folder for this build's notebooks


def _make_figures():
    """docs/make_figures.py as a module (it runs the lessons and stores their outputs)."""
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    import make_figures
    return make_figures


def lesson_notebook(path: Path, folder: Path) -> Path:
    """Write ``folder/lessons/<stem>.ipynb``: the lesson with its outputs under its code cells.

    The outputs are the stored ones (docs/figures/<stem>/outputs.json) when every code cell
    still has its stored outputs; otherwise the lesson runs now (a warning if it fails).
    """
    import nbformat
    mk = _make_figures()
    stored = FIGURES / path.stem / "outputs.json"
    record = json.loads(stored.read_text(encoding="utf-8")) if stored.is_file() else None
    figures_dir = FIGURES / path.stem
    stale = mk.stale_cells(path, record)
    if stale:
        run_dir = folder / "run"
        start = time.perf_counter()
        try:
            record = mk.execute_lesson(path, run_dir)
            figures_dir = run_dir / path.stem
            log.info("lessons/%s: code cells %s have no stored outputs; ran the lesson while building "
                     "(%.1f s). Store them with 'python docs/make_figures.py %s'.", path.name, stale,
                     time.perf_counter() - start, path.name[:2])
        except Exception as e:  # the page still shows the code, without the outputs of changed cells
            log.warning("lessons/%s: failed while building: %s", path.name, str(e)[-2000:])
    nb = mk.notebook_with_outputs(path, record or {"cells": []}, figures_dir)
    for n, cell in enumerate(nb.cells, 1):   # Jupytext gives random ids: the same tree builds the same site
        cell.id = f"cell-{n}"
    target = folder / "lessons" / f"{path.stem}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(target))
    return target


# ---- MathJax from the site itself --------------------------------------------------------------
MATHJAX_PARTS = ("tex-mml-chtml.js", "input/", "output/chtml", "ui/", "a11y/", "adaptors/",
                 # the Accessibility menu's explorer (speech rule engine) fetches these maps
                 "sre/mathmaps/base.json", "sre/mathmaps/en.json", "sre/mathmaps/nemeth.json")


def mathjax_files(config) -> list[File]:
    """MathJax 3's files (from the django-static-mathjax package) as javascripts/mathjax/..."""
    import importlib.util
    spec = importlib.util.find_spec("mathjax")
    es5 = Path(spec.origin).parent / "static" / "mathjax" / "es5" if spec and spec.origin else None
    if es5 is None or not (es5 / "tex-mml-chtml.js").is_file():
        log.warning("docs: MathJax is not installed, formulas will not render: "
                    "python -m pip install -e '.[docs]' (package django-static-mathjax)")
        return []
    found = []
    for f in sorted(es5.rglob("*")):
        rel = f.relative_to(es5).as_posix()
        if f.is_file() and rel.startswith(MATHJAX_PARTS):
            found.append(File(rel, src_dir=str(es5), dest_dir=config.site_dir,
                              use_directory_urls=config.use_directory_urls,
                              dest_uri=f"javascripts/mathjax/{rel}"))
    return found


REMOTE_MODULE = re.compile(r'<script type="module">(?:(?!</script>).)*?https?://(?:(?!</script>).)*</script>', re.S)
EMPTY_SCRIPT = re.compile(r'<script src="">\s*</script>')


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
    _BUILD["dir"] = Path(tempfile.mkdtemp(prefix="minifcn-docs-"))
    return config


@event_priority(100)   # before mkdocs-jupyter's on_files, which turns .py pages into notebooks
def on_files(files, config):
    for path in lessons().values():
        # A real File rooted at the repository (not File.generated: mkdocs-jupyter's wrapper
        # reads abs_src_path through src_dir, which a generated file lacks).
        # Its page keeps the lesson's name (links to lessons/NN_topic.py work); on_nav points it
        # at the notebook with the outputs.
        files.append(File(f"lessons/{path.name}", src_dir=str(ROOT), dest_dir=config.site_dir,
                          use_directory_urls=config.use_directory_urls))
        _BUILD[path.name] = lesson_notebook(path, _BUILD["dir"])
    for f in mathjax_files(config):
        files.append(f)
    return files


def on_nav(nav, config, files):
    """After mkdocs-jupyter has wrapped the lesson files: render each from its notebook with outputs."""
    for f in files:
        notebook = _BUILD.get(Path(f.src_uri).name) if f.src_uri.startswith("lessons/") else None
        if notebook is not None:
            f.abs_src_path = str(notebook)   # on the wrapper, which mkdocs-jupyter reads
    return nav


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


FIGURE_IMG = re.compile(r'<img\b[^>]*>')
FIGURE_SRC = re.compile(r'\bsrc="data:image/png;base64,([A-Za-z0-9+/=]+)"')
FIGURE_ALT = re.compile(r'\balt="([\w.-]+\.png)"')
HEADING = re.compile(r'<h([1-6]) id="([^"]+)"[^>]*>(.*?)</h\1>', re.S)


def figure_links(content: str, stem: str, page_url: str, site_dir: str) -> str:
    """Each figure of a lesson page: a file beside the page (lessons/<stem>/NAME.png), shown from
    there and linked to itself, so a click opens it at full size (from disk too)."""
    def link(m: re.Match) -> str:
        src, alt = FIGURE_SRC.search(m.group(0)), FIGURE_ALT.search(m.group(0))
        if not (src and alt):           # not a figure a lesson saved
            return m.group(0)
        data, name = src.group(1), alt.group(1)
        target = Path(site_dir) / "lessons" / stem / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(data))
        url = html.escape(get_relative_url(f"lessons/{stem}/{name}", page_url))
        return (f'<a class="lesson-figure" href="{url}" title="{html.escape(name)}: open at full size">'
                f'<img src="{url}" alt="{html.escape(name)}"></a>')
    return FIGURE_IMG.sub(link, content)


CODE_PRE = re.compile(r'(<div class="highlight-ipynb[^"]*"><pre>)(.*?)(</pre>)', re.S)
SPAN_OR_NEWLINE = re.compile(r"<span\b[^>]*>|</span>|\n")
INDENT = re.compile(r"^((?:<span\b[^>]*>)*)( +)")


def code_lines(inner: str) -> str:
    """A code cell's highlighted source, one block per source line (the open highlighting spans
    are closed at each line's end and reopened on the next), its indentation in a box of its own.

    So a long line wraps with a hanging indent (its continuation starts under the line's own
    indentation, plus 4 columns), and an indentation wider than the column is shown shortened
    instead of wrapping into a blank-looking line (extra.css: .code-line, .code-indent).
    Selecting and copying the code still gives every space."""
    lines, stack, cur, pos = [], [], [], 0
    for m in SPAN_OR_NEWLINE.finditer(inner):
        cur.append(inner[pos:m.start()])
        pos = m.end()
        token = m.group(0)
        if token == "\n":
            lines.append("".join(cur) + "</span>" * len(stack))
            cur = list(stack)
        elif token == "</span>":
            if stack:
                stack.pop()
            cur.append(token)
        else:
            stack.append(token)
            cur.append(token)
    cur.append(inner[pos:])
    last = "".join(cur)
    if re.sub(r"<[^>]+>", "", last):
        lines.append(last)
    out = []
    for line in lines:
        if not re.sub(r"<[^>]+>", "", line):         # a blank line (extra.css gives it its height)
            out.append('<span class="code-line" style="--n: 0"></span>')
            continue
        m = INDENT.match(line)
        n = len(m.group(2)) if m else 0
        if n:
            line = f'{m.group(1)}<span class="code-indent">{m.group(2)}</span>{line[m.end():]}'
        out.append(f'<span class="code-line" style="--n: {n}">{line}</span>')
    return "".join(out)


def toc_from_headings(content: str):
    """The page's table of contents, from the headings (and ids) it really has.

    mkdocs-jupyter builds a lesson's TOC from a Markdown conversion of the notebook, whose
    ids differ from the page's for a heading that is all code (``padding="same"``: an
    empty entry pointing at ``#_1``)."""
    from mkdocs.structure.toc import get_toc
    root: list[dict] = []
    stack: list[dict] = []
    for level, anchor, inner in HEADING.findall(content):
        name = html.unescape(re.sub(r"<[^>]+>", "", re.sub(r'<a class="anchor-link".*?</a>', "", inner, flags=re.S)))
        token = {"level": int(level), "id": anchor, "name": " ".join(name.split()).rstrip("¶ "), "children": []}
        while stack and stack[-1]["level"] >= token["level"]:
            stack.pop()
        (stack[-1]["children"] if stack else root).append(token)
        stack.append(token)
    return get_toc(root)


LINK = re.compile(r"(<a\b.*?</a>)", re.S)
LOCAL_IMG = re.compile(r'<img\b[^>]*\bsrc="(?!data:|https?:|//)([^"]+\.(?:png|jpe?g|gif|svg))"[^>]*>')


def link_images(content: str) -> str:
    """Every local image not already inside a link: wrapped in a link to itself (full size on click)."""
    parts = LINK.split(content)     # odd parts are <a>...</a>: left as they are
    for n in range(0, len(parts), 2):
        parts[n] = LOCAL_IMG.sub(lambda m: f'<a class="full-size" href="{m.group(1)}">{m.group(0)}</a>', parts[n])
    return "".join(parts)


@event_priority(-100)   # after mkdocs-jupyter has rendered the notebook and set its TOC
def on_page_content(content, page, config, files):
    """Lesson pages: download links under the title, figures linked to their full size, the TOC.
    Other pages: each image linked to its full-size file."""
    src = page.file.src_uri
    if not (src.startswith("lessons/") and src.endswith(".py")):
        return link_images(content)
    name = src.split("/", 1)[1]
    stem = Path(name).stem
    install = files.get_file_from_path("installation.md")
    notebooks = (get_relative_url(install.url, page.url) + "#lessons-as-notebooks") if install else None
    here = page.url
    beside = Path(page.file.dest_uri).parent.as_posix()   # where on_post_page (the .py) and mkdocs-jupyter
    notebook = get_relative_url(f"{beside}/{stem}.ipynb", here)   # (include_source: the .ipynb) put them
    script = get_relative_url(f"{beside}/{name}", here)
    top = (f'<p class="lesson-downloads">'
           f'<a href="{html.escape(notebook)}" download>Download notebook</a> '
           f'(<code>{html.escape(stem)}.ipynb</code>, with the outputs shown here) &middot; '
           f'<a href="{html.escape(script)}" download>Download script</a> '
           f"(<code>{html.escape(name)}</code>) &middot; or all lessons at once: "
           f"<code>minifcn lessons init DIR --notebooks</code>"
           + (f' (<a href="{html.escape(notebooks)}">how</a>)' if notebooks else "") + ".</p>")
    cut = content.find("</h1>")                      # the links go under the lesson's title
    cut = cut + len("</h1>") if cut >= 0 else 0
    content = figure_links(content[:cut] + top + content[cut:], stem, page.url, config.site_dir)
    content = CODE_PRE.sub(lambda m: m.group(1) + code_lines(m.group(2)) + m.group(3), content)
    page.toc = toc_from_headings(content)
    return content


def on_post_page(output, page, config):
    """Lesson pages: the .py beside the page; every page: no script loaded from another host."""
    src = page.file.src_uri
    if src.startswith("lessons/") and src.endswith(".py"):
        dest = Path(page.file.abs_dest_path).parent / Path(src).name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(LESSONS / Path(src).name, dest)
    # nbconvert's template imports Mermaid from a CDN (the lessons draw no Mermaid diagram)
    # and leaves an empty MathJax 2 script tag; the site's own MathJax renders the formulas.
    return EMPTY_SCRIPT.sub("", REMOTE_MODULE.sub("", output))


def on_post_build(config):
    shutil.rmtree(_BUILD.pop("dir", ""), ignore_errors=True)
