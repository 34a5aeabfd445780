"""Every route x every role: who may call what, and students never reach others' work."""

from __future__ import annotations

import uuid

import httpx
import pytest
from service_fixtures import FAKE_ENV, PLANNED_ID, Classroom, Server, fake_notebook, wait_for

ROLES = ("anonymous", "bad_token", "owner", "other_student", "ta", "instructor")

# Who may call a route: everyone (no token), any user, the submission's owner and staff, staff, instructors.
PUBLIC, ANY, OWN, STAFF, INSTRUCTOR = "public", "any", "own", "staff", "instructor"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("authz"), env=dict(FAKE_ENV)).start()
    classroom = Classroom(server, server.client(server.add_user("prof", "instructor")))
    _, owner = classroom.user("student", "owner")
    _, other = classroom.user("student", "other")
    _, ta = classroom.user("ta", "ta")
    target = classroom.graded(
        owner, "alpha", failing=["test_hidden_gradient"], flags={"test_hidden_gradient": [PLANNED_ID]}
    )
    regrade_target = classroom.graded(owner, "beta")
    others = classroom.graded(other, "alpha")
    clients = {
        "anonymous": server.client(),
        "bad_token": server.client("tg_not-a-real-token"),
        "owner": owner,
        "other_student": other,
        "ta": ta,
        "instructor": classroom.instructor,
    }
    yield {
        "server": server,
        "clients": clients,
        "target": target["id"],
        "regrade_target": regrade_target["id"],
        "others": others["id"],
    }
    server.stop()


def _roster() -> dict:
    return {"files": {"file": ("roster.csv", f"name,role\nr-{uuid.uuid4().hex[:8]},student\n", "text/csv")}}


def _new_user() -> dict:
    return {"json": {"name": f"u-{uuid.uuid4().hex[:8]}", "role": "student"}}


def _notebook() -> dict:
    return {"data": {"assignment": "alpha"}, "files": {"file": ("nb.ipynb", fake_notebook(), "application/json")}}


# (method, path, who may, request arguments)
ROUTES = [
    ("GET", "/api/health", PUBLIC, dict),
    ("GET", "/api/me", ANY, dict),
    ("GET", "/api/users", STAFF, dict),
    ("POST", "/api/users", INSTRUCTOR, _new_user),
    ("POST", "/api/users/{name}/tokens", INSTRUCTOR, dict),
    ("POST", "/api/roster", INSTRUCTOR, _roster),
    ("GET", "/api/assignments", ANY, dict),
    ("GET", "/api/assignments/{slug}", ANY, dict),
    ("PATCH", "/api/assignments/{slug}", INSTRUCTOR, lambda: {"json": {"counting": "latest"}}),
    ("POST", "/api/assignments/{slug}/regrade", STAFF, dict),
    ("POST", "/api/submissions", ANY, _notebook),
    ("GET", "/api/submissions", ANY, dict),
    ("GET", "/api/submissions/{submission_id}", OWN, dict),
    ("GET", "/api/submissions/{submission_id}/report", OWN, dict),
    ("GET", "/api/submissions/{submission_id}/notebook", OWN, dict),
    ("GET", "/api/submissions/{submission_id}/gradescope", STAFF, dict),
    ("POST", "/api/submissions/{submission_id}/regrade", STAFF, dict),
    (
        "POST",
        "/api/submissions/{submission_id}/override",
        STAFF,
        lambda: {"json": {"score": 1, "comment": "authz test"}},
    ),
    ("GET", "/api/audit", STAFF, dict),
    ("GET", "/api/analytics/misconceptions", STAFF, dict),
    ("GET", "/api/analytics/misconceptions/{misconception_id}/submissions", STAFF, dict),
    ("GET", "/api/analytics/unmapped-tests", STAFF, dict),
    ("GET", "/api/export/gradebook.csv", STAFF, dict),
]


def _expected(who: str, role: str) -> int | None:
    """The status a role gets; None means allowed (any 2xx)."""
    if who == PUBLIC:
        return None
    if role in ("anonymous", "bad_token"):
        return 401
    if who == ANY or role == "instructor" or (who in (OWN, STAFF) and role == "ta"):
        return None
    if who == OWN:
        return None if role == "owner" else 404
    return 403


def test_the_matrix_covers_every_route_of_the_api(world):
    schema = httpx.get(world["server"].url + "/openapi.json").json()
    served = {(method.upper(), path) for path, item in schema["paths"].items() for method in item}
    assert served == {(method, path) for method, path, _, _ in ROUTES}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,path,who,arguments", ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_route_authorisation(world, role, method, path, who, arguments):
    submission_id = world["regrade_target"] if "regrade" in path or "override" in path else world["target"]
    url = path.format(name="other", slug="gamma", submission_id=submission_id, misconception_id=PLANNED_ID)
    response = world["clients"][role].request(method, url, **arguments())
    expected = _expected(who, role)
    if expected is None:
        assert 200 <= response.status_code < 300, (role, method, url, response.text)
    else:
        assert response.status_code == expected, (role, method, url, response.text)
        assert (
            response.json()["code"]
            in {401: ("unauthenticated", "invalid_token"), 403: ("forbidden",), 404: ("not_found",)}[expected]
        )
    if expected == 401:
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_student_guessing_ids_reaches_only_their_own(world):
    owner, other = world["clients"]["owner"], world["clients"]["other_student"]
    # "other" guesses; ids up to a few past the newest exist or not, either way only theirs answer
    own_ids = {item["id"] for item in other.get("/api/submissions", params={"limit": 500}).json()["items"]}
    assert world["others"] in own_ids and world["target"] not in own_ids
    highest = max(own_ids | {world["target"], world["regrade_target"]})
    for guess in range(1, highest + 5):
        for suffix in ("", "/report", "/notebook"):
            response = other.get(f"/api/submissions/{guess}{suffix}")
            if guess in own_ids:
                assert response.status_code in (200, 409), (guess, suffix)
            else:
                assert response.status_code == 404 and response.json()["code"] == "not_found", (guess, suffix)
    assert other.get("/api/submissions", params={"student": "owner"}).json()["total"] == 0
    assert world["others"] not in {item["id"] for item in owner.get("/api/submissions").json()["items"]}


def test_students_never_see_hidden_details_but_staff_do(world):
    clients = world["clients"]
    wait_for(clients["ta"], world["target"])
    student_view = clients["owner"].get(f"/api/submissions/{world['target']}/report").json()
    assert "test_hidden_gradient" not in str(student_view) and student_view["hidden"]["tests"] == 2
    for role in ("ta", "instructor"):
        staff_view = clients[role].get(f"/api/submissions/{world['target']}/report").json()
        assert "test_hidden_gradient" in {test["name"] for test in staff_view["tests"]}
