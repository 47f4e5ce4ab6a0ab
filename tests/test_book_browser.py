"""The built book in a browser: every page loads offline in headless Chromium, without console errors,
with its figures and rendered math, and the sidebar reaches every chapter (tools/check_book.py)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tools" / "check_book.py"


def _load_check_book():
    spec = importlib.util.spec_from_file_location("check_book", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_check_book_asks_for_make_book_when_the_html_is_missing(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--html", str(tmp_path / "html"), "--screenshots", str(tmp_path / "shots")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "make book" in proc.stderr


def test_check_book_asks_for_apt_chromium_when_the_browser_is_missing(tmp_path):
    (tmp_path / "html").mkdir()
    (tmp_path / "html" / "index.html").write_text("<p>book</p>")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--html", str(tmp_path / "html"), "--chromium", str(tmp_path / "no-chromium")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "apt-get install chromium" in proc.stderr


def _chromium_or_skip(check_book) -> None:
    try:
        check_book.find_chromium()
    except check_book.CheckError as exc:
        pytest.skip(str(exc))


def _built_book() -> Path:
    html = REPO / "_build" / "html"
    if not (html / "index.html").is_file():
        from seleak.runner import run_book

        run_book("quick", root=REPO, progress=False)
    return html


@pytest.mark.slow
def test_every_page_of_the_book_reads_offline_in_chromium(capsys):
    """Needs Debian's chromium (`apt-get install chromium`) and a built book (`make book`; built here if
    missing). About 10-20 s for a handful of pages once the book is built."""
    check_book = _load_check_book()
    _chromium_or_skip(check_book)
    html = _built_book()
    status = check_book.main(["--html", str(html), "--root", str(REPO)])
    out = capsys.readouterr()
    assert status == 0, f"the book failed the browser check:\n{out.out}\n{out.err}"


@pytest.mark.slow
def test_the_browser_check_fails_without_mathjax_and_on_a_remote_script(tmp_path, capsys):
    """The check is not vacuous: a book whose MathJax is gone, that loads a CDN script, whose favicon is
    missing and whose page holds a block wider than the text column fails it."""
    check_book = _load_check_book()
    _chromium_or_skip(check_book)
    broken = tmp_path / "html"
    shutil.copytree(_built_book(), broken)
    shutil.rmtree(broken / "_static" / "mathjax")
    page = broken / "book" / "intro.html"
    wide = '<div class="cell_output"><pre style="white-space: pre">' + "x" * 400 + "</pre></div>"
    page.write_text(
        page.read_text()
        .replace("</head>", '<script src="https://cdn.example.org/x.js"></script></head>', 1)
        .replace("</article>", wide + "</article>", 1)
    )
    for icon in (broken / "_static").glob("favicon.*"):
        icon.unlink()
    status = check_book.main(["--html", str(broken), "--root", str(REPO), "--screenshots", str(tmp_path / "shots")])
    err = capsys.readouterr().err
    assert status == 1
    assert "book/intro.html: wider than the text column" in err
    assert "book/intro.html: favicon: declared _static/favicon.svg answers 404" in err
    assert "MathJax did not load" in err
    assert "request leaves 127.0.0.1 (blocked): https://cdn.example.org/x.js" in err
    assert "remote reference in the HTML: <script> https://cdn.example.org/x.js" in err
