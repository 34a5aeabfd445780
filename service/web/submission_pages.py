"""Uploading a notebook, watching it being graded, and reading the result: the student's
feedback page, or for staff the full report with regrade, override and the audit trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, File, Form, Path, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from autograder.notebook import NotebookError, load_submission
from service.core import assignments, reports, submissions
from service.core.course import rubric_or_none
from service.errors import ServiceError
from service.models import User
from service.schemas import MAX_ID, OverrideIn, ReportView, SubmissionOut
from service.web import code, present
from service.web.render import error_page, page, wants_json
from service.web.routing import web_router
from service.web.session import CSRF_FIELD, check_csrf, context_of, signed_in, staff

router = web_router()

SubmissionId = Annotated[int, Path(ge=1, le=MAX_ID)]
Slug = Annotated[str, Path(max_length=64)]
CsrfField = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]
POLL_INTERVAL_S = 2


def submission_url(submission_id: int) -> str:
    return f"/submissions/{submission_id}"


# --- an assignment: upload, and the caller's own submissions -------------------------------


@router.get("/assignments/{slug}")
def assignment_page(request: Request, slug: Slug, user: Annotated[User, Depends(signed_in)]) -> Response:
    return _assignment_page(request, user, slug)


def _assignment_page(request: Request, user: User, slug: str, problem: ServiceError | None = None) -> Response:
    context = context_of(request)
    rubric = assignments.require_rubric(context.course, slug)
    with context.db.session() as session:
        described = assignments.describe(rubric, assignments.policy_for(session, slug))
        mine, _ = submissions.search(session, user, submissions.Filters(assignment=slug, student=user.name, limit=50))
        own = submissions.outs(session, mine)
    return page(
        request,
        "assignment.html",
        status_code=problem.status if problem else 200,
        title=described.title,
        assignment=described,
        submissions=own,
        problem=problem,
        max_upload_bytes=context.settings.max_upload_bytes,
    )


@router.post("/assignments/{slug}/submissions")
def upload(
    request: Request,
    slug: Slug,
    user: Annotated[User, Depends(signed_in)],
    file: Annotated[UploadFile, File()],
    csrf_token: CsrfField = "",
) -> Response:
    """The same checks as POST /api/submissions; a script gets JSON, a plain form a redirect."""
    check_csrf(request, csrf_token)
    context = context_of(request)
    data = file.file.read(context.settings.max_upload_bytes + 1)
    try:
        with context.db.session() as session:
            submission = submissions.accept(
                session,
                context.settings,
                context.course,
                context.storage,
                user,
                slug,
                submissions.Upload(filename=file.filename or "", data=data),
            )
            submission_id = submission.id
    except ServiceError as refusal:
        if wants_json(request) or refusal.code == "unknown_assignment":
            return error_page(request, refusal)
        return _assignment_page(request, user, slug, problem=refusal)
    context.executor.submit(submission_id)
    if wants_json(request):
        return JSONResponse(
            {
                "id": submission_id,
                "status": "queued",
                "url": submission_url(submission_id),
                "status_url": f"{submission_url(submission_id)}/status",
            },
            status_code=202,
        )
    return RedirectResponse(submission_url(submission_id), status_code=303)


# --- status and the report ----------------------------------------------------------------


def _summary(request: Request, user: User, submission_id: int) -> SubmissionOut:
    with context_of(request).db.session() as session:
        submission = submissions.load(session, user, submission_id)
        return submissions.to_out(submission, assignments.policy_for(session, submission.assignment))


@router.get("/submissions/{submission_id}/status")
def status(request: Request, submission_id: SubmissionId, user: Annotated[User, Depends(signed_in)]) -> Response:
    """What the upload page polls while the notebook is graded."""
    out = _summary(request, user, submission_id)
    return JSONResponse(
        {
            "id": out.id,
            "status": out.status,
            "done": out.status in ("graded", "error"),
            "score": out.score,
            "max_score": out.max_score,
            "effective_score": out.effective_score,
            "error": out.error,
            "url": submission_url(out.id),
        },
        headers={"Cache-Control": "no-store"},
    )


@router.get("/submissions/{submission_id}")
def submission_page(
    request: Request, submission_id: SubmissionId, user: Annotated[User, Depends(signed_in)], done: str = ""
) -> Response:
    context = context_of(request)
    with context.db.session() as session:
        submission = submissions.load(session, user, submission_id)
        out = submissions.to_out(submission, assignments.policy_for(session, submission.assignment))
        rubric = rubric_or_none(context.course, submission.assignment)
        report = None
        if submission.status == "graded":
            policy = assignments.policy_for(session, submission.assignment)
            report = reports.view(submission, user, policy, rubric.release_details_at if rubric else None)
        audit = submissions.audit_log(session, submission_id, None, 100, 0) if user.is_staff else []
        digest = submission.sha256
    values = dict(
        title=f"Submission {submission_id}",
        submission=out,
        assignment_title=rubric.title if rubric else out.assignment,
        report=report,
        functions=present.by_function(report.tests) if report else [],
        mismatches=present.mismatches,
        status_words=present.STATUS_WORDS,
        timing=present.timing_rows(report.timing) if report else [],
        cells=[_cell_view(cell) for cell in report.cells] if report else [],
        poll_interval_s=POLL_INTERVAL_S,
        done=done,
    )
    if not user.is_staff:
        return page(request, "feedback.html", **values)
    definitions = _failing_definitions(context.storage.get(digest), report) if report else []
    return page(request, "report.html", audit=audit, definitions=definitions, **values)


def _cell_view(cell) -> dict:
    marked = code.error_lines(cell.message, cell.cell_index)
    return {
        "cell": cell,
        "html": code.highlighted(cell.source_excerpt, marked_lines=marked) if cell.source_excerpt else None,
        "lines": marked,
    }


def _failing_definitions(notebook: bytes, report: ReportView) -> list[dict]:
    """The student's source of every function with a failing test, highlighted."""
    failing = list(dict.fromkeys(test.target for test in report.tests if test.status != "passed"))
    try:
        cells = load_submission(notebook).cells
    except NotebookError:
        return []
    return [
        {"definition": found, "html": code.highlighted(found.source, first_line=found.first_line)}
        for found in code.failing_definitions(cells, failing)
    ]


