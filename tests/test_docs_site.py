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
  shows printed output under its cells; its notebook and script are linked under the title;
  each figure is linked to its full-size file; no link points at a folder;
* in headless Chromium (tools/site_check.py): every page at 1280 px and the lessons at 390 px
  show every code line, keep printed lines whole, let wide formulas scroll, link small
  figures to their full size, request nothing from another host, have no dead link or
  anchor, no raw TeX and no MathJax error; and the checker finds each of these planted
  in small fake pages. Without Chromium these skip, or fail with MINIFCN_REQUIRE_BROWSER=1.
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
    page = site / "arithmetic-guide.html"
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
    page = site / "lessons" / f"{lesson.stem}.html"
    assert page.is_file(), f"no page for {lesson.name}"
    html = page.read_text(encoding="utf-8")
    cells = code_cells(html)
    assert cells, "the page shows no notebook cells"
    stored = sorted((ROOT / "docs" / "figures" / lesson.stem).glob("*.png"))
    assert stored, f"lessons/{lesson.name} has no stored figures: python docs/make_figures.py {lesson.name[:2]}"
    def images(chunk):       # (PNG bytes, alt) of every PNG shown: embedded, or a file of the site
        for tag in re.findall(r"<img\b[^>]*>", chunk):
            src = re.search(r'src="([^"]+)"', tag)
            alt = re.search(r'alt="([^"]*)"', tag)
            if not (src and alt):
                continue
            data = re.match(r"data:image/png;base64,([A-Za-z0-9+/=]+)$", src.group(1))
            if data:
                yield base64.b64decode(data.group(1)), alt.group(1)
            elif src.group(1).endswith(".png") and (page.parent / src.group(1)).is_file():
                yield (page.parent / src.group(1)).read_bytes(), alt.group(1)

    for png in stored:
        holders = [n for n, (is_code, chunk) in enumerate(cells)
                   for data, alt in images(chunk) if alt == png.name]
        assert holders, f"{png.name} is not on the page of {lesson.name}"
        assert all(cells[n][0] for n in holders), f"{png.name} is not under a code cell"
        image = next(d for d, alt in images(cells[holders[-1]][1]) if alt == png.name)
        # the picture itself: the stored file's bytes, or (a lesson run while building) its size
        assert image == png.read_bytes() or image[16:24] == png.read_bytes()[16:24], png.name
        saved_by = [n for n, (is_code, chunk) in enumerate(cells)
                    if is_code and png.name in chunk.split('class="jp-Cell-outputWrapper"')[0]]  # its code
        if len(saved_by) == 1:                   # the one cell that names it: the figure is right under it
            assert saved_by[0] in holders, f"{png.name} is not under the cell that saves it"
    printed = re.compile(r'class="jp-RenderedText jp-OutputArea-output"[^>]*>\s*<pre>\s*\S')
    stdout = [chunk for is_code, chunk in cells if is_code and printed.search(chunk)]
    assert stdout, "no printed output under any cell"
    assert "Figures this lesson draws" not in html        # no gallery far from the code


def test_every_lesson_page_links_its_notebook_and_script(site):
    """'Download notebook' and 'Download script' under the title, to files beside the page."""
    nbformat = pytest.importorskip("nbformat")
    for lesson in LESSONS:
        page = site / "lessons" / f"{lesson.stem}.html"
        html = page.read_text(encoding="utf-8")
        links = dict((text, href) for href, text in re.findall(r'<a href="([^"]+)" download>([^<]+)</a>', html))
        assert set(links) >= {"Download notebook", "Download script"}, (lesson.name, links)
        assert (page.parent / links["Download script"]).read_bytes() == lesson.read_bytes()
        nb = nbformat.read(page.parent / links["Download notebook"], as_version=4)
        nbformat.validate(nb)
        assert [c.id for c in nb.cells] == [f"cell-{n}" for n in range(1, len(nb.cells) + 1)]  # no random ids
        assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_every_lesson_figure_is_linked_to_its_full_size_file(site):
    for lesson in LESSONS:
        page = site / "lessons" / f"{lesson.stem}.html"
        html = page.read_text(encoding="utf-8")
        shown = re.findall(r'<img\b[^>]*alt="([\w.-]+\.png)"', html)
        linked = re.findall(r'<a class="lesson-figure" href="([^"]+)"[^>]*><img src="\1"', html)
        assert shown and len(linked) == len(shown), (lesson.name, len(shown), len(linked))
        assert all((page.parent / href).is_file() for href in linked)


