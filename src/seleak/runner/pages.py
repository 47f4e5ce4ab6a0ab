"""What the runner writes into the staged pages about the run itself: the parameters cell as it ran, a
"this run used" box at the top of each chapter, and the results box that the introduction includes.

papermill injects the profile's values in a cell of its own, which the rendered page hides (it repeats
the parameters cell); without more, the page would then show the notebook's defaults, not what ran. So
the staged copy's ``parameters`` cell is rewritten to the values that ran, and a Markdown cell names the
profile and the values it changed.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any, Iterable

from seleak._io import atomic_write_text

#: Cells whose Markdown output is the book's headline (the introduction's results box).
HEADLINE_TAG = "headline"
#: Tag of the generated "this run used" cell (so a rerun replaces it rather than adding another).
RUN_BOX_TAG = "seleak-run-box"
#: The file the introduction includes, relative to the staged book's root.
HEADLINE_FILE = Path("book") / "_headline.md"

_NOT_RUN = """:::{note}
The results box is written by `seleak book` from the executed leakage study; this copy of the book has
not run it yet (`make book`).
:::
"""


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _literal(value: Any) -> str:
    """``value`` as Python source (papermill's parameters are YAML scalars, lists and mappings)."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def show_parameters_that_ran(nb: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """Rewrite the ``parameters`` cell of an executed notebook so that each ``name: type = value  # help``
    line holds the value that ran (``parameters``: what papermill injected). Lines of other shapes and
    parameters that were not injected are left as they are."""
    for cell in nb.get("cells", []):
        if "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        lines = _source(cell).split("\n")
        for i, line in enumerate(lines):
            try:
                body = ast.parse(line.split("  #", 1)[0].strip()).body
            except SyntaxError:
                continue
            node = body[0] if len(body) == 1 else None
            if not isinstance(node, ast.AnnAssign) or not isinstance(node.target, ast.Name):
                continue
            name = node.target.id
            if name not in parameters:
                continue
            code, sep, comment = line.partition("  #")
            head = code.split("=", 1)[0].rstrip()
            lines[i] = f"{head} = {_literal(parameters[name])}" + (f"  #{comment}" if sep else "")
        cell["source"] = "\n".join(lines)
    return nb


def run_box(parameters: dict[str, Any], profile: dict[str, Any], profile_keys: Iterable[str]) -> str:
    """The "this run used" admonition of one chapter: profile, device and every value the profile set."""
    described = profile.get("description")
    lines = [
        ":::{admonition} This run used",
        ":class: seealso",
        "",
        f"profile **{profile['name']}**" + (f" ({described.rstrip('.')})" if described else "") + "; "
        f"device **{parameters.get('device', profile.get('device', 'cpu'))}**.",
    ]
    set_here = {k: v for k, v in parameters.items() if k in set(profile_keys) and k not in ("device", "profile")}
    if set_here:
        lines.append(
            "Set by the profile: "
            + ", ".join(f"`{k} = {json.dumps(v, default=str)}`" for k, v in sorted(set_here.items()))
            + "; every other parameter keeps the chapter's default."
        )
    else:
        lines.append("The profile changes none of this chapter's parameters.")
    lines.append("The parameters cell below shows the values that ran.")
    lines.append(":::")
    return "\n".join(lines) + "\n"


def add_run_box(nb: dict[str, Any], box: str) -> dict[str, Any]:
    """Put ``box`` in a Markdown cell after the notebook's title cell (replacing an earlier box)."""
    cells = [c for c in nb.get("cells", []) if RUN_BOX_TAG not in c.get("metadata", {}).get("tags", [])]
    at = next((i + 1 for i, c in enumerate(cells) if c.get("cell_type") == "markdown"), 0)
    cell = {"cell_type": "markdown", "id": "seleak-run-box", "metadata": {"tags": [RUN_BOX_TAG]}, "source": box}
    nb["cells"] = cells[:at] + [cell] + cells[at:]
    return nb


def headline_markdown(notebooks: Iterable[Path]) -> str | None:
    """The Markdown outputs of the cells tagged ``headline`` in executed notebooks, in order; ``None``
    when none has one (no notebook that makes the headline was executed)."""
    parts = []
    for path in notebooks:
        try:
            nb = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for cell in nb.get("cells", []):
            if HEADLINE_TAG not in cell.get("metadata", {}).get("tags", []):
                continue
            for out in cell.get("outputs", []):
                md = out.get("data", {}).get("text/markdown")
                if md:
                    parts.append("".join(md) if isinstance(md, list) else md)
    return "\n".join(parts) if parts else None


def write_headline(stage: Path, notebooks: Iterable[Path]) -> Path:
    """Write the introduction's results box (:data:`HEADLINE_FILE`) from the staged notebooks: their
    ``headline`` outputs, in reading order, in one admonition."""
    target = stage / HEADLINE_FILE
    body = headline_markdown(notebooks)
    text = f"::::{{admonition}} The result of this run\n:class: important\n\n{body}\n::::\n" if body else _NOT_RUN
    atomic_write_text(target, text)
    return target
