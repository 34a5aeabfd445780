"""The FastAPI application: `create_app(settings)`; uvicorn serves it (see service.cli serve)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service import __version__
from service.api import analytics, assignments, export, submissions, system, users
from service.context import ServiceContext
from service.core.course import Course
from service.core.grading import GradeFn
from service.errors import install_handlers
from service.executor import Executor
from service.limits import BodySizeLimit
from service.settings import Settings
from service.web import install as install_web_pages

log = logging.getLogger("tensorgrade.service")


def create_app(
    settings: Settings | None = None,
    *,
    grade_fn: GradeFn | None = None,
    course: Course | None = None,
    executor: Executor | None = None,
) -> FastAPI:
    """Build the app; the database is migrated and interrupted gradings resumed at start-up."""
    settings = settings or Settings()
    context = ServiceContext.build(settings, grade_fn=grade_fn, course=course, executor=executor)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        recovered = context.start()
        if recovered:
            log.warning("resuming %d submission(s) left queued or running: %s", len(recovered), recovered)
        try:
            yield
        finally:
            context.stop()

    app = FastAPI(
        title="tensorgrade",
        version=__version__,
        description="Submit notebooks, read grade reports and misconception analytics. "
        "Every route but /api/health needs `Authorization: Bearer TOKEN`.",
        lifespan=lifespan,
    )
    app.state.context = context
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    install_handlers(app)
    for module in (system, users, assignments, submissions, analytics, export):
        app.include_router(module.router)
    install_web_pages(app)
    return app
