"""Exports for the course staff."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from service.api.deps import ERRORS, Context, Staff
from service.core import exports

router = APIRouter(tags=["export"])


@router.get(
    "/api/export/gradebook.csv",
    response_class=Response,
    responses={**ERRORS, 200: {"content": {"text/csv": {}}, "description": "one row per student"}},
)
def gradebook(context: Context, _staff: Staff) -> Response:
    """Columns: student, full_name, email, then per assignment SLUG (the counting submission's
    effective score), SLUG_max, SLUG_submission, SLUG_late_days; then total, total_max."""
    with context.db.session() as session:
        text = exports.gradebook_csv(session, context.course)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="gradebook.csv"'},
    )
