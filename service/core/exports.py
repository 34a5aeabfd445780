"""The gradebook: one row per student, the counting submission of each assignment."""

from __future__ import annotations

import csv
import io
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from service.core.assignments import Policy, policy_for
from service.core.course import Course
from service.models import Submission, User

STUDENT_COLUMNS = ["student", "full_name", "email"]
PER_ASSIGNMENT = ["", "_max", "_submission", "_late_days"]


def counting_submission(graded: list[Submission], policy: Policy) -> Submission | None:
    """`latest`: the newest graded submission; `best`: the highest effective score (newest on ties)."""
    if not graded:
        return None
    if policy.counting == "best":
        return max(graded, key=lambda sub: (policy.effective_score(sub) or 0.0, sub.submitted_at, sub.id))
    return max(graded, key=lambda sub: (sub.submitted_at, sub.id))


def gradebook_columns(slugs: list[str]) -> list[str]:
    return STUDENT_COLUMNS + [slug + suffix for slug in slugs for suffix in PER_ASSIGNMENT] + ["total", "total_max"]


def gradebook_csv(session: Session, course: Course) -> str:
    slugs = [rubric.slug for rubric in course.assignments()]
    policies = {slug: policy_for(session, slug) for slug in slugs}
    students = session.execute(select(User).where(User.role == "student").order_by(User.name)).scalars().all()
    graded = (
        session.execute(select(Submission).options(selectinload(Submission.user)).where(Submission.status == "graded"))
        .scalars()
        .all()
    )
    by_student_assignment: dict[tuple[int, str], list[Submission]] = defaultdict(list)
    max_by_assignment: dict[str, float] = {}
    for submission in graded:
        by_student_assignment[(submission.user_id, submission.assignment)].append(submission)
        if submission.max_score is not None:
            max_by_assignment[submission.assignment] = max(
                max_by_assignment.get(submission.assignment, 0.0), submission.max_score
            )

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(gradebook_columns(slugs))
    for student in students:
        row: list[object] = [_text(student.name), _text(student.full_name), _text(student.email)]
        total = 0.0
        for slug in slugs:
            counted = counting_submission(by_student_assignment.get((student.id, slug), []), policies[slug])
            if counted is None:
                row += ["", _number(max_by_assignment.get(slug)), "", ""]
                continue
            score = policies[slug].effective_score(counted) or 0.0
            total += score
            row += [
                _number(score),
                _number(counted.max_score),
                counted.id,
                policies[slug].late_days(counted.submitted_at),
            ]
        row += [_number(total), _number(sum(max_by_assignment.get(slug, 0.0) for slug in slugs))]
        writer.writerow(row)
    return buffer.getvalue()


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _text(value: str) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas; quote them."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value
