"""Accepting uploads, reading submissions as a role may, regrades and score overrides."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from autograder.notebook import NotebookError, load_submission
from service.core import assignments
from service.core.course import Course
from service.errors import ServiceError, not_found
from service.models import AuditEvent, MisconceptionHitRow, Submission, User, utcnow
from service.schemas import AuditEventOut, OverrideOut, SubmissionOut
from service.settings import Settings
from service.storage import BlobStorage


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


def validate_notebook(data: bytes) -> None:
    """Refuse what is not a readable nbformat-4 notebook, naming the reason."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ServiceError(422, "not_a_notebook", "the file is not JSON, so it is not a Jupyter notebook") from None
    if not isinstance(document, dict) or "cells" not in document or "nbformat" not in document:
        raise ServiceError(
            422, "not_a_notebook", "the file is JSON but not a Jupyter notebook (no cells and nbformat fields)"
        )
    try:
        load_submission(data)
    except NotebookError as error:
        raise ServiceError(422, "invalid_notebook", str(error)) from None


def accept(
    session: Session, settings: Settings, course: Course, storage: BlobStorage, user: User, slug: str, upload: Upload
) -> Submission:
    """Check, store durably and record a submission as `queued`. The caller commits, then enqueues.
    Nothing is stored for a refused upload."""
    try:
        course.rubric(slug)
    except KeyError:
        raise ServiceError(422, "unknown_assignment", f"no assignment {slug!r}") from None
    if len(upload.data) > settings.max_upload_bytes:
        raise _too_large(settings)
    if not upload.data:
        raise ServiceError(422, "empty_file", "the uploaded file is empty")
    validate_notebook(upload.data)
    policy = assignments.policy_for(session, slug)
    now = utcnow()
    refusal = None if user.is_staff else policy.refusal(now)
    if refusal is not None:
        raise refusal
    digest = hashlib.sha256(upload.data).hexdigest()

    _lock_user(session, user, now)
    now = utcnow()  # after waiting for the lock: submission times follow the order of the ids
    _refuse_duplicate(session, settings, user, slug, digest, now)
    _enforce_rate_limit(session, settings, user, now)
    storage.put(upload.data)  # durable before the row that points at it is committed
    submission = Submission(
        user_id=user.id,
        assignment=slug,
        sha256=digest,
        filename=_clean_filename(upload.filename),
        size_bytes=len(upload.data),
        status="queued",
        error="",
        submitted_at=now,
        attempts=0,
    )
    session.add(submission)
    session.flush()
    return submission


def _too_large(settings: Settings) -> ServiceError:
    return ServiceError(
        413,
        "payload_too_large",
        f"the notebook is larger than the limit of {settings.max_upload_bytes} bytes",
        limit_bytes=settings.max_upload_bytes,
    )


def _lock_user(session: Session, user: User, now: datetime) -> None:
    """The first write of the transaction: a row lock (PostgreSQL) or the write lock (SQLite)
    that makes one user's duplicate and rate checks and the insert a single atomic step."""
    session.execute(update(User).where(User.id == user.id).values(last_submission_at=now))


def _refuse_duplicate(session: Session, settings: Settings, user: User, slug: str, digest: str, now: datetime) -> None:
    """The same notebook as the user's previous submission, within the window, is a double
    click; after an `error` it is a legitimate retry."""
    since = now - timedelta(seconds=settings.duplicate_window_s)
    previous = session.execute(
        select(Submission.id, Submission.status, Submission.sha256)
        .where(Submission.user_id == user.id, Submission.assignment == slug, Submission.submitted_at >= since)
        .order_by(Submission.id.desc())
        .limit(1)
    ).first()
    if previous is not None and previous.sha256 == digest and previous.status != "error":
        raise ServiceError(
            409,
            "duplicate_submission",
            f"this notebook is identical to submission {previous.id}, sent less than "
            f"{settings.duplicate_window_s:g} s ago",
            submission_id=previous.id,
        )


def _enforce_rate_limit(session: Session, settings: Settings, user: User, now: datetime) -> None:
    since = now - timedelta(seconds=settings.rate_limit_window_s)
    recent = list(
        session.execute(
            select(Submission.submitted_at)
            .where(Submission.user_id == user.id, Submission.submitted_at >= since)
            .order_by(Submission.submitted_at)
        ).scalars()
    )
    if len(recent) < settings.rate_limit_count:
        return
    oldest_counted = recent[len(recent) - settings.rate_limit_count]
    retry_after = max(
        1, int((oldest_counted + timedelta(seconds=settings.rate_limit_window_s) - now).total_seconds()) + 1
    )
    raise ServiceError(
        429,
        "rate_limited",
        f"at most {settings.rate_limit_count} submissions per {settings.rate_limit_window_s:g} s; "
        f"try again in {retry_after} s",
        headers={"Retry-After": str(retry_after)},
        retry_after_s=retry_after,
    )


def _clean_filename(name: str | None) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in base if ch.isprintable())[:255]


# --- reading -----------------------------------------------------------------------------


def _with_relations(query):
    return query.options(
        selectinload(Submission.user), selectinload(Submission.override_by), selectinload(Submission.hits)
    )


def load(session: Session, viewer: User, submission_id: int) -> Submission:
    """The submission, if `viewer` may see it; a student asking for another's gets 404, as for a missing one."""
    submission = session.execute(
        _with_relations(select(Submission)).where(Submission.id == submission_id)
    ).scalar_one_or_none()
    if submission is None or (not viewer.is_staff and submission.user_id != viewer.id):
        raise not_found(f"submission {submission_id}")
    return submission


