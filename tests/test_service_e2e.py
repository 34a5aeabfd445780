"""End to end with the real engine: `tensorgrade serve` defaults (real course, grading in a
subprocess per notebook), the bundled notebooks submitted with `tensorgrade submit`."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest
from notebook_tools import notebook_with_cells, solved_notebook
from service_fixtures import Server, upload, wait_for

from autograder.registry import get_rubric, resolve

pytestmark = pytest.mark.slow

SLUG = "prompt_encoder"  # the quickest bundled assignment to grade


@pytest.fixture(scope="module")
def real_server(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("e2e"), env={"TENSORGRADE_WORKERS": "2"}).start()
    instructor = server.add_user("prof", "instructor")
    student = server.add_user("student1", "student")
    yield server, instructor, student
    server.stop()


def _wrong_choice() -> tuple[str, list[str]]:
    """A multiple-choice answer the rubric links to misconceptions, and those ids."""
    check = next(check for check in get_rubric(SLUG).checks if check.wrong_options)
    letter, ids = next(iter(check.wrong_options.items()))
    return f"{check.variable} = {letter!r}", ids


def test_bundled_notebook_submitted_with_the_cli_is_graded(real_server, tmp_path):
    server, _, student_token = real_server
    out = tmp_path / "report.json"
    notebook = resolve(get_rubric(SLUG).notebook)
    result = server.cli(
        "submit",
        str(notebook),
        "--assignment",
        SLUG,
        "--server",
        server.url,
        "--token",
        student_token,
        "--json",
        str(out),
    )
    report = json.loads(out.read_text())
    assert report["score"] == 0 and report["max_score"] > 0  # the stubs raise NotImplementedError
    assert f"score 0 / {report['max_score']:g}" in result.stdout
    assert report["view"] == "student" and report["hidden"]["tests"] > 0
    assert all(test["visible"] for test in report["tests"])
    assert {test["status"] for test in report["tests"]} <= {"not_implemented", "failed", "error"}


def test_full_marks_and_misconception_counts_move(real_server):
    server, instructor_token, student_token = real_server
    student, instructor = server.client(student_token), server.client(instructor_token)
    wrong_answer, expected_ids = _wrong_choice()

    def counts() -> dict[str, int]:
        stats = instructor.get("/api/analytics/misconceptions", params={"assignment": SLUG}).json()
        return {stat["id"]: stat["submissions"] for stat in stats["planned"] + stats["implementation"]}

    before = counts()
    notebooks = [solved_notebook(SLUG), notebook_with_cells(SLUG, [wrong_answer])]
    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(lambda nb: upload(student, SLUG, nbformat.writes(nb).encode()), notebooks))
    assert [response.status_code for response in responses] == [202, 202]
    solved, wrong = (wait_for(student, response.json()["id"], timeout_s=240) for response in responses)

    assert solved["status"] == "graded" and solved["score"] == solved["max_score"] > 0, solved
    assert wrong["status"] == "graded" and wrong["score"] < wrong["max_score"]
    assert set(expected_ids) <= set(wrong["misconceptions"])
    after = counts()
    for misconception_id in expected_ids:
        assert after.get(misconception_id, 0) == before.get(misconception_id, 0) + 1

    drill = instructor.get(f"/api/analytics/misconceptions/{expected_ids[0]}/submissions").json()
    assert wrong["id"] in {item["submission_id"] for item in drill["items"]}

    full = instructor.get(f"/api/submissions/{solved['id']}/report").json()
    shown = student.get(f"/api/submissions/{solved['id']}/report").json()
    hidden_names = {test["name"] for test in full["tests"] if not test["visible"]}
    assert hidden_names and not hidden_names & {test["name"] for test in shown["tests"]}
    assert shown["hidden"]["tests"] == len(hidden_names) and shown["hidden"]["passed"] == len(hidden_names)

    results = instructor.get(f"/api/submissions/{solved['id']}/gradescope").json()
    assert results["score"] == solved["score"] and len(results["tests"]) == len(full["tests"])
    gradebook = instructor.get("/api/export/gradebook.csv").text.splitlines()
    assert SLUG in gradebook[0].split(",") and gradebook[1].startswith("student1,")
