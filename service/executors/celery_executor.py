"""The service side of the Celery executor (`executor=celery`): publishes grading tasks.

The database, not the broker, is the record of what must be graded. `submit` only hands the id
to a dispatcher thread, so an upload is answered at once even when the broker is slow or down.
The dispatcher publishes each id to the queue its rubric asks for (`gpu` when the timing
budgets need CUDA, else `cpu`) and, every quarter lease, sweeps the database:

- a queued submission whose publish failed is published again (the broker was down);
- a queued submission this service has known for `celery_requeue_after_s` without it being
  taken is published again (the broker lost the message: a Redis restart without persistence);
- a running submission whose worker let its lease run out is published again, and a worker
  takes it over (see celery_worker.py).

Extra copies are harmless: a task grades only after claiming its submission in the database.
"""

from __future__ import annotations

import base64
import logging
import queue
import threading
import time
import uuid
from datetime import timedelta

from sqlalchemy import select

from service.core.course import Course, rubric_or_none
from service.db import Database
from service.executors.celery_app import (
    TASK_NAME,
    make_celery_app,
    queue_for,
    queue_name,
)
from service.executors.celery_worker import orphaned
from service.models import Submission, utcnow
from service.settings import Settings
from service.storage import BlobStorage

log = logging.getLogger("tensorgrade.service.celery")

SWEEPS_PER_LEASE = 4
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1.0}


class CeleryExecutor:
    def __init__(self, settings: Settings, db: Database, storage: BlobStorage, course: Course):
        self.settings = settings
        self.db = db
        self.storage = storage
        self.course = course
        self.sweep_interval_s = settings.celery_lease_s / SWEEPS_PER_LEASE
        self._inbox: queue.Queue[int | None] = queue.Queue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._app = None
        # dispatcher-thread state (monotonic seconds)
        self._published_at: dict[int, float] = {}
        self._first_seen_at: dict[int, float] = {}
        self._unpublished: set[int] = set()
        self._broker_down_until = 0.0

    # --- Executor -----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._app = make_celery_app(self.settings, publisher=True)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._dispatch, name="celery-dispatcher", daemon=True)
        self._thread.start()

    def submit(self, submission_id: int) -> None:
        if self._thread is None:
            raise RuntimeError("executor not started")
        self._inbox.put(submission_id)

    def shutdown(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        self._inbox.put(None)
        thread.join(timeout=15)
        if self._app is not None:
            self._app.close()

    def recover(self) -> list[int]:
        """At start-up: what must be published again. Unlike the local executor's recovery this
        leaves running submissions alone unless their lease ran out: workers elsewhere may be
        grading them right now."""
        return [row.id for row in self._pending_rows() if row.status == "queued" or row.orphaned]

    # --- the dispatcher thread -------------------------------------------------------------

    def _dispatch(self) -> None:
        next_sweep = time.monotonic() + self.sweep_interval_s
        while not self._stopping.is_set():
            ids = self._take_inbox(timeout_s=max(0.0, next_sweep - time.monotonic()))
            try:
                if ids:
                    self._publish_ids(ids)
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + self.sweep_interval_s
                    for row in self._due_rows():
                        self._publish(row)
            except Exception:  # the database may be unreachable for a while; keep going
                log.exception("grading dispatcher: a round failed")
                self._unpublished.update(ids)

    def _take_inbox(self, timeout_s: float) -> list[int]:
        try:
            first = self._inbox.get(timeout=timeout_s)
        except queue.Empty:
            return []
        ids = [first]
        while True:
            try:
                ids.append(self._inbox.get_nowait())
            except queue.Empty:
                return [submission_id for submission_id in ids if submission_id is not None]

    def _publish_ids(self, ids: list[int]) -> None:
        with self.db.session() as session:
            rows = session.execute(
                select(Submission.id, Submission.assignment, Submission.sha256)
                .where(Submission.id.in_(ids), Submission.status.in_(("queued", "running")))
                .order_by(Submission.id)
            ).all()
        for row in rows:
            self._publish(row)

    def _pending_rows(self) -> list:
        """Every queued or running submission (id, assignment, sha256, status, orphaned)."""
        stale_before = utcnow() - timedelta(seconds=self.settings.celery_lease_s)
        with self.db.session() as session:
            rows = session.execute(
                select(Submission.id, Submission.assignment, Submission.sha256, Submission.status,
                       orphaned(stale_before).label("orphaned"))
                .where(Submission.status.in_(("queued", "running")))
                .order_by(Submission.id)
            ).all()
        return rows

    def _due_rows(self) -> list:
        """Queued and orphaned submissions that should be published again now."""
        now = time.monotonic()
        rows = self._pending_rows()
        self._forget_all_but({row.id for row in rows})
        due = []
        for row in rows:
            if row.status == "queued":
                first_seen = self._first_seen_at.setdefault(row.id, now)
                waited = now - self._published_at.get(row.id, first_seen)
                if row.id in self._unpublished or waited >= self.settings.celery_requeue_after_s:
                    due.append(row)
            elif row.orphaned and now - self._published_at.get(row.id, -float("inf")) >= self.settings.celery_lease_s:
                due.append(row)  # at most once per lease: a worker's takeover shows within one
        return due

    def _forget_all_but(self, pending: set[int]) -> None:
        for book in (self._published_at, self._first_seen_at):
            for submission_id in [known for known in book if known not in pending]:
                del book[submission_id]
        self._unpublished &= pending

    def _publish(self, row) -> None:
        now = time.monotonic()
        if now < self._broker_down_until:  # do not wait on a dead broker once per submission
            self._unpublished.add(row.id)
            return
        kind = queue_for(rubric_or_none(self.course, row.assignment))
        try:
            self._app.send_task(
                TASK_NAME,
                args=[row.id, self._notebook_b64(row.sha256)],
                queue=queue_name(self.settings, kind),
                task_id=f"submission-{row.id}-{uuid.uuid4().hex[:12]}",
                retry=True,
                retry_policy=PUBLISH_RETRY_POLICY,
            )
        except Exception as error:
            if not self._unpublished:
                log.warning("cannot publish to the broker (%s: %s); submissions stay queued and are "
                            "published when it answers", type(error).__name__, error)
            self._unpublished.add(row.id)
            self._broker_down_until = time.monotonic() + self.sweep_interval_s
            return
        if self._unpublished:
            self._unpublished.discard(row.id)
            if not self._unpublished:
                log.warning("the broker answers again; every queued submission is published")
        self._published_at[row.id] = now

    def _notebook_b64(self, digest: str) -> str | None:
        """The notebook rides along with the task; without it the worker reads the upload directory."""
        try:
            return base64.b64encode(self.storage.get(digest)).decode("ascii")
        except KeyError:
            return None
