"""Request and response bodies of the HTTP API (pydantic); OpenAPI is generated from these."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from autograder.report import CellIssue, Environment, TestResult, TimingResult

Role = Literal["student", "ta", "instructor"]
Status = Literal["queued", "running", "graded", "error"]
Counting = Literal["latest", "best"]
LateMode = Literal["accept", "penalty", "reject"]

USER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,119}$"
MAX_ID = 2**63 - 1  # database integers are 64-bit


def _encodable(text: str) -> str:
    """Refuse lone surrogates: JSON can carry them, UTF-8 (and so the database) cannot."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text contains characters that are not valid Unicode (lone surrogates)") from None
    return text


Text = Annotated[str, AfterValidator(_encodable)]


def _to_utc(moment: datetime) -> datetime:
    """Times without a zone are UTC; every time is stored and compared in UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("the time is out of range") from None


UTCTime = Annotated[datetime, AfterValidator(_to_utc)]


class ErrorBody(BaseModel):
    detail: str = Field(description="what went wrong, in a sentence")
    code: str = Field(description="stable machine-readable reason, e.g. invalid_notebook")


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    queued: int
    running: int


# --- users -------------------------------------------------------------------------------


class UserOut(BaseModel):
    id: int
    name: str
    role: Role
    full_name: str
    email: str
    created_at: datetime


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=USER_NAME_PATTERN, description="login name, e.g. a student id")
    role: Role
    full_name: Text = Field(default="", max_length=200)
    email: Text = Field(default="", max_length=200)


class IssuedToken(BaseModel):
    user: UserOut
    token: str = Field(description="shown once; the service keeps only its hash")


class RosterImport(BaseModel):
    created: list[UserOut]
    updated: list[UserOut]
    unchanged: int
    tokens: dict[str, str] = Field(description="user name -> API token, for the users created")


# --- assignments -------------------------------------------------------------------------


class LatePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: LateMode = Field(default="accept", description="accept late work, deduct a penalty, or refuse it")
    penalty_per_day: float = Field(default=0.0, ge=0, le=1, description="fraction of the score per started late day")
    max_late_days: int | None = Field(default=None, ge=0, le=365, description="after this, late work is refused")


class AssignmentOut(BaseModel):
    slug: str
    title: str
    lesson: str
    description: str
    opens_at: datetime | None
    due_at: datetime | None
    late_policy: LatePolicy
    counting: Counting
    release_details_at: datetime | None = Field(description="when students see hidden tests' details")
    accepting_submissions: bool


class AssignmentUpdate(BaseModel):
    """Fields left out keep their value; an explicit null clears a date."""

    model_config = ConfigDict(extra="forbid")
    opens_at: UTCTime | None = None
    due_at: UTCTime | None = None
    late_policy: LatePolicy | None = None
    counting: Counting | None = None


# --- submissions -------------------------------------------------------------------------


class OverrideOut(BaseModel):
    score: float
    comment: str
    by: str | None
    at: datetime | None


class SubmissionOut(BaseModel):
    id: int
    assignment: str
    student: str
    status: Status
    error: str | None = Field(description="why grading failed, when status is error")
    filename: str
    size_bytes: int
    sha256: str
    submitted_at: datetime
    started_at: datetime | None
    graded_at: datetime | None
    attempts: int
    score: float | None = Field(description="the grader's score")
    max_score: float | None
    late_days: int
    effective_score: float | None = Field(description="after the late policy, or the override")
    override: OverrideOut | None
    misconceptions: list[str]


class SubmissionPage(BaseModel):
    items: list[SubmissionOut]
    total: int
    limit: int
    offset: int


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    score: float | None = Field(
        ge=0, le=1e6, allow_inf_nan=False, description="the new score; null removes the override"
    )
    comment: Text = Field(min_length=1, max_length=4000, description="why (kept in the audit log)")


class Regraded(BaseModel):
    queued: list[int]


class AuditEventOut(BaseModel):
    id: int
    at: datetime
    actor: str | None
    action: str
    submission_id: int | None
    detail: dict[str, Any]


# --- reports -----------------------------------------------------------------------------


class HiddenSummary(BaseModel):
    tests: int
    passed: int
    not_passed: int
    score: float
    max_score: float


class MisconceptionFeedback(BaseModel):
    id: str
    planned: bool
    feedback: str
    remedy: str
    evidence: list[str] = Field(description="names of the tests that showed it (visible ones only for students)")
    hidden_evidence: int = Field(default=0, description="how many hidden tests showed it")


class ReportView(BaseModel):
    submission_id: int
    assignment: str
    student: str
    view: Literal["full", "student"] = Field(description="full: every test; student: hidden tests summarised")
    details_released: bool
    release_details_at: datetime | None
    score: float
    max_score: float
    effective_score: float | None
    late_days: int
    override: OverrideOut | None
    grader_version: str
    environment: Environment
    graded_at: datetime
    duration_s: float
    grading_seed: int | None
    tests: list[TestResult]
    hidden: HiddenSummary | None
    misconceptions: list[MisconceptionFeedback]
    timing: list[TimingResult]
    cells: list[CellIssue]
    stdout_excerpt: str


class GradescopeTest(BaseModel):
    score: float
    max_score: float
    name: str
    number: str
    output: str
    tags: list[str]
    visibility: Literal["visible", "hidden", "after_due_date", "after_published"]
    status: Literal["passed", "failed"]


class GradescopeResults(BaseModel):
    """Gradescope's autograder `results.json` format."""

    score: float
    execution_time: float
    output: str
    visibility: Literal["visible", "hidden", "after_due_date", "after_published"]
    stdout_visibility: Literal["visible", "hidden", "after_due_date", "after_published"]
    tests: list[GradescopeTest]
    extra_data: dict[str, Any]


# --- analytics ---------------------------------------------------------------------------


class AssignmentCount(BaseModel):
    assignment: str
    submissions: int
    students: int


class PeriodCount(BaseModel):
    period: date = Field(description="first day of the period")
    submissions: int
    students: int


class MisconceptionStat(BaseModel):
    id: str
    planned: bool
    in_catalogue: bool
    lesson: str
    statement: str
    submissions: int
    students: int
    student_share: float = Field(description="students with it / students with a graded submission in scope")
    by_assignment: list[AssignmentCount]
    over_time: list[PeriodCount]


class MisconceptionAnalytics(BaseModel):
    assignment: str | None
    since: datetime | None
    until: datetime | None
    bucket: Literal["day", "week"]
    graded_submissions: int
    students: int
    planned: list[MisconceptionStat] = Field(description="ids from the lesson plans (siglip.*, sam.*, module.*)")
    implementation: list[MisconceptionStat] = Field(description="impl.* ids")
    never_seen: list[str] = Field(description="catalogue ids no graded submission in scope showed")


class DrillDownItem(BaseModel):
    submission_id: int
    student: str
    assignment: str
    submitted_at: datetime
    score: float | None
    evidence: list[str]


class DrillDown(BaseModel):
    misconception_id: str
    planned: bool
    statement: str
    total: int
    items: list[DrillDownItem]


class UnmappedTest(BaseModel):
    assignment: str
    name: str
    target: str
    kind: str
    failures: int
    students: int
    statuses: dict[str, int]
    example_submissions: list[int]


class UnmappedTests(BaseModel):
    items: list[UnmappedTest]
