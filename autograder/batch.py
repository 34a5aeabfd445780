"""Grade a whole nbgrader exchange: `submitted/<student>/<assignment>/<notebook>.ipynb`.

One JSON report per submission (`OUT/<student>/<assignment>.json`), a gradebook CSV (one row per
student, one column per assignment), a CSV of every submission with the reason when one could not
be graded, and optionally the scores pushed into an nbgrader gradebook database so that formgrader
shows them.

How tensorgrade results map onto nbgrader grade cells (see docs/nbgrader.md):

- every tensorgrade target (a function or class of the contract, or one answer check) becomes one
  autograded grade cell `tensorgrade-<target>` (`tensorgrade-check-<name>` for checks) of the
  submitted notebook, worth the rubric's points for that target and scored with the points earned;
- the notebook's own grade cells (its public test cells, which nbgrader records when it generates
  the assignment) get full points when every visible tensorgrade test of the function they test
  passed, else zero, which is what `nbgrader autograde` gives them on the same notebook; a public
  cell whose function has no visible tests is left alone.

Nothing here is specific to an assignment: rubrics, notebooks and nbgrader metadata drive it.
"""

from __future__ import annotations

import ast
import contextlib
import csv
import os
import re
import shutil
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.report import GradeReport

TENSORGRADE_CELL_PREFIX = "tensorgrade-"
GRADEBOOK_CSV = "gradebook.csv"
SUBMISSIONS_CSV = "submissions.csv"


@dataclass(frozen=True)
class ExchangeSubmission:
    """One student's submission of one assignment in the exchange."""

    student: str
    assignment: str  # the nbgrader assignment name (folder name)
    slug: str  # the tensorgrade assignment that grades it
    folder: Path
    notebook: Path | None = None  # None: no notebook to grade (see `problem`)
    problem: str = ""

    @property
    def notebook_name(self) -> str:
        return self.notebook.stem if self.notebook else ""

    @property
    def timestamp(self) -> str | None:
        """The submission time nbgrader's collect step records, if any."""
        stamp = self.folder / "timestamp.txt"
        if not stamp.is_file():
            return None
        return stamp.read_text(encoding="utf-8").strip() or None


@dataclass
class BatchResult:
    submission: ExchangeSubmission
    report: GradeReport | None = None
    problem: str = ""
    report_path: Path | None = None

    @property
    def graded(self) -> bool:
        return self.report is not None


@dataclass
class Batch:
    results: list[BatchResult] = field(default_factory=list)
    gradebook_csv: Path | None = None
    submissions_csv: Path | None = None
    pushed: int = 0  # submissions written into the nbgrader database

    @property
    def problems(self) -> list[BatchResult]:
        return [result for result in self.results if not result.graded]


# ---------------------------------------------------------------------------- the exchange


def parse_assignment_options(values: list[str] | None) -> dict[str, str] | None:
    """`--assignment SLUG` or `--assignment NBGRADER_NAME=SLUG` -> {nbgrader name: slug}."""
    if not values:
        return None
    mapping = {}
    for value in values:
        name, _, slug = value.partition("=")
        mapping[name] = slug or name
    return mapping


def submitted_dir(exchange: Path) -> Path:
    """The `submitted/` folder of an nbgrader course directory (or that folder itself)."""
    return exchange / "submitted" if (exchange / "submitted").is_dir() else exchange


def find_submissions(exchange: Path, assignments: dict[str, str] | None = None) -> list[ExchangeSubmission]:
    """Every `<student>/<assignment>/` folder under `submitted/`, sorted by student then assignment.

    `assignments` ({nbgrader name: slug}) restricts the batch; without it every assignment folder
    is graded by the tensorgrade assignment of the same name.
    """
    from autograder.registry import UnknownAssignment, get_rubric

    found = []
    for student_dir in _visible_dirs(submitted_dir(exchange)):
        for folder in _visible_dirs(student_dir):
            if assignments is not None and folder.name not in assignments:
                continue
            slug = assignments[folder.name] if assignments is not None else folder.name
            try:
                expected = Path(get_rubric(slug).notebook).name
            except UnknownAssignment as exc:
                found.append(ExchangeSubmission(student_dir.name, folder.name, slug, folder, problem=str(exc)))
                continue
            notebook, problem = _pick_notebook(folder, expected)
            found.append(ExchangeSubmission(student_dir.name, folder.name, slug, folder, notebook, problem))
    return found


