"""`tensorgrade grade-batch` on an nbgrader exchange: reports, gradebook CSVs, bad notebooks, and
the scores pushed into a real nbgrader gradebook database, read back through nbgrader's API.

The batch is small on purpose (three notebooks are graded; grading takes seconds each): alice
solved mask_losses and prompt_encoder, bob handed in the untouched mask_losses stubs, carol's
notebook is not JSON, and alice also has a folder for an assignment tensorgrade does not know.
mask_losses was released with `nbgrader generate_assignment` (so the gradebook already knows its
public test cells); prompt_encoder is unknown to the gradebook until the push creates it.
"""

from __future__ import annotations

import csv
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.batch import (BatchResult, ExchangeSubmission, find_submissions, grade_batch, parse_assignment_options,
                              public_test_targets, push_to_gradebook)
from autograder.cli import main
from autograder.registry import get_rubric, resolve
from autograder.report import GradeReport
from nbgrader_tools import add_source, gradebook_url, make_course, nbgrader_env, run_nbgrader
from notebook_tools import solved_notebook, stub_notebook, write_notebook

SEED = 7
TIMESTAMP = "2026-03-02 09:30:00.000000 UTC"


def submit(course: Path, student: str, assignment: str, notebook, name: str | None = None) -> Path:
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"{assignment}.ipynb")
    if isinstance(notebook, str):
        path.write_text(notebook, encoding="utf-8")
    else:
        write_notebook(notebook, path)
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("course"))
    add_source(course, "mask_losses")
    run_nbgrader(course, "generate_assignment", "mask_losses")
    submit(course, "alice", "mask_losses", solved_notebook("mask_losses"))
    (course / "submitted" / "alice" / "mask_losses" / "timestamp.txt").write_text(TIMESTAMP, encoding="utf-8")
    submit(course, "alice", "prompt_encoder", solved_notebook("prompt_encoder"))
    submit(course, "alice", "homework9", stub_notebook("mask_losses"))
    submit(course, "bob", "mask_losses", stub_notebook("mask_losses"))
    submit(course, "carol", "mask_losses", '{"cells": [')
    out = course / "graded"
    code = main(["grade-batch", str(course), "--out", str(out), "--nbgrader-db", gradebook_url(course),
                 "--seed", str(SEED)])
    return {"course": course, "out": out, "code": code}


def report(run, student: str, assignment: str) -> GradeReport:
    return GradeReport.model_validate_json((run["out"] / student / f"{assignment}.json").read_text(encoding="utf-8"))


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def target_totals(graded: GradeReport) -> dict[str, tuple[float, float]]:
    totals: dict[str, list[float]] = {}
    for test in graded.tests:
        pair = totals.setdefault(test.target, [0.0, 0.0])
        pair[0] += test.score
        pair[1] += test.max_score
    return {target: (score, maximum) for target, (score, maximum) in totals.items()}


# ---- reports and CSVs ----------------------------------------------------------------------------

def test_one_report_per_graded_submission(run):
    assert run["code"] == 0
    written = sorted(str(path.relative_to(run["out"])) for path in run["out"].rglob("*.json"))
    assert written == ["alice/mask_losses.json", "alice/prompt_encoder.json", "bob/mask_losses.json"]
    for assignment in ("mask_losses", "prompt_encoder"):
        solved = report(run, "alice", assignment)
        assert solved.assignment == assignment and solved.grading_seed == SEED
        assert solved.score == solved.max_score > 0
    stubs = report(run, "bob", "mask_losses")
    assert stubs.score == 0 and stubs.max_score == report(run, "alice", "mask_losses").max_score
    assert {test.status for test in stubs.code_tests()} == {"not_implemented"}


def test_gradebook_csv_has_one_row_per_student_and_one_column_per_assignment(run):
    rows = {row["student"]: row for row in read_csv(run["out"] / "gradebook.csv")}
    assert list(rows) == ["alice", "bob", "carol"]
    assert list(rows["alice"]) == ["student", "homework9", "mask_losses", "prompt_encoder", "total", "problems"]
    alice_total = report(run, "alice", "mask_losses").score + report(run, "alice", "prompt_encoder").score
    assert float(rows["alice"]["mask_losses"]) == report(run, "alice", "mask_losses").score
    assert float(rows["alice"]["total"]) == pytest.approx(alice_total)
    assert rows["alice"]["homework9"] == "" and "homework9: unknown assignment 'homework9'" in rows["alice"]["problems"]
    assert float(rows["bob"]["mask_losses"]) == 0 and rows["bob"]["prompt_encoder"] == ""
    assert rows["carol"]["mask_losses"] == "" and "not valid JSON" in rows["carol"]["problems"]


