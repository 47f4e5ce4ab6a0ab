"""The student edition of the exercises: notebooks without solutions, and their own small HTML book.

Every exercise notebook carries its teaching metadata under ``metadata["exercise"]`` (learning goals,
prerequisites, difficulty, expected student time, a rubric for the written answers). From it

- :func:`exercise_header` renders the header cell every exercise shows under its title (the source
  notebooks keep it in sync: :func:`sync_exercise_headers`);
- :func:`student_notebook` removes every cell tagged ``solution`` (code *and* output), keeps the task,
  the scaffold and the check cells, and clears all outputs;
- :func:`build_handout` writes the student notebooks and a generated Jupyter Book (its own ``_toc.yml``
  and ``_config.yml``) into one folder, atomically, and refuses to replace a folder it did not write.

The teacher's book keeps the solutions, fully folded: :func:`check_teacher_folding` verifies that every
solution code cell hides its code and its output behind a click (tag ``hide-cell``).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from seleak._io import atomic_write_text
from seleak.runner.errors import RunnerError
from seleak.runner.toc import find_root, toc_notebooks

EXERCISE_KEY = "exercise"
SOLUTION_TAG = "solution"
HEADER_TAG = "exercise-header"
FOLD_TAG = "hide-cell"
DIFFICULTIES = ("introductory", "intermediate", "advanced")
MARKER = ".seleak-handout"
MARKER_TEXT = "seleak student edition: this folder is rewritten by `seleak handout`\n"
REQUIRED_KEYS = {
    "difficulty": str,
    "minutes": int,
    "goals": list,
    "prerequisites": list,
    "rubric": list,
}
_DOC_ROLE = re.compile(r"\{doc\}`([^`<]*?)\s*<([^>`]+)>`")


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _tags(cell: dict[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def exercise_metadata(nb: dict[str, Any], name: str = "notebook") -> dict[str, Any]:
    """The validated ``metadata["exercise"]`` block of an exercise notebook."""
    meta = nb.get("metadata", {}).get(EXERCISE_KEY)
    if not isinstance(meta, dict):
        raise RunnerError(f"{name}: no metadata['{EXERCISE_KEY}'] block; add goals, prerequisites, difficulty, ...")
    for key, kind in REQUIRED_KEYS.items():
        if not isinstance(meta.get(key), kind) or (kind is list and not meta[key]):
            raise RunnerError(f"{name}: metadata['{EXERCISE_KEY}']['{key}'] must be a non-empty {kind.__name__}")
    if meta["difficulty"] not in DIFFICULTIES:
        raise RunnerError(f"{name}: difficulty {meta['difficulty']!r} is not one of {DIFFICULTIES}")
    if meta["minutes"] <= 0:
        raise RunnerError(f"{name}: minutes must be positive; got {meta['minutes']}")
    for pre in meta["prerequisites"]:
        if not (isinstance(pre, dict) and {"doc", "label", "why"} <= set(pre)):
            raise RunnerError(f"{name}: each prerequisite needs 'doc' (page under book/), 'label' and 'why'; got {pre}")
    for item in meta["rubric"]:
        if not (isinstance(item, dict) and {"answer", "points", "full_marks"} <= set(item)):
            raise RunnerError(f"{name}: each rubric item needs 'answer', 'points' and 'full_marks'; got {item}")
    return meta


def exercise_header(meta: dict[str, Any], *, link: Any = None) -> str:
    """The Markdown header of an exercise, generated from its metadata.

    ``link(doc)`` returns the Sphinx target of a prerequisite page (``doc`` relative to ``book/``) or
    ``None`` to write its label as plain text; by default every prerequisite links into the book.
    """
    if link is None:

        def link(doc: str) -> str | None:
            return f"/book/{doc}"

    lines = [
        ":::{admonition} About this exercise",
        ":class: tip",
        "",
        f"**Difficulty:** {meta['difficulty']}. **Expected student time:** about {meta['minutes']} minutes.",
        "",
        "**Learning goals.** After this exercise you can",
        "",
        *[f"- {goal}" for goal in meta["goals"]],
        "",
        "**Read first.**",
        "",
    ]
    for pre in meta["prerequisites"]:
        target = link(pre["doc"])
        label = f"{{doc}}`{pre['label']} <{target}>`" if target else f"*{pre['label']}*"
        lines.append(f"- {label}: {pre['why']}")
    total = sum(int(item["points"]) for item in meta["rubric"])
    lines += ["", f"**Rubric for the written answers** ({total} points).", ""]
    for item in meta["rubric"]:
        lines.append(f"- *{item['answer']}* ({item['points']} points): {item['full_marks']}")
    lines.append(":::")
    return "\n".join(lines)


def _header_cell(text: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "id": HEADER_TAG, "metadata": {"tags": [HEADER_TAG]}, "source": text}


def with_header(nb: dict[str, Any], text: str) -> dict[str, Any]:
    """``nb`` with its header cell (right after the title cell) set to ``text``."""
    nb = copy.deepcopy(nb)
    cells = [c for c in nb["cells"] if HEADER_TAG not in _tags(c)]
    nb["cells"] = [cells[0], _header_cell(text), *cells[1:]]
    return nb


def sync_exercise_headers(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """Rewrite the header cell of every exercise notebook of the book from its metadata; return the changed."""
    changed = []
    for path in exercise_notebooks(find_root(root)):
        nb = json.loads(path.read_text())
        new = with_header(nb, exercise_header(exercise_metadata(nb, path.name)))
        if new != nb:
            atomic_write_text(path, json.dumps(new, indent=1, ensure_ascii=False) + "\n")
            changed.append(path)
    return changed


def exercise_notebooks(root: Path) -> list[Path]:
    """The notebooks of ``_toc.yml`` that carry exercise metadata, in reading order."""
    found = []
    for path in toc_notebooks(root):
        if EXERCISE_KEY in json.loads(path.read_text()).get("metadata", {}):
            found.append(path)
    return found


def check_teacher_folding(nb: dict[str, Any], name: str = "notebook") -> None:
    """Raise unless the teacher's notebook folds every solution: code and output behind a click."""
    solutions = [c for c in nb["cells"] if SOLUTION_TAG in _tags(c)]
    if not solutions:
        raise RunnerError(f"{name}: no cell is tagged {SOLUTION_TAG!r}")
    for cell in solutions:
        if cell["cell_type"] == "code" and FOLD_TAG not in _tags(cell):
            raise RunnerError(f"{name}: solution cell {cell.get('id')} must be tagged {FOLD_TAG!r} (code and output)")
        if cell["cell_type"] == "markdown":
            src = _source(cell).strip()
            if not (src.startswith("#") and "\n" not in src) and ":class: dropdown" not in src:
                raise RunnerError(f"{name}: solution text {cell.get('id')} must be a dropdown admonition")


