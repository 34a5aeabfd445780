"""The worker side of the Celery executor: `tensorgrade worker` and the grading task.

A task is idempotent, keyed by its submission id: it grades only after claiming the submission
in the database, and the claim succeeds only for a `queued` submission or for a `running` one
whose worker stopped renewing its lease (its heartbeat is older than `celery_lease_s`). So a
task delivered twice, re-published by the service or redelivered after a worker died never
grades a submission twice at once, and the stale-result guard of `GradingService` stores only
the newest claim's report.

While it grades, a worker renews the lease every quarter lease. A worker killed with SIGKILL
stops renewing: once the lease runs out the submission is claimed again, either by the copy
of the task the broker redelivers or by the one the service re-publishes (its sweep).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from celery import Celery
from celery.utils.nodenames import default_nodename, host_format
from sqlalchemy import and_, func, or_, select, update

from autograder.report import GradeReport
from service.core.grading import GradeFn, GradingService, make_grade_fn
from service.db import Database
from service.executors.celery_app import (
    TASK_NAME,
    QueueKind,
    make_celery_app,
    queue_name,
)
from service.models import Submission, utcnow
from service.settings import Settings
from service.storage import BlobStorage, LocalBlobStorage

log = logging.getLogger("tensorgrade.service.worker")

HEARTBEATS_PER_LEASE = 4


def lease_alive_at():
    """When the holder of a running submission last proved it was alive."""
    return func.coalesce(Submission.heartbeat_at, Submission.started_at)


def orphaned(stale_before: datetime):
    """A running submission whose worker has not renewed its lease since `stale_before`."""
    return and_(Submission.status == "running", lease_alive_at() < stale_before)


class Heartbeat:
    """Renews the lease on one claimed submission until stopped or until the claim is lost."""

    def __init__(self, db: Database, submission_id: int, claimed_at: datetime, interval_s: float):
        self.db = db
        self.submission_id = submission_id
        self.claimed_at = claimed_at
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{submission_id}", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                with self.db.session() as session:
                    still_ours = session.execute(
                        update(Submission)
                        .where(
                            Submission.id == self.submission_id,
                            Submission.status == "running",
                            Submission.started_at == self.claimed_at,
                        )
                        .values(heartbeat_at=utcnow())
                        .execution_options(synchronize_session=False)
                    ).rowcount
            except Exception:  # the database may come back before the lease runs out
                log.warning("could not renew the lease on submission %s", self.submission_id, exc_info=True)
                continue
            if still_ours != 1:  # regraded or taken over meanwhile: our result will be dropped anyway
                return


class InlineBlobStorage:
    """The notebook that came with the task, else the upload directory (shared file system)."""

    def __init__(self, notebook: bytes | None, fallback: Callable[[], BlobStorage]):
        self.notebook = notebook
        self.fallback = fallback

    def get(self, digest: str) -> bytes:
        if self.notebook is not None and hashlib.sha256(self.notebook).hexdigest() == digest:
            return self.notebook
        return self.fallback().get(digest)

    def put(self, data: bytes) -> str:
        raise NotImplementedError("workers never store notebooks")

    def path(self, digest: str) -> Path:
        return self.fallback().path(digest)


class LeasedGrading(GradingService):
    """One task's grading: `GradingService` whose claim also takes over an orphaned submission
    and which renews its lease while it grades. `outcome` says what the last `grade` did."""

    def __init__(self, db: Database, storage: BlobStorage, grade_fn: GradeFn, max_attempts: int, lease_s: float):
        super().__init__(db, storage, grade_fn, max_attempts)
        self.lease_s = lease_s
        self.outcome = "not_started"
        self._claimed_at: datetime | None = None
        self._heartbeat: Heartbeat | None = None

    def grade(self, submission_id: int) -> str:
        """`graded`, `error`, `superseded` (regraded meanwhile), `busy` (another live worker
        holds it), `gave_up` (interrupted `max_attempts` times), `done` (nothing to do)."""
        try:
            self.run(submission_id)
        finally:
            if self._heartbeat is not None:
                self._heartbeat.stop()
        if self.outcome != "claimed":
            return self.outcome
        with self.db.session() as session:
            row = session.execute(
                select(Submission.status, Submission.started_at).where(Submission.id == submission_id)
            ).one()
        ours = row.started_at == self._claimed_at and row.status in ("graded", "error")
        return row.status if ours else "superseded"  # regraded or taken over meanwhile: result dropped

    def _claim(self, submission_id: int) -> tuple[str, str, datetime] | None:
        claimed_at = utcnow()
        stale_before = claimed_at - timedelta(seconds=self.lease_s)
        with self.db.session() as session:
            gave_up = session.execute(
                update(Submission)
                .where(Submission.id == submission_id, orphaned(stale_before),
                       Submission.attempts >= self.max_attempts)
                .values(status="error", graded_at=claimed_at,
                        error=f"grading was interrupted {self.max_attempts} times; ask the course staff to regrade")
                .execution_options(synchronize_session=False)
            ).rowcount
            if gave_up:
                self.outcome = "gave_up"
                return None
            claimed = session.execute(
                update(Submission)
                .where(Submission.id == submission_id,
                       or_(Submission.status == "queued", orphaned(stale_before)))
                .values(status="running", started_at=claimed_at, heartbeat_at=claimed_at,
                        attempts=Submission.attempts + 1)
                .execution_options(synchronize_session=False)
            ).rowcount
            if claimed != 1:
                status = session.execute(
                    select(Submission.status).where(Submission.id == submission_id)
                ).scalar_one_or_none()
                self.outcome = "busy" if status == "running" else "done"
                return None
            row = session.execute(
                select(Submission.assignment, Submission.sha256).where(Submission.id == submission_id)
            ).one()
        self.outcome = "claimed"
        self._claimed_at = claimed_at
        interval_s = self.lease_s / HEARTBEATS_PER_LEASE
        self._heartbeat = Heartbeat(self.db, submission_id, claimed_at, interval_s).start()
        return row.assignment, row.sha256, claimed_at


def stamped(grade_fn: GradeFn, worker_host: str) -> GradeFn:
    """The grade function, with this worker's name in the report's environment."""

    def grade(notebook: Path, slug: str) -> GradeReport:
        report = grade_fn(notebook, slug)
        report.environment.worker_host = worker_host
        return report

    return grade


class WorkerRuntime:
    """What one worker process shares between its task threads."""

    def __init__(self, settings: Settings, db: Database):
        self.settings = settings
        self.db = db
        self.grade_fn = make_grade_fn(settings)
        self._uploads: BlobStorage | None = None
        self._lock = threading.Lock()

    def uploads(self) -> BlobStorage:
        with self._lock:
            if self._uploads is None:
                self._uploads = LocalBlobStorage(self.settings.upload_dir)
            return self._uploads

    def grade(self, submission_id: int, notebook: bytes | None, worker_host: str) -> str:
        grading = LeasedGrading(
            self.db,
            InlineBlobStorage(notebook, self.uploads),
            stamped(self.grade_fn, worker_host),
            self.settings.max_attempts,
            self.settings.celery_lease_s,
        )
        return grading.grade(submission_id)

    @property
    def busy_retries(self) -> int:
        """How often a task finding its submission held by a live worker looks again (one lease
        apart): long enough to outlast the longest grading."""
        return int(self.settings.grade_timeout_s // self.settings.celery_lease_s) + 2


def register_grade_task(app: Celery, runtime: WorkerRuntime) -> None:
    @app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
    def grade_submission(task, submission_id: int, notebook_b64: str | None = None) -> dict:
        notebook = base64.b64decode(notebook_b64) if notebook_b64 else None
        worker_host = task.request.hostname or socket.gethostname()
        outcome = runtime.grade(submission_id, notebook, worker_host)
        log.info("submission %s: %s", submission_id, outcome)
        if outcome == "busy" and task.request.retries < runtime.busy_retries:
            # held by a live worker now; if that worker dies, this copy takes over once the lease ends
            raise task.retry(countdown=runtime.settings.celery_lease_s)
        return {"submission_id": submission_id, "outcome": outcome, "worker": worker_host}


def default_hostname(queue: QueueKind) -> str:
    return f"{queue}-{os.getpid()}@{socket.gethostname()}"


def cuda_missing() -> bool:
    import torch

    return not torch.cuda.is_available()


def run_worker(settings: Settings, queue: QueueKind, hostname: str | None = None, loglevel: str = "INFO") -> int:
    """Consume `queue` with `settings.workers` gradings at once, until stopped (SIGTERM waits for
    the gradings under way; SIGKILL leaves them to other workers)."""
    if queue == "gpu" and cuda_missing():
        print("tensorgrade: a gpu worker needs CUDA (torch.cuda.is_available() is False here); "
              "run `tensorgrade worker --queue cpu` on this machine instead", file=sys.stderr)
        return 2
    logging.basicConfig(level=loglevel, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    db = Database(settings.resolved_database_url)
    db.migrate()
    app = make_celery_app(settings)
    register_grade_task(app, WorkerRuntime(settings, db))
    hostname = host_format(default_nodename(hostname or default_hostname(queue)))  # expands %h
    print(f"tensorgrade worker {hostname}: queue {queue_name(settings, queue)}, {settings.workers} at once, "
          f"broker {_without_password(settings.celery_broker_url)}", flush=True)
    # threads: each grading already runs in its own process (SubprocessGrade), a thread only waits on it
    app.worker_main([
        "worker",
        f"--queues={queue_name(settings, queue)}",
        f"--concurrency={settings.workers}",
        "--pool=threads",
        f"--hostname={hostname}",
        f"--loglevel={loglevel}",
        "--without-gossip",
        "--without-mingle",
    ])
    return 0


def _without_password(url: str) -> str:
    from kombu.utils.url import maybe_sanitize_url

    return maybe_sanitize_url(url)
