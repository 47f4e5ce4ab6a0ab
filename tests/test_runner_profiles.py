"""`seleak book` refuses a bad profile in one line naming the file, the key and the fix, and checks every
parameter's type against the notebook's annotation before any notebook runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from book_helpers import write_notebook

from seleak import cli
from seleak.runner import RunnerError, check_parameter_type, load_profile, run_book


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("device: cpu\nnotebooks:\n  01_a: {n: 5\n", r"bad\.yaml is not valid YAML at line \d+, column \d+"),
        ("device: banana\n", r"bad\.yaml: 'device' must be a torch device: 'cpu', 'cuda', 'cuda:N'.*got 'banana'"),
        ("device: 1\n", r"'device' must be a torch device.*got 1 \(int\)"),
        (
            "notebooks:\n  - 01_a\n  - 02_b\n",
            r"bad\.yaml: 'notebooks' must be a mapping notebook -> \{parameter: value\}, got a list",
        ),
        ("notebooks:\n  01_a: 5\n", r"'notebooks' -> '01_a' must be a mapping of parameters"),
        ("timeout: long\n", r"'timeout' must be a whole number of seconds >= 1"),
        ("kernel: [python3]\n", r"'kernel' must be the name of a Jupyter kernel"),
        ("study: [1]\n", r"'study' must be a mapping"),
        ("- just\n- a list\n", r"bad\.yaml must be a mapping, got list"),
    ],
)
def test_a_bad_profile_is_one_clear_line(tiny_book: Path, capsys, text: str, message: str) -> None:
    (tiny_book / "profiles" / "bad.yaml").write_text(text)
    with pytest.raises(RunnerError, match=message):
        load_profile(tiny_book, "bad")
    assert cli.main(["book", "--root", str(tiny_book), "--profile", "bad", "--no-build"]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "Traceback" not in err
    assert not (tiny_book / "_build" / "stage").exists()  # refused before anything ran


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            "{n: big}",
            r"notebook 01_a\.ipynb: parameter 'n' expects int \(annotated int, default 3\), got 'big' \(str\)",
        ),
        ("{n: 5.0}", r"parameter 'n' expects int .*got 5\.0 \(float\)"),
        ("{n: true}", r"parameter 'n' expects int .*got True \(bool\)"),
        ("{rate: fast}", r"parameter 'rate' expects float .*got 'fast' \(str\)"),
        ("{sizes: [1, two]}", r"parameter 'sizes' expects a list of int \(annotated list, default \[1, 2\]\)"),
        ("{sizes: 3}", r"parameter 'sizes' expects a list of int"),
        ("{names: [a, 1]}", r"parameter 'names' expects a list of str \(annotated list\[str\]"),
        ("{limit: x}", r"parameter 'limit' expects int or None"),
    ],
)
def test_a_parameter_of_the_wrong_type_is_refused_before_any_notebook_runs(
    tiny_book: Path, params: str, message: str
) -> None:
    _typed_notebook(tiny_book)
    (tiny_book / "profiles" / "typed.yaml").write_text(f"notebooks:\n  01_a: {params}\n")
    with pytest.raises(RunnerError, match=message):
        run_book("typed", root=tiny_book, build=False, progress=False)
    assert not (tiny_book / "_build" / "stage" / "book" / "01_a.ipynb").exists()
    assert not (tiny_book / "_build" / "logs" / "01_a.log").exists()


def _typed_notebook(root: Path) -> None:
    write_notebook(
        root / "book" / "01_a.ipynb",
        "from typing import Optional\n\nn: int = 3  # how many\nrate: float = 0.5  # a rate\n"
        "sizes: list = [1, 2]  # sizes\n"
        'names: list[str] = ["a"]  # names\nlimit: Optional[int] = None  # a limit\n'
        'device: str = "cpu"  # torch device',
        "print(n, rate, sizes, names, limit)",
    )


def test_well_typed_parameters_reach_the_notebook(tiny_book: Path) -> None:
    """An int is a fine float, a list of the default's element type is accepted, None fits Optional."""
    _typed_notebook(tiny_book)
    (tiny_book / "profiles" / "typed.yaml").write_text(
        "notebooks:\n  01_a: {n: 4, rate: 2, sizes: [5, 6, 7], names: [x, y], limit: 9}\n"
    )
    run = run_book("typed", root=tiny_book, build=False, progress=False, only=["01_a"])
    assert run.runs[0].parameters["rate"] == 2 and run.runs[0].outcome == "ran"


def test_a_bad_device_option_is_refused(tiny_book: Path) -> None:
    with pytest.raises(RunnerError, match=r"--device must be a torch device.*got 'banana'"):
        run_book("quick", root=tiny_book, device="banana", build=False, progress=False)


@pytest.mark.parametrize(
    ("value", "annotation", "default", "ok"),
    [
        (3, "int", None, True),
        (True, "int", None, False),
        (3.0, "int", None, False),
        (3, "float", None, True),
        (3.5, "float", None, True),
        (False, "float", None, False),
        ("x", "str", None, True),
        (3, "str", None, False),
        (True, "bool", None, True),
        (1, "bool", None, False),
        ([1, 2], "list[int]", None, True),
        ([1, "2"], "list[int]", None, False),
        ((1, 2), "list[int]", None, True),
        ([1.5], "list[float]", None, True),
        ([1], "list[float]", None, True),
        ([True], "list[float]", None, False),
        ([1, 2], "tuple[int, ...]", None, True),
        (None, "int | None", None, True),
        ("a", "int | None", None, False),
        (None, "Optional[str]", None, True),
        (2, "Union[int, str]", None, True),
        (2.5, "Union[int, str]", None, False),
        ({"a": 1}, "dict[str, int]", None, True),
        ({"a": "b"}, "dict[str, int]", None, False),
        ([0.5, 1], "list", "[0.25, 0.5]", True),
        (["a"], "list", "[1, 2]", False),
        ([1, "a"], "list", "[]", True),
        ("anything", "MyClass", None, True),
        ("anything", "None", None, True),
        ([1, "a"], "tuple[int, str]", None, True),
    ],
)
def test_parameter_type_rules(value, annotation: str, default, ok: bool) -> None:
    assert (check_parameter_type(value, annotation, default) is None) == ok
