"""The objects one running service shares between its routes and its grading workers."""

from __future__ import annotations

from dataclasses import dataclass

from service.core.course import Course, load_course
from service.core.grading import GradeFn, GradingService, SubprocessGrade, make_grade_fn
from service.db import Database
from service.executor import Executor, LocalExecutor
from service.settings import Settings
from service.storage import BlobStorage, LocalBlobStorage


@dataclass
class ServiceContext:
    settings: Settings
    db: Database
    storage: BlobStorage
    course: Course
    grading: GradingService
    executor: Executor

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        grade_fn: GradeFn | None = None,
        course: Course | None = None,
        executor: Executor | None = None,
    ) -> "ServiceContext":
        """The defaults come from `settings`; tests and the scale-out executor pass their own."""
        db = Database(settings.resolved_database_url)
        storage = LocalBlobStorage(settings.upload_dir)
        grade_fn = grade_fn or make_grade_fn(settings)
        grading = GradingService(db, storage, grade_fn, settings.max_attempts)
        course = course or load_course(settings.course)
        executor = executor or _default_executor(settings, grading, course)
        return cls(settings, db, storage, course, grading, executor)

    def start(self) -> list[int]:
        """Migrate, start the executor and queue again what a crash interrupted."""
        self.db.migrate()
        self.executor.start()
        # an executor whose workers live elsewhere decides itself what is left to do (celery)
        recover = getattr(self.executor, "recover", self.grading.recover)
        recovered = recover()
        for submission_id in recovered:
            self.executor.submit(submission_id)
        return recovered

    def stop(self) -> None:
        self.grading.closing.set()
        self.executor.shutdown()
        self.db.dispose()


def _default_executor(settings: Settings, grading: GradingService, course: Course) -> Executor:
    """The executor named by `settings.executor`: `local` (the in-process pool) or `celery`."""
    if settings.executor == "celery":
        from service.executors.celery_executor import CeleryExecutor

        return CeleryExecutor(settings, grading.db, grading.storage, course)
    if settings.executor != "local":
        raise ValueError(f"unknown executor {settings.executor!r}")
    grade_fn = grading.grade_fn
    stop_children = grade_fn.stop_all if isinstance(grade_fn, SubprocessGrade) else None
    return LocalExecutor(grading.run, settings.workers, on_shutdown=stop_children)
