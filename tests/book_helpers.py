"""Small books for the runner's tests."""

from __future__ import annotations

from pathlib import Path

import nbformat


def write_notebook(path: Path, params: str, *body: str) -> None:
    """A notebook at ``path`` with a ``parameters`` cell ``params`` and code cells ``body``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_markdown_cell(f"# {path.stem}\n\nA page."))
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells.append(cell)
    nb.cells.extend(nbformat.v4.new_code_cell(src) for src in body)
    nbformat.write(nb, path)