def student_notebook(nb: dict[str, Any], name: str = "notebook", *, link: Any = None) -> dict[str, Any]:
    """The student's copy: solution cells removed (code and output), every output cleared, header rendered
    with ``link`` (see :func:`exercise_header`), ``{doc}`` links outside the handout written as text."""
    meta = exercise_metadata(nb, name)
    out = copy.deepcopy(nb)
    cells = []
    for cell in out["cells"]:
        if SOLUTION_TAG in _tags(cell):
            continue
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        elif HEADER_TAG not in _tags(cell) and link is not None:
            cell["source"] = _DOC_ROLE.sub(lambda m: _relink(m, link), _source(cell))
        cells.append(cell)
    out["cells"] = cells
    return with_header(out, exercise_header(meta, link=link))


def _relink(match: re.Match[str], link: Any) -> str:
    text, target = match.group(1), match.group(2)
    doc = target.removeprefix("/book/").removeprefix("../")
    new = link(doc)
    return f"{{doc}}`{text} <{new}>`" if new else f"*{text}*"


# --------------------------------------------------------------------------- the handout folder


def _handout_link(names: set[str]) -> Any:
    def link(doc: str) -> str | None:
        stem = doc.rsplit("/", 1)[-1]
        return stem if stem in names else None  # chapters are not in the student edition: plain text

    return link


def handout_index(entries: list[tuple[str, dict[str, Any], str]], title: str) -> str:
    """The front page of the student edition: one line per exercise from its metadata."""
    lines = [
        f"# {title}",
        "",
        "Each exercise is a notebook: the task, a cell for your code and a check cell at the end that tells",
        "you when the computational part is right. Run it from top to bottom; hand in the notebook and your",
        "written answers. The book's chapters named under *Read first* explain what each exercise builds on.",
        "",
    ]
    for stem, meta, heading in entries:
        reads = ", ".join(pre["label"] for pre in meta["prerequisites"])
        level = f"{meta['difficulty']}, about {meta['minutes']} minutes"
        lines.append(f"- {{doc}}`{heading} <{stem}>`: {level}; read first: {reads}.")
    return "\n".join(lines) + "\n"


def _title(nb: dict[str, Any]) -> str:
    first = _source(nb["cells"][0]).strip().splitlines()[0]
    return first.lstrip("#").strip()