def test_no_page_links_to_a_folder(site):
    """Read from disk, a link to a folder shows a directory listing: every internal link names a file."""
    bad = []
    for page in pages(site):
        for href in re.findall(r'<a\b[^>]*href="([^"#]*)', page.read_text(encoding="utf-8")):
            if href and not urlparse(href).scheme and not href.startswith("//"):
                if href.endswith("/") or (page.parent / href).is_dir():
                    bad.append(f"{page.relative_to(site)}: {href}")
    assert not bad, "\n".join(bad[:20])


def test_the_lesson_source_is_downloadable_beside_its_page(site):
    for lesson in LESSONS:
        assert (site / "lessons" / lesson.name).read_bytes() == lesson.read_bytes()
        assert (site / "lessons" / f"{lesson.stem}.ipynb").is_file()


# ---- the site in a real browser (tools/site_check.py) -------------------------------------------
sys.path.insert(0, str(ROOT / "tools"))
import site_check  # noqa: E402


def need_chromium():
    """Chromium, or skip -- but fail where the browser check is required (CI: MINIFCN_REQUIRE_BROWSER=1)."""
    if site_check.find_chromium() is None:
        message = ("no Chromium: the browser check of the site cannot run (apt-get install chromium, "
                   "or set $CHROMIUM)")
        if os.environ.get("MINIFCN_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)


def _png(width, height):
    """A grey PNG of the given size (zlib + the PNG chunk layout, standard library only)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
body {{ font: 14px monospace; margin: 0; }} .md-content {{ width: 600px; }}
.highlight-ipynb {{ overflow: auto; }} pre {{ margin: 0; }}
</style></head><body><div class="md-content"><h1 id="top">{title}</h1>{body}</div></body></html>"""

CLEAN = """<div class="jp-Cell jp-CodeCell"><div class="jp-InputArea"><div class="jp-InputPrompt">In [1]:</div>
<div class="highlight-ipynb"><pre style="white-space: pre-wrap">x = "a long line of code that wraps inside its column instead of hiding to the right of it, as it should"</pre></div></div>
<div class="jp-OutputArea"><div class="jp-RenderedText jp-OutputArea-output" style="overflow-x: auto">
<pre style="white-space: pre">logits (1, 2, 16, 16) and a long printed line that scrolls sideways rather than breaking inside a number 0.70</pre></div></div></div>
<p>Costs five dollars, or $5 and $10, is not TeX. <a href="#top">top</a> <a href="other.html#top">other</a></p>
<div style="overflow-x: auto; width: 200px"><mjx-container display="true"><mjx-math style="display:inline-block; width: 500px">x</mjx-math></mjx-container></div>
<a href="big.png"><img src="big.png" alt="big.png" style="width: 100px"></a>
<img src="big.png" alt="shown at full size" style="width: 400px">"""

PLANTED = {   # failure kind -> (page, the element it must name)
    "code-hidden": ("code.html", "code cell 1"),
    "output-wrap": ("output.html", "broken inside"),
    "formula-clipped": ("formula.html", "formula"),
    "figure-small": ("figure.html", "big.png"),
    "outside-request": ("outside.html", "http://cdn.example.com/x.js"),
    "dead-link": ("links.html", "missing.html"),
    "raw-math": ("rawmath.html", "$x^2$"),
    "math-error": ("matherror.html", "Undefined control sequence"),
}
BODIES = {
    "code.html": """<div class="jp-Cell jp-CodeCell"><div class="jp-InputArea"><div class="highlight-ipynb" style="width: 300px">
<pre>model = SegNet(in_channels=1, num_classes=2, base_channels=4, depth=2)  # a line wider than the cell</pre></div></div></div>""",
    "output.html": """<div class="jp-Cell jp-CodeCell"><div class="jp-InputArea"></div><div class="jp-OutputArea">
<div class="jp-RenderedText jp-OutputArea-output" style="width: 470px"><pre style="white-space: pre-wrap; word-break: break-all">SegNet with 2294 parameters: input (1, 1, 16, 16) -> logits (1, 2, 16, 16)</pre></div></div></div>""",
    "formula.html": """<div style="overflow: hidden; width: 200px"><mjx-container display="true" aria-label="a wide sum">
<mjx-math style="display: inline-block; width: 500px">x</mjx-math></mjx-container></div>""",
    "figure.html": """<img src="big.png" alt="big.png" style="width: 100px">""",
    "outside.html": """<script src="http://cdn.example.com/x.js"></script><p>text</p>""",
    "links.html": """<a href="missing.html">gone</a> <a href="#nowhere">no anchor</a> <a href="sub/">a folder</a>""",
    "rawmath.html": """<p>the cost is $x^2$ per pixel</p>""",
    "matherror.html": """<mjx-container><mjx-merror data-mjx-error="Undefined control sequence \\foo">\\foo</mjx-merror></mjx-container>""",
}


@pytest.fixture(scope="module")
def planted_site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("planted")
    (folder / "big.png").write_bytes(_png(400, 40))
    (folder / "sub").mkdir()
    (folder / "sub" / "index.html").write_text(PAGE.format(title="sub", body=""), encoding="utf-8")
    (folder / "clean.html").write_text(PAGE.format(title="clean", body=CLEAN), encoding="utf-8")
    (folder / "other.html").write_text(PAGE.format(title="other", body=""), encoding="utf-8")
    for name, body in BODIES.items():
        (folder / name).write_text(PAGE.format(title=name, body=body), encoding="utf-8")
    return folder


def test_the_browser_check_finds_each_planted_regression(planted_site):
    need_chromium()
    failures = site_check.check_site(planted_site, width=1280)
    text = "\n".join(f"{f['kind']} {f['page']}: {f['element']} -- {f['detail']}" for f in failures)
    for kind, (page, element) in PLANTED.items():
        hits = [f for f in failures if f["kind"] == kind and f["page"] == page]
        assert hits, f"{kind} planted in {page} was not found:\n{text}"
        assert any(element in f["element"] + " " + f["detail"] for f in hits), (kind, hits)
    for page in ("clean.html", "other.html", "sub/index.html"):
        assert not [f for f in failures if f["page"] == page], f"false alarm on {page}:\n{text}"
    links = {f["element"] for f in failures if f["kind"] == "dead-link" and f["page"] == "links.html"}
    assert any("#nowhere" in e for e in links) and any("sub/" in e for e in links), links


def need_site_check():
    """The real site in the browser: a few minutes, so the docs step runs it (tools/build_docs.sh sets
    $MINIFCN_SITE); a plain pytest run skips it unless MINIFCN_REQUIRE_BROWSER=1."""
    if not (os.environ.get("MINIFCN_SITE") or os.environ.get("MINIFCN_REQUIRE_BROWSER") == "1"):
        pytest.skip("the browser check of the whole site runs in tools/build_docs.sh (set MINIFCN_SITE=site)")
    need_chromium()


def _listing(failures):
    return "\n".join(f"{f['kind']} {f['page']}: {f['element']} -- {f['detail']}" for f in failures[:40])


def test_every_page_in_a_real_browser_at_1280px(site):
    """Every page at a laptop's width: no hidden code line, no output broken mid-token, no clipped
    formula, no small figure without a link, nothing from another host, no dead link or anchor,
    no raw TeX, no MathJax or script error."""
    need_site_check()
    failures = site_check.check_site(site, width=1280)
    assert not failures, _listing(failures)


def test_the_lesson_pages_in_a_real_browser_at_390px(site):
    """The lesson pages at a phone's width (links were checked above)."""
    need_site_check()
    failures = site_check.check_site(site, width=390, patterns=["lessons/*.html"], links=False)
    assert not failures, _listing(failures)


def test_the_link_check_reads_a_site_given_by_a_relative_path(planted_site, monkeypatch):
    """(No browser.) The same dead links whether the site is named absolutely or relatively."""
    monkeypatch.chdir(planted_site.parent)
    relative = Path(planted_site.name)
    found = {(f["page"], f["element"]) for f in site_check.check_links(relative, site_check.site_pages(relative, None))}
    assert found == {(f["page"], f["element"]) for f in
                     site_check.check_links(planted_site, site_check.site_pages(planted_site, None))}
    assert {page for page, _ in found} == {"links.html"}, found
