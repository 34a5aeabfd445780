"""One grading job: claim a queued submission, grade it, store the report or the reason it failed.

Also start-up recovery: submissions a crash left `queued` or `running` are queued again.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from autograder.notebook import NotebookError
from autograder.report import GradeReport
from service.core.course import import_object
from service.db import Database
from service.grade_worker import EXIT_NOTEBOOK, EXIT_UNKNOWN_ASSIGNMENT
from service.models import MisconceptionHitRow, Submission, TestOutcome, utcnow
from service.settings import Settings
from service.storage import BlobStorage

log = logging.getLogger("tensorgrade.service.grading")

GradeFn = Callable[[Path, str], GradeReport]


class GradingFailed(Exception):
    """Grading produced no report; the message is the reason shown to the student."""


class SubprocessGrade:
    """Runs `grade_fn` in a fresh Python process per notebook, with a wall-clock limit."""

    def __init__(self, grade_fn_path: str, timeout_s: float):
        self.grade_fn_path = grade_fn_path
        self.timeout_s = timeout_s
        self._children: set[subprocess.Popen] = set()
        self._lock = threading.Lock()

    def __call__(self, notebook: Path, slug: str) -> GradeReport:
        out = notebook.with_suffix(".report.json")
        stderr_path = notebook.with_suffix(".stderr.txt")
        command = [sys.executable, "-m", "service.grade_worker", self.grade_fn_path, str(notebook), slug, str(out)]
        with open(stderr_path, "wb") as stderr:
            # stdin stays open while we wait: the worker exits when it closes (we died)
            child = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
            )
        with self._lock:
            self._children.add(child)
        try:
            child.wait(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(child)
            child.wait()
            raise GradingFailed(f"grading took longer than {self.timeout_s:g} s and was stopped") from None
        finally:
            with self._lock:
                self._children.discard(child)
            child.stdin.close()
        return _read_outcome(child.returncode, out, stderr_path.read_bytes())

    def stop_all(self) -> None:
        with self._lock:
            children = list(self._children)
        for child in children:
            _kill_group(child)


def _read_outcome(returncode: int, out: Path, stderr: bytes) -> GradeReport:
    if returncode == 0:
        return GradeReport.model_validate_json(out.read_text(encoding="utf-8"))
    if returncode == EXIT_NOTEBOOK:
        raise NotebookError(json.loads(out.read_text(encoding="utf-8"))["error"])
    if returncode == EXIT_UNKNOWN_ASSIGNMENT:
        raise KeyError(json.loads(out.read_text(encoding="utf-8"))["error"])
    last_line = (stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
    raise GradingFailed(f"the grader stopped with exit code {returncode}: {last_line[:300]}")


def _kill_group(child: subprocess.Popen) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def make_grade_fn(settings: Settings) -> GradeFn:
    if settings.grade_isolation == "process":
        return SubprocessGrade(settings.grade_fn, settings.grade_timeout_s)
    return import_object(settings.grade_fn)


class GradingService:
    """Runs grading jobs by submission id; safe to call from several threads."""

    def __init__(self, db: Database, storage: BlobStorage, grade_fn: GradeFn, max_attempts: int):
        self.db = db
        self.storage = storage
        self.grade_fn = grade_fn
        self.max_attempts = max_attempts
        self.closing = threading.Event()

    def run(self, submission_id: int) -> None:
        claimed = self._claim(submission_id)
        if claimed is None:
            return
        slug, digest, claimed_at = claimed
        workdir = Path(tempfile.mkdtemp(prefix=f"tensorgrade-{submission_id}-"))
        try:
            notebook = workdir / f"submission-{submission_id}.ipynb"
            notebook.write_bytes(self.storage.get(digest))
            report = self.grade_fn(notebook, slug)
        except Exception as error:  # every failure becomes the submission's error reason
            if self.closing.is_set():
                log.info("submission %s interrupted by shutdown; it will be graded at the next start", submission_id)
                return
            reason = _reason(error)
            if not isinstance(error, (GradingFailed, NotebookError, KeyError)):
                log.exception("grading submission %s failed", submission_id)
            self._finish_error(submission_id, claimed_at, reason)
        else:
            self._finish_graded(submission_id, claimed_at, report)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _claim(self, submission_id: int) -> tuple[str, str, datetime] | None:
        """queued -> running, atomically; None when someone else took it or it is no longer queued.
        The claim's start time identifies this run of the job."""
        claimed_at = utcnow()
        with self.db.session() as session:
            claimed = session.execute(
                update(Submission)
                .where(Submission.id == submission_id, Submission.status == "queued")
                .values(status="running", started_at=claimed_at, attempts=Submission.attempts + 1)
            ).rowcount
            if claimed != 1:
                return None
            row = session.execute(
                select(Submission.assignment, Submission.sha256).where(Submission.id == submission_id)
            ).one()
            return row.assignment, row.sha256, claimed_at

    def _current(self, session: Session, submission_id: int, claimed_at: datetime) -> Submission | None:
        """The submission if this run still owns it: a regrade meanwhile queues it again and a
        later run claims it, which makes this run's result stale."""
        submission = session.get(Submission, submission_id)
        if submission is None or submission.status != "running" or submission.started_at != claimed_at:
            return None
        return submission

    def _finish_graded(self, submission_id: int, claimed_at: datetime, report: GradeReport) -> None:
        with self.db.session() as session:
            submission = self._current(session, submission_id, claimed_at)
            if submission is None:
                return
            submission.status = "graded"
            submission.error = ""
            submission.score = report.score
            submission.max_score = report.max_score
            submission.report_json = report.model_dump_json()
            submission.graded_at = utcnow()
            submission.hits = [
                MisconceptionHitRow(misconception_id=hit.id, planned=hit.planned, evidence=json.dumps(hit.evidence))
                for hit in report.misconceptions
            ]
            submission.outcomes = [
                TestOutcome(
                    name=test.name,
                    target=test.target,
                    kind=test.kind,
                    status=test.status,
                    score=test.score,
                    max_score=test.max_score,
                    visible=test.visible,
                    misconception_count=len(test.misconceptions),
                )
                for test in report.tests
            ]

    def _finish_error(self, submission_id: int, claimed_at: datetime, reason: str) -> None:
        with self.db.session() as session:
            submission = self._current(session, submission_id, claimed_at)
            if submission is None:
                return
            submission.status = "error"
            submission.error = reason
            submission.graded_at = utcnow()

    def recover(self) -> list[int]:
        """After a crash: queue again what was `running`; give up on submissions that keep
        killing the grader. Returns every queued id, oldest first."""
        with self.db.session() as session:
            session.execute(
                update(Submission)
                .where(Submission.status == "running", Submission.attempts >= self.max_attempts)
                .values(
                    status="error",
                    graded_at=utcnow(),
                    error=f"grading was interrupted {self.max_attempts} times; ask the course staff to regrade",
                )
            )
            session.execute(update(Submission).where(Submission.status == "running").values(status="queued"))
            return list(
                session.execute(
                    select(Submission.id).where(Submission.status == "queued").order_by(Submission.id)
                ).scalars()
            )


def _reason(error: Exception) -> str:
    if isinstance(error, NotebookError):
        return f"the notebook cannot be read: {error}"
    if isinstance(error, KeyError):
        return f"unknown assignment: {error.args[0] if error.args else ''}"
    if isinstance(error, GradingFailed):
        return str(error)
    return f"internal grader error ({type(error).__name__}: {str(error)[:300]})"
