"""Database tables (SQLAlchemy 2). The schema itself is created by the Alembic migrations."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ROLES = ("student", "ta", "instructor")
STATUSES = ("queued", "running", "graded", "error")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Stores naive UTC (SQLite keeps no zone), always hands back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    full_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Written first in every submission transaction: serialises one user's uploads (row lock).
    last_submission_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")

    @property
    def is_staff(self) -> bool:
        return self.role in ("ta", "instructor")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship(back_populates="tokens")


class AssignmentSettings(Base):
    """What the instructor decides about an assignment; the rubric itself stays in YAML."""

    __tablename__ = "assignment_settings"

    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    late_mode: Mapped[str] = mapped_column(String(16), default="accept")
    late_penalty_per_day: Mapped[float] = mapped_column(Float, default=0.0)
    late_max_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    counting: Mapped[str] = mapped_column(String(16), default="latest")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (Index("ix_submissions_user_assignment", "user_id", "assignment"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    assignment: Mapped[str] = mapped_column(String(64), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255), default="")
    size_bytes: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True, default="queued")
    error: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    graded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Refreshed by a Celery worker while it grades; a `running` row whose heartbeat is older than
    # the lease belongs to a worker that died (service/executors/celery_worker.py).
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    report_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    override_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    override_comment: Mapped[str] = mapped_column(Text, default="")
    override_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    override_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    override_by: Mapped[User | None] = relationship(foreign_keys=[override_by_id])
    hits: Mapped[list[MisconceptionHitRow]] = relationship(back_populates="submission", cascade="all, delete-orphan")
    outcomes: Mapped[list[TestOutcome]] = relationship(back_populates="submission", cascade="all, delete-orphan")


class MisconceptionHitRow(Base):
    """One misconception in one graded submission (the analytics read these rows)."""

    __tablename__ = "misconception_hits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    misconception_id: Mapped[str] = mapped_column(String(120), index=True)
    planned: Mapped[bool] = mapped_column(Boolean)
    evidence: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of test names

    submission: Mapped[Submission] = relationship(back_populates="hits")


class TestOutcome(Base):
    """One test result of one graded submission (failing tests without a misconception are mined)."""

    __tablename__ = "test_outcomes"
    __test__ = False  # not a pytest class

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    target: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    visible: Mapped[bool] = mapped_column(Boolean)
    misconception_count: Mapped[int] = mapped_column(Integer)

    submission: Mapped[Submission] = relationship(back_populates="outcomes")


class AuditEvent(Base):
    """Who changed what: score overrides, regrades, assignment settings, users."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    action: Mapped[str] = mapped_column(String(32), index=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), nullable=True, index=True)
    detail: Mapped[str] = mapped_column(Text, default="{}")  # JSON object

    actor: Mapped[User | None] = relationship()