def _visible_dirs(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir() if path.is_dir() and not path.name.startswith("."))


def _pick_notebook(folder: Path, expected: str) -> tuple[Path | None, str]:
    """The released notebook's name when present, else the only notebook of the folder."""
    if (folder / expected).is_file():
        return folder / expected, ""
    notebooks = sorted(path for path in folder.glob("*.ipynb") if path.is_file())
    if len(notebooks) == 1:
        return notebooks[0], ""
    listing = ", ".join(path.name for path in notebooks) or "no notebook at all"
    return None, f"expected {expected} in the submission, found {listing}"


# ---------------------------------------------------------------------------- grading


def grade_batch(exchange: Path, out_dir: Path, assignments: dict[str, str] | None = None, *,
                db_url: str | None = None, course_id: str = "", seed: int | None = None,
                console=None, grade_fn: Callable[..., GradeReport] | None = None) -> Batch:
    """Grade every submission, write the reports and CSVs, optionally push to nbgrader."""
    from autograder.grading import grade

    grade_fn = grade_fn or grade
    submissions = find_submissions(exchange, assignments)
    out_dir.mkdir(parents=True, exist_ok=True)
    batch = Batch()
    with progress_bar(console) as progress:
        task = progress.add_task("", total=len(submissions))
        for submission in submissions:
            progress.update(task, description=f"{submission.student} / {submission.assignment}")
            result = grade_one(submission, grade_fn, seed)
            if result.report is not None:
                result.report_path = write_report(out_dir, submission, result.report)
            batch.results.append(result)
            progress.advance(task)
        progress.update(task, description="done")
    batch.gradebook_csv = write_gradebook_csv(out_dir / GRADEBOOK_CSV, batch.results)
    batch.submissions_csv = write_submissions_csv(out_dir / SUBMISSIONS_CSV, batch.results, out_dir)
    if db_url:
        batch.pushed = push_to_gradebook(db_url, batch.results, course_id=course_id)
    return batch


def grade_one(submission: ExchangeSubmission, grade_fn: Callable[..., GradeReport], seed: int | None) -> BatchResult:
    """Grade one submission; any failure becomes the result's `problem` instead of an exception."""
    from autograder.notebook import NotebookError
    from autograder.registry import UnknownAssignment

    if submission.problem or submission.notebook is None:
        return BatchResult(submission, problem=submission.problem or "no notebook")
    try:
        return BatchResult(submission, report=grade_fn(submission.notebook, submission.slug, seed=seed))
    except (NotebookError, UnknownAssignment) as exc:
        return BatchResult(submission, problem=str(exc))
    except Exception as exc:  # one broken submission must not stop the batch
        return BatchResult(submission, problem=f"grader error: {type(exc).__name__}: {exc}")


def progress_bar(console=None):
    """The batch's progress bar: items done of all, elapsed time, the submission being graded."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("{task.description}"), console=console)


# ---------------------------------------------------------------------------- outputs


def safe_name(text: str) -> str:
    """A file or grade cell name made of letters, digits, `.`, `_` and `-` only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "unnamed"


def write_report(out_dir: Path, submission: ExchangeSubmission, report: GradeReport) -> Path:
    path = out_dir / safe_name(submission.student) / f"{safe_name(submission.assignment)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.model_dump_json(indent=2), encoding="utf-8")
    return path


