"""Submissions: upload, read (own only for students), report, regrade, override, audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import Response

from service.api.deps import (
    ERRORS,
    MAX_ID,
    NOT_FOUND,
    AnyUser,
    Context,
    Limit,
    Offset,
    Score,
    Staff,
    SubmissionId,
    text_query,
)
from service.core import assignments, reports, submissions
from service.core.course import rubric_or_none
from service.models import User
from service.schemas import (
    AuditEventOut,
    ErrorBody,
    GradescopeResults,
    OverrideIn,
    ReportView,
    Status,
    SubmissionOut,
    SubmissionPage,
    Text,
)

router = APIRouter(tags=["submissions"])

UPLOAD_ERRORS = {
    **ERRORS,
    403: {"model": ErrorBody, "description": "the assignment is not open (assignment_not_open, assignment_closed)"},
    409: {"model": ErrorBody, "description": "the same notebook was just submitted (duplicate_submission)"},
    413: {"model": ErrorBody, "description": "the notebook is over the size limit"},
    422: {"model": ErrorBody, "description": "not_a_notebook, invalid_notebook, empty_file, unknown_assignment"},
    429: {"model": ErrorBody, "description": "too many submissions; see Retry-After"},
}
NOT_GRADED = {409: {"model": ErrorBody, "description": "not graded (yet): code not_graded"}}


@router.post("/api/submissions", response_model=SubmissionOut, status_code=202, responses=UPLOAD_ERRORS)
def submit(
    context: Context,
    user: AnyUser,
    assignment: Annotated[Text, Form(description="assignment slug", max_length=64)],
    file: Annotated[UploadFile, File(description="the notebook (.ipynb)")],
) -> SubmissionOut:
    """Store the notebook durably and queue it for grading; poll GET /api/submissions/{id}."""
    data = file.file.read(context.settings.max_upload_bytes + 1)
    upload = submissions.Upload(filename=file.filename or "", data=data)
    with context.db.session() as session:
        submission = submissions.accept(
            session, context.settings, context.course, context.storage, user, assignment, upload
        )
        submission_id = submission.id
    context.executor.submit(submission_id)
    return _read(context, user, submission_id)


def _read(context, viewer: User, submission_id: int) -> SubmissionOut:
    with context.db.session() as session:
        submission = submissions.load(session, viewer, submission_id)
        return submissions.to_out(submission, assignments.policy_for(session, submission.assignment))


@router.get("/api/submissions", response_model=SubmissionPage, responses=ERRORS)
def list_submissions(
    context: Context,
    user: AnyUser,
    assignment: text_query(64) = None,
    student: text_query(120, "a user name (students only ever see their own)") = None,
    status: Status | None = None,
    min_score: Score = None,
    max_score: Score = None,
    misconception: text_query(120, "a misconception id") = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> SubmissionPage:
    """Students get their own submissions; staff get everyone's, filtered. Newest first."""
    filters = submissions.Filters(assignment, student, status, min_score, max_score, misconception, limit, offset)
    with context.db.session() as session:
        page, total = submissions.search(session, user, filters)
        return SubmissionPage(items=submissions.outs(session, page), total=total, limit=limit, offset=offset)


@router.get("/api/submissions/{submission_id}", response_model=SubmissionOut, responses={**ERRORS, **NOT_FOUND})
def get_submission(submission_id: SubmissionId, context: Context, user: AnyUser) -> SubmissionOut:
    return _read(context, user, submission_id)


@router.get(
    "/api/submissions/{submission_id}/report",
    response_model=ReportView,
    responses={**ERRORS, **NOT_FOUND, **NOT_GRADED},
)
def get_report(submission_id: SubmissionId, context: Context, user: AnyUser) -> ReportView:
    """The grade report as the caller may see it: staff see every test; students see the
    visible tests and, until the rubric's release_details_at, hidden tests as counts."""
    with context.db.session() as session:
        submission = submissions.load(session, user, submission_id)
        rubric = rubric_or_none(context.course, submission.assignment)
        policy = assignments.policy_for(session, submission.assignment)
        return reports.view(submission, user, policy, rubric.release_details_at if rubric else None)


@router.get(
    "/api/submissions/{submission_id}/gradescope",
    response_model=GradescopeResults,
    responses={**ERRORS, **NOT_FOUND, **NOT_GRADED},
)
def get_gradescope(submission_id: SubmissionId, context: Context, user: Staff) -> GradescopeResults:
    """The report as Gradescope's results.json (hidden tests: visibility after_published)."""
    with context.db.session() as session:
        return reports.gradescope(submissions.load(session, user, submission_id))


@router.get(
    "/api/submissions/{submission_id}/notebook",
    response_class=Response,
    responses={
        **ERRORS,
        **NOT_FOUND,
        200: {"content": {"application/x-ipynb+json": {}}, "description": "the notebook"},
    },
)
def get_notebook(submission_id: SubmissionId, context: Context, user: AnyUser) -> Response:
    """The notebook as it was uploaded (its owner and staff)."""
    with context.db.session() as session:
        submission = submissions.load(session, user, submission_id)
        digest, filename = submission.sha256, submission.filename or f"submission-{submission_id}.ipynb"
    safe_name = "".join(ch for ch in filename if ch.isalnum() or ch in "._-") or "submission.ipynb"
    return Response(
        context.storage.get(digest),
        media_type="application/x-ipynb+json",
        headers={"Content-Disposition": f'attachment; filename="{safe_name}"'},
    )


@router.post(
    "/api/submissions/{submission_id}/regrade",
    response_model=SubmissionOut,
    status_code=202,
    responses={**ERRORS, **NOT_FOUND},
)
def regrade(submission_id: SubmissionId, context: Context, actor: Staff) -> SubmissionOut:
    with context.db.session() as session:
        submissions.requeue(session, actor, submissions.load(session, actor, submission_id))
    context.executor.submit(submission_id)
    return _read(context, actor, submission_id)


@router.post(
    "/api/submissions/{submission_id}/override",
    response_model=SubmissionOut,
    responses={**ERRORS, **NOT_FOUND},
)
def override(submission_id: SubmissionId, body: OverrideIn, context: Context, actor: Staff) -> SubmissionOut:
    """Replace the score (null removes the override); the comment and the change go to the audit log."""
    with context.db.session() as session:
        submission = submissions.load(session, actor, submission_id)
        submissions.set_override(session, session.get(User, actor.id), submission, body.score, body.comment)
    return _read(context, actor, submission_id)


@router.get("/api/audit", response_model=list[AuditEventOut], responses=ERRORS)
def audit(
    context: Context,
    _staff: Staff,
    submission_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    action: text_query(32, "override, override_removed, regrade, assignment_update, user_create, roster_import") = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[AuditEventOut]:
    """Overrides, regrades, assignment changes, user creation and roster imports, newest first."""
    with context.db.session() as session:
        return submissions.audit_log(session, submission_id, action, limit, offset)