def test_submissions_csv_gives_bad_notebooks_a_row_with_the_reason(run):
    rows = {(row["student"], row["assignment"]): row for row in read_csv(run["out"] / "submissions.csv")}
    assert len(rows) == 5
    assert rows[("carol", "mask_losses")]["status"] == "not graded"
    assert "not valid JSON" in rows[("carol", "mask_losses")]["reason"]
    assert rows[("alice", "homework9")]["status"] == "not graded"
    graded = rows[("alice", "prompt_encoder")]
    assert graded["status"] == "graded" and graded["report"] == "alice/prompt_encoder.json"
    assert float(graded["score"]) == float(graded["max_score"]) == report(run, "alice", "prompt_encoder").max_score


def test_progress_bar_counts_every_submission(tmp_path, capsys):
    course = tmp_path / "course"
    submit(course, "dana", "mask_losses", "not a notebook")
    submit(course, "erin", "mask_losses", "[]")
    assert main(["grade-batch", str(course / "submitted"), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "grading" in err and "2/2" in err and "2 not graded" in err


def test_a_grader_crash_is_recorded_and_the_batch_goes_on(tmp_path):
    course = tmp_path / "course"
    for student in ("ann", "ben", "cat"):
        submit(course, student, "mask_losses", stub_notebook("mask_losses"))
    graded = []

    def flaky_grade(path, slug, seed=None):
        if "ben" in str(path):
            raise RuntimeError("worker vanished")
        graded.append(path)
        return _empty_report(slug)

    batch = grade_batch(course, tmp_path / "out", grade_fn=flaky_grade)
    assert [result.submission.student for result in batch.results] == ["ann", "ben", "cat"]
    assert [result.problem for result in batch.results] == ["", "grader error: RuntimeError: worker vanished", ""]
    assert len(graded) == 2 and (tmp_path / "out" / "cat" / "mask_losses.json").is_file()


def _empty_report(slug: str) -> GradeReport:
    return GradeReport(assignment=slug, score=0, max_score=0, grader_version="test",
                       environment={"device": "cpu", "torch": "-", "python": "-"}, tests=[], misconceptions=[])


# ---- the exchange layout -------------------------------------------------------------------------

def test_assignment_options_select_and_rename(tmp_path):
    course = tmp_path / "course"
    submit(course, "ann", "ps1", stub_notebook("mask_losses"), name="mask_losses.ipynb")
    submit(course, "ann", "ps2", stub_notebook("prompt_encoder"), name="prompt_encoder.ipynb")
    found = find_submissions(course, parse_assignment_options(["ps1=mask_losses"]))
    assert [(s.student, s.assignment, s.slug, s.notebook.name) for s in found] == [("ann", "ps1", "mask_losses",
                                                                                     "mask_losses.ipynb")]
    assert parse_assignment_options(["siglip", "a=b"]) == {"siglip": "siglip", "a": "b"}
    assert parse_assignment_options(None) is None


def test_notebook_is_the_released_name_or_the_only_notebook(tmp_path):
    course = tmp_path / "course"
    submit(course, "ann", "mask_losses", stub_notebook("mask_losses"), name="Assignment 1.ipynb")
    submit(course, "ben", "mask_losses", stub_notebook("mask_losses"), name="a.ipynb")
    submit(course, "ben", "mask_losses", stub_notebook("mask_losses"), name="b.ipynb")
    (course / "submitted" / "ann" / "mask_losses" / ".ipynb_checkpoints").mkdir()
    ann, ben = find_submissions(course)
    assert ann.notebook.name == "Assignment 1.ipynb" and not ann.problem
    assert ben.notebook is None
    assert ben.problem == "expected mask_losses.ipynb in the submission, found a.ipynb, b.ipynb"


def test_public_test_cells_map_to_the_function_defined_above_them():
    notebook = nbformat.read(str(resolve(get_rubric("mask_losses").notebook)), as_version=4)
    targets = public_test_targets(notebook)
    assert targets == {"focal-tests": ["sigmoid_focal_loss"], "dice-tests": ["dice_loss"],
                       "iou-tests": ["mask_iou"], "multi-tests": ["multimask_loss"]}


# ---- the nbgrader gradebook ----------------------------------------------------------------------

def public_points(notebook_path: Path) -> dict[str, float]:
    notebook = nbformat.read(str(notebook_path), as_version=4)
    return {cell.metadata["nbgrader"]["grade_id"]: float(cell.metadata["nbgrader"]["points"])
            for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade")}


def test_scores_appear_in_the_nbgrader_gradebook(run):
    points = public_points(resolve(get_rubric("mask_losses").notebook))
    with Gradebook(gradebook_url(run["course"]), course_id="") as gradebook:
        assert sorted(student.id for student in gradebook.students) == ["alice", "bob"]
        for student, solved in (("alice", True), ("bob", False)):
            expected = report(run, student, "mask_losses")
            notebook = gradebook.find_submission_notebook("mask_losses", "mask_losses", student)
            grades = {grade.name: (grade.auto_score, grade.max_score) for grade in notebook.grades}
            for target, (score, maximum) in target_totals(expected).items():
                name = "tensorgrade-" + target.replace("check:", "check-")
                assert grades[name] == (pytest.approx(score), pytest.approx(maximum))
            for cell, cell_points in points.items():
                assert grades[cell] == ((cell_points if solved else 0.0), cell_points)
            assert not any(grade.needs_manual_grade for grade in notebook.grades)
            public_earned = sum(points.values()) if solved else 0.0
            submission = gradebook.find_submission("mask_losses", student)
            assert submission.score == pytest.approx(expected.score + public_earned)
            assert submission.max_score == pytest.approx(expected.max_score + sum(points.values()))
        stamp = gradebook.find_submission("mask_losses", "alice").timestamp
        assert str(stamp).startswith("2026-03-02 09:30:00")


def test_push_creates_assignments_the_gradebook_did_not_know(run):
    expected = report(run, "alice", "prompt_encoder")
    with Gradebook(gradebook_url(run["course"]), course_id="") as gradebook:
        notebook = gradebook.find_notebook("prompt_encoder", "prompt_encoder")
        assert all(cell.name.startswith("tensorgrade-") for cell in notebook.grade_cells)
        assert len(notebook.grade_cells) == len(target_totals(expected))
        submission = gradebook.find_submission("prompt_encoder", "alice")
        assert submission.score == pytest.approx(expected.score)
        assert submission.max_score == pytest.approx(expected.max_score)


def test_pushing_again_updates_in_place_and_keeps_manual_scores(run, tmp_path):
    """A second push (say after a regrade) neither duplicates cells nor overrides a human grader."""
    course, url = run["course"], gradebook_url(run["course"])
    with Gradebook(url, course_id="") as gradebook:
        cells_before = len(gradebook.find_notebook("mask_losses", "mask_losses").grade_cells)
        grade = gradebook.find_grade("tensorgrade-sigmoid_focal_loss", "mask_losses", "mask_losses", "bob")
        grade.manual_score = 5.0
        gradebook.db.commit()
    bob = report(run, "bob", "mask_losses")
    submission = ExchangeSubmission("bob", "mask_losses", "mask_losses", course / "submitted" / "bob" / "mask_losses",
                                   course / "submitted" / "bob" / "mask_losses" / "mask_losses.ipynb")
    assert push_to_gradebook(url, [BatchResult(submission, report=bob)]) == 1
    with Gradebook(url, course_id="") as gradebook:
        assert len(gradebook.find_notebook("mask_losses", "mask_losses").grade_cells) == cells_before
        grade = gradebook.find_grade("tensorgrade-sigmoid_focal_loss", "mask_losses", "mask_losses", "bob")
        assert (grade.manual_score, grade.auto_score, grade.needs_manual_grade) == (5.0, 0.0, True)
        assert gradebook.find_submission("mask_losses", "bob").score == pytest.approx(5.0)


def test_push_into_a_fresh_database(run, tmp_path):
    """No nbgrader course at all: the push creates the database and everything in it."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    alice = report(run, "alice", "mask_losses")
    submission = ExchangeSubmission("alice", "mask_losses", "mask_losses", tmp_path,
                                   tmp_path / "mask_losses.ipynb")
    push_to_gradebook(url, [BatchResult(submission, report=alice)])
    with Gradebook(url, course_id="") as gradebook:
        assert [student.id for student in gradebook.students] == ["alice"]
        found = gradebook.find_submission("mask_losses", "alice")
        assert (found.score, found.max_score) == (pytest.approx(alice.score), pytest.approx(alice.max_score))
        assert gradebook.submission_dicts("mask_losses")[0]["needs_manual_grade"] is False


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # raised inside nbgrader's add_submission
def test_push_after_nbgrader_recorded_the_submission(run, tmp_path, monkeypatch):
    """The submission exists already (say `nbgrader autograde` ran first) but its notebook and the
    tensorgrade cells do not: the push adds them and the grades of the new cells."""
    monkeypatch.setenv("PATH", nbgrader_env()["PATH"])  # a new nbgrader database runs `alembic`
    url = f"sqlite:///{tmp_path / 'existing.db'}"
    with Gradebook(url, course_id="") as gradebook:
        gradebook.add_assignment("mask_losses")
        gradebook.add_student("alice")
        gradebook.add_submission("mask_losses", "alice")
    alice = report(run, "alice", "mask_losses")
    submission = ExchangeSubmission("alice", "mask_losses", "mask_losses", tmp_path, tmp_path / "mask_losses.ipynb")
    push_to_gradebook(url, [BatchResult(submission, report=alice)])
    with Gradebook(url, course_id="") as gradebook:
        grades = gradebook.find_submission_notebook("mask_losses", "mask_losses", "alice").grades
        assert len(grades) == len(target_totals(alice))
        assert gradebook.find_submission("mask_losses", "alice").score == pytest.approx(alice.score)
