#!/usr/bin/env python3
"""Read the built documentation site in headless Chromium, as a student would, and list what loses them.

    python tools/site_check.py site                    # every page at 1280 px
    python tools/site_check.py site --width 390 --pages 'lessons/*'
    python tools/site_check.py site --json report.json

Serves the site on 127.0.0.1 (a free port), starts Debian's ``chromium`` headless with the
DevTools protocol on a local port, and talks to it over a WebSocket (the small client below:
standard library only). Every page is loaded at the given width; once its fonts, images and
formulas are in place, a script in the page measures what the reader sees. The failure kinds:

    code-hidden      a line of a lesson's code cell that needs sideways scrolling, or any code
                     line cut off by a box that does not scroll
    output-wrap      a line of printed output broken inside a token (not at a space)
    formula-clipped  a display formula wider than its box, in a box that does not scroll
    figure-small     an image shown below --min-scale (0.6) of its pixel width without a link
                     to the full-size image around it
    outside-request  any request (script, image, font, fetch) to a host other than 127.0.0.1
    dead-link        a link to a file that is not in the site, a link to a folder (a directory
                     listing when read from disk), or to an anchor that is not on its page;
                     also a resource that answered 404
    raw-math         a ``$...$``, ``$$``, ``\\(`` or ``\\[`` left as text outside code
    math-error       a MathJax error (an ``mjx-merror`` element or a MathJax console error)
    script-error     a JavaScript exception or console error

Each failure names the page and the element (cell, line, link, image). Exit code: 0 when
there is none, 1 when there are, 2 when the check cannot run (no Chromium: install Debian's
``chromium`` package, or point ``$CHROMIUM`` at a Chrome/Chromium binary).
"""
from __future__ import annotations

import argparse
import base64
import fnmatch
import functools
import http.server
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse
from urllib.request import Request, urlopen

KINDS = ("code-hidden", "output-wrap", "formula-clipped", "figure-small", "outside-request", "dead-link",
         "raw-math", "math-error", "script-error")


# ---- a minimal WebSocket client (RFC 6455: text frames, client-side masking) -------------------
class WebSocket:
    def __init__(self, url: str, timeout: float = 60.0):
        u = urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("the browser closed the DevTools connection during the handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError(f"DevTools WebSocket handshake failed: {head[:200]!r}")

    def send(self, text: str) -> None:
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else
                                  bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 else
                                  bytes([0x80 | 127]) + struct.pack(">Q", n))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("the browser closed the DevTools connection")
            buf += chunk
        return bytes(buf)

    def recv(self) -> str:
        message = bytearray()
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            payload = self._exact(n)
            opcode = b0 & 0x0F
            if opcode == 8:
                raise ConnectionError("the browser closed the DevTools connection")
            if opcode in (0, 1, 2):
                message += payload
                if b0 & 0x80:
                    return message.decode("utf-8", errors="replace")

    def close(self) -> None:
        self.sock.close()


