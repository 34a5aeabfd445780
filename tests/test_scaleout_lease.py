"""The Celery executor's rules, without a broker (SQLite file, a recording stand-in for Celery):
who may claim a submission (the lease), what the service publishes and when, where it goes."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from scaleout_fixtures import GPU_SLUG, ScaleoutCourse
from service_fixtures import FAKE_MAX_SCORE, fake_grade, fake_notebook
from sqlalchemy import select, update

from autograder.registry import list_assignments
from service.db import Database
from service.executors import celery_executor
from service.executors.celery_app import queue_for
from service.executors.celery_worker import InlineBlobStorage, LeasedGrading, stamped
from service.models import Submission, User, utcnow
from service.settings import Settings
from service.storage import LocalBlobStorage

HOST = "w1@test"


@pytest.fixture
def db(tmp_path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'service.db'}")
    database.migrate()
    with database.session() as session:
        session.add(User(name="s1", role="student"))
    yield database
    database.dispose()


def _add(db: Database, data: bytes, assignment: str = "alpha", **columns) -> int:
    with db.session() as session:
        submission = Submission(user_id=1, assignment=assignment, sha256=hashlib.sha256(data).hexdigest(),
                                size_bytes=len(data), **columns)
        session.add(submission)
        session.flush()
        return submission.id


def _row(db: Database, submission_id: int) -> Submission:
    with db.session() as session:
        return session.get(Submission, submission_id)


def _grading(db, data: bytes, lease_s: float = 60.0, grade_fn=fake_grade, max_attempts: int = 3) -> LeasedGrading:
    def no_upload_dir():
        raise AssertionError("the notebook came with the task")

    return LeasedGrading(db, InlineBlobStorage(data, no_upload_dir), stamped(grade_fn, HOST), max_attempts, lease_s)


# --- routing -----------------------------------------------------------------------------


def test_only_rubrics_that_need_cuda_timing_go_to_the_gpu_queue():
    course = ScaleoutCourse()
    assert queue_for(course.rubric(GPU_SLUG)) == "gpu"
    assert queue_for(course.rubric("alpha")) == "cpu"
    assert queue_for(None) == "cpu"  # unknown assignment: a cpu worker records the error
    for rubric in list_assignments():
        assert queue_for(rubric) == ("gpu" if rubric.requires_cuda_timing else "cpu")


# --- the claim and the lease -------------------------------------------------------------


def test_a_queued_submission_is_graded_once_and_a_second_delivery_does_nothing(db):
    data = fake_notebook(failing=["test_visible_shape"])
    submission_id = _add(db, data)
    assert _grading(db, data).grade(submission_id) == "graded"
    graded = _row(db, submission_id)
    assert graded.status == "graded" and graded.attempts == 1 and graded.score == FAKE_MAX_SCORE - 1
    assert f'"worker_host":"{HOST}"' in graded.report_json

    assert _grading(db, data).grade(submission_id) == "done"
    again = _row(db, submission_id)
    assert (again.attempts, again.graded_at, again.report_json) == (1, graded.graded_at, graded.report_json)


def test_a_running_submission_whose_worker_renews_its_lease_is_left_alone(db):
    data = fake_notebook()
    now = utcnow()
    submission_id = _add(db, data, status="running", started_at=now - timedelta(seconds=300), heartbeat_at=now,
                         attempts=1)
    assert _grading(db, data, lease_s=60).grade(submission_id) == "busy"
    row = _row(db, submission_id)
    assert row.status == "running" and row.attempts == 1


def test_an_orphaned_submission_is_taken_over(db):
    data = fake_notebook()
    stale = utcnow() - timedelta(seconds=120)
    submission_id = _add(db, data, status="running", started_at=stale, heartbeat_at=stale, attempts=1)
    assert _grading(db, data, lease_s=60).grade(submission_id) == "graded"
    row = _row(db, submission_id)
    assert row.status == "graded" and row.attempts == 2 and row.started_at > stale


def test_a_submission_that_keeps_losing_its_worker_ends_as_an_error(db):
    data = fake_notebook()
    stale = utcnow() - timedelta(seconds=120)
    submission_id = _add(db, data, status="running", started_at=stale, heartbeat_at=stale, attempts=3)
    assert _grading(db, data, lease_s=60, max_attempts=3).grade(submission_id) == "gave_up"
    row = _row(db, submission_id)
    assert row.status == "error" and "interrupted 3 times" in row.error and row.report_json is None


def test_the_lease_is_renewed_while_grading(db):
    data = fake_notebook()
    submission_id = _add(db, data)
    seen = {}

    def slow_grade(notebook: Path, slug: str):
        time.sleep(0.6)  # two heartbeats at lease 0.8 s (one every 0.2 s)
        row = _row(db, submission_id)
        seen["started_at"], seen["heartbeat_at"] = row.started_at, row.heartbeat_at
        return fake_grade(notebook, slug)

    assert _grading(db, data, lease_s=0.8, grade_fn=slow_grade).grade(submission_id) == "graded"
    assert seen["heartbeat_at"] - seen["started_at"] >= timedelta(seconds=0.3)


def test_the_result_of_a_worker_presumed_dead_is_dropped_when_it_finishes_late(db):
    data = fake_notebook()
    submission_id = _add(db, data)
    release = threading.Event()
    outcomes = {}

    def stuck_grade(notebook: Path, slug: str):
        release.wait(30)
        report = fake_grade(notebook, slug)
        report.score = 0.0  # so that a stored late result would show
        return report

    slow = threading.Thread(target=lambda: outcomes.setdefault(
        "slow", _grading(db, data, lease_s=600, grade_fn=stuck_grade).grade(submission_id)))
    slow.start()
    while _row(db, submission_id).status != "running":
        time.sleep(0.01)
    with db.session() as session:  # the slow worker looks dead: no heartbeat for two minutes
        old = utcnow() - timedelta(seconds=120)
        session.execute(update(Submission).where(Submission.id == submission_id).values(heartbeat_at=old))
    assert _grading(db, data, lease_s=60).grade(submission_id) == "graded"
    release.set()
    slow.join(30)

    assert outcomes["slow"] == "superseded"
    row = _row(db, submission_id)
    assert row.status == "graded" and row.score == FAKE_MAX_SCORE and row.attempts == 2


def test_a_task_without_the_notebook_reads_the_shared_upload_directory(db, tmp_path):
    data = fake_notebook()
    uploads = LocalBlobStorage(tmp_path / "uploads")
    uploads.put(data)
    submission_id = _add(db, data)
    grading = LeasedGrading(db, InlineBlobStorage(None, lambda: uploads), fake_grade, 3, 60)
    assert grading.grade(submission_id) == "graded"


# --- the service's publisher -------------------------------------------------------------


class RecordingApp:
    """Stands in for the Celery app: records publications; `failures` makes the next ones fail."""

    def __init__(self):
        self.sent: list[tuple[int, str, str | None]] = []
        self.failures = 0
        self.lock = threading.Lock()

    def send_task(self, name, args, queue, **options):
        with self.lock:
            if self.failures:
                self.failures -= 1
                raise ConnectionError("broker down")
            self.sent.append((args[0], queue, args[1]))

    def close(self):
        pass

    def count(self, submission_id: int) -> int:
        with self.lock:
            return sum(1 for sent_id, _, _ in self.sent if sent_id == submission_id)


@pytest.fixture
def publisher(db, tmp_path, monkeypatch):
    app = RecordingApp()
    monkeypatch.setattr(celery_executor, "make_celery_app", lambda settings, publisher: app)
    settings = Settings(data_dir=tmp_path, executor="celery", celery_lease_s=0.4, celery_requeue_after_s=1.0,
                        celery_queue_prefix="q")
    storage = LocalBlobStorage(settings.upload_dir)
    executor = celery_executor.CeleryExecutor(settings, db, storage, ScaleoutCourse())
    executor.start()
    yield executor, app, storage
    executor.shutdown()


def _eventually(condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_a_submission_is_published_to_its_queue_with_the_notebook(db, publisher):
    executor, app, storage = publisher
    data = fake_notebook()
    storage.put(data)
    plain, timed = _add(db, data), _add(db, data, assignment=GPU_SLUG)
    executor.submit(plain)
    executor.submit(timed)
    _eventually(lambda: app.count(plain) and app.count(timed))
    sent = {submission_id: (queue, notebook) for submission_id, queue, notebook in app.sent}
    assert sent[plain][0] == "q.cpu" and sent[timed][0] == "q.gpu"
    assert base64.b64decode(sent[plain][1]) == data
    time.sleep(0.5)  # sweeps run; the requeue age (1 s) is not reached yet
    assert app.count(plain) == 1


def test_a_submission_left_queued_is_published_again_and_a_failed_publish_is_retried(db, publisher):
    executor, app, _ = publisher
    lost, refused = _add(db, b"{}"), _add(db, b"[]")
    executor.submit(lost)
    _eventually(lambda: app.count(lost) == 1)
    _eventually(lambda: app.count(lost) == 2, timeout_s=5)  # nobody took it within requeue_after_s

    app.failures = 1
    executor.submit(refused)
    _eventually(lambda: app.count(refused) == 1)  # the next sweep publishes it
    assert _row(db, refused).status == "queued"


def test_only_orphaned_running_submissions_are_published_again(db, publisher):
    executor, app, _ = publisher
    now = utcnow()
    alive = _add(db, b"{}", status="running", started_at=now, heartbeat_at=now)
    dead = _add(db, b"[]", status="running", started_at=now - timedelta(seconds=30),
                heartbeat_at=now - timedelta(seconds=30))
    finished = _add(db, b"1", status="graded")
    assert sorted(executor.recover()) == [dead]
    _eventually(lambda: app.count(dead) >= 1)
    with db.session() as session:  # keep `alive` alive while the sweeps go on
        for _ in range(5):
            session.execute(update(Submission).where(Submission.id == alive).values(heartbeat_at=utcnow()))
            session.commit()
            time.sleep(0.1)
    assert app.count(alive) == 0 and app.count(finished) == 0
    with db.session() as session:
        assert session.execute(select(Submission.status).where(Submission.id == dead)).scalar_one() == "running"