@router.get("/submissions/{submission_id}/notebook")
def notebook(request: Request, submission_id: SubmissionId, user: Annotated[User, Depends(signed_in)]) -> Response:
    """The uploaded notebook, as GET /api/submissions/{id}/notebook gives it."""
    context = context_of(request)
    with context.db.session() as session:
        submission = submissions.load(session, user, submission_id)
        digest, filename = submission.sha256, submission.filename or f"submission-{submission_id}.ipynb"
    safe_name = "".join(ch for ch in filename if ch.isalnum() or ch in "._-") or "submission.ipynb"
    return Response(
        context.storage.get(digest),
        media_type="application/x-ipynb+json",
        headers={"Content-Disposition": f'attachment; filename="{safe_name}"', "X-Content-Type-Options": "nosniff"},
    )


# --- staff actions ------------------------------------------------------------------------


@router.post("/submissions/{submission_id}/regrade")
def regrade(
    request: Request, submission_id: SubmissionId, actor: Annotated[User, Depends(staff)], csrf_token: CsrfField = ""
) -> Response:
    check_csrf(request, csrf_token)
    context = context_of(request)
    with context.db.session() as session:
        submissions.requeue(session, actor, submissions.load(session, actor, submission_id))
    context.executor.submit(submission_id)
    return RedirectResponse(f"{submission_url(submission_id)}?done=regrade", status_code=303)


@router.post("/submissions/{submission_id}/override")
def override(
    request: Request,
    submission_id: SubmissionId,
    actor: Annotated[User, Depends(staff)],
    comment: Annotated[str, Form(max_length=4000)] = "",
    score: Annotated[str, Form(max_length=40)] = "",
    action: Annotated[str, Form(max_length=16)] = "set",
    csrf_token: CsrfField = "",
) -> Response:
    """Set (or, with action=remove, remove) the score override; the comment goes to the audit log."""
    check_csrf(request, csrf_token)
    new_score = None if action == "remove" else _parse_score(score)
    try:
        change = OverrideIn(score=new_score, comment=comment.strip())
    except ValidationError:
        raise ServiceError(
            422, "validation_error", "give a comment, and a score between 0 and the maximum (or remove the override)"
        ) from None
    with context_of(request).db.session() as session:
        submission = submissions.load(session, actor, submission_id)
        submissions.set_override(session, session.get(User, actor.id), submission, change.score, change.comment)
    return RedirectResponse(f"{submission_url(submission_id)}?done=override#audit", status_code=303)


def _parse_score(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ServiceError(422, "validation_error", f"the score {text.strip()!r} is not a number") from None
