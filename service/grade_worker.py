"""Grade one notebook in a fresh process: `python -m service.grade_worker GRADE_FN NOTEBOOK SLUG OUT`.

The service runs every grading in its own process: the engine runs pytest in-process, which is
not safe to run in several threads at once, and a crash of the grader must not take the service
down. The report (or the reason there is none) is written as JSON to OUT. Exit codes:
0 report written; 3 notebook unreadable; 4 unknown assignment. The worker exits on its own as soon
as the service closes its standard input (for example because the service was killed).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

EXIT_NOTEBOOK = 3
EXIT_UNKNOWN_ASSIGNMENT = 4
EXIT_ORPHANED = 70


def _exit_when_parent_goes() -> None:
    # raw reads on fd 0: a daemon thread blocked in sys.stdin's buffered reader aborts the
    # interpreter at exit
    while os.read(0, 4096):
        pass
    os._exit(EXIT_ORPHANED)


def main(argv: list[str]) -> int:
    grade_fn_path, notebook, slug, out = argv
    threading.Thread(target=_exit_when_parent_goes, daemon=True).start()

    from autograder.notebook import NotebookError
    from service.core.course import import_object

    grade = import_object(grade_fn_path)
    try:
        report = grade(Path(notebook), slug)
    except NotebookError as error:
        Path(out).write_text(json.dumps({"error": str(error)}), encoding="utf-8")
        return EXIT_NOTEBOOK
    except KeyError as error:
        Path(out).write_text(json.dumps({"error": str(error.args[0] if error.args else slug)}), encoding="utf-8")
        return EXIT_UNKNOWN_ASSIGNMENT
    Path(out).write_text(report.model_dump_json(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
