"""Seeds as a test: every notebook passes its checks under other seeds and other CPU kernels.

A check cell that holds for seed 0 on one processor but not for seed 2, or not with torch's portable
kernels, is a check that fails for some reader. ``make test-seeds`` runs this file: each notebook of
the book that has a ``seed`` parameter is executed with papermill under seeds 1, 2 and 3 (and once at
its default seed with ``ATEN_CPU_CAPABILITY=default``, the kernels another processor may run), and

* every cell must run (a failing ``assert`` fails the notebook), and
* every ``# NBVAL_CHECK_OUTPUT`` cell must print exactly what the committed notebook shows (what nbval
  compares in ``make test``).

It executes the whole book several times (about 20 minutes on 2 cores), so it is marked slow and runs
outside CI's path.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seleak.runner import notebook_parameters, toc_notebooks

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (1, 2, 3)
CHECK = "# NBVAL_CHECK_OUTPUT"


def _seeded_notebooks() -> list[Path]:
    return [nb for nb in toc_notebooks(ROOT) if "seed" in notebook_parameters(nb)]


def _checked_outputs(nb: dict) -> list[str]:
    """The text each checked cell shows (stdout and plain-text results), in order."""
    shown = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code" or not "".join(cell["source"]).lstrip().startswith(CHECK):
            continue
        text = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                text.append("".join(out["text"]))
            elif out.get("output_type") in ("execute_result", "display_data") and "text/plain" in out.get("data", {}):
                text.append("".join(out["data"]["text/plain"]))
        shown.append("".join(text))
    return shown


CASES = [pytest.param(nb, seed, {}, id=f"{nb.stem}-seed{seed}") for nb in _seeded_notebooks() for seed in SEEDS]
CASES += [
    pytest.param(nb, None, {"ATEN_CPU_CAPABILITY": "default"}, id=f"{nb.stem}-portable-kernels")
    for nb in _seeded_notebooks()
]


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # one study folder for chapters 4 and 5, as in the book, away from the reader's _build/
    return tmp_path_factory.mktemp("study")


@pytest.mark.slow
@pytest.mark.parametrize("notebook,seed,env", CASES)
def test_notebook_checks_hold_under_other_seeds(
    notebook: Path,
    seed: int | None,
    env: dict[str, str],
    study_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import papermill

    for key, value in env.items():
        monkeypatch.setenv(key, value)  # the kernel is a child process: it inherits the environment
    params: dict = {} if seed is None else {"seed": seed}
    if "out_dir" in notebook_parameters(notebook):
        params["out_dir"] = str(study_dir)
    out = tmp_path / notebook.name
    # a failing cell (an assert of a check cell included) raises PapermillExecutionError here
    papermill.execute_notebook(
        str(notebook), str(out), parameters=params, kernel_name="python3", cwd=str(notebook.parent), progress_bar=False
    )
    committed = _checked_outputs(json.loads(notebook.read_text()))
    executed = _checked_outputs(json.loads(out.read_text()))
    assert executed == committed, f"{notebook.name} (seed {seed}, env {env}): a checked cell printed other text"


def test_every_notebook_that_draws_randomness_takes_a_seed() -> None:
    # the cheap half of the contract, in the default suite: chapters that draw keys, samples,
    # permutations or trained models expose `seed` in their parameters cell
    for nb in toc_notebooks(ROOT):
        code = "".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code")
        draws = any(w in code for w in ("encrypt(", "run_study(", "permutation", "default_rng", "get_embedder("))
        if draws:
            assert "seed" in notebook_parameters(nb), f"{nb.name} draws random numbers but has no seed parameter"
