"""Misconception analytics over students' graded submissions.

Counts per misconception id (submissions and distinct students), per assignment and per day or
week, planned ids (from the lesson plans) apart from `impl.*` ones; the drill-down to the
submissions; and failing tests linked to no misconception (candidates for new catalogue entries).
Staff submissions are left out of every count.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from autograder.catalogue import Catalogue
from service.models import MisconceptionHitRow, Submission, TestOutcome, User
from service.schemas import (
    AssignmentCount,
    DrillDown,
    DrillDownItem,
    MisconceptionAnalytics,
    MisconceptionStat,
    PeriodCount,
    UnmappedTest,
    UnmappedTests,
)

FAILING = ("failed", "error", "timeout")


@dataclass(frozen=True)
class Scope:
    assignment: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def graded_student_submissions(self) -> Select:
        query = (
            select(Submission.id, Submission.user_id, Submission.assignment, Submission.submitted_at)
            .join(User, Submission.user_id == User.id)
            .where(Submission.status == "graded", User.role == "student")
        )
        if self.assignment is not None:
            query = query.where(Submission.assignment == self.assignment)
        if self.since is not None:
            query = query.where(Submission.submitted_at >= self.since)
        if self.until is not None:
            query = query.where(Submission.submitted_at < self.until)
        return query


def period_start(moment: datetime, bucket: str) -> date:
    day = moment.date()
    return day - timedelta(days=day.weekday()) if bucket == "week" else day


def is_planned(misconception_id: str, catalogue: Catalogue) -> bool:
    entry = catalogue.get(misconception_id)
    return entry.planned if entry is not None else not misconception_id.startswith("impl.")


def misconceptions(session: Session, catalogue: Catalogue, scope: Scope, bucket: str) -> MisconceptionAnalytics:
    base = scope.graded_student_submissions().subquery()
    totals = session.execute(select(func.count(), func.count(func.distinct(base.c.user_id))).select_from(base)).one()
    rows = session.execute(
        select(
            MisconceptionHitRow.misconception_id, base.c.id, base.c.user_id, base.c.assignment, base.c.submitted_at
        ).join(base, MisconceptionHitRow.submission_id == base.c.id)
    ).all()
    grouped: dict[str, list] = defaultdict(list)
    for row in rows:
        grouped[row.misconception_id].append(row)
    stats = [_stat(mid, hits, catalogue, bucket, totals[1]) for mid, hits in grouped.items()]
    stats.sort(key=lambda stat: (-stat.students, -stat.submissions, stat.id))
    return MisconceptionAnalytics(
        assignment=scope.assignment,
        since=scope.since,
        until=scope.until,
        bucket=bucket,
        graded_submissions=totals[0],
        students=totals[1],
        planned=[stat for stat in stats if stat.planned],
        implementation=[stat for stat in stats if not stat.planned],
        never_seen=sorted(catalogue.ids() - set(grouped)),
    )


def _stat(
    misconception_id: str, hits: list, catalogue: Catalogue, bucket: str, students_in_scope: int
) -> MisconceptionStat:
    entry = catalogue.get(misconception_id)
    students = {hit.user_id for hit in hits}
    by_assignment: dict[str, list] = defaultdict(list)
    by_period: dict[date, list] = defaultdict(list)
    for hit in hits:
        by_assignment[hit.assignment].append(hit)
        by_period[period_start(hit.submitted_at, bucket)].append(hit)
    return MisconceptionStat(
        id=misconception_id,
        planned=is_planned(misconception_id, catalogue),
        in_catalogue=entry is not None,
        lesson=entry.lesson if entry else "",
        statement=entry.statement if entry else "",
        submissions=len({hit.id for hit in hits}),
        students=len(students),
        student_share=round(len(students) / students_in_scope, 4) if students_in_scope else 0.0,
        by_assignment=[
            AssignmentCount(assignment=slug, submissions=len(group), students=len({hit.user_id for hit in group}))
            for slug, group in sorted(by_assignment.items())
        ],
        over_time=[
            PeriodCount(period=period, submissions=len(group), students=len({hit.user_id for hit in group}))
            for period, group in sorted(by_period.items())
        ],
    )


def drill_down(
    session: Session, catalogue: Catalogue, misconception_id: str, scope: Scope, limit: int, offset: int
) -> DrillDown:
    base = scope.graded_student_submissions().subquery()
    matching = (
        select(
            MisconceptionHitRow.evidence,
            Submission.id,
            Submission.assignment,
            Submission.submitted_at,
            Submission.score,
            Submission.override_score,
            User.name,
        )
        .join(base, MisconceptionHitRow.submission_id == base.c.id)
        .join(Submission, Submission.id == base.c.id)
        .join(User, User.id == Submission.user_id)
        .where(MisconceptionHitRow.misconception_id == misconception_id)
    )
    total = session.execute(select(func.count()).select_from(matching.subquery())).scalar_one()
    rows = session.execute(
        matching.order_by(Submission.submitted_at.desc(), Submission.id.desc()).limit(limit).offset(offset)
    ).all()
    entry = catalogue.get(misconception_id)
    return DrillDown(
        misconception_id=misconception_id,
        planned=is_planned(misconception_id, catalogue),
        statement=entry.statement if entry else "",
        total=total,
        items=[
            DrillDownItem(
                submission_id=row.id,
                student=row.name,
                assignment=row.assignment,
                submitted_at=row.submitted_at,
                score=row.override_score if row.override_score is not None else row.score,
                evidence=json.loads(row.evidence or "[]"),
            )
            for row in rows
        ],
    )


def unmapped_failing_tests(session: Session, scope: Scope, include_not_implemented: bool) -> UnmappedTests:
    """Tests that failed without naming a misconception, most frequent first. A test failing
    because the function was not written at all says nothing about a misconception, so
    `not_implemented` is left out unless asked for."""
    statuses = FAILING + (("not_implemented",) if include_not_implemented else ())
    base = scope.graded_student_submissions().subquery()
    rows = session.execute(
        select(
            TestOutcome.name,
            TestOutcome.target,
            TestOutcome.kind,
            TestOutcome.status,
            base.c.id,
            base.c.user_id,
            base.c.assignment,
        )
        .join(base, TestOutcome.submission_id == base.c.id)
        .where(TestOutcome.misconception_count == 0, TestOutcome.status.in_(statuses))
    ).all()
    grouped: dict[tuple[str, str, str, str], list] = defaultdict(list)
    for row in rows:
        grouped[(row.assignment, row.name, row.target, row.kind)].append(row)
    items = [
        UnmappedTest(
            assignment=assignment,
            name=name,
            target=target,
            kind=kind,
            failures=len(group),
            students=len({row.user_id for row in group}),
            statuses=dict(Counter(row.status for row in group)),
            example_submissions=sorted({row.id for row in group}, reverse=True)[:5],
        )
        for (assignment, name, target, kind), group in grouped.items()
    ]
    items.sort(key=lambda item: (-item.students, -item.failures, item.assignment, item.name))
    return UnmappedTests(items=items)
