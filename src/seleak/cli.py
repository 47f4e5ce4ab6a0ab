"""The ``seleak`` command line.

Each sub-command parses its arguments here and calls the package; no study logic lives in this file.
Sub-commands are registered in :data:`COMMANDS`; each module-level ``_cmd_*`` function receives the
parsed arguments and returns an exit code.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

EPILOG_BOOK = """examples:
  seleak book --profile quick                 # the main job: every chapter, then the HTML book
  seleak book --profile full --device cuda    # the GPU-sized study
  seleak book --profile quick --only 02_mi_estimators --no-build
"""


def _add_book(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "book",
        help="execute the notebooks with papermill and build the HTML book",
        description="Execute every notebook of _toc.yml with a profile's parameters (papermill), "
        "then build the HTML book with Jupyter Book (warnings are errors).",
        epilog=EPILOG_BOOK,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--profile", default="quick", help="profile name in profiles/ or a YAML path (default: quick)")
    p.add_argument("--device", default=None, help="torch device for notebooks that take one (cpu, cuda)")
    p.add_argument("--only", action="append", metavar="NOTEBOOK",
                   help="execute only this notebook (stem or path); repeatable; the others keep their last run")
    p.add_argument("--no-build", action="store_true", help="execute the notebooks but do not build HTML")
    p.add_argument("--root", default=None, help="the book's root folder (default: found from the current folder)")
    p.set_defaults(func=_cmd_book)


def _cmd_book(args: argparse.Namespace) -> int:
    from seleak.runner import run_book

    run = run_book(args.profile, root=args.root, device=args.device, only=args.only, build=not args.no_build)
    for r in run.runs:
        print(f"{r.name}: {r.seconds:.1f} s")
    if run.html_index:
        print(f"book: {run.html_index}")
    return 0


def _add_refresh(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "refresh-notebooks",
        help="execute source notebooks at their defaults and keep only the nbval-checked outputs",
        description="Execute each notebook at its default parameters and save it back with the outputs of "
        "'# NBVAL_CHECK_OUTPUT' cells only (what nbval compares) and no volatile metadata.",
    )
    p.add_argument("notebooks", nargs="+", help="notebook files (book/NN_name.ipynb)")
    p.set_defaults(func=_cmd_refresh)


def _cmd_refresh(args: argparse.Namespace) -> int:
    from seleak.runner import refresh_notebook

    for path in args.notebooks:
        print(f"refreshed {refresh_notebook(path)}")
    return 0


COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_book, _add_refresh]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seleak",
        description="Measure how much a selectively encrypted image still leaks.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``seleak`` console script."""
    from seleak.runner import RunnerError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (RunnerError, FileNotFoundError, ValueError, TypeError) as err:
        print(f"seleak {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
