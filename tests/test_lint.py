"""The tree is clean for the linter and the formatter configured in pyproject.toml (`make lint`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")


@pytest.mark.parametrize(
    "args",
    [["check", "."], ["format", "--check", "src", "tests", "tools", "benchmarks"]],
    ids=["lint", "format"],
)
def test_ruff_is_clean(args: list[str]) -> None:
    assert RUFF is not None, "ruff is missing: make setup installs it (requirements.txt)"
    out = subprocess.run([RUFF, *args], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
