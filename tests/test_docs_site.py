"""The documentation site works offline and shows each lesson like a notebook.

Checks a built site: ``$MINIFCN_SITE`` (tools/build_docs.sh sets it after its build, so
CI's docs step runs these checks), else a site built here once per session with
``mkdocs build --strict`` (about a minute), else skipped when mkdocs is not installed
(the ``[test]`` extra alone). What is checked, independently of docs/hooks.py:

* no page loads a script, a module or a stylesheet from another host, and the site's
  own stylesheets import no font or file from one;
* the math renderer is served by the site itself (MathJax's script and fonts are there);
* every lesson page holds every figure its lesson stored (docs/figures/<lesson>/*.png:
  the same bytes, or the same pixel size for a lesson run while building), each inside a
  code cell's output (under the cell that saves it where its name is in that cell), and
  shows printed output under its cells.
"""
import base64
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py"))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    given = os.environ.get("MINIFCN_SITE")
    if given:
        return Path(given)
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocs_jupyter")
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    return out


class Refs(HTMLParser):
    """Every URL a page would load as a script, a module or a stylesheet; inline script text."""

    def __init__(self):
        super().__init__()
        self.loads, self.inline, self._in_script = [], [], False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self._in_script = True
            if a.get("src") is not None:
                self.loads.append(("script", a["src"]))
        if tag == "link":
            rel = (a.get("rel") or "").lower()
            if any(r in rel for r in ("stylesheet", "preload", "modulepreload", "prefetch", "preconnect")):
                self.loads.append((f"link {rel}", a.get("href") or ""))

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.inline.append(data)


def remote(url):
    """True for a URL on another host (http:, https:, or protocol-relative //host/...)."""
    return bool(urlparse(url).netloc) or url.startswith("//")


def pages(site):
    found = sorted(site.rglob("*.html"))
    assert len(found) > 20, f"only {len(found)} pages in {site}"
    return found


def test_no_page_loads_a_script_or_stylesheet_from_another_host(site):
    bad = []
    for page in pages(site):
        refs = Refs()
        refs.feed(page.read_text(encoding="utf-8"))
        bad += [f"{page.relative_to(site)}: {kind} {url}" for kind, url in refs.loads if remote(url)]
        for text in refs.inline:        # import("https://...") or a script element made by code
            bad += [f"{page.relative_to(site)}: inline script loads {m}"
                    for m in re.findall(r"""(?:import\s*\(|src\s*=)\s*["'`]((?:https?:)?//[^"'`]+)""", text)]
    for css in site.rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="replace")
        bad += [f"{css.relative_to(site)}: {m}" for m in
                re.findall(r"""(?:@import\s+(?:url\()?|url\()\s*["']?((?:https?:)?//[^"')\s]+)""", text)]
    assert not bad, "\n".join(bad[:20])


def test_math_is_rendered_by_the_sites_own_mathjax(site):
    page = site / "arithmetic-guide" / "index.html"
    html = page.read_text(encoding="utf-8")
    assert 'class="arithmatex"' in html                      # the page has formulas
    refs = Refs()
    refs.feed(html)
    scripts = [urljoin(page.as_uri(), url) for kind, url in refs.loads if kind == "script"]
    mathjax = [u for u in scripts if u.endswith("/tex-mml-chtml.js")]
    assert mathjax, scripts
    local = Path(urlparse(mathjax[0]).path)
    assert local.is_file() and local.stat().st_size > 500_000  # the real MathJax, in the site
    fonts = local.parent / "output" / "chtml" / "fonts" / "woff-v2"
    assert (fonts / "MathJax_Main-Regular.woff").is_file()    # CHTML loads its fonts from there
    assert (local.parent / "input" / "tex" / "extensions").is_dir()   # \require / autoload


def code_cells(html):
    """The page's notebook cells as (is code cell, HTML chunk)."""
    parts = re.split(r'(?=<div[^>]*class="jp-Cell )', html)
    return [("jp-CodeCell" in part[:300], part) for part in parts[1:]]


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_every_lesson_page_shows_its_figures_under_its_cells(site, lesson):
    page = site / "lessons" / lesson.stem / "index.html"
    assert page.is_file(), f"no page for {lesson.name}"
    html = page.read_text(encoding="utf-8")
    cells = code_cells(html)
    assert cells, "the page shows no notebook cells"
    stored = sorted((ROOT / "docs" / "figures" / lesson.stem).glob("*.png"))
    assert stored, f"lessons/{lesson.name} has no stored figures: python docs/make_figures.py {lesson.name[:2]}"
    def images(chunk):       # (base64 data, alt) of every embedded PNG, whatever the attribute order
        for tag in re.findall(r"<img\b[^>]*>", chunk):
            src = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', tag)
            alt = re.search(r'alt="([^"]*)"', tag)
            if src and alt:
                yield src.group(1), alt.group(1)

    for png in stored:
        holders = [n for n, (is_code, chunk) in enumerate(cells)
                   for data, alt in images(chunk) if alt == png.name]
        assert holders, f"{png.name} is not on the page of {lesson.name}"
        assert all(cells[n][0] for n in holders), f"{png.name} is not under a code cell"
        data = next(d for d, alt in images(cells[holders[-1]][1]) if alt == png.name)
        # the picture itself: the stored file's bytes, or (a lesson run while building) its size
        image = base64.b64decode(data)
        assert image == png.read_bytes() or image[16:24] == png.read_bytes()[16:24], png.name
        saved_by = [n for n, (is_code, chunk) in enumerate(cells)
                    if is_code and png.name in chunk.split('class="jp-Cell-outputWrapper"')[0]]  # its code
        if len(saved_by) == 1:                   # the one cell that names it: the figure is right under it
            assert saved_by[0] in holders, f"{png.name} is not under the cell that saves it"
    printed = re.compile(r'class="jp-RenderedText jp-OutputArea-output"[^>]*>\s*<pre>\s*\S')
    stdout = [chunk for is_code, chunk in cells if is_code and printed.search(chunk)]
    assert stdout, "no printed output under any cell"
    assert "Figures this lesson draws" not in html        # no gallery far from the code


def test_the_lesson_source_is_downloadable_beside_its_page(site):
    for lesson in LESSONS:
        folder = site / "lessons" / lesson.stem
        assert (folder / lesson.name).read_bytes() == lesson.read_bytes()
        assert (folder / f"{lesson.stem}.ipynb").is_file()
