"""The whole book as one PDF: every built HTML page printed by the system Chromium, merged in toc order.

:func:`book_pdf` serves the built book (``_build/html``) on 127.0.0.1, prints each page of ``_toc.yml``
with headless Chromium (driven by playwright with the system binary: no browser is downloaded, and
every request that leaves the local server is blocked), and merges the pages with pypdf into one file:

- one bookmark per page (its title), with the page's own heading outline under it;
- links between pages become links inside the PDF: to the target's anchor when Chromium wrote a named
  destination for it, else to the target page's first sheet; links to ``#anchors`` on the same page
  keep working; links outside the book stay web links.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import os
import posixpath
import shutil
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from seleak.runner.errors import RunnerError
from seleak.runner.toc import find_root, toc_entries

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
LOCAL_SCHEMES = ("data:", "blob:", "about:")
# on paper nothing scrolls sideways: long code and output lines wrap instead of being cut at the margin
PRINT_CSS = """
@media print {
  pre, pre code, .highlight pre, .output pre, .cell_output pre { white-space: pre-wrap !important;
    overflow-wrap: anywhere !important; overflow: visible !important; }
  img { max-width: 100% !important; height: auto !important; }
  button.toggle-button, .toggle-button { display: none !important; }
}
"""
UNFOLD_JS = """() => {
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
  document.querySelectorAll('details').forEach(d => { d.open = true; });
}"""


def find_chromium(explicit: str | None = None) -> str:
    """The Chromium binary: ``explicit`` (or $SELEAK_CHROMIUM), else /usr/bin/chromium or ``chromium`` on PATH."""
    wanted = explicit or os.environ.get("SELEAK_CHROMIUM")
    for candidate in [wanted] if wanted else [CHROMIUM, shutil.which("chromium")]:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise RunnerError(
        f"Chromium not found (looked for {wanted or CHROMIUM}): install the system browser "
        "(Debian: `apt-get install chromium`) or pass --chromium PATH; no browser is downloaded"
    )


@dataclass
class PdfResult:
    """What :func:`book_pdf` wrote."""

    path: Path
    pages: int
    links: int  # links rewritten to point inside the PDF
    parts: list[tuple[str, int, int]] = field(default_factory=list)  # (html page, first sheet, sheets)
    seconds: float = 0.0


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


class LocalServer:
    """A folder (a built book) on 127.0.0.1 at a free port, served quietly from a daemon thread; a
    context manager whose ``base`` is the folder's URL. The PDF printer and the browser check share it."""

    def __init__(self, folder: Path) -> None:
        handler = functools.partial(_Quiet, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="book-server", daemon=True)

    def __enter__(self) -> LocalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class _Title(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inside, self.title = False, ""

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.inside = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self.inside = False

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.title += data


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def cross_page_anchors(html_dir: Path, pages: Sequence[str]) -> dict[str, set[str]]:
    """For each page, the ``#anchors`` that links on *other* pages of ``pages`` point to."""
    known = set(pages)
    found: dict[str, set[str]] = {}
    for rel in pages:
        parser = _Links()
        parser.feed((html_dir / rel).read_text(errors="replace"))
        for href in parser.hrefs:
            parts = urllib.parse.urlsplit(href)
            if parts.scheme or parts.netloc or not parts.path or not parts.fragment:
                continue
            target = posixpath.normpath(posixpath.join(posixpath.dirname(rel), urllib.parse.unquote(parts.path)))
            if target in known and target != rel:
                found.setdefault(target, set()).add(urllib.parse.unquote(parts.fragment))
    return found


def page_title(path: Path) -> str:
    """The ``<title>`` of an HTML page, without the book's name after the last " — "."""
    parser = _Title()
    parser.feed(path.read_text(errors="replace"))
    title = " ".join(parser.title.split())
    return title.split(" — ")[0].split(" &#8212; ")[0] or path.stem


def toc_html_pages(root: Path, html_dir: Path) -> list[str]:
    """The built page of every ``_toc.yml`` entry, relative to ``html_dir``, in reading order."""
    pages = [f"{entry}.html" for entry in toc_entries(root)]
    missing = [p for p in pages if not (html_dir / p).is_file()]
    if missing:
        raise RunnerError(
            f"{html_dir} lacks {len(missing)} page(s) of _toc.yml ({', '.join(missing[:3])}...): "
            "build the book first (`make book` or `seleak book`)"
        )
    return pages


def print_pages(
    html_dir: Path,
    pages: Sequence[str],
    out_dir: Path,
    chromium: str,
    *,
    anchors: dict[str, set[str]] | None = None,
    unfold: bool = True,
    timeout_s: float = 120.0,
) -> tuple[list[Path], str]:
    """Print each page (relative to ``html_dir``) to ``out_dir/NNN.pdf`` with headless Chromium, offline;
    return the files and the base URL the pages were served from (the prefix of their links)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise RunnerError("playwright is not installed: `pip install -r requirements.txt -c constraints.txt`") from None
    printed = []
    with LocalServer(html_dir) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(service_workers="block")
            context.set_default_timeout(timeout_s * 1000)

            def route(r: Any) -> None:
                url = r.request.url
                if url.startswith(server.base) or url.startswith(LOCAL_SCHEMES):
                    r.continue_()
                else:  # offline: nothing leaves the machine
                    r.abort("blockedbyclient")

            context.route("**/*", route)
            page = context.new_page()
            page.emulate_media(media="print")
            for i, rel in enumerate(pages):
                page.goto(server.base + urllib.parse.quote(rel), wait_until="load")
                # typeset math before printing (MathJax 3 sets startup.promise); unfold nothing else
                page.evaluate(
                    "() => (window.MathJax && MathJax.startup && MathJax.startup.promise) ? "
                    "MathJax.startup.promise.then(() => true) : true"
                )
                page.add_style_tag(content=PRINT_CSS)
                if unfold:  # a PDF cannot be clicked: open what the page folds (solutions, dropdowns)
                    page.evaluate(UNFOLD_JS)
                wanted = sorted((anchors or {}).get(rel, ()))
                if wanted:
                    # Chromium writes a named destination for each element a link on the same page points
                    # to: one invisible link per anchor that other pages target lets them land on it
                    page.evaluate(
                        """ids => { const box = document.createElement('div');
                        box.setAttribute('aria-hidden', 'true');
                        box.style.cssText = 'position:absolute;left:0;top:0;width:1px;height:1px;overflow:hidden';
                        for (const id of ids) { if (!document.getElementById(id)) continue;
                          const a = document.createElement('a'); a.href = '#' + encodeURIComponent(id);
                          a.textContent = '.'; box.appendChild(a); }
                        document.body.prepend(box); }""",
                        wanted,
                    )
                target = out_dir / f"{i:03d}.pdf"
                page.pdf(
                    path=str(target),
                    format="A4",
                    print_background=True,
                    margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"},
                    outline=True,
                    tagged=True,
                )
                printed.append(target)
        finally:
            browser.close()
    return printed, server.base


def merge_pdfs(
    parts: Sequence[tuple[str, str, Path]], base: str, out: Path
) -> tuple[int, int, list[tuple[str, int, int]]]:
    """Merge printed pages ``(html page, title, pdf)`` into ``out``; return (sheets, rewritten links, layout).

    Links whose URL is a page of the book (under ``base``) are rewritten to destinations in the merged
    file: the named destination of their ``#anchor`` in the target's own PDF when there is one, else the
    target's first sheet.
    """
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, DictionaryObject, FloatObject, NameObject, NumberObject

    writer = PdfWriter()
    layout, dests = [], {}
    for rel, title, pdf in parts:
        reader = PdfReader(str(pdf))
        first = len(writer.pages)
        writer.append(reader, outline_item=title, import_outline=True)
        layout.append((rel, first, len(reader.pages)))
        for name, dest in reader.named_destinations.items():
            try:
                index = reader.get_destination_page_number(dest)
            except Exception:  # a destination without a page: nothing to point at
                continue
            top = dest.get("/Top")
            dests[(rel, str(name).removeprefix("/"))] = (first + index, float(top) if top is not None else None)
    first_sheet = {rel: first for rel, first, _ in layout}
    page_of_sheet = [rel for rel, first, n in layout for _ in range(n)]

    def explicit(sheet: int, top: float | None) -> ArrayObject:
        ref = writer.pages[sheet].indirect_reference
        if top is None:
            return ArrayObject([ref, NameObject("/Fit")])
        return ArrayObject([ref, NameObject("/XYZ"), NumberObject(0), FloatObject(top), NumberObject(0)])

    rewritten = 0
    for sheet, page in enumerate(writer.pages):
        current = page_of_sheet[sheet]
        for annot_ref in page.get("/Annots") or []:
            annot = annot_ref.get_object()
            action = annot.get("/A")
            if annot.get("/Subtype") != "/Link":
                continue
            target: tuple[str, str | None] | None = None
            if action is not None and action.get("/S") == "/URI":
                url = str(action.get("/URI"))
                if not url.startswith(base):
                    continue
                path, _, fragment = urllib.parse.unquote(url[len(base) :]).partition("#")
                path = path or "index.html"
                if path not in first_sheet:
                    continue
                target = (path, fragment or None)
            elif action is not None and action.get("/S") == "/GoTo" and isinstance(action.get("/D"), str):
                target = (current, str(action.get("/D")))
            elif isinstance(annot.get("/Dest"), str):
                target = (current, str(annot.get("/Dest")))
            if target is None:
                continue
            rel, fragment = target[0], (target[1] or "").removeprefix("/") or None
            sheet_no, top = (
                dests.get((rel, fragment), (first_sheet[rel], None)) if fragment else (first_sheet[rel], None)
            )
            annot[NameObject("/A")] = DictionaryObject(
                {NameObject("/S"): NameObject("/GoTo"), NameObject("/D"): explicit(sheet_no, top)}
            )
            annot.pop("/Dest", None)
            rewritten += 1
    writer.add_metadata({"/Title": parts[0][1] if parts else "seleak"})
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            writer.write(fh)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; the PDF is for reading
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(writer.pages), rewritten, layout


def book_pdf(
    root: str | os.PathLike[str] | None = None,
    *,
    html_dir: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    chromium: str | None = None,
    pages: Sequence[str] | None = None,
    unfold: bool = True,
) -> PdfResult:
    """Print the built book to one PDF (default ``_build/pdf/seleak.pdf``), pages in ``_toc.yml`` order.

    ``unfold`` opens what the pages fold behind a click (solutions, dropdowns, hidden cells): a PDF
    cannot be clicked. With ``unfold=False`` the PDF shows only what the page shows before a click.
    ``pages`` (paths relative to ``html_dir``) replaces the toc's pages, for a folder that is not a book.
    """
    start = time.perf_counter()
    if pages is None:
        root_path = find_root(root)
        html_path = Path(html_dir) if html_dir is not None else root_path / "_build" / "html"
        pages = toc_html_pages(root_path, html_path)
        out_path = Path(out) if out is not None else root_path / "_build" / "pdf" / "seleak.pdf"
    else:
        if html_dir is None or out is None:
            raise RunnerError("book_pdf(pages=...) needs html_dir and out")
        html_path, out_path = Path(html_dir), Path(out)
    if not html_path.is_dir():
        raise RunnerError(f"{html_path} is not a folder: build the book first (`make book`)")
    exe = find_chromium(chromium)
    with tempfile.TemporaryDirectory(prefix="seleak-pdf-") as tmp:
        anchors = cross_page_anchors(html_path, pages)
        printed, base = print_pages(html_path, pages, Path(tmp), exe, anchors=anchors, unfold=unfold)
        titles = [page_title(html_path / rel) for rel in pages]
        sheets, links, layout = merge_pdfs(list(zip(pages, titles, printed)), base, out_path)
    return PdfResult(out_path, sheets, links, layout, time.perf_counter() - start)
