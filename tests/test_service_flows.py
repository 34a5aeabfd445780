"""The service's flows for each role, against a real server process with a fake grader."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import datetime, timezone

from service_fixtures import (  # noqa: F401  (fixtures)
    FAKE_MAX_SCORE,
    IMPL_ID,
    OTHER_PLANNED_ID,
    PLANNED_ID,
    Classroom,
    classroom,
    fake_notebook,
    fake_server,
    now_plus,
    upload,
    wait_for,
)

HIDDEN = {"test_hidden_gradient", "test_hidden_property"}
ALL_TESTS = {"test_visible_shape", "test_visible_value", "check:answer"} | HIDDEN


def _gradebook(client) -> list[dict[str, str]]:
    response = client.get("/api/export/gradebook.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


# --- students ----------------------------------------------------------------------------


def test_student_submission_is_queued_then_graded_and_the_report_hides_hidden_test_details(classroom: Classroom):
    _, student = classroom.user("student")
    response = upload(
        student,
        "alpha",
        fake_notebook(
            failing=["test_visible_value", "test_hidden_gradient"],
            flags={"test_visible_value": [IMPL_ID], "test_hidden_gradient": [PLANNED_ID]},
            sleep_s=0.3,
        ),
    )
    assert response.status_code == 202
    accepted = response.json()
    assert accepted["status"] in ("queued", "running") and accepted["score"] is None

    graded = wait_for(student, accepted["id"])
    assert graded["status"] == "graded"
    assert graded["score"] == FAKE_MAX_SCORE - 2 - 2 and graded["max_score"] == FAKE_MAX_SCORE
    assert graded["misconceptions"] == sorted([IMPL_ID, PLANNED_ID])

    report = student.get(f"/api/submissions/{accepted['id']}/report").json()
    assert report["view"] == "student" and not report["details_released"]
    assert {test["name"] for test in report["tests"]} == ALL_TESTS - HIDDEN
    assert report["hidden"] == {"tests": 2, "passed": 1, "not_passed": 1, "score": 1.0, "max_score": 3.0}
    feedback = {hit["id"]: hit for hit in report["misconceptions"]}
    assert feedback[PLANNED_ID]["evidence"] == [] and feedback[PLANNED_ID]["hidden_evidence"] == 1
    assert feedback[PLANNED_ID]["feedback"] and feedback[PLANNED_ID]["remedy"]
    assert feedback[IMPL_ID]["evidence"] == ["test_visible_value"] and feedback[IMPL_ID]["hidden_evidence"] == 0
    assert "test_hidden_gradient" not in json.dumps(report)
    assert report["stdout_excerpt"] == ""


def test_after_release_students_see_every_test(classroom: Classroom):
    _, student = classroom.user("student")
    graded = classroom.graded(
        student, "beta", failing=["test_hidden_gradient"], flags={"test_hidden_gradient": [PLANNED_ID]}
    )
    report = student.get(f"/api/submissions/{graded['id']}/report").json()
    assert report["view"] == "full" and report["details_released"] and report["hidden"] is None
    assert {test["name"] for test in report["tests"]} == ALL_TESTS
    assert report["misconceptions"][0]["evidence"] == ["test_hidden_gradient"]


def test_students_list_only_their_own_submissions_and_can_resubmit(classroom: Classroom):
    name, student = classroom.user("student")
    _, other = classroom.user("student")
    classroom.graded(other, "alpha")
    first = classroom.graded(student, "alpha", failing=["test_visible_shape"])
    second = classroom.graded(student, "alpha")
    page = student.get("/api/submissions").json()
    assert [item["id"] for item in page["items"]] == [second["id"], first["id"]] and page["total"] == 2
    assert {item["student"] for item in page["items"]} == {name}
    assert student.get("/api/submissions", params={"student": "prof"}).json()["total"] == 0
    assert second["score"] == FAKE_MAX_SCORE and first["score"] == FAKE_MAX_SCORE - 1


def test_notebook_download_returns_the_uploaded_bytes(classroom: Classroom):
    _, student = classroom.user("student")
    data = fake_notebook()
    submission = upload(student, "alpha", data, filename="my work.ipynb").json()
    response = student.get(f"/api/submissions/{submission['id']}/notebook")
    assert response.status_code == 200 and response.content == data
    assert 'filename="mywork.ipynb"' in response.headers["content-disposition"]


def test_grading_failures_end_as_error_with_the_reason(classroom: Classroom):
    _, student = classroom.user("student")
    unreadable = classroom.graded(student, "alpha", raise_error="notebook")
    assert unreadable["status"] == "error" and "cannot be read" in unreadable["error"]
    crashed = classroom.graded(student, "alpha", raise_error="crash")
    assert crashed["status"] == "error" and "RuntimeError" in crashed["error"]
    response = student.get(f"/api/submissions/{crashed['id']}/report")
    assert response.status_code == 409
    assert response.json()["code"] == "not_graded" and response.json()["status"] == "error"


# --- teaching assistants -----------------------------------------------------------------


def test_ta_filters_submissions_and_opens_full_reports(classroom: Classroom):
    _, ta = classroom.user("ta")
    name, student = classroom.user("student")
    weak = classroom.graded(
        student,
        "alpha",
        failing=["test_hidden_gradient", "test_visible_value"],
        flags={"test_hidden_gradient": [OTHER_PLANNED_ID]},
    )
    strong = classroom.graded(student, "alpha")

    def ids(**params) -> list[int]:
        response = ta.get("/api/submissions", params={"student": name, **params})
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert ids() == [strong["id"], weak["id"]]
    assert ids(misconception=OTHER_PLANNED_ID) == [weak["id"]]
    assert ids(max_score=FAKE_MAX_SCORE - 1) == [weak["id"]]
    assert ids(min_score=FAKE_MAX_SCORE) == [strong["id"]]
    assert ids(status="error") == []
    assert ids(assignment="beta") == []
    assert ids(limit=1, offset=1) == [weak["id"]]

    report = ta.get(f"/api/submissions/{weak['id']}/report").json()
    assert report["view"] == "full" and report["student"] == name
    assert {test["name"] for test in report["tests"]} == ALL_TESTS
    failing = {test["name"]: test for test in report["tests"] if test["status"] != "passed"}
    assert "expected 1.0, got -1.0" in failing["test_hidden_gradient"]["message"]
    assert report["stdout_excerpt"] == "printed by the student"


def test_override_changes_the_counted_score_and_is_audited(classroom: Classroom):
    _, ta = classroom.user("ta")
    name, student = classroom.user("student")
    graded = classroom.graded(student, "delta", failing=["test_visible_value"])
    path = f"/api/submissions/{graded['id']}/override"

    changed = ta.post(path, json={"score": 6.5, "comment": "partial credit for the derivation"})
    assert changed.status_code == 200
    body = changed.json()
    assert body["effective_score"] == 6.5 and body["score"] == FAKE_MAX_SCORE - 2
    assert body["override"]["comment"] == "partial credit for the derivation" and body["override"]["by"].startswith(
        "ta-"
    )
    assert student.get(f"/api/submissions/{graded['id']}").json()["effective_score"] == 6.5
    row = next(row for row in _gradebook(ta) if row["student"] == name)
    assert float(row["delta"]) == 6.5

    too_high = ta.post(path, json={"score": FAKE_MAX_SCORE + 1, "comment": "typo"})
    assert too_high.status_code == 422 and too_high.json()["code"] == "score_out_of_range"
    assert ta.post(path, json={"score": 1.0, "comment": ""}).status_code == 422

    removed = ta.post(path, json={"score": None, "comment": "back to the grader's score"})
    assert removed.json()["override"] is None and removed.json()["effective_score"] == FAKE_MAX_SCORE - 2

    events = ta.get("/api/audit", params={"submission_id": graded["id"]}).json()
    assert [event["action"] for event in events] == ["override_removed", "override"]
    assert events[1]["detail"] == {
        "previous_override": None,
        "new_override": 6.5,
        "grader_score": FAKE_MAX_SCORE - 2,
        "comment": "partial credit for the derivation",
    }
    assert events[0]["detail"]["previous_override"] == 6.5 and events[0]["actor"] == body["override"]["by"]


def test_regrade_one_and_all_grades_again(classroom: Classroom):
    _, ta = classroom.user("ta")
    _, student = classroom.user("student")
    first = classroom.graded(student, "gamma")
    second = classroom.graded(student, "gamma", failing=["test_visible_shape"])

    again = ta.post(f"/api/submissions/{first['id']}/regrade")
    assert again.status_code == 202 and again.json()["status"] in ("queued", "running", "graded")
    regraded = wait_for(ta, first["id"])
    assert regraded["status"] == "graded" and regraded["score"] == FAKE_MAX_SCORE
    assert regraded["graded_at"] > first["graded_at"]

    everything = ta.post("/api/assignments/gamma/regrade")
    assert everything.status_code == 202
    assert {first["id"], second["id"]} <= set(everything.json()["queued"])
    assert wait_for(ta, second["id"])["score"] == FAKE_MAX_SCORE - 1
    regrades = ta.get("/api/audit", params={"submission_id": first["id"], "action": "regrade"}).json()
    assert len(regrades) == 2
    assert ta.post("/api/assignments/nope/regrade").status_code == 404


def test_gradescope_results_json_follows_the_schema(classroom: Classroom):
    _, ta = classroom.user("ta")
    _, student = classroom.user("student")
    graded = classroom.graded(
        student, "alpha", failing=["test_hidden_property"], flags={"test_hidden_property": [PLANNED_ID]}
    )
    results = ta.get(f"/api/submissions/{graded['id']}/gradescope").json()
    assert set(results) >= {"score", "execution_time", "output", "visibility", "stdout_visibility", "tests"}
    assert results["score"] == graded["score"]
    assert sum(test["score"] for test in results["tests"]) == results["score"]
    for test in results["tests"]:
        assert set(test) >= {"score", "max_score", "name", "output", "visibility", "status"}
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
    by_name = {test["name"]: test for test in results["tests"]}
    assert by_name["test_hidden_property"]["visibility"] == "after_published"
    assert (
        by_name["test_hidden_property"]["status"] == "failed" and PLANNED_ID in by_name["test_hidden_property"]["tags"]
    )
    assert by_name["test_visible_shape"]["visibility"] == "visible"
    assert PLANNED_ID in results["output"]


def test_gradebook_has_one_row_per_student_with_the_counting_submission(classroom: Classroom):
    _, ta = classroom.user("ta")
    name, student = classroom.user("student")
    silent, _ = classroom.user("student")
    best = classroom.graded(student, "delta")
    latest = classroom.graded(student, "delta", failing=["test_visible_value", "test_visible_shape"])

    rows = _gradebook(ta)
    header = list(rows[0])
    assert header[:3] == ["student", "full_name", "email"] and header[-2:] == ["total", "total_max"]
    for slug in ("alpha", "beta", "gamma", "delta"):
        assert [slug, f"{slug}_max", f"{slug}_submission", f"{slug}_late_days"] == header[
            header.index(slug) : header.index(slug) + 4
        ]
    students = [row["student"] for row in rows]
    assert (
        len(students) == len(set(students))
        and "prof" not in students
        and not any(s.startswith("ta-") for s in students)
    )
    mine = next(row for row in rows if row["student"] == name)
    assert int(mine["delta_submission"]) == latest["id"] and float(mine["delta"]) == FAKE_MAX_SCORE - 3
    assert mine["alpha"] == "" and float(mine["total"]) == FAKE_MAX_SCORE - 3
    nothing = next(row for row in rows if row["student"] == silent)
    assert nothing["delta"] == nothing["delta_submission"] == "" and float(nothing["total"]) == 0
    assert float(nothing["delta_max"]) == FAKE_MAX_SCORE

    classroom.instructor.patch("/api/assignments/delta", json={"counting": "best"}).raise_for_status()
    try:
        mine = next(row for row in _gradebook(ta) if row["student"] == name)
        assert int(mine["delta_submission"]) == best["id"] and float(mine["delta"]) == FAKE_MAX_SCORE
    finally:
        classroom.instructor.patch("/api/assignments/delta", json={"counting": "latest"}).raise_for_status()


# --- instructors -------------------------------------------------------------------------


def test_misconception_analytics_count_students_and_submissions(classroom: Classroom):
    since = datetime.now(timezone.utc).isoformat()
    time.sleep(0.01)
    _, ta = classroom.user("ta")
    names, clients = zip(*(classroom.user("student") for _ in range(3)), strict=True)
    planned_flag = {"test_hidden_gradient": [PLANNED_ID]}
    classroom.graded(clients[0], "alpha", failing=["test_hidden_gradient"], flags=planned_flag)
    classroom.graded(clients[1], "alpha", failing=["test_hidden_gradient"], flags=planned_flag)
    classroom.graded(clients[1], "beta", failing=["test_hidden_gradient"], flags=planned_flag)
    classroom.graded(
        clients[2],
        "alpha",
        failing=["test_visible_value", "test_hidden_property"],
        flags={"test_visible_value": [IMPL_ID]},
    )
    classroom.graded(ta, "alpha", failing=["test_hidden_gradient"], flags=planned_flag)  # staff: not counted

    stats = classroom.instructor.get("/api/analytics/misconceptions", params={"since": since}).json()
    assert stats["graded_submissions"] == 4 and stats["students"] == 3
    planned = {stat["id"]: stat for stat in stats["planned"]}
    implementation = {stat["id"]: stat for stat in stats["implementation"]}
    assert set(planned) == {PLANNED_ID} and set(implementation) == {IMPL_ID}
    assert planned[PLANNED_ID]["submissions"] == 3 and planned[PLANNED_ID]["students"] == 2
    assert planned[PLANNED_ID]["student_share"] == round(2 / 3, 4)
    assert planned[PLANNED_ID]["statement"] == "the sigmoid loss ignores the negatives"
    assert {(a["assignment"], a["submissions"], a["students"]) for a in planned[PLANNED_ID]["by_assignment"]} == {
        ("alpha", 2, 2),
        ("beta", 1, 1),
    }
    today = datetime.now(timezone.utc).date().isoformat()
    assert planned[PLANNED_ID]["over_time"] == [{"period": today, "submissions": 3, "students": 2}]
    assert implementation[IMPL_ID]["students"] == 1 and not implementation[IMPL_ID]["planned"]
    assert "module.vlm-is-chat-llm" in stats["never_seen"] and PLANNED_ID not in stats["never_seen"]

    only_beta = classroom.instructor.get(
        "/api/analytics/misconceptions", params={"since": since, "assignment": "beta"}
    ).json()
    assert only_beta["graded_submissions"] == 1 and only_beta["implementation"] == []
    weekly = ta.get("/api/analytics/misconceptions", params={"since": since, "bucket": "week"}).json()
    week_start = weekly["planned"][0]["over_time"][0]["period"]
    assert datetime.fromisoformat(week_start).weekday() == 0

    drill = classroom.instructor.get(
        f"/api/analytics/misconceptions/{PLANNED_ID}/submissions", params={"since": since}
    ).json()
    assert drill["total"] == 3 and drill["planned"]
    assert {item["student"] for item in drill["items"]} == {names[0], names[1]}
    assert all(item["evidence"] == ["test_hidden_gradient"] for item in drill["items"])

    unmapped = classroom.instructor.get("/api/analytics/unmapped-tests", params={"since": since}).json()["items"]
    assert [(item["assignment"], item["name"], item["failures"], item["students"]) for item in unmapped] == [
        ("alpha", "test_hidden_property", 1, 1)
    ]


def test_misconception_counts_move_when_a_student_submits(classroom: Classroom):
    def count() -> int:
        stats = classroom.instructor.get("/api/analytics/misconceptions").json()
        return next((stat["submissions"] for stat in stats["planned"] if stat["id"] == OTHER_PLANNED_ID), 0)

    before = count()
    _, student = classroom.user("student")
    classroom.graded(
        student, "alpha", failing=["test_hidden_property"], flags={"test_hidden_property": [OTHER_PLANNED_ID]}
    )
    assert count() == before + 1


def test_roster_import_creates_and_updates_users(classroom: Classroom):
    roster = "name,role,full_name,email\nr-ada,student,Ada L,ada@example.org\nr-alan,ta,Alan T,\n"
    response = classroom.instructor.post("/api/roster", files={"file": ("roster.csv", roster, "text/csv")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert sorted(user["name"] for user in body["created"]) == ["r-ada", "r-alan"] and body["updated"] == []
    me = classroom.server.client(body["tokens"]["r-alan"]).get("/api/me").json()
    assert me["role"] == "ta" and me["full_name"] == "Alan T"

    changed = "name,role\nr-ada,student\nr-alan,instructor\n"
    body = classroom.instructor.post("/api/roster", files={"file": ("roster.csv", changed, "text/csv")}).json()
    assert [user["name"] for user in body["updated"]] == ["r-ada", "r-alan"] and body["tokens"] == {}

    before = len(classroom.instructor.get("/api/users").json())
    bad = "name,role\nr-new,student\nr-bad,wizard\n"
    refused = classroom.instructor.post("/api/roster", files={"file": ("roster.csv", bad, "text/csv")})
    assert (
        refused.status_code == 422
        and refused.json()["code"] == "invalid_roster"
        and "line 3" in refused.json()["detail"]
    )
    assert len(classroom.instructor.get("/api/users").json()) == before  # nothing half-imported
    no_header = classroom.instructor.post("/api/roster", files={"file": ("r.csv", "a,b\n", "text/csv")})
    assert no_header.status_code == 422


def test_open_and_due_dates_and_late_penalty(classroom: Classroom):
    _, student = classroom.user("student")
    _, ta = classroom.user("ta")
    instructor = classroom.instructor
    try:
        opened_later = instructor.patch("/api/assignments/gamma", json={"opens_at": now_plus(days=1)})
        assert opened_later.status_code == 200 and not opened_later.json()["accepting_submissions"]
        refused = upload(student, "gamma", fake_notebook())
        assert refused.status_code == 403 and refused.json()["code"] == "assignment_not_open"
        assert upload(ta, "gamma", fake_notebook()).status_code == 202  # staff may test early

        penalty = {"mode": "penalty", "penalty_per_day": 0.25, "max_late_days": 3}
        change = {"opens_at": None, "due_at": now_plus(hours=-1), "late_policy": penalty}
        assert instructor.patch("/api/assignments/gamma", json=change).json()["late_policy"] == penalty
        late = classroom.graded(student, "gamma")
        assert late["late_days"] == 1 and late["score"] == FAKE_MAX_SCORE
        assert late["effective_score"] == FAKE_MAX_SCORE * 0.75

        instructor.patch("/api/assignments/gamma", json={"due_at": now_plus(days=-4)}).raise_for_status()
        too_late = upload(student, "gamma", fake_notebook())
        assert too_late.status_code == 403 and too_late.json()["code"] == "assignment_closed"

        instructor.patch(
            "/api/assignments/gamma", json={"due_at": now_plus(hours=-1), "late_policy": {"mode": "reject"}}
        )
        assert upload(student, "gamma", fake_notebook()).json()["code"] == "assignment_closed"

        backwards = instructor.patch("/api/assignments/gamma", json={"opens_at": now_plus(days=1)})
        assert backwards.status_code == 422 and backwards.json()["code"] == "invalid_dates"
        events = instructor.get("/api/audit", params={"action": "assignment_update"}).json()
        assert events[0]["detail"]["after"]["late_mode"] == "reject"
    finally:
        instructor.patch(
            "/api/assignments/gamma", json={"opens_at": None, "due_at": None, "late_policy": {"mode": "accept"}}
        )


def test_assignment_listing(classroom: Classroom):
    _, student = classroom.user("student")
    listing = student.get("/api/assignments").json()
    assert [item["slug"] for item in listing] == ["alpha", "beta", "gamma", "delta"]
    beta = student.get("/api/assignments/beta").json()
    assert beta["release_details_at"].startswith("2020-01-01") and beta["counting"] == "latest"
    missing = student.get("/api/assignments/nope")
    assert missing.status_code == 404 and missing.json()["code"] == "unknown_assignment"


def test_health_reports_the_queue_without_a_token(fake_server):
    body = fake_server.client().get("/api/health").json()
    assert body["status"] == "ok" and body["queued"] >= 0 and body["running"] >= 0


def test_submit_command_uploads_waits_and_prints_the_feedback(classroom: Classroom, tmp_path):
    token = classroom.instructor.post("/api/users", json={"name": "cli-student", "role": "student"}).json()["token"]
    notebook = tmp_path / "work.ipynb"
    notebook.write_bytes(
        fake_notebook(failing=["test_visible_value"], flags={"test_visible_value": [IMPL_ID]}, sleep_s=0.5)
    )
    out = tmp_path / "report.json"
    server = classroom.server
    result = server.cli(
        "submit", str(notebook), "--assignment", "alpha", "--server", server.url, "--token", token, "--json", str(out)
    )
    assert "score 5 / 7" in result.stdout
    assert IMPL_ID in result.stdout and "test_visible_value" in result.stdout
    assert "hidden tests: 2 of 2 passed" in result.stdout
    saved = json.loads(out.read_text())
    assert saved["score"] == 5.0 and saved["view"] == "student"

    refused = server.cli(
        "submit", str(notebook), "--assignment", "nope", "--server", server.url, "--token", token, check=False
    )
    assert refused.returncode == 2 and "unknown_assignment" in refused.stderr
