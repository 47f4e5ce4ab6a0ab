"""The papermill runner and the book build: profiles are checked, failures stop the run, the HTML is whole."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from book_helpers import write_notebook

from seleak import cli
from seleak.runner import (
    RunnerError,
    load_profile,
    notebook_parameters,
    page_path,
    refresh_notebook,
    resolve_parameters,
    run_book,
    strip_volatile,
    toc_entries,
    toc_notebooks,
)

REPO = Path(__file__).resolve().parents[1]


def test_unknown_parameter_in_profile_names_notebook_and_parameter(tiny_book: Path) -> None:
    (tiny_book / "profiles" / "bad.yaml").write_text("notebooks:\n  02_b: {wrod: yo}\n")
    with pytest.raises(RunnerError, match=r"\['wrod'\].*02_b\.ipynb"):
        run_book("bad", root=tiny_book, build=False, progress=False)


def test_unknown_profile_lists_the_profiles_that_exist(tiny_book: Path) -> None:
    (tiny_book / "profiles" / "other.yaml").write_text("notebooks: {}\n")
    with pytest.raises(RunnerError, match=r"unknown profile 'nope'.*other, quick"):
        load_profile(tiny_book, "nope")


def test_unknown_profile_key_is_rejected(tiny_book: Path) -> None:
    (tiny_book / "profiles" / "typo.yaml").write_text("notebook: {}\n")
    with pytest.raises(RunnerError, match=r"unknown key\(s\) \['notebook'\]"):
        load_profile(tiny_book, "typo")


def test_profile_naming_a_notebook_outside_the_toc_is_rejected(tiny_book: Path) -> None:
    (tiny_book / "profiles" / "ghost.yaml").write_text("notebooks:\n  99_ghost: {}\n")
    with pytest.raises(RunnerError, match="99_ghost"):
        run_book("ghost", root=tiny_book, build=False, progress=False)


def test_missing_kernel_is_explained(tiny_book: Path) -> None:
    (tiny_book / "profiles" / "nokernel.yaml").write_text("kernel: no-such-kernel-xyz\nnotebooks: {}\n")
    with pytest.raises(RunnerError, match="kernel 'no-such-kernel-xyz' not found"):
        run_book("nokernel", root=tiny_book, build=False, progress=False)


def test_failing_notebook_exits_non_zero_and_shows_the_cell(tiny_book: Path, capsys) -> None:
    write_notebook(
        tiny_book / "book" / "02_b.ipynb",
        'word: str = "hi"  # a word',
        "x = 1",
        "raise ValueError('boom in chapter b')",
    )
    code = cli.main(["book", "--root", str(tiny_book), "--profile", "quick", "--no-build"])
    err = capsys.readouterr().err
    assert code != 0
    assert "02_b.ipynb failed" in err
    assert "raise ValueError('boom in chapter b')" in err  # the failing cell's source
    assert "ValueError: boom in chapter b" in err  # its traceback
    assert (tiny_book / "_build" / "failed" / "02_b.ipynb").is_file()


def test_profile_parameters_and_device_reach_the_notebook(tiny_book: Path) -> None:
    run = run_book("quick", root=tiny_book, device="cuda:3", build=False, progress=False)
    executed = json.loads((tiny_book / "_build" / "stage" / "book" / "01_a.ipynb").read_text())
    text = "".join("".join(o.get("text", "")) for c in executed["cells"] for o in c.get("outputs", []))
    assert "n = 5 device = cuda:3" in text  # passed through, never used: the fake notebook only prints it
    assert [r.name for r in run.runs] == ["01_a", "02_b"]
    # volatile papermill metadata is gone, the injected cell is hidden from the page
    assert "papermill" not in executed["metadata"]
    assert all("papermill" not in c["metadata"] and "execution" not in c["metadata"] for c in executed["cells"])
    injected = [c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected and all("remove-cell" in c["metadata"]["tags"] for c in injected)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.refs.append(value)


def missing_local_references(html_root: Path) -> list[str]:
    """Every href/src in the built HTML that points at a local file which does not exist."""
    missing = []
    for page in html_root.rglob("*.html"):
        if "_static" in page.relative_to(html_root).parts:  # theme templates, not pages
            continue
        parser = _Links()
        parser.feed(page.read_text(errors="replace"))
        for ref in parser.refs:
            url = urlparse(ref)
            if url.scheme or url.netloc or ref.startswith(("#", "mailto:", "data:", "javascript:")):
                continue
            target = (page.parent / unquote(url.path)).resolve()
            if url.path and not target.exists():
                missing.append(f"{page.relative_to(html_root)} -> {ref}")
    return missing


def test_book_build_has_every_toc_page_and_no_dangling_references(tiny_book: Path) -> None:
    run = run_book("quick", root=tiny_book, progress=False)
    html = tiny_book / "_build" / "html"
    assert run.html_index == html / "index.html"
    for entry in toc_entries(tiny_book):
        assert (html / f"{entry}.html").is_file(), entry
    assert missing_local_references(html) == []
    status = (html / "book" / "status.html").read_text()
    assert re.search(r">01_a<.*>02_b<", status, re.S), "the status page lists the executed notebooks"


def test_refresh_keeps_only_checked_outputs(tmp_path: Path) -> None:
    nb_path = tmp_path / "nb.ipynb"
    write_notebook(nb_path, "k: int = 2  # a knob", "print('not kept', k)", "# NBVAL_CHECK_OUTPUT\nprint('kept', k)")
    refresh_notebook(nb_path)
    nb = json.loads(nb_path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code[1]["outputs"] == []
    assert "".join(code[2]["outputs"][0]["text"]) == "kept 2\n"
    assert "papermill" not in nb["metadata"]


def test_strip_volatile_drops_timings() -> None:
    nb = {
        "metadata": {"papermill": {"duration": 1.0, "parameters": {"a": 1}}},
        "cells": [{"cell_type": "code", "metadata": {"papermill": {"duration": 2}, "execution": {"x": 1}}}],
    }
    out = strip_volatile(nb)
    assert out["metadata"] == {"seleak": {"parameters": {"a": 1}}}
    assert out["cells"][0]["metadata"] == {}


# ----------------------------------------------------------------------------- the real book


def test_every_toc_page_of_the_real_book_exists() -> None:
    for entry in toc_entries(REPO):
        assert page_path(REPO, entry).is_file()


@pytest.mark.parametrize("profile", sorted(p.stem for p in (REPO / "profiles").glob("*.yaml")))
def test_real_profiles_match_the_notebooks_parameters(profile: str) -> None:
    prof = load_profile(REPO, profile)
    params = resolve_parameters(REPO, prof, toc_notebooks(REPO), None)
    assert set(params) == {nb.stem for nb in toc_notebooks(REPO)}


def test_real_notebooks_have_documented_parameters() -> None:
    """Every parameter is `name: type = value  # help`, so papermill --help-notebook explains it."""
    for nb in toc_notebooks(REPO):
        declared = notebook_parameters(nb)
        assert declared, f"{nb.name} declares no parameters"
        for name, info in declared.items():
            assert info["inferred_type_name"] != "None", f"{nb.name}: {name} has no type annotation"
            assert info["help"], f"{nb.name}: {name} has no '# help' comment"
