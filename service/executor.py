"""Where grading jobs run. The service only needs `submit(submission_id)`, `start()` and
`shutdown()`; the default runs jobs on a bounded pool of threads inside the service process
(each thread waits on a grading subprocess). The state of every job is in the database, so an
executor may drop what it holds at shutdown: start-up recovery queues it again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

log = logging.getLogger("tensorgrade.service.executor")


class Executor(Protocol):
    def start(self) -> None:
        """Begin accepting jobs."""

    def submit(self, submission_id: int) -> None:
        """Grade this submission some time soon; returns at once."""

    def shutdown(self) -> None:
        """Stop; jobs not finished are left queued or running in the database."""


class LocalExecutor:
    """At most `workers` gradings at once, the rest wait in memory, in submission order."""

    def __init__(self, run: Callable[[int], None], workers: int, on_shutdown: Callable[[], None] | None = None):
        self._run = run
        self._workers = workers
        self._on_shutdown = on_shutdown
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="grader")

    def submit(self, submission_id: int) -> None:
        with self._lock:
            if self._pool is None:
                raise RuntimeError("executor not started")
            self._pool.submit(self._guarded, submission_id)

    def _guarded(self, submission_id: int) -> None:
        try:
            self._run(submission_id)
        except Exception:  # a job must never kill its worker thread silently
            log.exception("grading job for submission %s crashed", submission_id)

    def shutdown(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is None:
            return
        if self._on_shutdown is not None:
            self._on_shutdown()
        pool.shutdown(wait=False, cancel_futures=True)
