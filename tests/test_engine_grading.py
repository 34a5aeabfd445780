"""The engine end to end on the synthetic toy course (no course content involved)."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.grading import grade
from autograder.notebook import NotebookError
from autograder.registry import UnknownAssignment

SOLUTION = (Path(__file__).parent / "fixtures" / "toycourse" / "solutions" / "toy.py").read_text()


def _notebook(tmp_path: Path, *sources: str) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# toy"), nbformat.v4.new_code_cell("%matplotlib inline\nimport torch")]
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    path = tmp_path / "toy.ipynb"
    nbformat.write(notebook, str(path))
    return path


def test_reference_scores_full_marks_and_flags_nothing(toy_course, tmp_path):
    report = grade(_notebook(tmp_path, SOLUTION, "check_answer = 4\nmcq_pick = 'b'"), "toy")
    assert report.score == report.max_score == 10
    assert {t.target for t in report.timing} == {"row_norms", "outer_sum"}
    assert {t.status for t in report.tests} == {"passed"}
    assert report.misconceptions == []
    assert "test_skipped_is_not_reported" not in {t.name for t in report.tests}


def test_stub_notebook_scores_zero_with_not_implemented(toy_course, tmp_path):
    stub = "def scale(x, factor):\n    raise NotImplementedError()\n"
    report = grade(_notebook(tmp_path, stub), "toy")
    assert report.score == 0
    statuses = {t.target: t.status for t in report.tests}
    assert statuses["scale"] == "not_implemented" and statuses["sum_rows"] == "not_implemented"
    assert statuses["check:answer"] == "not_implemented"
    assert report.misconceptions == []


def test_wrong_variant_fails_its_target_and_carries_ids(toy_course, tmp_path):
    wrong = SOLUTION + "\ndef sum_rows(x):\n    return x.sum(dim=0)\n"
    report = grade(_notebook(tmp_path, wrong, "check_answer = 3\nmcq_pick = 'a'"), "toy")
    assert report.failing_targets() == {"sum_rows", "check:answer", "check:mcq"}
    assert report.misconception_ids() == {"impl.toy.wrong-axis", "toy.counting"}
    hit = next(h for h in report.misconceptions if h.id == "impl.toy.wrong-axis")
    assert hit.planned is False and hit.remedy == "rows are dim 1" and "sums over the wrong axis" in hit.feedback
    assert "column sums" not in hit.feedback  # what a hidden test saw never reaches feedback
    planned = next(h for h in report.misconceptions if h.id == "toy.counting")
    assert planned.planned is True and set(planned.evidence) == {"check_answer", "check_mcq"}
    assert "answered 3" in planned.feedback  # visible evidence is quoted
    message = next(t.message for t in report.tests if t.target == "sum_rows")
    assert "max abs error" in message


def test_crashing_and_failing_cells_do_not_stop_grading(toy_course, tmp_path):
    report = grade(_notebook(tmp_path, "raise RuntimeError('half-finished cell')", SOLUTION, "check_answer = 4\nmcq_pick = 'b'"), "toy")
    assert report.score == report.max_score
    assert [(c.cell_index, c.status) for c in report.cells] == [(2, "error")]
    assert "half-finished cell" in report.cells[0].message


def test_unreadable_notebook_and_unknown_assignment_raise(toy_course, tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(NotebookError):
        grade(bad, "toy")
    with pytest.raises(UnknownAssignment):
        grade(_notebook(tmp_path, SOLUTION), "nope")


def test_cli_writes_json_and_exits_zero_even_for_a_zero_score(toy_course, tmp_path):
    out = tmp_path / "report.json"
    result = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", str(_notebook(tmp_path, "x = 1")),
                             "--assignment", "toy", "--json", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["score"] == 0 and report["assignment"] == "toy"
    for field in ("max_score", "grader_version", "environment", "tests", "misconceptions", "timing"):
        assert field in report
    assert set(report["environment"]) >= {"device", "torch", "python"}
    assert "Assignment" in result.stdout


def test_cli_fails_with_one_line_reason_for_unreadable_notebook(toy_course, tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_bytes(b"\x00\x01")
    result = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", str(bad), "--assignment", "toy"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1 and "cannot grade" in result.stderr


def test_a_broken_suite_is_a_grader_error_not_a_low_score(toy_course, tmp_path):
    from autograder.grading import SuiteError

    with pytest.raises(SuiteError, match="failed to load"):
        grade(_notebook(tmp_path, SOLUTION, "check_answer = 4"), "toy_broken")
    result = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", str(_notebook(tmp_path, SOLUTION)),
                             "--assignment", "toy_broken"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 3 and "grader error" in result.stderr
