"""The exercises as courseware: metadata, folded solutions, the student edition, and check cells that pass
for any correct answer (a second solution per exercise, in tests/exercise_alternatives/)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from seleak.runner import RunnerError
from seleak.runner.handout import (
    EXERCISE_KEY,
    HEADER_TAG,
    MARKER,
    SOLUTION_TAG,
    build_handout,
    check_teacher_folding,
    exercise_header,
    exercise_metadata,
    exercise_notebooks,
    student_notebook,
)

ROOT = Path(__file__).resolve().parents[1]
ALTERNATIVES = Path(__file__).with_name("exercise_alternatives")
EXERCISES = sorted((ROOT / "book" / "06_exercises").glob("ex*.ipynb"))
CHAPTER = re.compile(r"^(\d\d)_")


def _nb(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _src(cell: dict[str, Any]) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _tags(cell: dict[str, Any]) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def test_every_exercise_is_in_the_toc_with_metadata():
    assert [p.name for p in exercise_notebooks(ROOT)] == [p.name for p in EXERCISES]


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.stem)
def test_metadata_header_and_folding(path):
    nb = _nb(path)
    meta = exercise_metadata(nb, path.name)
    # the header cell is the one generated from the metadata (seleak.runner.handout.sync_exercise_headers)
    headers = [c for c in nb["cells"] if HEADER_TAG in _tags(c)]
    assert len(headers) == 1 and nb["cells"][1] is headers[0]
    assert _src(headers[0]) == exercise_header(meta)
    for pre in meta["prerequisites"]:
        assert (ROOT / "book" / f"{pre['doc']}.ipynb").is_file() or (ROOT / "book" / f"{pre['doc']}.md").is_file()
    check_teacher_folding(nb, path.name)
    assert not any("hide-input" in _tags(c) for c in nb["cells"] if SOLUTION_TAG in _tags(c))


def test_exercises_that_use_an_attack_need_chapter_5():
    for path in EXERCISES:
        nb = _nb(path)
        docs = {pre["doc"] for pre in exercise_metadata(nb)["prerequisites"]}
        uses_attack = any("reconstruct(" in _src(c) for c in nb["cells"] if c["cell_type"] == "code")
        assert uses_attack == ("05_attacks_vs_mi" in docs), path.name


def test_index_lists_each_exercises_chapters():
    index = (ROOT / "book" / "06_exercises" / "index.md").read_text()
    rows = {line.split("](")[1].split(")")[0]: line for line in index.splitlines() if line.startswith("| [")}
    for path in EXERCISES:
        meta = exercise_metadata(_nb(path))
        row = rows[path.name]
        chapters = sorted(int(CHAPTER.match(pre["doc"]).group(1)) for pre in meta["prerequisites"])
        linked = sorted(int(n) for n in re.findall(r"\.\./0(\d)_", row))
        assert linked == chapters, (path.name, linked, chapters)
        assert f"{meta['minutes']} min" in row and meta["difficulty"] in row


def test_metadata_errors_name_the_field():
    nb = _nb(EXERCISES[0])
    nb["metadata"][EXERCISE_KEY]["difficulty"] = "hard"
    with pytest.raises(RunnerError, match="difficulty"):
        exercise_metadata(nb)
    del nb["metadata"][EXERCISE_KEY]
    with pytest.raises(RunnerError, match="metadata"):
        exercise_metadata(nb)


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.stem)
def test_student_notebook_has_no_solution(path):
    nb = _nb(path)
    student = student_notebook(nb, path.name, link=lambda doc: None)
    assert student == student_notebook(nb, path.name, link=lambda doc: None)  # deterministic
    assert not any(SOLUTION_TAG in _tags(c) for c in student["cells"])
    kept = [c["id"] for c in nb["cells"] if SOLUTION_TAG not in _tags(c)]
    assert [c["id"] for c in student["cells"]] == kept  # task, scaffold, check cells all kept, in order
    assert _src(student["cells"][-1]).startswith("# NBVAL_CHECK_OUTPUT")
    assert any("parameters" in _tags(c) for c in student["cells"])
    assert all(not c.get("outputs") for c in student["cells"] if c["cell_type"] == "code")
    assert student["metadata"][EXERCISE_KEY] == nb["metadata"][EXERCISE_KEY]
    text = json.dumps(student)
    assert "{doc}" not in text  # the chapters are not in the student book: their names are plain text
    # nothing of the solutions survives: every solution line longer than a stub is gone
    for cell in nb["cells"]:
        if SOLUTION_TAG in _tags(cell) and cell["cell_type"] == "code":
            for line in _src(cell).splitlines():
                if len(line) > 60:
                    assert json.dumps(line)[1:-1] not in text, line


def test_build_handout_writes_atomically_and_refuses_foreign_folders(tmp_path, monkeypatch):
    out = tmp_path / "handout"
    first = build_handout(ROOT, out, html=False)
    names = sorted(p.name for p in (first / "notebooks").iterdir())
    assert names == [p.name for p in EXERCISES] and (first / MARKER).is_file()
    snapshot = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    build_handout(ROOT, out, html=False)  # a handout folder is rewritten, byte for byte the same
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == snapshot
    toc = (out / "book" / "_toc.yml").read_text()
    assert all(p.stem in toc for p in EXERCISES)
    # the static files the inherited _config.yml names (style, script, favicon) come along
    config = yaml.safe_load((out / "book" / "_config.yml").read_text())
    for rel in [*config["sphinx"]["config"]["html_static_path"], config["html"]["favicon"]]:
        assert (out / "book" / rel).exists(), rel

    # a failure half-way leaves the previous handout as it was, and no temporary folder behind
    import seleak.runner.handout as handout

    def broken(root, dest):
        (dest / "partial").write_text("x")
        raise RuntimeError("disk full")

    monkeypatch.setattr(handout, "write_handout_sources", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        build_handout(ROOT, out, html=False)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == snapshot
    assert sorted(p.name for p in tmp_path.iterdir()) == ["handout"]
    monkeypatch.undo()

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("do not delete")
    with pytest.raises(RunnerError, match="not written by `seleak handout`"):
        build_handout(ROOT, foreign, html=False)
    assert (foreign / "thesis.tex").read_text() == "do not delete"


# --------------------------------------------------------------------------- second solutions


def run_with_alternative(path: Path, alternative: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """Run an exercise's non-solution code cells in one namespace, with ``alternative`` in place of the
    solution cells (after the last scaffold, before the check cell); return the namespace."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nb = _nb(path)
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and SOLUTION_TAG not in _tags(c)]
    *before, check = code
    assert _src(check).startswith("# NBVAL_CHECK_OUTPUT")
    ns: dict[str, Any] = {"display": lambda *a, **k: None, "__name__": "__exercise__"}
    try:
        for cell in before:
            exec(compile(_src(cell), f"{path.stem}:{cell['id']}", "exec"), ns)
            if "parameters" in _tags(cell):
                unknown = set(overrides) - set(ns)
                assert not unknown, unknown
                ns.update(overrides)
        exec(compile(alternative, f"alternative {path.stem}", "exec"), ns)
        exec(compile(_src(check), f"{path.stem}:check", "exec"), ns)
    finally:
        plt.close("all")
    return ns


