"""Nothing accepted is lost: a service killed while grading resumes at its next start."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from service_fixtures import FAKE_ENV, FAKE_MAX_SCORE, Classroom, Server, fake_notebook, upload, wait_for

pytestmark = pytest.mark.slow


def _status_in_database(data_dir: Path, submission_id: int) -> str:
    with sqlite3.connect(data_dir / "service.db") as connection:
        return connection.execute("SELECT status FROM submissions WHERE id = ?", (submission_id,)).fetchone()[0]


def _grade_workers_of(submission_id: int) -> list[int]:
    """Pids of `service.grade_worker` processes grading this submission."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"service.grade_worker" in command and any(
            f"submission-{submission_id}.ipynb".encode() in part for part in command
        ):
            pids.append(int(proc.name))
    return pids


def _wait_until(condition, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def _server(tmp_path: Path, **extra: str) -> Server:
    env = dict(FAKE_ENV, TENSORGRADE_GRADE_ISOLATION="process", TENSORGRADE_WORKERS="1", **extra)
    return Server(tmp_path / "data", env=env)


def test_killed_while_running_the_submission_is_graded_after_restart(tmp_path):
    server = _server(tmp_path).start()
    block = tmp_path / "block"
    block.touch()
    try:
        classroom = Classroom(server, server.client(server.add_user("prof", "instructor")))
        _, student = classroom.user("student")
        running = upload(student, "alpha", fake_notebook(block_file=str(block), failing=["test_visible_shape"])).json()
        waiting = upload(student, "alpha", fake_notebook()).json()
        wait_for(student, running["id"], statuses=("running",))
        _wait_until(lambda: _grade_workers_of(running["id"]))
        assert student.get(f"/api/submissions/{waiting['id']}").json()["status"] == "queued"
        server.kill()
    finally:
        server.stop()

    assert _status_in_database(server.data_dir, running["id"]) == "running"
    _wait_until(lambda: not _grade_workers_of(running["id"]))  # the orphaned grader noticed and exited
    block.unlink()

    server.start()
    try:
        student = server.client(student.headers["authorization"].removeprefix("Bearer "))
        resumed = wait_for(student, running["id"], timeout_s=60)
        assert resumed["status"] == "graded" and resumed["score"] == FAKE_MAX_SCORE - 1
        assert resumed["attempts"] == 2
        assert wait_for(student, waiting["id"], timeout_s=60)["status"] == "graded"
    finally:
        server.stop()
    assert "resuming 2 submission(s)" in server.log()


def test_a_submission_that_keeps_killing_the_service_ends_as_error(tmp_path):
    server = _server(tmp_path, TENSORGRADE_MAX_ATTEMPTS="1").start()
    block = tmp_path / "block"
    block.touch()
    try:
        classroom = Classroom(server, server.client(server.add_user("prof", "instructor")))
        token = classroom.instructor.post("/api/users", json={"name": "s", "role": "student"}).json()["token"]
        student = server.client(token)
        stuck = upload(student, "alpha", fake_notebook(block_file=str(block))).json()
        wait_for(student, stuck["id"], statuses=("running",))
        server.kill()
    finally:
        server.stop()
    server.start()
    try:
        final = wait_for(server.client(token), stuck["id"], timeout_s=30)
        assert final["status"] == "error" and "interrupted 1 times" in final["error"]
    finally:
        server.stop()
        block.unlink()


def test_graceful_stop_leaves_running_work_for_the_next_start(tmp_path):
    server = _server(tmp_path).start()
    block = tmp_path / "block"
    block.touch()
    try:
        classroom = Classroom(server, server.client(server.add_user("prof", "instructor")))
        _, student = classroom.user("student")
        token = student.headers["authorization"].removeprefix("Bearer ")
        running = upload(student, "alpha", fake_notebook(block_file=str(block))).json()
        wait_for(student, running["id"], statuses=("running",))
        _wait_until(lambda: _grade_workers_of(running["id"]))
    finally:
        server.stop()  # SIGTERM: the grading subprocess is stopped, the submission stays running
    assert _status_in_database(server.data_dir, running["id"]) == "running"
    assert not _grade_workers_of(running["id"])
    block.unlink()
    server.start()
    try:
        assert wait_for(server.client(token), running["id"], timeout_s=60)["status"] == "graded"
    finally:
        server.stop()
