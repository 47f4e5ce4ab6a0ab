"""The whole-book PDF (seleak.runner.pdf) on a tiny generated HTML folder, printed by the system Chromium."""

from __future__ import annotations

import pytest

from seleak.runner import RunnerError
from seleak.runner.pdf import book_pdf, cross_page_anchors, find_chromium

pypdf = pytest.importorskip("pypdf", reason="pypdf is not installed: pip install -r requirements.txt")
pytest.importorskip("playwright", reason="playwright is not installed: pip install -r requirements.txt")

try:
    CHROMIUM = find_chromium()
except RunnerError:
    CHROMIUM = None
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no system Chromium at /usr/bin/chromium (Debian: apt-get install chromium)"
)

PAGE_A = """<html><head><title>First page — Book</title></head><body><h1>First</h1>
<p><a href="sub/b.html#deep">to the second page's anchor</a> <a href="sub/b.html">to the second page</a>
<a href="#here">down this page</a> <a href="https://example.org/">the web</a></p>
<div style="height:1500px"></div><h2 id="here">Here</h2></body></html>"""
PAGE_B = """<html><head><title>Second page — Book</title></head><body><h1>Second</h1>
<p><a href="../a.html">back</a></p><details><summary>more</summary><p>Folded text</p></details>
<div style="height:2500px"></div><h2 id="deep">Deep</h2><p>end</p></body></html>"""


def _site(tmp_path):
    (tmp_path / "site" / "sub").mkdir(parents=True)
    (tmp_path / "site" / "a.html").write_text(PAGE_A)
    (tmp_path / "site" / "sub" / "b.html").write_text(PAGE_B)
    return tmp_path / "site"


def test_cross_page_anchors(tmp_path):
    assert cross_page_anchors(_site(tmp_path), ["a.html", "sub/b.html"]) == {"sub/b.html": {"deep"}}


@needs_chromium
def test_book_pdf_merges_pages_in_order_with_internal_links(tmp_path):
    site = _site(tmp_path)
    out = tmp_path / "pdf" / "book.pdf"
    result = book_pdf(html_dir=site, out=out, chromium=CHROMIUM, pages=["a.html", "sub/b.html"])
    reader = pypdf.PdfReader(str(out))
    assert result.pages == len(reader.pages) and [p for p, _, _ in result.parts] == ["a.html", "sub/b.html"]
    first_b = result.parts[1][1]
    assert first_b >= 1 and result.parts[0][2] == first_b  # a's sheets come first, then b's
    assert "Second" in reader.pages[first_b].extract_text() and "First" in reader.pages[0].extract_text()
    # bookmarks: one per page, in order, with the page titles
    top = [o for o in reader.outline if not isinstance(o, list)]
    assert [o.title for o in top] == ["First page", "Second page"]
    # links: a -> b#deep lands on the sheet that shows "Deep", a -> b on b's first sheet, the web stays a URI
    goto, uris = [], []
    for i, page in enumerate(reader.pages):
        for ref in page.get("/Annots") or []:
            action = ref.get_object().get("/A") or {}
            if action.get("/S") == "/GoTo":
                goto.append((i, reader.get_page_number(action["/D"][0].get_object())))
            elif action.get("/S") == "/URI":
                uris.append(str(action["/URI"]))
    assert uris == ["https://example.org/"]
    deep_sheet = next(i for i, p in enumerate(reader.pages) if "Deep" in p.extract_text())
    assert deep_sheet > first_b
    assert (0, deep_sheet) in goto and (0, first_b) in goto
    assert any(src >= first_b and dst == 0 for src, dst in goto)  # b -> a
    assert result.links >= 4
    # a PDF cannot be clicked: what the page folds is printed open
    assert "Folded text" in "".join(p.extract_text() for p in reader.pages)


def test_book_pdf_names_the_missing_build(tmp_path):
    with pytest.raises(RunnerError, match="build the book first"):
        book_pdf(html_dir=tmp_path / "nothing", out=tmp_path / "x.pdf", pages=["a.html"], chromium=CHROMIUM or "x")
