"""Open every page of the built book in headless Chromium and check that it reads well offline.

    .venv/bin/python tools/check_book.py            # after `make book`
    .venv/bin/python tools/check_book.py --html _build/html --screenshots _build/screenshots

The HTML in ``_build/html`` is served on 127.0.0.1 (a random free port, a thread with ``http.server``)
and every page of the book (``index.html`` and every page under ``_build/html/book/``) is opened in
Debian's Chromium (``/usr/bin/chromium``, driven by playwright with that binary: no browser download).
For each page it checks:

- no console error and no uncaught exception;
- no failed or 4xx/5xx request to the local server, and no request leaving 127.0.0.1 (the book must
  read offline: such requests are blocked and reported);
- no ``<script src>`` or stylesheet in the HTML that points to a remote host;
- every ``<img>`` loaded (``naturalWidth > 0``);
- where the page has math, MathJax rendered it: ``mjx-container`` elements present, every Sphinx math
  element holds one, no MathJax error (``mjx-merror``) and no raw TeX (``$$``, ``\\(``, ``\\[``,
  ``\\begin{``) left in the text;
- the sidebar of ``index.html`` links every entry of ``_toc.yml``, and each link resolves to a page that
  loads;
- the page declares a favicon that loads (otherwise the browser's request for ``/favicon.ico`` fails);
- layout at 1280 px: no code block, output, table, figure or display formula is wider than the text column
  (nothing needs sideways scrolling), no figure is shown at less than 80 % of its natural width
  (``MIN_FIGURE_SCALE``), and every figure of a notebook output has a numbered caption and opens full size
  on a click (a link to its own image);
- layout at 390 px (a phone): the text column fits the screen (the page does not scroll sideways).

The search page is opened with a few queries: it must find pages and its snippets must show rendered
text (no raw TeX such as ``\\(k\\)``).

A full-page screenshot of each page goes to ``_build/screenshots/``. A summary table is printed; the exit
status is 0 when every check passed, 1 when one failed, 2 when the check could not run (no built book, no
Chromium, no playwright).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse

from seleak.runner.pdf import LocalServer

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
#: a figure shown below this share of its natural width is too small to read
MIN_FIGURE_SCALE = 0.8
#: search queries whose snippets hold math in this book
SEARCH_QUERIES = ("planes", "estimate")
LOCAL_SCHEMES = ("data:", "blob:", "about:")


class CheckError(Exception):
    """The check cannot run (missing book, browser or library); exit status 2."""


# --------------------------------------------------------------------------- inputs


def find_chromium(explicit: str | None = None) -> str:
    """The Chromium binary: ``explicit`` (or $SELEAK_CHROMIUM) if given, else Debian's /usr/bin/chromium."""
    wanted = explicit or os.environ.get("SELEAK_CHROMIUM")
    candidates = [wanted] if wanted else [CHROMIUM, shutil.which("chromium")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise CheckError(
        f"Chromium not found (looked for {wanted or CHROMIUM}): install Debian's browser with "
        "`apt-get install chromium` (as root, after `apt-get update`); no browser is downloaded"
    )


def toc_pages(root: Path) -> list[str]:
    """The toc entries of ``_toc.yml`` as HTML paths relative to the site root (``book/intro.html``)."""
    sys.path.insert(0, str(root / "src"))
    from seleak.runner import toc_entries

    return [f"{entry}.html" for entry in toc_entries(root)]


def book_pages(html: Path) -> list[str]:
    """index.html and every page under ``book/``, as paths relative to ``html``."""
    pages = ["index.html"]
    pages += sorted(p.relative_to(html).as_posix() for p in (html / "book").rglob("*.html"))
    return pages


class _RemoteRefs(HTMLParser):
    """``<script src>`` and stylesheet ``<link href>`` that point to another host."""

    def __init__(self) -> None:
        super().__init__()
        self.remote: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        url = None
        if tag == "script":
            url = a.get("src")
        elif tag == "link" and ("stylesheet" in (a.get("rel") or "") or a.get("as") in ("script", "style", "font")):
            url = a.get("href")
        if url and (url.startswith("//") or urlparse(url).scheme in ("http", "https")):
            self.remote.append(f"<{tag}> {url}")


def remote_references(path: Path) -> list[str]:
    parser = _RemoteRefs()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser.remote


# --------------------------------------------------------------------------- the server


# --------------------------------------------------------------------------- per page


@dataclass
class PageResult:
    page: str
    url: str = ""
    seconds: float = 0.0
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    remote_requests: list[str] = field(default_factory=list)
    remote_refs: list[str] = field(default_factory=list)
    images: int = 0
    broken_images: list[str] = field(default_factory=list)
    math_elements: int = 0
    mjx: int = 0
    math_problems: list[str] = field(default_factory=list)
    screenshot: str = ""
    problems: list[str] = field(default_factory=list)
    column: float = 0.0
    wide_blocks: list[str] = field(default_factory=list)
    small_figures: list[str] = field(default_factory=list)
    figures: int = 0
    captioned: int = 0
    uncaptioned: list[str] = field(default_factory=list)
    favicon: list[str] = field(default_factory=list)
    phone_overflow: list[str] = field(default_factory=list)

    def failures(self) -> list[str]:
        out = list(self.problems)
        out += [f"console error: {m}" for m in self.console_errors]
        out += [f"failed request: {m}" for m in self.failed_requests]
        out += [f"request leaves 127.0.0.1 (blocked): {m}" for m in self.remote_requests]
        out += [f"remote reference in the HTML: {m}" for m in self.remote_refs]
        out += [f"image did not load: {m}" for m in self.broken_images]
        out += [f"math: {m}" for m in self.math_problems]
        out += [f"wider than the text column ({self.column:.0f} px): {m}" for m in self.wide_blocks]
        out += [f"figure shown below {MIN_FIGURE_SCALE:.0%} of its natural width: {m}" for m in self.small_figures]
        out += [f"figure without a numbered caption: {m}" for m in self.uncaptioned]
        out += [f"favicon: {m}" for m in self.favicon]
        out += [f"at {PHONE['width']} px: {m}" for m in self.phone_overflow]
        return out


# Runs in the page after load: waits for MathJax and for every image, then reports what it sees.
INSPECT_JS = r"""
async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    try { await MathJax.startup.promise; } catch (e) { console.error('MathJax startup failed: ' + e); }
  } else if (document.querySelector('.math')) {
    // the script is deferred: give it a moment to define MathJax
    for (let i = 0; i < 50 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++) await sleep(100);
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  }
  const imgs = Array.from(document.images);
  for (const img of imgs) { img.loading = 'eager'; }
  await Promise.all(imgs.map((img) => img.complete ? null : new Promise((res) => {
    img.addEventListener('load', res, {once: true});
    img.addEventListener('error', res, {once: true});
    setTimeout(res, 10000);
  })));
  const broken = imgs.filter((img) => !(img.complete && img.naturalWidth > 0))
                     .map((img) => img.getAttribute('src') || img.currentSrc || '(no src)');
  const mathEls = Array.from(document.querySelectorAll('.math'));
  const unrendered = mathEls.filter((el) => !el.querySelector('mjx-container'))
                            .map((el) => el.textContent.trim().slice(0, 80));
  const skip = new Set(['SCRIPT', 'STYLE', 'PRE', 'CODE', 'TEXTAREA', 'NOSCRIPT', 'MJX-ASSISTIVE-MML']);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode(node) {
      for (let el = node.parentElement; el; el = el.parentElement) {
        // .math elements are checked above (each must hold an mjx-container); this looks for TeX
        // that never became a math element (a `$$` the parser missed, a raw \( in a text output)
        if (skip.has(el.tagName) || el.classList.contains('highlight') || el.classList.contains('math')) {
          return NodeFilter.FILTER_REJECT;
        }
      }
      return NodeFilter.FILTER_ACCEPT;
    },
  });
  const raw = [];
  const pattern = /\$\$|\\\(|\\\)|\\\[|\\\]|\\begin\{|\$[^$\s][^$]*\\[A-Za-z]+[^$]*\$/;
  while (walker.nextNode()) {
    const t = walker.currentNode.nodeValue;
    const m = t.match(pattern);
    if (m) raw.push(t.trim().slice(0, 80));
  }
  const navLinks = Array.from(document.querySelectorAll('nav.bd-docs-nav a[href]'))
                        .map((a) => a.href);
  return {
    images: imgs.length,
    broken: broken,
    mathElements: mathEls.length,
    mjx: document.querySelectorAll('mjx-container').length,
    merror: document.querySelectorAll('mjx-merror').length,
    unrendered: unrendered,
    raw: raw.slice(0, 5),
    navLinks: Array.from(new Set(navLinks)),
    mathjaxLoaded: !!(window.MathJax && MathJax.version),
  };
}
"""


# Runs after INSPECT_JS: what is wider than the text column, how large each figure is shown, captions.
LAYOUT_JS = r"""
() => {
  const article = document.querySelector('article.bd-article') || document.querySelector('[role=main]');
  if (!article) return {column: 0, wide: [], figures: [], icons: []};
  const cs = getComputedStyle(article);
  const box = article.getBoundingClientRect();
  const left = box.left + parseFloat(cs.paddingLeft), right = box.right - parseFloat(cs.paddingRight);
  const column = right - left;
  const visible = (el) => el.offsetParent !== null && el.getBoundingClientRect().width > 0;
  const label = (el) => {
    const cell = el.closest('.cell');
    const head = (el.textContent || el.getAttribute('src') || el.tagName).trim().replace(/\s+/g, ' ');
    const where = cell ? 'cell ' + Array.from(document.querySelectorAll('.cell')).indexOf(cell) + ' ' : '';
    return where + el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).split(' ')[0] : '')
      + ': ' + head.slice(0, 50);
  };
  // the blocks a reader sees: code, outputs, tables, figures and display math
  const sel = ['div.cell_input pre', 'div.highlight pre', 'div.cell_output > div', 'div.cell_output pre',
               'table', 'img', 'figure', 'mjx-container[display]'];
  const seen = new Set(), wide = [];
  for (const el of article.querySelectorAll(sel.join(','))) {
    if (!visible(el) || seen.has(el)) continue;
    const r = el.getBoundingClientRect();
    const overflow = el.scrollWidth - el.clientWidth;   // content that needs sideways scrolling
    if (r.right > right + 2 || r.left < left - 2 || overflow > 2) {
      // report the outermost offending block only
      let inner = false;
      for (let p = el.parentElement; p && p !== article; p = p.parentElement) if (seen.has(p)) inner = true;
      seen.add(el);
      if (!inner) wide.push(label(el) + ' (' + Math.round(Math.max(r.width, el.scrollWidth)) + ' px)');
    }
  }
  const figures = [];
  for (const img of article.querySelectorAll('div.cell_output img, figure img')) {
    if (!visible(img) || !img.naturalWidth) continue;
    const fig = img.closest('figure');
    const cap = fig ? fig.querySelector('figcaption') : null;
    figures.push({
      src: (img.getAttribute('src') || '').split('/').pop(),
      shown: img.getBoundingClientRect().width,
      natural: img.naturalWidth,
      caption: !!cap,
      numbered: !!(cap && cap.querySelector('.caption-number')),
      fullSize: !!(img.closest('a[href]') && img.closest('a[href]').getAttribute('href').split('/').pop()
                   === (img.getAttribute('src') || '').split('/').pop()),
    });
  }
  const icons = Array.from(document.querySelectorAll('link[rel~="icon"]')).map((l) => l.href);
  return {column: column, wide: wide, figures: figures, icons: icons};
}
"""

# Runs on search.html?q=...: waits for Sphinx's search to finish, then reports what the snippets show.
SEARCH_JS = r"""
async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  for (let i = 0; i < 150; i++) {
    const s = document.querySelector('#search-results .search-summary, #search-results p');
    if (s && /found|did not match/i.test(s.textContent)) break;
    await sleep(100);
  }
  await sleep(1500);   // snippets are typeset after the results arrive
  const items = Array.from(document.querySelectorAll('#search-results ul.search li'));
  const raw = [];
  const pattern = /\\\(|\\\)|\\\[|\\\]|\$\$|\\[A-Za-z]+\{/;
  for (const li of items) {
    const clone = li.cloneNode(true);
    clone.querySelectorAll('mjx-container, mjx-assistive-mml').forEach((m) => m.remove());
    const t = clone.textContent;
    const m = t.match(pattern);
    if (m) raw.push(t.slice(Math.max(0, m.index - 30), m.index + 40).replace(/\s+/g, ' '));
  }
  return {results: items.length, snippets: document.querySelectorAll('#search-results p.context').length,
          typeset: document.querySelectorAll('#search-results mjx-container').length, raw: raw.slice(0, 5)};
}
"""


def _strip(url: str) -> str:
    return url.split("#", 1)[0].split("?", 1)[0]


def check_page(context, server: LocalServer, page_path: str, html: Path, shots: Path, timeout_s: float):
    """Open one page; return its PageResult and the sidebar links it shows."""
    res = PageResult(page=page_path, url=urljoin(server.base, page_path))
    res.remote_refs = remote_references(html / page_path)
    page = context.new_page()
    page.set_default_timeout(timeout_s * 1000)

    def on_console(msg) -> None:
        if msg.type == "error":
            loc = msg.location or {}
            where = f" ({loc.get('url', '')}:{loc.get('lineNumber', '')})" if loc.get("url") else ""
            res.console_errors.append(f"{msg.text}{where}")

    def on_response(response) -> None:
        if response.url.startswith(server.base) and response.status >= 400:
            res.failed_requests.append(f"{response.status} {response.url}")

    def on_failed(request) -> None:
        # a 4xx/5xx is reported once, by on_response, not again as an aborted load
        if request.url.startswith(server.base) and not any(f.endswith(f" {request.url}") for f in res.failed_requests):
            res.failed_requests.append(f"{request.failure} {request.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: res.console_errors.append(f"uncaught: {exc}"))
    page.on("response", on_response)
    page.on("requestfailed", on_failed)

    def route(r) -> None:
        url = r.request.url
        if url.startswith(server.base) or url.startswith(LOCAL_SCHEMES):
            r.continue_()
        else:
            res.remote_requests.append(url)
            r.abort("blockedbyclient")

    page.route("**/*", route)
    t0 = time.perf_counter()
    nav_links: list[str] = []
    try:
        response = page.goto(res.url, wait_until="load")
        if response is not None and response.status >= 400:
            res.problems.append(f"HTTP {response.status} for {res.url}")
        if re.search(r"<meta[^>]+http-equiv=[\"']?refresh", (html / page_path).read_text(errors="replace"), re.I):
            # Jupyter Book's index.html is a meta-refresh redirect to the root page of the toc
            page.wait_for_url(lambda u: _strip(u) != res.url, timeout=timeout_s * 1000)
            page.wait_for_load_state("load")
        info = page.evaluate(INSPECT_JS)
        try:
            page.wait_for_load_state("networkidle", timeout=5000)
        except Exception:  # noqa: BLE001 - a late font request is not a failure by itself
            pass
        res.images = info["images"]
        res.broken_images = info["broken"]
        res.math_elements = info["mathElements"]
        res.mjx = info["mjx"]
        nav_links = info["navLinks"]
        if info["mathElements"]:
            if not info["mathjaxLoaded"]:
                res.math_problems.append("the page has math but MathJax did not load")
            if info["mjx"] == 0:
                res.math_problems.append("no mjx-container: MathJax rendered nothing")
            for text in info["unrendered"][:5]:
                res.math_problems.append(f"not rendered: {text!r}")
        if info["merror"]:
            res.math_problems.append(f"{info['merror']} MathJax error box(es) (mjx-merror): bad TeX")
        for text in info["raw"]:
            res.math_problems.append(f"raw TeX left in the text: {text!r}")
        layout = page.evaluate(LAYOUT_JS)
        res.column = layout["column"]
        res.wide_blocks = layout["wide"]
        for fig in layout["figures"]:
            res.figures += 1
            res.captioned += fig["caption"] and fig["numbered"]
            scale = fig["shown"] / fig["natural"]
            if scale < MIN_FIGURE_SCALE:
                res.small_figures.append(f"{fig['src']} at {scale:.0%} ({fig['shown']:.0f} of {fig['natural']} px)")
            if not (fig["caption"] and fig["numbered"]):
                res.uncaptioned.append(fig["src"])
            if not fig["fullSize"]:
                res.problems.append(f"figure {fig['src']} does not open full size on a click (no link to its image)")
        res.favicon = check_favicon(context, server, layout["icons"])
        shots.mkdir(parents=True, exist_ok=True)
        shot = shots / (page_path.replace("/", "__").removesuffix(".html") + ".png")
        page.screenshot(path=str(shot), full_page=True)
        res.screenshot = str(shot)
        res.url = page.url
        # the same page on a phone: the text column must fit the screen
        page.set_viewport_size(PHONE)
        page.wait_for_timeout(300)
        phone = page.evaluate(PHONE_JS)
        if phone["scroll"] > PHONE["width"] + 1:
            res.phone_overflow.append(f"the page scrolls sideways ({phone['scroll']} px wide)")
        if phone["right"] > PHONE["width"] + 1 or phone["left"] < -1:
            res.phone_overflow.append(
                f"the text column spans {phone['left']:.0f}..{phone['right']:.0f} px of {PHONE['width']}"
            )
        page.screenshot(path=str(shot.with_name(shot.stem + "-390.png")), full_page=False)
    except Exception as exc:  # noqa: BLE001 - reported as a failure of this page
        res.problems.append(f"could not check the page: {type(exc).__name__}: {exc}".splitlines()[0])
    finally:
        res.seconds = time.perf_counter() - t0
        page.close()
    return res, nav_links


PHONE_JS = r"""
() => {
  const a = document.querySelector('article.bd-article') || document.querySelector('[role=main]') || document.body;
  const r = a.getBoundingClientRect();
  return {scroll: document.documentElement.scrollWidth, left: r.left, right: r.right};
}
"""


def check_favicon(context, server: LocalServer, icons: list[str]) -> list[str]:
    """The favicon the page declares (or ``/favicon.ico``, which a browser asks for otherwise) loads."""
    urls = icons or [urljoin(server.base, "favicon.ico")]
    problems = []
    for url in urls:
        if not url.startswith(server.base):
            problems.append(f"{url} is not served by the book")
            continue
        response = context.request.get(url)
        if response.status >= 400:
            what = "declared" if icons else "no <link rel=icon> and"
            problems.append(f"{what} {url[len(server.base) :]} answers {response.status}")
    return problems


def check_search(context, server: LocalServer, shots: Path, timeout_s: float) -> list[str]:
    """search.html finds pages for each of ``SEARCH_QUERIES`` and its snippets show no raw TeX."""
    problems = []
    page = context.new_page()
    page.set_default_timeout(timeout_s * 1000)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    try:
        for query in SEARCH_QUERIES:
            page.goto(urljoin(server.base, f"search.html?q={query}"), wait_until="load")
            info = page.evaluate(SEARCH_JS)
            if info["results"] == 0:
                problems.append(f"search for {query!r} found nothing")
            for text in info["raw"]:
                problems.append(f"search for {query!r}: raw TeX in a snippet: {text!r}")
            print(
                f"search {query!r}: {info['results']} results, {info['snippets']} snippets, "
                f"{info['typeset']} formulas typeset, {len(info['raw'])} with raw TeX"
            )
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "search.png"), full_page=False)
    except Exception as exc:  # noqa: BLE001 - reported as a failure of the search page
        problems.append(f"could not check the search page: {type(exc).__name__}: {exc}".splitlines()[0])
    finally:
        page.close()
    problems += [f"console error on the search page: {e}" for e in errors]
    return problems


