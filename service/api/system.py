"""Health and the caller's identity."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import func, select

from service import __version__
from service.api.deps import ERRORS, AnyUser, Context
from service.models import Submission
from service.schemas import Health, UserOut

router = APIRouter(tags=["system"])


@router.get("/api/health", response_model=Health)
def health(context: Context) -> Health:
    """No token needed: liveness plus the length of the grading queue."""
    with context.db.session() as session:
        counts = dict(
            session.execute(
                select(Submission.status, func.count())
                .where(Submission.status.in_(("queued", "running")))
                .group_by(Submission.status)
            ).all()
        )
    return Health(status="ok", version=__version__, queued=counts.get("queued", 0), running=counts.get("running", 0))


@router.get("/api/me", response_model=UserOut, responses=ERRORS)
def me(user: AnyUser) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)
