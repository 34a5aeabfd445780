"""Assignments: everyone lists them; instructors set dates, late policy and counting; staff regrade."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from service.api.deps import ERRORS, NOT_FOUND, AnyUser, Context, Instructor, Staff
from service.core import assignments, submissions
from service.schemas import AssignmentOut, AssignmentUpdate, Regraded, Text

Slug = Annotated[Text, Path(max_length=64)]

router = APIRouter(tags=["assignments"])


@router.get("/api/assignments", response_model=list[AssignmentOut], responses=ERRORS)
def list_assignments(context: Context, _user: AnyUser) -> list[AssignmentOut]:
    with context.db.session() as session:
        return assignments.list_assignments(session, context.course)


@router.get("/api/assignments/{slug}", response_model=AssignmentOut, responses={**ERRORS, **NOT_FOUND})
def get_assignment(slug: Slug, context: Context, _user: AnyUser) -> AssignmentOut:
    rubric = assignments.require_rubric(context.course, slug)
    with context.db.session() as session:
        return assignments.describe(rubric, assignments.policy_for(session, slug))


@router.patch("/api/assignments/{slug}", response_model=AssignmentOut, responses={**ERRORS, **NOT_FOUND})
def update_assignment(slug: Slug, change: AssignmentUpdate, context: Context, actor: Instructor) -> AssignmentOut:
    """Set the open and due dates, the late policy and which submission counts (latest or best)."""
    with context.db.session() as session:
        return assignments.update(session, context.course, slug, change, actor)


@router.post(
    "/api/assignments/{slug}/regrade", response_model=Regraded, status_code=202, responses={**ERRORS, **NOT_FOUND}
)
def regrade_assignment(slug: Slug, context: Context, actor: Staff) -> Regraded:
    """Queue every submission of the assignment again (after a rubric change)."""
    assignments.require_rubric(context.course, slug)
    with context.db.session() as session:
        queued = submissions.requeue_assignment(session, actor, slug)
    for submission_id in queued:
        context.executor.submit(submission_id)
    return Regraded(queued=queued)
