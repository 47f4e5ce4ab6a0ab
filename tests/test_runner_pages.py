"""What the runner writes into the staged pages: the parameters that ran, the "this run used" box and
the introduction's results box."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from book_helpers import write_notebook

from seleak.runner import (
    HEADLINE_FILE,
    add_run_box,
    headline_markdown,
    run_book,
    run_box,
    show_parameters_that_ran,
    write_headline,
)


def _staged(root: Path, stem: str) -> dict:
    return json.loads((root / "_build" / "stage" / "book" / f"{stem}.ipynb").read_text())


def _parameters_cell(nb: dict) -> str:
    (cell,) = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
    return "".join(cell["source"])


def test_the_page_shows_the_values_that_ran_and_names_the_profile(tiny_book: Path) -> None:
    run_book("quick", root=tiny_book, device="cuda:2", build=False, progress=False)
    nb = _staged(tiny_book, "01_a")
    # the source says n = 3 and device "cpu"; the profile set n = 5 and the run asked for cuda:2
    assert _parameters_cell(nb) == 'n: int = 5  # how many\ndevice: str = "cuda:2"  # torch device'
    boxes = [c for c in nb["cells"] if "seleak-run-box" in c["metadata"].get("tags", [])]
    assert len(boxes) == 1 and nb["cells"].index(boxes[0]) == 1  # right after the title cell
    box = "".join(boxes[0]["source"])
    assert "profile **quick** (test)" in box and "device **cuda:2**" in box
    assert "Set by the profile: `n = 5`; every other parameter keeps the chapter's default." in box
    # the source notebook is untouched
    source = nbformat.read(tiny_book / "book" / "01_a.ipynb", as_version=4)
    assert "n: int = 3" in source.cells[1].source


def test_rerunning_replaces_the_box_rather_than_adding_one() -> None:
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# T"}]}
    for _ in range(2):
        add_run_box(nb, "box")
    assert [c["source"] for c in nb["cells"]] == ["# T", "box"]


def test_parameter_lines_of_other_shapes_are_left_alone() -> None:
    src = 'a: int = 1  # one\nb = 2\n# c: int = 3\nd: list = [1, 2]  # "x = y" is not split\ne: str = "x"'
    nb = {"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": src}]}
    show_parameters_that_ran(nb, {"a": 7, "b": 9, "c": 9, "d": [3], "e": 'q"'})
    assert nb["cells"][0]["source"].split("\n") == [
        "a: int = 7  # one",
        "b = 2",
        "# c: int = 3",
        'd: list = [3]  # "x = y" is not split',
        'e: str = "q\\""',
    ]


def test_run_box_without_profile_values_says_every_default_holds() -> None:
    box = run_box({"device": "cpu", "profile": "smoke"}, {"name": "smoke", "device": "cpu"}, [])
    assert "profile **smoke**" in box and "changes none of this chapter's parameters" in box


def test_headline_is_the_headline_outputs_in_reading_order(tmp_path: Path) -> None:
    paths = []
    for i, text in enumerate(["first **1.0 nats**", "second"]):
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("x")
        cell.metadata["tags"] = ["headline", "remove-cell"]
        cell.outputs = [nbformat.v4.new_output("execute_result", {"text/markdown": text, "text/plain": "x"})]
        nb.cells = [cell, nbformat.v4.new_code_cell("y")]
        paths.append(tmp_path / f"{i}.ipynb")
        nbformat.write(nb, paths[-1])
    assert headline_markdown(paths) == "first **1.0 nats**\nsecond"
    target = write_headline(tmp_path, paths)
    assert target == tmp_path / HEADLINE_FILE
    text = target.read_text()
    assert text.startswith("::::{admonition} The result of this run") and "first **1.0 nats**" in text


def test_without_a_headline_notebook_the_box_says_the_study_has_not_run(tmp_path: Path) -> None:
    write_notebook(tmp_path / "a.ipynb", "n: int = 1  # n", "print(n)")
    assert headline_markdown([tmp_path / "a.ipynb", tmp_path / "missing.ipynb"]) is None
    assert "has\nnot run it yet" in write_headline(tmp_path, [tmp_path / "a.ipynb"]).read_text()
