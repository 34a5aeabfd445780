"""The TA's table of an assignment's submissions: filter by status, score and misconception,
sort by any column (links, so it works without scripts), page through the rows."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Path, Request
from fastapi.responses import Response

from service.core import assignments, submissions
from service.models import STATUSES, User
from service.schemas import SubmissionOut
from service.web.render import page
from service.web.routing import web_router
from service.web.session import context_of, staff

router = web_router()

PAGE_SIZE = 50
MAX_ROWS = 5000  # rows fetched to sort in memory; the page says when an assignment has more
SORT_KEYS = {
    "id": lambda row: row.id,
    "student": lambda row: row.student.lower(),
    "submitted": lambda row: row.submitted_at,
    "status": lambda row: row.status,
    "score": lambda row: (row.effective_score is not None, row.effective_score or 0.0),
    "late": lambda row: row.late_days,
    "misconceptions": lambda row: len(row.misconceptions),
}
COLUMNS = [
    ("id", "#"),
    ("student", "Student"),
    ("submitted", "Submitted"),
    ("status", "Status"),
    ("score", "Score"),
    ("late", "Late days"),
    ("misconceptions", "Misconceptions"),
]


@dataclass(frozen=True)
class TableQuery:
    """The table's filters and order, read leniently from the query string."""

    status: str | None
    student: str | None
    misconception: str | None
    min_score: float | None
    max_score: float | None
    sort: str
    descending: bool
    page: int

    def params(self, **changes: object) -> dict[str, str]:
        values = {
            "status": self.status,
            "student": self.student,
            "misconception": self.misconception,
            "min_score": _number_text(self.min_score),
            "max_score": _number_text(self.max_score),
            "sort": self.sort,
            "order": "desc" if self.descending else "asc",
            "page": self.page,
        }
        values.update(changes)
        return {key: str(value) for key, value in values.items() if value not in (None, "", 1) or key == "sort"}

    def url(self, path: str, **changes: object) -> str:
        return f"{path}?{urlencode(self.params(**changes))}"

    def sort_url(self, path: str, key: str) -> str:
        """Clicking the current column flips the order; another column starts descending
        (newest, highest score first) except for names, which start ascending."""
        if key == self.sort:
            return self.url(path, order="asc" if self.descending else "desc", page=1)
        return self.url(path, sort=key, order="asc" if key == "student" else "desc", page=1)

    def aria_sort(self, key: str) -> str | None:
        if key != self.sort:
            return None
        return "descending" if self.descending else "ascending"


def _number_text(value: float | None) -> str | None:
    return None if value is None else f"{value:g}"


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def read_query(request: Request) -> TableQuery:
    params = request.query_params
    status = params.get("status") if params.get("status") in STATUSES else None
    sort = params.get("sort") if params.get("sort") in SORT_KEYS else "id"
    try:
        page_number = max(1, min(int(params.get("page", "1")), 10_000))
    except ValueError:
        page_number = 1
    return TableQuery(
        status=status,
        student=(params.get("student") or "").strip()[:120] or None,
        misconception=(params.get("misconception") or "").strip()[:120] or None,
        min_score=_number(params.get("min_score")),
        max_score=_number(params.get("max_score")),
        sort=sort,
        descending=params.get("order", "desc") != "asc",
        page=page_number,
    )


def sorted_rows(rows: list[SubmissionOut], key: str, descending: bool) -> list[SubmissionOut]:
    """Stable: ties keep the newest-first order the search returned."""
    return sorted(rows, key=SORT_KEYS[key], reverse=descending)


@router.get("/assignments/{slug}/submissions")
def submissions_table(
    request: Request, slug: Annotated[str, Path(max_length=64)], user: Annotated[User, Depends(staff)]
) -> Response:
    context = context_of(request)
    rubric = assignments.require_rubric(context.course, slug)
    query = read_query(request)
    filters = submissions.Filters(
        assignment=slug,
        student=query.student,
        status=query.status,
        min_score=query.min_score,
        max_score=query.max_score,
        misconception=query.misconception,
        limit=MAX_ROWS,
    )
    with context.db.session() as session:
        found, total = submissions.search(session, user, filters)
        rows = sorted_rows(submissions.outs(session, found), query.sort, query.descending)
    pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
    shown = rows[(query.page - 1) * PAGE_SIZE : query.page * PAGE_SIZE]
    catalogue_ids = sorted(context.course.catalogue().ids() | {m for row in rows for m in row.misconceptions})
    return page(
        request,
        "submissions.html",
        title=f"Submissions: {rubric.title}",
        slug=slug,
        assignment_title=rubric.title,
        rows=shown,
        total=total,
        truncated=total > MAX_ROWS,
        pages=pages,
        query=query,
        path=request.url.path,
        columns=COLUMNS,
        statuses=STATUSES,
        misconception_ids=catalogue_ids,
    )
