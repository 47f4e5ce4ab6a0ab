"""The status page tells the truth: every notebook of the book, whether it ran, failed or was kept from
an earlier run, with its time, profile, device and the parameters papermill injected."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from book_helpers import write_notebook

from seleak.runner import RunnerError, read_runs, run_book


def _status(root: Path) -> str:
    return (root / "_build" / "stage" / "book" / "status.md").read_text()


def _row(status: str, name: str) -> str:
    (line,) = [ln for ln in status.splitlines() if ln.startswith(f"| {name} |")]
    return line


def test_a_full_run_lists_every_notebook_with_its_parameters(tiny_book: Path) -> None:
    run_book("quick", root=tiny_book, device="cuda:1", build=False, progress=False)
    status = _status(tiny_book)
    assert "Profile of this run: **quick**" in status and "Device requested: **cuda:1**" in status
    a, b = _row(status, "01_a"), _row(status, "02_b")
    assert "| ran |" in a and 'profile quick, device cuda:1: device = "cuda:1"; n = 5 |' in a
    assert "| ran |" in b and 'word = "yo"' in b
    assert re.search(r"\| 01_a \| ran \| \d+\.\d \|", a)


def test_an_only_run_keeps_the_other_notebooks_with_their_earlier_settings(tiny_book: Path) -> None:
    run_book("quick", root=tiny_book, build=False, progress=False)
    (tiny_book / "profiles" / "other.yaml").write_text("device: cpu\nnotebooks:\n  02_b: {word: hey}\n")
    run_book("other", root=tiny_book, only=["02_b"], build=False, progress=False)
    status = _status(tiny_book)
    a, b = _row(status, "01_a"), _row(status, "02_b")
    assert "not run this time; kept from the run of" in a
    assert "profile quick, device cpu" in a and "n = 5" in a  # the settings its page was made with
    assert "| ran |" in b and "profile other, device cpu" in b and 'word = "hey"' in b
    assert "kept from earlier runs:\n  1" in status or "kept from earlier runs: 1" in status.replace("\n  ", " ")


def test_a_notebook_never_run_is_listed_as_such(tiny_book: Path) -> None:
    run_book("quick", root=tiny_book, only=["02_b"], build=False, progress=False)
    assert "never run; shown without outputs" in _row(_status(tiny_book), "01_a")


def test_a_failed_notebook_is_listed_as_failed(tiny_book: Path) -> None:
    run_book("quick", root=tiny_book, build=False, progress=False)  # a good run first
    write_notebook(
        tiny_book / "book" / "01_a.ipynb",
        "n: int = 3  # how many\ndevice: str = 'cpu'  # device",
        "raise ValueError('boom')",
    )
    with pytest.raises(RunnerError, match="01_a.ipynb failed"):
        run_book("quick", root=tiny_book, build=False, progress=False)
    status = _status(tiny_book)
    a, b = _row(status, "01_a"), _row(status, "02_b")
    assert "**failed**; the page shows the run of" in a and "n = 5" in a
    # the run stopped at the failure: 02_b did not run this time and keeps its earlier page
    assert "not run this time; kept from the run of" in b
    record = read_runs(tiny_book / "_build" / "runs.json")
    assert record["01_a"]["last"]["outcome"] == "failed" and record["01_a"]["shown"]["outcome"] == "ran"


def test_a_first_run_that_fails_still_writes_the_status_page(tiny_book: Path) -> None:
    write_notebook(tiny_book / "book" / "02_b.ipynb", 'word: str = "hi"  # a word', "raise ValueError('boom')")
    with pytest.raises(RunnerError):
        run_book("quick", root=tiny_book, build=False, progress=False)
    status = _status(tiny_book)
    assert "| ran |" in _row(status, "01_a")
    assert "**failed**; the page shows the notebook without outputs" in _row(status, "02_b")


@pytest.mark.parametrize("content", ["{broken", "[]", '{"format": "seleak-book-runs-v1", "notebooks": {"01_a": 3}}'])
def test_a_damaged_run_record_is_ignored(tiny_book: Path, content: str, capsys) -> None:
    run_book("quick", root=tiny_book, build=False, progress=False)
    (tiny_book / "_build" / "runs.json").write_text(content)
    run_book("quick", root=tiny_book, only=["02_b"], build=False, progress=False)
    status = _status(tiny_book)
    assert "| ran |" in _row(status, "02_b")
    # 01_a's staged page is from an earlier run the record no longer knows: the notebook itself says so
    a = _row(status, "01_a")
    assert "kept from an earlier run missing from the run record" in a and "n = 5" in a
    json.loads((tiny_book / "_build" / "runs.json").read_text())  # rewritten whole