class DevTools:
    """Commands to one page over the Chrome DevTools Protocol; events are kept in ``events``."""

    def __init__(self, ws_url: str):
        self.ws = WebSocket(ws_url)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, timeout: float = 120.0, **params) -> dict:
        self.next_id += 1
        me = self.next_id
        self.ws.send(json.dumps({"id": me, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == me:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)
        raise TimeoutError(f"{method}: no answer in {timeout} s")

    def wait_for(self, method: str, timeout: float) -> bool:
        if any(e["method"] == method for e in self.events):
            return True
        deadline = time.monotonic() + timeout
        self.ws.sock.settimeout(timeout)
        try:
            while time.monotonic() < deadline:
                msg = json.loads(self.ws.recv())
                if "method" in msg:
                    self.events.append(msg)
                    if msg["method"] == method:
                        return True
        except (socket.timeout, TimeoutError):
            return False
        finally:
            self.ws.sock.settimeout(120)
        return False


# ---- the browser and the server ------------------------------------------------------------------
def find_chromium() -> str | None:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class Browser:
    """Headless Chromium with remote debugging on a free local port; every other host unreachable."""

    def __init__(self, binary: str):
        self.profile = tempfile.mkdtemp(prefix="site-check-chromium-")
        args = [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions", "--mute-audio",
                "--hide-scrollbars=false", "--font-render-hinting=none",
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                f"--user-data-dir={self.profile}", "--remote-debugging-port=0", "about:blank"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.is_file() or not port_file.read_text().strip():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode(errors="replace")[-2000:] if self.proc.poll() is not None else ""
                self.close()
                raise RuntimeError(f"{binary} did not start its DevTools server: {err}")
            time.sleep(0.1)
        self.port = int(port_file.read_text().split()[0])

    def page(self) -> DevTools:
        """A new tab, with its page, network and runtime events on."""
        req = Request(f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT")
        target = json.loads(urlopen(req, timeout=30).read())
        tab = DevTools(target["webSocketDebuggerUrl"])
        for domain in ("Page", "Network", "Runtime"):
            tab.call(f"{domain}.enable")
        return tab

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):    # noqa: D401 (no access log on the terminal)
        pass


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


# ---- links and anchors, from the HTML files -------------------------------------------------------
class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str]] = []   # (href, link text)
        self.ids: set[str] = set()
        self._a: list = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "a" and a.get("href") is not None:
            self._a.append([a["href"], ""])

    def handle_data(self, data):
        for entry in self._a:
            entry[1] += data

    def handle_endtag(self, tag):
        if tag == "a" and self._a:
            href, text = self._a.pop()
            self.links.append((href, " ".join(text.split())[:60]))


def check_links(site: Path, pages: list[Path]) -> list[dict]:
    """Every <a href> of the pages: the file exists (not a folder), the anchor is on the target page."""
    parsed: dict[Path, _Links] = {}

    def parse(path: Path) -> _Links:
        if path not in parsed:
            p = _Links()
            p.feed(path.read_text(encoding="utf-8", errors="replace"))
            parsed[path] = p
        return parsed[path]

    failures = []
    for page in pages:
        rel = page.relative_to(site).as_posix()
        for href, text in parse(page).links:
            u = urlparse(href)
            if u.scheme in ("mailto", "javascript", "data") or (u.scheme in ("http", "https") or u.netloc):
                continue                                    # another site: not checked offline
            what = f'link "{text}" -> {href}'
            base = site if u.path.startswith("/") else page.parent     # "/x.html": from the site's root
            target = (base / unquote(u.path).lstrip("/")).resolve() if u.path else page.resolve()
            if u.path.endswith("/") or target.is_dir():
                failures.append({"kind": "dead-link", "page": rel,
                                 "element": what, "detail": "a folder: a directory listing from disk"})
                continue
            if not target.is_file() or site.resolve() not in target.parents:
                failures.append({"kind": "dead-link", "page": rel, "element": what, "detail": "no such file"})
                continue
            if u.fragment and target.suffix == ".html" and unquote(u.fragment) not in parse(target).ids:
                failures.append({"kind": "dead-link", "page": rel, "element": what,
                                 "detail": f"no id {u.fragment!r} on {target.relative_to(site.resolve()).as_posix()}"})
    return failures


# ---- what the page script measures -----------------------------------------------------------------
PAGE_JS = r"""
(async (minScale) => {
  const out = [];
  const add = (kind, element, detail) => out.push({kind, element, detail});
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  // wait for formulas, fonts and images
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    try { await Promise.race([MathJax.startup.promise, sleep(20000)]); } catch (e) {}
    for (let i = 0; i < 100 && document.querySelector('.arithmatex, .jp-RenderedMarkdown') &&
         !document.querySelector('mjx-container') && /[$\\]/.test(document.body.innerText); i++) await sleep(100);
    await sleep(300);
  }
  try { await Promise.race([document.fonts.ready, sleep(5000)]); } catch (e) {}
  await Promise.all([...document.images].map(img => img.complete ? null :
      Promise.race([new Promise(r => { img.onload = img.onerror = r; }), sleep(10000)])));
  const root = document.querySelector('.md-content') || document.body;
  const short = s => { s = (s || '').replace(/\s+/g, ' ').trim(); return s.length > 70 ? s.slice(0, 67) + '...' : s; };
  const cellName = el => {
    const cell = el.closest('.jp-Cell');
    if (!cell) return '';
    if (!cell.classList.contains('jp-CodeCell')) {
      return `markdown cell ${[...document.querySelectorAll('.jp-Cell')].indexOf(cell) + 1} of the notebook`;
    }
    const cells = [...document.querySelectorAll('.jp-CodeCell')];
    const prompt = cell.querySelector('.jp-InputPrompt');
    return `code cell ${cells.indexOf(cell) + 1}` + (prompt && prompt.textContent.trim() ? ` (${prompt.textContent.trim()})` : '');
  };
  const scrolls = el => /(auto|scroll)/.test(getComputedStyle(el).overflowX);
  const clips = el => getComputedStyle(el).overflowX !== 'visible';
  // the lines of a <pre> as [text, Range] (a range per line, across the highlighting spans)
  const lines = pre => {
    const blocks = pre.querySelectorAll(':scope > .code-line');   // one element per source line
    if (blocks.length) return [...blocks].map(el => {
      const range = document.createRange(); range.selectNodeContents(el);
      return {text: el.textContent, range};
    }).filter(l => l.text.trim());
    const result = [];
    const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
    let cur = null, node;
    const flush = () => { if (cur) result.push(cur); cur = null; };
    while ((node = walker.nextNode())) {
      const t = node.data;
      let start = 0;
      for (let i = 0; i <= t.length; i++) {
        if (i === t.length || t[i] === '\n') {
          if (i > start) {
            if (!cur) { cur = {text: '', range: document.createRange()}; cur.range.setStart(node, start); }
            cur.text += t.slice(start, i);
            cur.range.setEnd(node, i);
          }
          if (i < t.length) flush();
          start = i + 1;
        }
      }
    }
    flush();
    return result.filter(l => l.text.trim());
  };
  // 1. code: lesson code cells must not need sideways scrolling; no code box may cut a line off
  const codePres = [...root.querySelectorAll('pre')].filter(p => !p.closest('.jp-OutputArea'));
  for (const pre of codePres) {
    const inCell = !!pre.closest('.jp-CodeCell .jp-InputArea, .jp-CodeCell .jp-Cell-inputArea');
    let clipper = null;
    for (let el = pre; el && el !== document.body; el = el.parentElement) {
      if (clips(el)) { clipper = el; break; }
    }
    if (!clipper || clipper.scrollWidth <= clipper.clientWidth + 1) continue;   // nothing sticks out
    const visible = clipper.getBoundingClientRect();
    const needsScroll = scrolls(clipper);
    if (needsScroll && !inCell) continue;               // a Markdown code block: scrolling is fine there
    let n = 0;
    for (const line of lines(pre)) {
      const trail = line.text.length - line.text.trimEnd().length;   // trailing blanks may hang past the edge
      if (trail && line.range.endContainer.nodeType === Node.TEXT_NODE && line.range.endOffset >= trail)
        line.range.setEnd(line.range.endContainer, line.range.endOffset - trail);
      const rects = [...line.range.getClientRects()].filter(r => r.width > 0);
      const right = Math.max(...rects.map(r => r.right));
      if (right > visible.right + 1) {
        n++;
        if (n <= 3) add('code-hidden', (inCell ? cellName(pre) : 'code block') + `, line "${short(line.text)}"`,
                        `${Math.round(right - visible.right)} px beyond the ${needsScroll ? 'scrolled' : 'clipped'} box`);
      }
    }
    if (n > 3) add('code-hidden', (inCell ? cellName(pre) : 'code block') + ` (${n - 3} more lines)`, '');
  }
  // 2. printed output: a line may scroll, not break inside a token
  for (const pre of root.querySelectorAll('.jp-OutputArea-output pre, .jp-RenderedText pre')) {
    for (const line of lines(pre)) {
      const rects = [...line.range.getClientRects()].filter(r => r.width > 0);
      const tops = new Set(rects.map(r => Math.round(r.top)));
      if (tops.size < 2) continue;
      // where does it break? look at the characters on both sides of each change of line box
      const text = line.text;
      const r = document.createRange();
      let prevTop = null, breaks = [];
      let node = line.range.startContainer, offset = line.range.startOffset, seen = 0;
      const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
      walker.currentNode = node;
      while (node && seen < text.length) {
        const end = node === line.range.endContainer ? line.range.endOffset : node.data.length;
        for (let i = offset; i < end && seen < text.length; i++, seen++) {
          r.setStart(node, i); r.setEnd(node, i + 1);
          const rr = r.getClientRects()[0];
          if (!rr) continue;
          const top = Math.round(rr.top);
          if (prevTop !== null && top > prevTop + 2) breaks.push(seen);
          prevTop = top;
        }
        node = walker.nextNode(); offset = 0;
      }
      const mid = breaks.filter(i => i > 0 && /\S/.test(text[i - 1]) && /\S/.test(text[i]));
      if (mid.length) add('output-wrap', `${cellName(pre) || 'output'}, line "${short(text)}"`,
                          `broken inside "${short(text.slice(Math.max(0, mid[0] - 12), mid[0]) + '|' + text.slice(mid[0], mid[0] + 12))}"`);
    }
  }
  // 3. display formulas
  for (const c of root.querySelectorAll('mjx-container[display="true"], mjx-container[jax][display]')) {
    const math = c.querySelector('mjx-math') || c;
    const mr = math.getBoundingClientRect();
    let verdict = null;
    for (let el = c; el && el !== document.documentElement; el = el.parentElement) {
      if (!clips(el)) continue;
      const er = el.getBoundingClientRect();
      if (mr.right > er.right + 1 || mr.left < er.left - 1) { verdict = scrolls(el) ? 'scrolls' : 'clipped'; break; }
    }
    if (!verdict && mr.right > document.documentElement.clientWidth + 1) verdict = 'clipped';
    if (verdict === 'clipped') {
      const tex = c.getAttribute('aria-label') || (c.querySelector('mjx-assistive-mml') || c).textContent;
      add('formula-clipped', `${cellName(c) || 'formula'} "${short(tex)}"`, `${Math.round(mr.width)} px wide`);
    }
  }
  // 4. figures
  for (const img of root.querySelectorAll('img')) {
    if (!img.naturalWidth || img.naturalWidth < 64) continue;
    const shown = img.getBoundingClientRect().width;
    if (shown === 0) continue;
    const scale = shown / img.naturalWidth;
    const link = img.closest('a[href]');
    if (scale < minScale && !link && !img.hasAttribute('data-full-size')) {
      add('figure-small', `image "${short(img.alt || img.getAttribute('src').slice(0, 40))}"`,
          `shown at ${scale.toFixed(2)} of its ${img.naturalWidth} px, no link to the full size`);
    }
  }
  // 5. raw TeX left as text, and MathJax errors
  const skip = 'pre, code, script, style, textarea, mjx-container, .md-nav, .md-search, .md-header, .md-footer';
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const raw = /\\\(|\\\[|\$\$|\$[^\s$][^$\n]*?[^\s\\$]\$|\$[^\s$\d]\$/;
  let node;
  while ((node = walker.nextNode())) {
    const parent = node.parentElement;
    if (!parent || parent.closest(skip) || !parent.getClientRects().length) continue;   // not shown
    const m = node.data.match(raw);
    if (m) add('raw-math', `${cellName(parent) || parent.tagName.toLowerCase()} text "${short(node.data.slice(Math.max(0, m.index - 20), m.index + 40))}"`,
               `"${short(m[0])}" was not typeset`);
  }
  for (const e of root.querySelectorAll('mjx-merror, [data-mjx-error], .MathJax_Error')) {
    add('math-error', `${cellName(e) || 'formula'} "${short(e.getAttribute('data-mjx-error') || e.textContent)}"`, 'MathJax error');
  }
  return out;
})
"""


def check_page(tab: DevTools, base: str, rel: str, width: int, min_scale: float) -> list[dict]:
    tab.events.clear()
    tab.call("Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1,
             mobile=width < 600)
    tab.call("Page.navigate", url=urljoin(base, rel))
    loaded = tab.wait_for("Page.loadEventFired", 60)
    result = tab.call("Runtime.evaluate", expression=f"{PAGE_JS}({min_scale})", awaitPromise=True,
                      returnByValue=True, timeout=120)
    if "exceptionDetails" in result:
        raise RuntimeError(f"{rel}: the page check failed: {result['exceptionDetails']}")
    failures = [dict(f, page=rel) for f in result["result"]["value"]]
    if not loaded:
        failures.append({"kind": "script-error", "page": rel, "element": "page", "detail": "no load event in 60 s"})
    host = urlparse(base).netloc
    seen = set()
    for e in tab.events:
        p = e.get("params", {})
        if e["method"] == "Network.requestWillBeSent":
            url = p["request"]["url"]
            u = urlparse(url)
            if u.scheme in ("data", "blob", "about", "chrome", "devtools") or u.netloc == host or url in seen:
                continue
            seen.add(url)
            failures.append({"kind": "outside-request", "page": rel,
                             "element": f"{p.get('type', 'request')} {url[:120]}",
                             "detail": f"initiated by {p.get('initiator', {}).get('type', '?')}"})
        elif (e["method"] == "Network.responseReceived" and p["response"]["status"] >= 400
              and urlparse(p["response"]["url"]).path != "/favicon.ico"):   # the browser's own guess
            failures.append({"kind": "dead-link", "page": rel, "element": f"{p.get('type', 'resource')} "
                             f"{p['response']['url'][len(base) - 1:][:120]}",
                             "detail": f"HTTP {p['response']['status']}"})
        elif e["method"] == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            text = (d.get("exception") or {}).get("description") or d.get("text", "")
            failures.append({"kind": "math-error" if "MathJax" in text else "script-error", "page": rel,
                             "element": "script", "detail": text.splitlines()[0][:200] if text else "exception"})
        elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            failures.append({"kind": "math-error" if "MathJax" in text or "TeX" in text else "script-error",
                             "page": rel, "element": "console", "detail": text[:200]})
    return failures


def site_pages(site: Path, patterns: list[str] | None) -> list[Path]:
    pages = sorted(p for p in site.rglob("*.html") if "javascripts/mathjax" not in p.as_posix())
    if patterns:
        pages = [p for p in pages if any(fnmatch.fnmatch(p.relative_to(site).as_posix(), pat) for pat in patterns)]
    return pages


def check_site(site: Path, width: int = 1280, patterns: list[str] | None = None, min_scale: float = 0.6,
               links: bool = True, progress=None, jobs: int = 0) -> list[dict]:
    """All failures of the site's pages (each a dict: kind, page, element, detail); ``jobs`` tabs at
    once (default: the CPU count, at most 4)."""
    jobs = jobs or min(4, os.cpu_count() or 1)
    site = Path(site)
    pages = site_pages(site, patterns)
    if not pages:
        raise FileNotFoundError(f"no HTML pages under {site}" + (f" matching {patterns}" if patterns else ""))
    binary = find_chromium()
    if binary is None:
        raise RuntimeError("no Chromium found (install Debian's 'chromium' package, or set $CHROMIUM)")
    failures = check_links(site, pages) if links else []
    server, base = serve(site)
    browser = Browser(binary)
    todo = [page.relative_to(site).as_posix() for page in pages]
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:           # one tab per worker; the pages are shared out one by one
        try:
            tab = browser.page()
            while True:
                with lock:
                    if not todo or errors:
                        break
                    rel = todo.pop(0)
                start = time.perf_counter()
                found = check_page(tab, base, rel, width, min_scale)
                with lock:
                    failures.extend(found)
                    if progress:
                        progress(f"{rel}: {len(found)} failure(s), {time.perf_counter() - start:.1f} s")
            tab.ws.close()
        except BaseException as e:   # noqa: BLE001 (re-raised below, in the caller's thread)
            with lock:
                errors.append(e)

    try:
        threads = [threading.Thread(target=worker) for _ in range(max(1, min(jobs, len(todo))))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        browser.close()
        server.shutdown()
    if errors:
        raise RuntimeError(f"the browser check failed: {errors[0]!r}") from errors[0]
    order = {rel: n for n, rel in enumerate(p.relative_to(site).as_posix() for p in pages)}
    failures.sort(key=lambda f: (order.get(f["page"], -1), KINDS.index(f["kind"]) if f["kind"] in KINDS else 99))
    return failures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("site", help="the built site (e.g. site/)")
    ap.add_argument("--width", type=int, default=1280, help="window width in CSS pixels (default: %(default)s)")
    ap.add_argument("--pages", nargs="*", default=None, metavar="GLOB",
                    help="only pages whose path matches, e.g. 'lessons/*' (default: every page)")
    ap.add_argument("--min-scale", type=float, default=0.6,
                    help="smallest shown/natural width of an image without a full-size link (default: %(default)s)")
    ap.add_argument("--json", default=None, metavar="FILE", help="also write the failures as JSON (default: none)")
    ap.add_argument("--quiet", action="store_true", help="no line per page (default: one per page)")
    ap.add_argument("--jobs", type=int, default=0, help="pages read at once, one tab each (default: CPUs, at most 4)")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    try:
        failures = check_site(Path(args.site), args.width, args.pages, args.min_scale,
                              progress=None if args.quiet else lambda s: print(s, flush=True), jobs=args.jobs)
    except (RuntimeError, FileNotFoundError) as e:
        print(f"site_check: cannot run: {e}", file=sys.stderr)
        return 2
    for f in failures:
        print(f"{f['kind']:16} {f['page']}: {f['element']}" + (f" -- {f['detail']}" if f["detail"] else ""))
    counts = Counter(f["kind"] for f in failures)
    print(f"site_check at {args.width} px, {len(site_pages(Path(args.site), args.pages))} pages, "
          f"{time.perf_counter() - start:.0f} s: " + ", ".join(f"{k} {counts.get(k, 0)}" for k in KINDS))
    if args.json:
        Path(args.json).write_text(json.dumps(failures, indent=1) + "\n", encoding="utf-8")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