def write_gradebook_csv(path: Path, results: list[BatchResult]) -> Path:
    """One row per student, one score column per assignment, a total and the problems met.

    A submission that could not be graded leaves its score cell empty and names the reason in
    `problems`; an assignment a student did not submit stays empty too.
    """
    assignments = sorted({result.submission.assignment for result in results})
    students = sorted({result.submission.student for result in results})
    rows = {student: {"student": student, "problems": []} for student in students}
    for result in results:
        row = rows[result.submission.student]
        if result.report is not None:
            row[result.submission.assignment] = _number(result.report.score)
        else:
            row["problems"].append(f"{result.submission.assignment}: {result.problem}")
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["student", *assignments, "total", "problems"])
        writer.writeheader()
        for student in students:
            row = rows[student]
            scores = [float(row[name]) for name in assignments if name in row]
            writer.writerow({**row, "total": _number(sum(scores)), "problems": "; ".join(row["problems"])})
    return path


def write_submissions_csv(path: Path, results: list[BatchResult], out_dir: Path) -> Path:
    """One row per submission: graded ones with score and report, the others with the reason."""
    fields = ["student", "assignment", "tensorgrade_assignment", "notebook", "status", "score", "max_score",
              "report", "reason"]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for result in results:
            submission, report = result.submission, result.report
            writer.writerow({
                "student": submission.student, "assignment": submission.assignment,
                "tensorgrade_assignment": submission.slug,
                "notebook": submission.notebook.name if submission.notebook else "",
                "status": "graded" if report else "not graded",
                "score": _number(report.score) if report else "",
                "max_score": _number(report.max_score) if report else "",
                "report": str(result.report_path.relative_to(out_dir)) if result.report_path else "",
                "reason": result.problem,
            })
    return path


def _number(value: float) -> str:
    return f"{value:g}"


# ---------------------------------------------------------------------------- nbgrader grade cells


@dataclass(frozen=True)
class CellScore:
    """The score of one nbgrader grade cell."""

    name: str
    score: float
    max_score: float
    owned: bool  # True: a tensorgrade cell (created here); False: one of the notebook's own cells


def tensorgrade_cell_name(target: str) -> str:
    if target.startswith("check:"):
        return TENSORGRADE_CELL_PREFIX + "check-" + safe_name(target[len("check:"):])
    return TENSORGRADE_CELL_PREFIX + safe_name(target)


def target_cells(report: GradeReport) -> list[CellScore]:
    """One grade cell per tensorgrade target, in the report's order: points earned of points possible."""
    totals: dict[str, list[float]] = {}
    for test in report.tests:
        score_max = totals.setdefault(tensorgrade_cell_name(test.target), [0.0, 0.0])
        score_max[0] += test.score
        score_max[1] += test.max_score
    return [CellScore(name, round(score, 4), round(max_score, 4), owned=True)
            for name, (score, max_score) in totals.items()]


def public_test_targets(notebook: nbformat.NotebookNode) -> dict[str, list[str]]:
    """{grade_id of each public test cell: the names (functions, classes) it tests}.

    A public test cell tests what the nearest solution cell above it defines, the layout of
    nbgrader notebooks (stub, then its tests). Test cells above any definition map to [].
    """
    targets: dict[str, list[str]] = {}
    defined: list[str] = []
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not meta:
            continue
        if meta.get("solution") and not meta.get("grade"):
            names = _defined_names(cell.source)
            defined = names or defined
        elif meta.get("grade") and not meta.get("solution"):
            targets[meta.get("grade_id", "")] = list(defined)
    return targets