def _alternative(stem: str) -> str:
    return (ALTERNATIVES / f"{stem.split('_')[0]}.py").read_text()


# (exercise, parameter overrides): the defaults wherever they run in a few seconds, so that the check
# cell's conditional assertions run too; smaller sizes where the defaults take longer
FAST = {
    "ex1_new_scheme": {"n_images": 80, "n_permutations": 19},
    "ex2_nonce_reuse": {},
    "ex3_lsb_estimators": {},
    "ex4_smallest_n": {"n_pool": 80, "sample_sizes": [20, 40], "n_repeats": 2},
    "ex5_calibration": {"n_datasets": 30},
    "ex6_region_size": {"fractions": [0.05, 0.35, 1.0]},
    "ex7_pixel_mi_bias": {},
}


@pytest.mark.parametrize("stem", sorted(FAST))
def test_a_second_solution_passes_the_check(stem, capsys):
    path = ROOT / "book" / "06_exercises" / f"{stem}.ipynb"
    start = time.perf_counter()
    run_with_alternative(path, _alternative(stem), FAST[stem])
    out = capsys.readouterr().out
    check_text = "".join(
        o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"])
        for o in _nb(path)["cells"][-1].get("outputs", [])
    )
    assert check_text and out.endswith(check_text)  # the check cell printed its fixed sentences
    print(f"{stem}: {time.perf_counter() - start:.1f} s")


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("stem", sorted(FAST))
def test_a_second_solution_passes_the_check_at_the_defaults(stem, seed):
    # every exercise at its default sizes under four seeds: about 45 s per seed on 2 cores
    run_with_alternative(ROOT / "book" / "06_exercises" / f"{stem}.ipynb", _alternative(stem), {"seed": seed})


@pytest.mark.parametrize("stem", ["ex1_new_scheme", "ex2_nonce_reuse", "ex7_pixel_mi_bias"])
def test_the_check_fails_on_a_wrong_answer(stem):
    # the check cells can fail: each gets a plausible wrong answer
    wrong = {
        "ex1_new_scheme": _alternative("ex1").replace("+ self._parity) % 2 == 0", "+ self._parity) % 3 == 0"),
        "ex2_nonce_reuse": _alternative("ex2").replace("p2_recovered = (c2 ^ keystream)", "p2_recovered = (c2 ^ c1)"),
        "ex7_pixel_mi_bias": _alternative("ex7").replace("pixel_mi_plugin(x, y),", "pixel_mi_plugin(x, x),"),
    }[stem]
    assert wrong != _alternative(stem.split("_")[0])
    with pytest.raises(AssertionError):
        run_with_alternative(ROOT / "book" / "06_exercises" / f"{stem}.ipynb", wrong, FAST[stem])


def test_cli_handout(tmp_path, capsys):
    from seleak.cli import main

    assert main(["handout", "--root", str(ROOT), "--out", str(tmp_path / "h"), "--no-html"]) == 0
    assert len(list((tmp_path / "h" / "notebooks").glob("*.ipynb"))) == len(EXERCISES)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    assert main(["handout", "--root", str(ROOT), "--out", str(tmp_path / "other"), "--no-html"]) == 2
    assert "--force" in capsys.readouterr().err


@pytest.mark.slow
def test_handout_html_book_builds(tmp_path):
    # jupyter-book build of the generated student book (about 15 s): warnings are errors there too
    out = build_handout(ROOT, tmp_path / "handout")
    for path in EXERCISES:
        page = (out / "html" / f"{path.stem}.html").read_text()
        assert "About this exercise" in page and "tag_solution" not in page and "Show code cell" not in page
    assert "ex1_new_scheme.html" in (out / "html" / "index.html").read_text()