def check_navigation(server: LocalServer, expected: list[str], nav_links: list[str], results: dict[str, PageResult]):
    """The sidebar of the root page links every toc entry, and every link's page loaded cleanly."""
    problems: list[str] = []
    linked = {_strip(u) for u in nav_links if _strip(u).startswith(server.base)}
    for page_path in expected:
        url = urljoin(server.base, page_path)
        if url not in linked:
            problems.append(f"the sidebar of index.html has no link to {page_path} (a toc entry)")
    for url in sorted(linked):
        rel = url[len(server.base) :]
        res = results.get(rel)
        if res is None:
            problems.append(f"the sidebar links {rel}, which is not a page of the book")
        elif res.failures():
            problems.append(f"the sidebar links {rel}, which did not load cleanly")
    return sorted(linked), problems


# --------------------------------------------------------------------------- main


def run(html: Path, root: Path, shots: Path, chromium: str | None, timeout_s: float) -> int:
    html = html.resolve()
    if not (html / "index.html").is_file():
        raise CheckError(f"{html / 'index.html'} is missing: build the book first with `make book`")
    exe = find_chromium(chromium)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise CheckError(
            f"playwright is not installed ({exc}): `.venv/bin/pip install -r requirements.txt -c constraints.txt` "
            "(never `playwright install`: the check uses Debian's chromium)"
        ) from exc

    expected = toc_pages(root)
    pages = book_pages(html)
    missing = [p for p in expected if not (html / p).is_file()]
    if shots.exists():
        shutil.rmtree(shots)
    t_start = time.perf_counter()
    results: dict[str, PageResult] = {}
    nav_links: list[str] = []
    with LocalServer(html) as server, tempfile.TemporaryDirectory(prefix="seleak-chromium-") as profile:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile,
                executable_path=exe,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport=VIEWPORT,
                service_workers="block",
            )
            try:
                for page_path in pages:
                    res, links = check_page(context, server, page_path, html, shots, timeout_s)
                    results[page_path] = res
                    if page_path == "index.html":
                        nav_links = links
                search_problems = check_search(context, server, shots, timeout_s)
            finally:
                context.close()
        linked, nav_problems = check_navigation(server, expected, nav_links, results)
    elapsed = time.perf_counter() - t_start

    # ---- the report
    rows = [("page", "s", "console", "requests", "images", "math", "wide", "small", "captions", "390px", "status")]
    for res in results.values():
        nreq = len(res.failed_requests) + len(res.remote_requests)
        math = f"{res.mjx} mjx / {res.math_elements}" if res.math_elements or res.mjx else "-"
        imgs = f"{res.images - len(res.broken_images)}/{res.images}"
        rows.append(
            (
                res.page,
                f"{res.seconds:.1f}",
                str(len(res.console_errors)),
                str(nreq),
                imgs,
                math,
                str(len(res.wide_blocks)),
                str(len(res.small_figures)),
                f"{res.captioned}/{res.figures}" if res.figures else "-",
                "ok" if not res.phone_overflow else "FAIL",
                "FAIL" if res.failures() else "ok",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print(f"Book check: {len(results)} pages of {html} in Chromium ({exe}), {elapsed:.1f} s")
    for i, row in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print(f"navigation: {len(linked)} sidebar links on index.html, {len(expected)} toc entries")
    print(f"screenshots: {shots}")
    columns = sorted({round(r.column) for r in results.values() if r.column})
    n_figs = sum(r.figures for r in results.values())
    print(
        f"summary: text column {'/'.join(map(str, columns)) or '?'} px at {VIEWPORT['width']} px; "
        f"{sum(len(r.wide_blocks) for r in results.values())} blocks wider than the column; "
        f"{sum(len(r.small_figures) for r in results.values())} of {n_figs} figures shown below "
        f"{MIN_FIGURE_SCALE:.0%} of their natural width; {sum(r.captioned for r in results.values())} of "
        f"{n_figs} figures with a numbered caption; "
        f"{sum(len(r.console_errors) for r in results.values())} console errors; "
        f"{sum(len(r.failed_requests) + len(r.remote_requests) + len(r.favicon) for r in results.values())} "
        f"failed requests (favicon included); {sum(bool(r.phone_overflow) for r in results.values())} pages "
        f"wider than a {PHONE['width']} px screen; search: {len(search_problems)} problems"
    )

    failures: list[str] = [f"_toc.yml entry {p} has no page in {html}" for p in missing]
    failures += [f"navigation: {p}" for p in nav_problems]
    failures += [f"search.html: {p}" for p in search_problems]
    for res in results.values():
        failures += [f"{res.page}: {f}" for f in res.failures()]
    if failures:
        print(f"\nFAILED: {len(failures)} problem(s):", file=sys.stderr)
        for f in failures:
            print(f"  - {f}", file=sys.stderr)
        return 1
    print(
        "all pages passed: no console errors, images load, math rendered, every chapter reachable, nothing "
        "wider than the column, figures shown at their size with numbered captions, phone layout fits, "
        "search snippets rendered"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--html", type=Path, default=ROOT / "_build" / "html", help="the built book (_build/html)")
    ap.add_argument("--root", type=Path, default=ROOT, help="the checkout holding _toc.yml")
    ap.add_argument(
        "--screenshots",
        type=Path,
        default=ROOT / "_build" / "screenshots",
        help="where the full-page screenshots go (emptied first)",
    )
    ap.add_argument("--chromium", default=None, help="the Chromium binary (default /usr/bin/chromium)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds allowed for each page")
    args = ap.parse_args(argv)
    try:
        return run(args.html, args.root.resolve(), args.screenshots, args.chromium, args.timeout)
    except CheckError as exc:
        print(f"check_book: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
