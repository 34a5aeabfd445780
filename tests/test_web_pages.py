"""The web pages over HTTP (no browser): sign-in and CSRF, what each role may open, the
student's feedback, the TA's table, override and audit trail, the dashboard's links. Against a
real server process with the fake course and grader of service_fixtures."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from service_fixtures import (  # noqa: F401  (fixtures)
    FAKE_MAX_SCORE,
    IMPL_ID,
    PLANNED_ID,
    Classroom,
    classroom,
    fake_notebook,
    fake_server,
    upload,
    wait_for,
)
from web_tools import WebSession, parse

HIDDEN_TESTS = ("test_hidden_gradient", "test_hidden_property")
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def browser(fake_server):
    session = WebSession(fake_server.url)
    yield session
    session.close()


def token_of(client) -> str:
    return client.headers["Authorization"].removeprefix("Bearer ")


def new_user_token(classroom: Classroom, role: str, name: str | None = None) -> str:
    return token_of(classroom.user(role, name)[1])


def signed_in(server, token: str) -> WebSession:
    session = WebSession(server.url)
    assert session.sign_in(token).status_code == 303
    return session


def web_upload(session: WebSession, slug: str, data: bytes, filename: str = "work.ipynb", json: bool = False):
    headers = {"Accept": "application/json"} if json else None
    return session.post_form(
        f"/assignments/{slug}/submissions",
        {},
        form_page=f"/assignments/{slug}",
        files={"file": (filename, data, "application/x-ipynb+json")},
        headers=headers,
    )


def submission_id_from(response) -> int:
    assert response.status_code == 303, response.text[:500]
    return int(re.fullmatch(r"/submissions/(\d+)", response.headers["location"]).group(1))


# --- signing in ----------------------------------------------------------------------------


def test_signed_out_pages_send_the_browser_to_sign_in_and_back(classroom: Classroom, browser: WebSession):
    response = browser.get("/dashboard?assignment=alpha")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Fdashboard%3Fassignment%3Dalpha"
    status = browser.get("/submissions/1/status", headers={"Accept": "application/json"})
    assert status.status_code == 401 and status.json()["code"] == "unauthenticated"

    token = new_user_token(classroom, "ta", "ta-signin")
    answer = browser.sign_in(token, next_path="/dashboard?assignment=alpha")
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard?assignment=alpha"
    session_cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("tg_session="))
    assert "HttpOnly" in session_cookie and "SameSite=lax" in session_cookie
    assert browser.get("/dashboard?assignment=alpha").status_code == 200


def test_a_wrong_token_is_refused_without_a_session(browser: WebSession):
    answer = browser.sign_in("tg_not-a-real-token")
    assert answer.status_code == 401
    assert "unknown or has been revoked" in parse(answer.text).text
    assert not any(c.startswith("tg_session=") for c in answer.headers.get_list("set-cookie"))
    assert browser.get("/").status_code == 303


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"])
def test_sign_in_only_returns_to_pages_of_this_site(classroom: Classroom, browser: WebSession, target: str):
    token = new_user_token(classroom, "ta")
    assert browser.sign_in(token, next_path=target).headers["location"] == "/"


def test_forms_need_the_csrf_token_of_this_browser(classroom: Classroom, fake_server):
    _, student = classroom.user("student")
    submission = classroom.graded(student, "alpha")
    ta = signed_in(fake_server, new_user_token(classroom, "ta", "ta-csrf"))
    form = {"score": "1", "comment": "forged"}
    url = f"/submissions/{submission['id']}/override"

    missing = ta.client.post(url, data=form)
    forged = ta.client.post(url, data={**form, "csrf_token": "x" * 43})
    assert (missing.status_code, forged.status_code) == (403, 403)
    assert "did not come from this site" in parse(forged.text).text
    assert classroom.instructor.get("/api/audit", params={"submission_id": submission["id"]}).json() == []

    stranger = WebSession(fake_server.url)  # a fresh browser has no CSRF cookie at all
    assert stranger.client.post("/sign-in", data={"token": "tg_x", "csrf_token": "x" * 43}).status_code == 403


def test_sign_out_forgets_the_session(classroom: Classroom, fake_server):
    session = signed_in(fake_server, new_user_token(classroom, "ta", "ta-signout"))
    answer = session.post_form("/sign-out", {}, form_page="/")
    assert answer.status_code == 303 and answer.headers["location"] == "/sign-in"
    assert session.get("/").status_code == 303


# --- students --------------------------------------------------------------------------------


def test_student_upload_leads_to_feedback_with_misconception_remedy_and_hidden_counts(
    classroom: Classroom, fake_server
):
    student = signed_in(fake_server, new_user_token(classroom, "student"))
    notebook = fake_notebook(
        failing=["test_visible_value", "test_hidden_gradient"],
        flags={"test_visible_value": [IMPL_ID], "test_hidden_gradient": [PLANNED_ID]},
    )
    submission_id = submission_id_from(web_upload(student, "alpha", notebook))
    status = student.get(f"/submissions/{submission_id}/status").json()
    assert status["id"] == submission_id and status["url"] == f"/submissions/{submission_id}"
    wait_for(classroom.instructor, submission_id)

    page = student.page(f"/submissions/{submission_id}")
    score = FAKE_MAX_SCORE - 2 - 2
    assert f"{score:g} / {FAKE_MAX_SCORE:g}" in page.text
    for misconception in (IMPL_ID, PLANNED_ID):
        card = page.find_all("li", id=f"mc-{misconception}")[0]
        assert f"feedback for {misconception}" in card.text and f"remedy for {misconception}" in card.text
    planned_card = page.find_all("li", id=f"mc-{PLANNED_ID}")[0]
    assert "1 hidden test" in planned_card.text  # shown only by a hidden test: a count, not its name
    assert "test_visible_value failed: expected 1.0, got -1.0" in page.text
    assert "Hidden tests: 1 of 2 passed" in page.text
    for hidden in HIDDEN_TESTS:
        assert hidden not in page.text
    assert "printed by the student" not in page.text  # stdout is for staff


def test_after_release_students_see_hidden_test_details(classroom: Classroom, fake_server):
    _, client = classroom.user("student")
    submission = classroom.graded(client, "beta", failing=["test_hidden_gradient"])
    student = signed_in(fake_server, token_of(client))
    page = student.page(f"/submissions/{submission['id']}")
    assert "test_hidden_gradient failed" in page.text and "Hidden tests:" not in page.text


def test_a_refused_upload_shows_the_reason_on_the_form(classroom: Classroom, fake_server):
    student = signed_in(fake_server, new_user_token(classroom, "student"))
    refused = web_upload(student, "alpha", b"this is not json")
    assert refused.status_code == 422
    page = parse(refused.text)
    assert "not JSON" in page.find_all("p", role="alert")[0].text
    assert page.find_all("input", type="file")  # the form is there to try again

    as_json = web_upload(student, "alpha", b"{}", json=True)
    assert as_json.status_code == 422 and as_json.json()["code"] == "not_a_notebook"
    accepted = web_upload(student, "alpha", fake_notebook(), json=True)
    assert accepted.status_code == 202 and accepted.json()["status_url"].endswith("/status")


def test_students_are_kept_to_their_own_pages(classroom: Classroom, fake_server):
    _, other = classroom.user("student")
    theirs = classroom.graded(other, "alpha")
    student = signed_in(fake_server, new_user_token(classroom, "student"))

    assert student.get(f"/submissions/{theirs['id']}").status_code == 404
    assert student.get(f"/submissions/{theirs['id']}/notebook").status_code == 404
    for staff_page in ("/dashboard", "/assignments/alpha/submissions", f"/dashboard/misconceptions/{PLANNED_ID}"):
        assert student.get(staff_page).status_code == 403
    own = submission_id_from(web_upload(student, "alpha", fake_notebook()))
    refused = student.post_form(
        f"/submissions/{own}/override", {"score": "7", "comment": "mine"}, form_page=f"/submissions/{own}"
    )
    assert refused.status_code == 403
    assert student.get(f"/submissions/{own}/status").json()["effective_score"] in (None, FAKE_MAX_SCORE)


def test_text_from_the_upload_is_escaped(classroom: Classroom, fake_server):
    student = signed_in(fake_server, new_user_token(classroom, "student"))
    filename = "<img src=x onerror=alert(1)>.ipynb"  # no slash: the service keeps the name whole
    submission_id = submission_id_from(web_upload(student, "alpha", fake_notebook(), filename=filename))
    for path in (f"/submissions/{submission_id}", "/assignments/alpha"):
        markup = student.get(path).text
        assert "<img" not in markup and "&lt;img src=x onerror=alert(1)&gt;.ipynb" in markup


# --- staff ----------------------------------------------------------------------------------


def test_ta_override_with_comment_is_audited_and_changes_the_students_score(classroom: Classroom, fake_server):
    _, client = classroom.user("student")
    submission = classroom.graded(client, "alpha", failing=["test_visible_value"])
    ta = signed_in(fake_server, new_user_token(classroom, "ta", "ta-override"))
    report_url = f"/submissions/{submission['id']}"

    done = ta.post_form(
        f"{report_url}/override", {"score": "6.5", "comment": "partial credit: units were right"}, form_page=report_url
    )
    assert done.status_code == 303 and done.headers["location"].startswith(report_url)
    report = ta.page(report_url + "?done=override")
    audit_rows = [row.text for row in report.find_all("tr") if "partial credit" in row.text]
    assert len(audit_rows) == 1 and "ta-override" in audit_rows[0] and "6.5" in audit_rows[0]

    student = signed_in(fake_server, token_of(client))
    feedback = student.page(report_url)
    assert f"6.5 / {FAKE_MAX_SCORE:g}" in feedback.text and "partial credit: units were right" in feedback.text

    too_high = ta.post_form(f"{report_url}/override", {"score": "99", "comment": "typo"}, form_page=report_url)
    no_comment = ta.post_form(f"{report_url}/override", {"score": "1", "comment": " "}, form_page=report_url)
    assert (too_high.status_code, no_comment.status_code) == (422, 422)
    removed = ta.post_form(
        f"{report_url}/override", {"action": "remove", "comment": "back to the grader"}, form_page=report_url
    )
    assert removed.status_code == 303
    assert classroom.instructor.get(f"/api/submissions/{submission['id']}").json()["override"] is None


def test_ta_report_shows_every_test_and_regrade_queues_again(classroom: Classroom, fake_server):
    _, client = classroom.user("student")
    submission = classroom.graded(
        client, "alpha", failing=["test_hidden_property"], flags={"test_hidden_property": [IMPL_ID]}
    )
    ta = signed_in(fake_server, new_user_token(classroom, "ta", "ta-regrade"))
    report_url = f"/submissions/{submission['id']}"
    page = ta.page(report_url)
    assert "test_hidden_property failed" in page.text and "printed by the student" in page.text
    assert any(tag.text == "hidden" for tag in page.find_all("span", **{"class": "tag tag-hidden"}))

    assert ta.post_form(f"{report_url}/regrade", {}, form_page=report_url).status_code == 303
    assert wait_for(classroom.instructor, submission["id"])["status"] == "graded"
    audit = classroom.instructor.get("/api/audit", params={"submission_id": submission["id"]}).json()
    assert [event["action"] for event in audit] == ["regrade"] and audit[0]["actor"] == "ta-regrade"


def _table_ids(page) -> list[int]:
    return [int(link.text) for link in page.links() if re.fullmatch(r"/submissions/\d+", link.attrs["href"])]


def test_submissions_table_filters_and_sorts(classroom: Classroom, fake_server):
    _, client = classroom.user("student")
    low = classroom.graded(
        client,
        "gamma",
        failing=["test_visible_value", "test_hidden_gradient"],
        flags={"test_visible_value": [PLANNED_ID]},
    )
    high = classroom.graded(client, "gamma")
    middle = classroom.graded(client, "gamma", failing=["test_visible_shape"], flags={"test_visible_shape": [IMPL_ID]})
    ta = signed_in(fake_server, new_user_token(classroom, "ta", "ta-table"))
    base = "/assignments/gamma/submissions"

    newest_first = _table_ids(ta.page(base))
    assert newest_first[:3] == [middle["id"], high["id"], low["id"]]
    by_score = ta.page(f"{base}?sort=score&order=asc")
    assert [i for i in _table_ids(by_score) if i in {low["id"], middle["id"], high["id"]}] == [
        low["id"],
        middle["id"],
        high["id"],
    ]
    sorted_header = [th for th in by_score.find_all("th") if th.attrs.get("aria-sort")]
    assert (
        len(sorted_header) == 1
        and sorted_header[0].attrs["aria-sort"] == "ascending"
        and "Score" in sorted_header[0].text
    )

    assert _table_ids(ta.page(f"{base}?misconception={PLANNED_ID}")) == [low["id"]]
    assert _table_ids(ta.page(f"{base}?misconception={IMPL_ID}&status=graded")) == [middle["id"]]
    assert set(_table_ids(ta.page(f"{base}?min_score={FAKE_MAX_SCORE}"))) >= {high["id"]}
    assert low["id"] not in _table_ids(ta.page(f"{base}?min_score=4&max_score=abc"))  # a bad bound is ignored
    assert ta.page(f"{base}?status=running&sort=nonsense").text.count("No submission matches") == 1


# --- the dashboard --------------------------------------------------------------------------


def _chart_links(markup: str, chart_id: str) -> list[tuple[str, str]]:
    """(href, accessible name) of every link in the inline SVG chart `chart_id`."""
    svg = re.search(rf'<svg[^>]*id="{chart_id}".*?</svg>', markup, re.S).group(0)
    root = ET.fromstring(svg)  # the chart is well-formed XML
    assert root.find(f"{SVG}title") is not None and root.attrib["aria-labelledby"] == f"{chart_id}-title"
    return [(link.attrib["href"], link.attrib["aria-label"]) for link in root.iter(f"{SVG}a")]


def test_dashboard_charts_link_to_the_submissions_behind_them(classroom: Classroom, fake_server):
    _, client = classroom.user("student")
    hit = classroom.graded(client, "delta", failing=["test_visible_value"], flags={"test_visible_value": [PLANNED_ID]})
    instructor = signed_in(fake_server, new_user_token(classroom, "instructor", "prof-dashboard"))
    markup = instructor.get("/dashboard?assignment=delta").text

    bars = _chart_links(markup, "chart-students")
    assert [label.split(",")[0] for _, label in bars] == [PLANNED_ID]
    assert "planned: 1 students" in bars[0][1]
    cells = _chart_links(markup, "chart-heat")
    assert len(cells) == 1 and "in delta: 1 students" in cells[0][1]
    points = _chart_links(markup, "chart-trend")
    assert len(points) == 1 and "since=" in points[0][0] and "until=" in points[0][0]

    for href, _ in (bars[0], cells[0], points[0]):
        drill = instructor.page(href.replace("&amp;", "&"))
        assert f"/submissions/{hit['id']}" in [link.attrs["href"] for link in drill.links()]
        assert "1 graded student submission" in drill.text


def test_dashboard_lists_failing_tests_without_a_misconception(classroom: Classroom, fake_server):
    _, client = classroom.user("student")
    unexplained = classroom.graded(client, "delta", failing=["test_hidden_property"])
    instructor = signed_in(fake_server, new_user_token(classroom, "instructor", "prof-unmapped"))
    page = instructor.page("/dashboard?assignment=delta")
    rows = [row for row in page.find_all("tr") if "test_hidden_property" in row.text]
    assert len(rows) == 1
    assert f"/submissions/{unexplained['id']}" in [link.attrs["href"] for link in page.links()]


# --- what every page carries ---------------------------------------------------------------


def test_pages_forbid_foreign_content_and_assets_are_local(browser: WebSession):
    response = browser.get("/sign-in")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    page = parse(response.text)
    assets = [e.attrs.get("href") or e.attrs.get("src") for e in page.elements if e.tag in ("link", "script")]
    assert assets and all(asset.startswith("/assets/") for asset in assets)
    for asset in assets:
        answer = browser.get(asset)
        assert answer.status_code == 200 and answer.text
    assert ".code .k" in browser.get("/assets/code.css").text  # Pygments' keyword colour
    landmarks = {e.tag for e in page.elements} & {"header", "main", "footer"}
    assert landmarks == {"header", "main", "footer"}
    labelled = {e.attrs["for"] for e in page.find_all("label")}
    assert {e.attrs["id"] for e in page.find_all("input") if e.attrs.get("type") != "hidden"} <= labelled
