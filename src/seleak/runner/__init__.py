"""Execute the book's notebooks with papermill and build the HTML book with Jupyter Book.

The runner holds no study logic. It

1. reads a profile (``profiles/NAME.yaml``): papermill parameters for each notebook of ``_toc.yml``;
2. refuses what papermill would only warn about: a parameter that a notebook's ``parameters`` cell does
   not define, an unknown profile, a missing kernel;
3. executes each notebook into a staging copy of the book (``_build/stage``), atomically, with volatile
   papermill metadata stripped and the injected-parameters cell hidden from the rendered page;
4. runs ``jupyter-book build`` on the stage with warnings as errors and notebook execution off (papermill
   already ran them), so the HTML lands in ``_build/html`` and the source tree stays clean.

Besides the book: the student edition of the exercises (:mod:`seleak.runner.handout`) and the whole book
as one PDF printed by the system Chromium (:mod:`seleak.runner.pdf`).
"""

from __future__ import annotations

from seleak.runner.errors import RunnerError
from seleak.runner.execute import (
    CHECK_MARKER,
    build_html,
    check_kernel,
    is_checked,
    refresh_notebook,
    run_book,
    stage_sources,
    strip_volatile,
)
from seleak.runner.handout import (
    build_handout,
    check_teacher_folding,
    exercise_header,
    exercise_metadata,
    student_notebook,
    sync_exercise_headers,
)
from seleak.runner.pages import (
    HEADLINE_FILE,
    HEADLINE_TAG,
    add_run_box,
    headline_markdown,
    run_box,
    show_parameters_that_ran,
    write_headline,
)
from seleak.runner.parameters import GLOBAL_PARAMETERS, check_parameter_type, notebook_parameters, resolve_parameters
from seleak.runner.pdf import PdfResult, book_pdf
from seleak.runner.profile import PROFILE_KEYS, load_profile
from seleak.runner.status import (
    RUNS_FORMAT,
    BookRun,
    NotebookRun,
    read_runs,
    write_runs,
    write_status_page,
)
from seleak.runner.toc import find_root, page_path, toc_entries, toc_notebooks

__all__ = [
    "BookRun",
    "CHECK_MARKER",
    "GLOBAL_PARAMETERS",
    "HEADLINE_FILE",
    "HEADLINE_TAG",
    "NotebookRun",
    "PdfResult",
    "PROFILE_KEYS",
    "RUNS_FORMAT",
    "RunnerError",
    "book_pdf",
    "build_handout",
    "add_run_box",
    "build_html",
    "check_kernel",
    "check_parameter_type",
    "check_teacher_folding",
    "exercise_header",
    "exercise_metadata",
    "find_root",
    "headline_markdown",
    "is_checked",
    "load_profile",
    "notebook_parameters",
    "page_path",
    "read_runs",
    "refresh_notebook",
    "resolve_parameters",
    "run_book",
    "run_box",
    "show_parameters_that_ran",
    "stage_sources",
    "strip_volatile",
    "student_notebook",
    "sync_exercise_headers",
    "toc_entries",
    "toc_notebooks",
    "write_headline",
    "write_runs",
    "write_status_page",
]