@dataclass(frozen=True)
class Filters:
    assignment: str | None = None
    student: str | None = None
    status: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    misconception: str | None = None
    limit: int = 50
    offset: int = 0


def search(session: Session, viewer: User, filters: Filters) -> tuple[list[Submission], int]:
    """Students see only their own; scores compare the override when there is one."""
    query = select(Submission).join(User, Submission.user_id == User.id)
    if not viewer.is_staff:
        query = query.where(Submission.user_id == viewer.id)
    if filters.student is not None:
        query = query.where(User.name == filters.student)
    if filters.assignment is not None:
        query = query.where(Submission.assignment == filters.assignment)
    if filters.status is not None:
        query = query.where(Submission.status == filters.status)
    shown_score = func.coalesce(Submission.override_score, Submission.score)
    if filters.min_score is not None:
        query = query.where(shown_score >= filters.min_score)
    if filters.max_score is not None:
        query = query.where(shown_score <= filters.max_score)
    if filters.misconception is not None:
        hit = select(MisconceptionHitRow.submission_id).where(
            MisconceptionHitRow.misconception_id == filters.misconception
        )
        query = query.where(Submission.id.in_(hit))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    page = session.execute(
        _with_relations(query).order_by(Submission.id.desc()).limit(filters.limit).offset(filters.offset)
    ).scalars()
    return list(page), total


def to_out(submission: Submission, policy: assignments.Policy) -> SubmissionOut:
    return SubmissionOut(
        id=submission.id,
        assignment=submission.assignment,
        student=submission.user.name,
        status=submission.status,
        error=submission.error or None,
        filename=submission.filename,
        size_bytes=submission.size_bytes,
        sha256=submission.sha256,
        submitted_at=submission.submitted_at,
        started_at=submission.started_at,
        graded_at=submission.graded_at,
        attempts=submission.attempts,
        score=submission.score,
        max_score=submission.max_score,
        late_days=policy.late_days(submission.submitted_at),
        effective_score=policy.effective_score(submission),
        override=override_of(submission),
        misconceptions=sorted({hit.misconception_id for hit in submission.hits}),
    )


def override_of(submission: Submission) -> OverrideOut | None:
    if submission.override_score is None:
        return None
    by = submission.override_by.name if submission.override_by is not None else None
    return OverrideOut(
        score=submission.override_score, comment=submission.override_comment, by=by, at=submission.override_at
    )


def outs(session: Session, submissions: list[Submission]) -> list[SubmissionOut]:
    policy_cache: dict[str, assignments.Policy] = {}
    result = []
    for submission in submissions:
        if submission.assignment not in policy_cache:
            policy_cache[submission.assignment] = assignments.policy_for(session, submission.assignment)
        result.append(to_out(submission, policy_cache[submission.assignment]))
    return result


# --- staff actions -----------------------------------------------------------------------


def requeue(session: Session, actor: User, submission: Submission) -> None:
    """Forget the last grade and queue the submission again (for example after a rubric change)."""
    session.add(
        AuditEvent(
            actor_id=actor.id,
            action="regrade",
            submission_id=submission.id,
            detail=json.dumps({"previous_status": submission.status, "previous_score": submission.score}),
        )
    )
    submission.status = "queued"
    submission.error = ""
    submission.attempts = 0
    submission.started_at = None
    submission.graded_at = None
    submission.score = None
    submission.max_score = None
    submission.report_json = None
    submission.hits.clear()
    submission.outcomes.clear()


def requeue_assignment(session: Session, actor: User, slug: str) -> list[int]:
    submissions = (
        session.execute(
            _with_relations(select(Submission)).where(Submission.assignment == slug).order_by(Submission.id)
        )
        .scalars()
        .all()
    )
    for submission in submissions:
        requeue(session, actor, submission)
    return [submission.id for submission in submissions]


def set_override(session: Session, actor: User, submission: Submission, score: float | None, comment: str) -> None:
    if score is not None and submission.max_score is not None and score > submission.max_score:
        raise ServiceError(422, "score_out_of_range", f"score {score:g} is above the maximum {submission.max_score:g}")
    session.add(
        AuditEvent(
            actor_id=actor.id,
            action="override" if score is not None else "override_removed",
            submission_id=submission.id,
            detail=json.dumps(
                {
                    "previous_override": submission.override_score,
                    "new_override": score,
                    "grader_score": submission.score,
                    "comment": comment,
                }
            ),
        )
    )
    submission.override_score = score
    submission.override_comment = comment
    submission.override_by_id = actor.id
    submission.override_by = actor
    submission.override_at = utcnow()


def audit_log(
    session: Session, submission_id: int | None, action: str | None, limit: int, offset: int
) -> list[AuditEventOut]:
    query = select(AuditEvent).options(selectinload(AuditEvent.actor)).order_by(AuditEvent.id.desc())
    if submission_id is not None:
        query = query.where(AuditEvent.submission_id == submission_id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    events = session.execute(query.limit(limit).offset(offset)).scalars()
    return [
        AuditEventOut(
            id=event.id,
            at=event.at,
            actor=event.actor.name if event.actor else None,
            action=event.action,
            submission_id=event.submission_id,
            detail=json.loads(event.detail or "{}"),
        )
        for event in events
    ]
