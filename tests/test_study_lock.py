"""Two runs on one study folder: the second is refused at once, naming the holder, instead of computing
every cell a second time."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from seleak import cli
from seleak._io import FolderBusyError, folder_lock
from seleak.study import StudyBusyError, config_from_mapping, run_study

TINY = {
    "datasets": ["digits"],
    "n": 60,
    "embeddings": ["random:small"],
    "schemes": ["full"],
    "estimators": {"gaussian": {"pca_dim": 2}},
    "seeds": [0],
    "permutations": 9,
    "bootstrap": 2,
    "pixel_metrics": False,
}

# A second process that takes the folder's lock, says so and holds it until its stdin closes: the test
# waits for the line, so nothing depends on timing.
HOLDER = textwrap.dedent("""
    import sys
    from seleak._io import folder_lock
    with folder_lock(sys.argv[1]):
        print("locked", flush=True)
        sys.stdin.read()
""")


@pytest.fixture()
def holder(tmp_path: Path):
    """Another process holding OUT/.lock; yields (OUT, the process)."""
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield out, proc
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)


def test_a_second_study_on_the_same_folder_is_refused(holder, capsys) -> None:
    out, proc = holder
    with pytest.raises(
        StudyBusyError,
        match=rf"another seleak study is running on {out} \(lock held by "
        rf"pid {proc.pid}\); wait for it to finish or use another --out",
    ):
        run_study(config_from_mapping(TINY), out, progress=False)
    assert not (out / "cells").exists()  # refused before any work
    # the command line reports it in one line with exit status 2
    profile = out.parent / "tiny.yaml"
    profile.write_text(f"study: {TINY!r}\n".replace("'", '"').replace("False", "false"))
    assert cli.main(["study", "--profile", str(profile), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"lock held by pid {proc.pid}" in err and err.count("\n") == 1


def test_the_lock_is_released_when_the_holder_ends(holder) -> None:
    out, proc = holder
    proc.stdin.close()
    proc.wait(timeout=60)
    run = run_study(config_from_mapping(TINY), out, progress=False)
    assert run.computed == 1


def test_the_lock_is_released_after_a_failed_run(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with folder_lock(tmp_path):
            raise RuntimeError("boom")
    with folder_lock(tmp_path):  # taken again at once
        # a second holder in this process (another open file) is refused like another process
        with pytest.raises(FolderBusyError, match=r"pid \d+"):
            with folder_lock(tmp_path):
                pass