def _defined_names(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


def visible_outcome(report: GradeReport, names: list[str]) -> bool | None:
    """True when every visible code test of these targets passed, None when there is none."""
    tests = [test for test in report.tests
             if test.target in names and test.visible and test.kind not in ("check", "timing", "memory")]
    if not tests:
        return None
    return all(test.status == "passed" for test in tests)


def public_cells(report: GradeReport, notebook: nbformat.NotebookNode) -> list[CellScore]:
    """Scores for the notebook's public test cells from the visible tensorgrade tests."""
    cells = []
    points = {cell.metadata["nbgrader"]["grade_id"]: float(cell.metadata["nbgrader"].get("points", 0))
              for cell in notebook.cells if cell.get("metadata", {}).get("nbgrader", {}).get("grade")}
    for grade_id, names in public_test_targets(notebook).items():
        outcome = visible_outcome(report, names)
        if outcome is not None:
            cells.append(CellScore(grade_id, points[grade_id] if outcome else 0.0, points[grade_id], owned=False))
    return cells


def nbgrader_cells(report: GradeReport, slug: str) -> list[CellScore]:
    """Every grade cell score to record for this report (tensorgrade cells, then public cells)."""
    from autograder.registry import get_rubric, resolve

    notebook = nbformat.read(str(resolve(get_rubric(slug).notebook)), as_version=4)
    return target_cells(report) + public_cells(report, notebook)


# ---------------------------------------------------------------------------- nbgrader database


@contextlib.contextmanager
def _alembic_reachable() -> Iterator[None]:
    """nbgrader stamps a new database by running the `alembic` command; make the one installed
    next to this Python findable even when the virtual environment is not activated."""
    if shutil.which("alembic"):
        yield
        return
    saved = os.environ.get("PATH", "")
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + saved
    try:
        yield
    finally:
        os.environ["PATH"] = saved


def push_to_gradebook(db_url: str, results: list[BatchResult], *, course_id: str = "") -> int:
    """Record the graded submissions in an nbgrader gradebook; returns how many were recorded.

    Students, assignments, notebooks and tensorgrade grade cells are created when missing; a score
    a human grader set by hand (manual_score) is kept and flagged for review, as nbgrader does.
    """
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning

    pushed = 0
    with _alembic_reachable(), Gradebook(db_url, course_id=course_id) as gradebook, warnings.catch_warnings():
        # nbgrader's own add_submission trips SQLAlchemy's autoflush warnings; they are harmless.
        warnings.simplefilter("ignore", category=SAWarning)
        for result in results:
            if result.report is None:
                continue
            record_submission(gradebook, result.submission, nbgrader_cells(result.report, result.submission.slug))
            pushed += 1
    return pushed


def record_submission(gradebook, submission: ExchangeSubmission, cells: list[CellScore]) -> None:
    from nbgrader.api import MissingEntry

    assignment, notebook, student = submission.assignment, submission.notebook_name, submission.student
    gradebook.update_or_create_student(student)
    try:
        gradebook.find_assignment(assignment)
    except MissingEntry:
        gradebook.add_assignment(assignment)
    try:
        gradebook.find_notebook(notebook, assignment)
    except MissingEntry:
        gradebook.add_notebook(notebook, assignment)
    known = {cell.name for cell in gradebook.find_notebook(notebook, assignment).grade_cells}
    for cell in cells:
        if cell.owned:
            gradebook.update_or_create_grade_cell(cell.name, notebook, assignment, max_score=cell.max_score,
                                                  cell_type="code")
    extra = {"timestamp": submission.timestamp} if submission.timestamp else {}
    gradebook.update_or_create_submission(assignment, student, **extra)
    for cell in cells:
        if cell.owned or cell.name in known:
            grade = _grade_row(gradebook, cell.name, notebook, assignment, student)
            grade.auto_score = cell.score
            grade.needs_manual_grade = grade.manual_score is not None
    gradebook.db.commit()


def _grade_row(gradebook, cell_name: str, notebook: str, assignment: str, student: str):
    """The student's Grade of a grade cell, created when the cell was added after the submission."""
    from nbgrader.api import Grade, MissingEntry
    from nbgrader.api import SubmittedNotebook as NbgraderSubmittedNotebook

    try:
        return gradebook.find_grade(cell_name, notebook, assignment, student)
    except MissingEntry:
        pass
    try:
        submitted = gradebook.find_submission_notebook(notebook, assignment, student)
    except MissingEntry:
        submitted = NbgraderSubmittedNotebook(notebook=gradebook.find_notebook(notebook, assignment),
                                              assignment=gradebook.find_submission(assignment, student))
        gradebook.db.add(submitted)
    grade = Grade(cell_id=gradebook.find_grade_cell(cell_name, notebook, assignment).id, notebook=submitted)
    gradebook.db.add(grade)
    gradebook.db.flush()
    return grade
