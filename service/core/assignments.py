"""Open and due dates, late policy and which submission counts, per assignment."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from autograder.rubric import Rubric
from service.core.course import Course
from service.errors import ServiceError
from service.models import AssignmentSettings, AuditEvent, Submission, User, utcnow
from service.schemas import AssignmentOut, AssignmentUpdate, LatePolicy

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Policy:
    opens_at: datetime | None = None
    due_at: datetime | None = None
    late: LatePolicy = field(default_factory=LatePolicy)
    counting: str = "latest"

    def late_days(self, submitted_at: datetime) -> int:
        """Started days past the due date (0 when on time or when there is no due date)."""
        if self.due_at is None or submitted_at <= self.due_at:
            return 0
        return math.ceil((submitted_at - self.due_at) / DAY)

    def refusal(self, now: datetime) -> ServiceError | None:
        """Why a student submission at `now` is refused, or None when it is accepted."""
        if self.opens_at is not None and now < self.opens_at:
            return ServiceError(
                403,
                "assignment_not_open",
                f"the assignment opens at {self.opens_at.isoformat()}",
                opens_at=self.opens_at.isoformat(),
            )
        days_late = self.late_days(now)
        if days_late == 0:
            return None
        if self.late.mode == "reject" or (self.late.max_late_days is not None and days_late > self.late.max_late_days):
            return ServiceError(
                403,
                "assignment_closed",
                f"the assignment was due at {self.due_at.isoformat()}; late work is not accepted",
                due_at=self.due_at.isoformat(),
            )
        return None

    def effective_score(self, submission: Submission) -> float | None:
        """The override when there is one, else the grader's score less the late penalty."""
        if submission.override_score is not None:
            return submission.override_score
        if submission.score is None:
            return None
        if self.late.mode != "penalty":
            return submission.score
        factor = max(0.0, 1.0 - self.late.penalty_per_day * self.late_days(submission.submitted_at))
        return round(submission.score * factor, 6)


def policy_from_row(row: AssignmentSettings | None) -> Policy:
    if row is None:
        return Policy()
    late = LatePolicy(mode=row.late_mode, penalty_per_day=row.late_penalty_per_day, max_late_days=row.late_max_days)
    return Policy(opens_at=row.opens_at, due_at=row.due_at, late=late, counting=row.counting)


def policy_for(session: Session, slug: str) -> Policy:
    return policy_from_row(session.get(AssignmentSettings, slug))


def policies(session: Session, slugs: list[str]) -> dict[str, Policy]:
    return {slug: policy_for(session, slug) for slug in slugs}


def require_rubric(course: Course, slug: str) -> Rubric:
    try:
        return course.rubric(slug)
    except KeyError:
        raise ServiceError(404, "unknown_assignment", f"no assignment {slug!r}") from None


def describe(rubric: Rubric, policy: Policy, now: datetime | None = None) -> AssignmentOut:
    return AssignmentOut(
        slug=rubric.slug,
        title=rubric.title,
        lesson=rubric.lesson,
        description=rubric.description,
        opens_at=policy.opens_at,
        due_at=policy.due_at,
        late_policy=policy.late,
        counting=policy.counting,
        release_details_at=rubric.release_details_at,
        accepting_submissions=policy.refusal(now or utcnow()) is None,
    )


def list_assignments(session: Session, course: Course) -> list[AssignmentOut]:
    return [describe(rubric, policy_for(session, rubric.slug)) for rubric in course.assignments()]


def update(session: Session, course: Course, slug: str, change: AssignmentUpdate, actor: User) -> AssignmentOut:
    rubric = require_rubric(course, slug)
    row = session.get(AssignmentSettings, slug)
    if row is None:
        row = AssignmentSettings(slug=slug)
        session.add(row)
    given = change.model_fields_set
    before = _row_summary(row)
    if "opens_at" in given:
        row.opens_at = change.opens_at
    if "due_at" in given:
        row.due_at = change.due_at
    if "late_policy" in given and change.late_policy is not None:
        row.late_mode = change.late_policy.mode
        row.late_penalty_per_day = change.late_policy.penalty_per_day
        row.late_max_days = change.late_policy.max_late_days
    if "counting" in given and change.counting is not None:
        row.counting = change.counting
    if row.opens_at is not None and row.due_at is not None and row.due_at < row.opens_at:
        raise ServiceError(422, "invalid_dates", "due_at is before opens_at")
    row.updated_at = utcnow()
    session.add(
        AuditEvent(
            actor_id=actor.id,
            action="assignment_update",
            detail=json.dumps({"assignment": slug, "before": before, "after": _row_summary(row)}),
        )
    )
    session.flush()
    return describe(rubric, policy_from_row(row))


def _row_summary(row: AssignmentSettings) -> dict[str, object]:
    return {
        "opens_at": row.opens_at.isoformat() if row.opens_at else None,
        "due_at": row.due_at.isoformat() if row.due_at else None,
        "late_mode": row.late_mode or "accept",
        "late_penalty_per_day": row.late_penalty_per_day or 0.0,
        "late_max_days": row.late_max_days,
        "counting": row.counting or "latest",
    }
