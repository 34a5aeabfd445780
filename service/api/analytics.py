"""Misconception analytics for course staff."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path

from service.api.deps import ERRORS, Context, Limit, Offset, Staff, text_query, time_query
from service.core import analytics
from service.schemas import DrillDown, MisconceptionAnalytics, Text, UnmappedTests

router = APIRouter(tags=["analytics"])

AssignmentFilter = text_query(64, "one assignment slug")
Since = time_query("submissions at or after this time (UTC when no zone is given)")
Until = time_query("submissions before this time")


@router.get("/api/analytics/misconceptions", response_model=MisconceptionAnalytics, responses=ERRORS)
def misconceptions(
    context: Context,
    _staff: Staff,
    assignment: AssignmentFilter = None,
    since: Since = None,
    until: Until = None,
    bucket: Literal["day", "week"] = "day",
) -> MisconceptionAnalytics:
    """Per misconception id: submissions and students that showed it, per assignment and per
    day or week; planned ids apart from impl.* ones. Students' graded submissions only."""
    with context.db.session() as session:
        return analytics.misconceptions(
            session, context.course.catalogue(), analytics.Scope(assignment, since, until), bucket
        )


@router.get("/api/analytics/misconceptions/{misconception_id}/submissions", response_model=DrillDown, responses=ERRORS)
def drill_down(
    misconception_id: Annotated[Text, Path(max_length=120)],
    context: Context,
    _staff: Staff,
    assignment: AssignmentFilter = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> DrillDown:
    """The submissions that showed one misconception, newest first, with the tests that showed it."""
    with context.db.session() as session:
        return analytics.drill_down(
            session,
            context.course.catalogue(),
            misconception_id,
            analytics.Scope(assignment, since, until),
            limit,
            offset,
        )


@router.get("/api/analytics/unmapped-tests", response_model=UnmappedTests, responses=ERRORS)
def unmapped_tests(
    context: Context,
    _staff: Staff,
    assignment: AssignmentFilter = None,
    since: Since = None,
    until: Until = None,
    include_not_implemented: bool = False,
) -> UnmappedTests:
    """Failing tests that point at no misconception: candidates for new catalogue entries."""
    with context.db.session() as session:
        return analytics.unmapped_failing_tests(
            session, analytics.Scope(assignment, since, until), include_not_implemented
        )
