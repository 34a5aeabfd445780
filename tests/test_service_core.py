"""The service layer's pieces on their own: policies, counting, storage, executor, grading subprocess."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from service_fixtures import REPO, TESTS, FakeCourse, fake_grade, fake_notebook

from autograder.notebook import NotebookError
from service.core.assignments import Policy
from service.core.exports import counting_submission, gradebook_csv
from service.core.grading import GradingFailed, GradingService, SubprocessGrade
from service.core.submissions import requeue
from service.db import Database
from service.executor import LocalExecutor
from service.models import Submission, User
from service.schemas import LatePolicy
from service.storage import LocalBlobStorage

DUE = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def _submission(
    score: float | None, *, minutes_after_due: float = -60, override: float | None = None, id: int = 1
) -> Submission:
    return Submission(
        id=id, score=score, override_score=override, submitted_at=DUE + timedelta(minutes=minutes_after_due)
    )


@pytest.mark.parametrize("after_due,days", [(None, 0), (-1, 0), (0, 0), (1 / 60, 1), (24 * 60, 1), (24 * 60 + 1, 2)])
def test_late_days_count_started_days_past_the_due_date(after_due, days):
    policy = Policy(due_at=DUE)
    if after_due is None:
        assert Policy().late_days(DUE) == 0
    else:
        assert policy.late_days(DUE + timedelta(minutes=after_due)) == days


def test_refusals_follow_dates_and_late_policy():
    opens = DUE - timedelta(days=7)
    policy = Policy(opens_at=opens, due_at=DUE, late=LatePolicy(mode="penalty", penalty_per_day=0.1, max_late_days=2))
    assert policy.refusal(opens - timedelta(seconds=1)).code == "assignment_not_open"
    assert policy.refusal(opens) is None and policy.refusal(DUE) is None
    assert policy.refusal(DUE + timedelta(days=2)) is None
    assert policy.refusal(DUE + timedelta(days=2, seconds=1)).code == "assignment_closed"
    reject = Policy(due_at=DUE, late=LatePolicy(mode="reject"))
    assert reject.refusal(DUE) is None and reject.refusal(DUE + timedelta(seconds=1)).status == 403
    assert Policy(due_at=DUE).refusal(DUE + timedelta(days=300)) is None  # accept: late but taken


def test_effective_score_applies_penalty_unless_overridden():
    penalty = Policy(due_at=DUE, late=LatePolicy(mode="penalty", penalty_per_day=0.3))
    assert penalty.effective_score(_submission(10.0)) == 10.0
    assert penalty.effective_score(_submission(10.0, minutes_after_due=60)) == pytest.approx(7.0)
    assert penalty.effective_score(_submission(10.0, minutes_after_due=3 * 24 * 60 + 1)) == 0.0  # 4 days: floored
    assert penalty.effective_score(_submission(10.0, minutes_after_due=60, override=9.5)) == 9.5
    assert penalty.effective_score(_submission(None)) is None
    assert Policy(due_at=DUE).effective_score(_submission(10.0, minutes_after_due=60)) == 10.0


def test_counting_submission_latest_or_best():
    early_best = _submission(9.0, minutes_after_due=-120, id=1)
    late_worse = _submission(4.0, minutes_after_due=-60, id=2)
    tie_newer = _submission(9.0, minutes_after_due=-30, id=3)
    assert counting_submission([early_best, late_worse], Policy(counting="latest")) is late_worse
    assert counting_submission([early_best, late_worse], Policy(counting="best")) is early_best
    assert counting_submission([early_best, late_worse, tie_newer], Policy(counting="best")) is tie_newer
    assert counting_submission([], Policy()) is None
    overridden = _submission(1.0, override=10.0, id=4)
    assert counting_submission([early_best, overridden], Policy(counting="best")) is overridden


def test_blob_storage_is_content_addressed(tmp_path):
    storage = LocalBlobStorage(tmp_path / "blobs")
    data = b'{"cells": []}'
    digest = storage.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert storage.path(digest) == tmp_path / "blobs" / digest[:2] / digest[2:]
    assert storage.get(digest) == data and storage.put(data) == digest
    assert [path.name for path in (tmp_path / "blobs").rglob("*") if path.is_file()] == [digest[2:]]
    for bad in ("0" * 63, "../" + "0" * 61, "g" * 64):
        with pytest.raises(KeyError):
            storage.get(bad)


def test_gradebook_quotes_cells_a_spreadsheet_would_run(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    database.migrate()
    with database.session() as session:
        session.add(User(name="s1", role="student", full_name='=HYPERLINK("http://x")', email="@evil"))
    with database.session() as session:
        rows = list(csv.DictReader(io.StringIO(gradebook_csv(session, FakeCourse()))))
    database.dispose()
    assert rows[0]["full_name"] == '\'=HYPERLINK("http://x")' and rows[0]["email"] == "'@evil"


def test_local_executor_runs_every_job_with_bounded_concurrency():
    running, peak, done = 0, 0, []
    lock = threading.Lock()

    def job(submission_id: int) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
            done.append(submission_id)
        if submission_id == 3:
            raise RuntimeError("a failing job must not stop the others")

    executor = LocalExecutor(job, workers=2)
    with pytest.raises(RuntimeError):
        executor.submit(1)  # not started
    executor.start()
    for submission_id in range(8):
        executor.submit(submission_id)
    deadline = time.monotonic() + 10
    while len(done) < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    executor.shutdown()
    assert sorted(done) == list(range(8)) and peak == 2


def test_grading_subprocess_reports_timeouts_and_unreadable_notebooks(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), str(REPO)]))  # the worker imports the fake
    slow = tmp_path / "slow.ipynb"
    slow.write_bytes(fake_notebook(sleep_s=30))
    started = time.monotonic()
    with pytest.raises(GradingFailed, match="longer than 2 s"):
        SubprocessGrade("service_fixtures:fake_grade", timeout_s=2)(slow, "alpha")
    assert time.monotonic() - started < 15

    unreadable = tmp_path / "bad.ipynb"
    unreadable.write_bytes(fake_notebook(raise_error="notebook"))
    with pytest.raises(NotebookError, match="fake: the notebook cannot be read"):
        SubprocessGrade("service_fixtures:fake_grade", timeout_s=60)(unreadable, "alpha")

    good = tmp_path / "good.ipynb"
    good.write_bytes(fake_notebook(failing=["test_visible_shape"]))
    report = SubprocessGrade("service_fixtures:fake_grade", timeout_s=60)(good, "alpha")
    assert report.score == 6.0 and report.assignment == "alpha"


def test_a_stale_grading_run_never_overwrites_a_regrade(tmp_path):
    """Run A is still grading when a regrade queues the submission again and run B claims it;
    A finishing first must not store its (old-rubric) result, and B's result counts."""
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    database.migrate()
    storage = LocalBlobStorage(tmp_path / "blobs")
    digest = storage.put(fake_notebook())
    with database.session() as session:
        user = User(name="s1", role="student")
        session.add(user)
        session.flush()
        submission = Submission(user_id=user.id, assignment="alpha", sha256=digest, size_bytes=1)
        session.add(submission)
    entered = {"A": threading.Event(), "B": threading.Event()}
    release = {"A": threading.Event(), "B": threading.Event()}
    calls: list[str] = []

    def grade(notebook, slug):
        run = "A" if not calls else "B"
        calls.append(run)
        entered[run].set()
        release[run].wait(10)
        report = fake_grade(notebook, slug)
        return report.model_copy(update={"score": 1.0 if run == "A" else 7.0})

    grading = GradingService(database, storage, grade, max_attempts=3)
    run_a = threading.Thread(target=grading.run, args=(submission.id,))
    run_a.start()
    assert entered["A"].wait(10)
    with database.session() as session:
        requeue(session, session.get(User, user.id), session.get(Submission, submission.id))
    run_b = threading.Thread(target=grading.run, args=(submission.id,))
    run_b.start()
    assert entered["B"].wait(10)
    release["A"].set()
    run_a.join(10)
    release["B"].set()
    run_b.join(10)
    with database.session() as session:
        final = session.get(Submission, submission.id)
        assert (final.status, final.score) == ("graded", 7.0)
    database.dispose()


def test_roster_parsing_accepts_any_line_ending_and_refuses_broken_csv():
    from service.core.users import _parse_roster
    from service.errors import ServiceError

    for newline in ("\n", "\r\n", "\r"):
        rows = _parse_roster(newline.join(["\ufeffname,role,email", "ada,Student,ada@example.org", ""]))
        assert rows == [{"name": "ada", "role": "student", "full_name": "", "email": "ada@example.org"}]
    cases = {
        'name,role\nada,"' + "x" * 200_000 + '"\n': "not valid CSV",  # over the csv module's field limit
        "ù§\rÐ\r\n": "needs a header",
        "name,role,shoe_size\n": "unknown roster columns",
    }
    for broken, reason in cases.items():
        with pytest.raises(ServiceError) as refused:
            _parse_roster(broken)
        assert (refused.value.status, refused.value.code) == (422, "invalid_roster")
        assert reason in refused.value.detail