def _book_config(root: Path, title: str) -> str:
    config = yaml.safe_load((root / "_config.yml").read_text())
    config["title"] = title
    config["bibtex_bibfiles"] = ["references.bib"]
    return "# generated by `seleak handout`: the student edition of the exercises\n" + yaml.safe_dump(
        config, sort_keys=False, allow_unicode=True
    )


def write_handout_sources(root: Path, dest: Path) -> list[Path]:
    """Write the student notebooks and the handout book's sources into ``dest``; return the notebooks."""
    sources = exercise_notebooks(root)
    if not sources:
        raise RunnerError(f"no notebook of {root / '_toc.yml'} carries metadata['{EXERCISE_KEY}']")
    link = _handout_link({p.stem for p in sources})
    book = dest / "book"
    notebooks = dest / "notebooks"
    book.mkdir(parents=True)
    notebooks.mkdir()
    entries, written = [], []
    for path in sources:
        nb = json.loads(path.read_text())
        check_teacher_folding(nb, path.name)
        student = student_notebook(nb, path.name, link=link)
        text = json.dumps(student, indent=1, ensure_ascii=False) + "\n"
        (notebooks / path.name).write_text(text)
        (book / path.name).write_text(text)
        entries.append((path.stem, student["metadata"][EXERCISE_KEY], _title(nb)))
        written.append(notebooks / path.name)
    base = yaml.safe_load((root / "_config.yml").read_text()).get("title", "seleak")
    title = f"{base}: exercises, student edition"
    (book / "index.md").write_text(handout_index(entries, "Exercises: student edition"))
    (book / "bibliography.md").write_text("# References\n\n```{bibliography}\n```\n")
    shutil.copyfile(root / "book" / "references.bib", book / "references.bib")
    toc = {
        "format": "jb-book",
        "root": "index",
        "chapters": [{"file": stem} for stem, _, _ in entries] + [{"file": "bibliography"}],
    }
    (book / "_toc.yml").write_text("# generated by `seleak handout`\n" + yaml.safe_dump(toc, sort_keys=False))
    (book / "_config.yml").write_text(_book_config(root, title))
    _copy_static_files(root, book)
    return written


def _copy_static_files(root: Path, book: Path) -> None:
    """Copy the files that the book's ``_config.yml`` names (``html_static_path``, the favicon) into the
    handout's sources at the same relative paths, so that the inherited configuration finds them."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    paths = list(((config.get("sphinx") or {}).get("config") or {}).get("html_static_path") or [])
    favicon = (config.get("html") or {}).get("favicon")
    if favicon:
        paths.append(favicon)
    for rel in paths:
        source, target = root / rel, book / rel
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        elif source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        else:
            raise RunnerError(f"_config.yml names {rel!r} (a static file or folder), which does not exist; add it")


def _build_html(book: Path, log: Path) -> Path:
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(book), "-W", "-n", "--keep-going"]
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=book)
    index = book / "_build" / "html" / "index.html"
    if proc.returncode != 0 or not index.is_file():
        tail = "\n".join(log.read_text().splitlines()[-30:])
        raise RunnerError(f"jupyter-book build of the handout failed (exit {proc.returncode}); log {log}:\n{tail}")
    return index


def build_handout(
    root: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    *,
    html: bool = True,
    force: bool = False,
) -> Path:
    """Write the student edition into ``out`` (default ``_build/handout``) and return it.

    ``out`` holds ``notebooks/*.ipynb`` (to hand out), ``book/`` (the generated Jupyter Book sources) and,
    with ``html``, ``html/`` (the built book). The folder is assembled next to ``out`` and moved into
    place at the end, so a failed run leaves the previous handout untouched. An existing ``out`` that
    this function did not write (no ``.seleak-handout`` marker) is refused unless ``force``.
    """
    root_path = find_root(root)
    target = Path(out) if out is not None else root_path / "_build" / "handout"
    target = target.resolve()
    if target.exists():
        if not target.is_dir():
            raise RunnerError(f"{target} exists and is not a folder; choose another --out")
        if any(target.iterdir()) and not (target / MARKER).is_file() and not force:
            raise RunnerError(
                f"{target} is not empty and was not written by `seleak handout` (no {MARKER} file); "
                "choose another --out or pass --force to replace it"
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".handout-", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    work.chmod(0o777 & ~umask)  # mkdtemp makes the folder private; the handout is for sharing
    try:
        write_handout_sources(root_path, work)
        if html:
            _build_html(work / "book", work / "jupyter-book.log")
            shutil.move(str(work / "book" / "_build" / "html"), str(work / "html"))
            shutil.rmtree(work / "book" / "_build")
        (work / MARKER).write_text(MARKER_TEXT)
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
        os.replace(work, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target
