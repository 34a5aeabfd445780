"""The misconception dashboard (staff, as GET /api/analytics/*): students per misconception,
misconceptions by assignment, the trend over time, failing tests no misconception explains;
every chart element leads to the submissions behind it (the drill-down page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import Depends, Path, Request
from fastapi.responses import Response

from service.core import analytics
from service.models import User
from service.schemas import MisconceptionAnalytics, MisconceptionStat
from service.web import charts
from service.web.render import page
from service.web.routing import web_router
from service.web.session import context_of, staff

router = web_router()

TREND_SERIES = 6  # the most frequent misconceptions get a line each
MAX_PERIODS = 120
DRILL_PAGE = 50


@dataclass(frozen=True)
class DashboardQuery:
    assignment: str | None
    since: datetime | None
    until: datetime | None
    bucket: str

    @property
    def scope(self) -> analytics.Scope:
        return analytics.Scope(self.assignment, self.since, self.until)

    def params(self, **changes: object) -> dict[str, str]:
        values: dict[str, object] = {
            "assignment": self.assignment,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }
        values.update(changes)
        return {key: str(value) for key, value in values.items() if value not in (None, "")}

    def drill_url(self, misconception_id: str, **changes: object) -> str:
        query = urlencode(self.params(**changes))
        return f"/dashboard/misconceptions/{quote(misconception_id, safe='')}" + (f"?{query}" if query else "")


def parse_time(text: str | None) -> datetime | None:
    """An ISO date or date-time; without a zone it is UTC (as in the API). Invalid: ignored."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def read_query(request: Request, assignment_slugs: list[str]) -> DashboardQuery:
    params = request.query_params
    assignment = params.get("assignment")
    return DashboardQuery(
        assignment=assignment if assignment in assignment_slugs else None,
        since=parse_time(params.get("since")),
        until=parse_time(params.get("until")),
        bucket="week" if params.get("bucket") == "week" else "day",
    )


def period_bounds(period: date, bucket: str) -> tuple[datetime, datetime]:
    start = datetime.combine(period, time(), tzinfo=timezone.utc)
    return start, start + timedelta(days=7 if bucket == "week" else 1)


def all_periods(stats: list[MisconceptionStat], bucket: str) -> list[date]:
    """Every day (or week) from the first hit to the last, so quiet periods show as zero."""
    seen = [point.period for stat in stats for point in stat.over_time]
    if not seen:
        return []
    step = timedelta(days=7 if bucket == "week" else 1)
    periods, current, last = [], min(seen), max(seen)
    while current <= last and len(periods) < MAX_PERIODS:
        periods.append(current)
        current += step
    return periods


def _detail(stat: MisconceptionStat, students_in_scope: int) -> str:
    return (
        f"{stat.students} of {students_in_scope} students, "
        f"{stat.submissions} submission{'s' if stat.submissions != 1 else ''}"
    )


def build_charts(result: MisconceptionAnalytics, query: DashboardQuery, columns: list[str]) -> dict:
    stats = result.planned + result.implementation
    bars = [
        charts.Bar(stat.id, stat.students, stat.planned, query.drill_url(stat.id), _detail(stat, result.students))
        for stat in stats
    ]
    heat_rows = []
    for stat in stats:
        students = {count.assignment: count.students for count in stat.by_assignment}
        values = tuple(students.get(slug, 0) for slug in columns)
        hrefs = tuple(
            query.drill_url(stat.id, assignment=slug) if value else None for slug, value in zip(columns, values)
        )
        heat_rows.append(charts.HeatRow(stat.id, stat.planned, values, hrefs))
    periods = all_periods(stats, query.bucket)
    leading = sorted(stats, key=lambda stat: (-stat.students, -stat.submissions, stat.id))[:TREND_SERIES]
    series = [_series(stat, periods, query) for stat in leading]
    period_word = "week" if query.bucket == "week" else "day"
    return {
        "bars": charts.bar_chart(bars, chart_id="chart-students", title="Students per misconception") if bars else None,
        "heat": charts.heat_map(
            heat_rows, columns, chart_id="chart-heat", title="Students per misconception and assignment"
        )
        if heat_rows
        else None,
        "trend": charts.trend_chart(
            series,
            periods,
            chart_id="chart-trend",
            period_word=period_word,
            title=f"Students per {period_word}, most frequent misconceptions",
        )
        if series
        else None,
        "periods": periods,
        "series": series,
    }


def _series(stat: MisconceptionStat, periods: list[date], query: DashboardQuery) -> charts.Series:
    students = {point.period: point.students for point in stat.over_time}
    points = []
    for period in periods:
        value = students.get(period, 0)
        since, until = period_bounds(period, query.bucket)
        href = query.drill_url(stat.id, since=since.isoformat(), until=until.isoformat()) if value else None
        points.append(charts.TrendPoint(period, value, href))
    return charts.Series(stat.id, stat.planned, tuple(points))


@router.get("/dashboard")
def dashboard(request: Request, user: Annotated[User, Depends(staff)]) -> Response:
    context = context_of(request)
    slugs = [rubric.slug for rubric in context.course.assignments()]
    query = read_query(request, slugs)
    with context.db.session() as session:
        result = analytics.misconceptions(session, context.course.catalogue(), query.scope, query.bucket)
        unmapped = analytics.unmapped_failing_tests(session, query.scope, include_not_implemented=False)
    columns = [query.assignment] if query.assignment else slugs
    return page(
        request,
        "dashboard.html",
        title="Misconception dashboard",
        result=result,
        unmapped=unmapped.items,
        query=query,
        columns=columns,
        assignment_slugs=slugs,
        charts=build_charts(result, query, columns),
    )


@router.get("/dashboard/misconceptions/{misconception_id}")
def drill_down(
    request: Request,
    misconception_id: Annotated[str, Path(max_length=120)],
    user: Annotated[User, Depends(staff)],
) -> Response:
    context = context_of(request)
    slugs = [rubric.slug for rubric in context.course.assignments()]
    query = read_query(request, slugs)
    try:
        page_number = max(1, min(int(request.query_params.get("page", "1")), 10_000))
    except ValueError:
        page_number = 1
    with context.db.session() as session:
        found = analytics.drill_down(
            session,
            context.course.catalogue(),
            misconception_id,
            query.scope,
            DRILL_PAGE,
            (page_number - 1) * DRILL_PAGE,
        )
    entry = context.course.catalogue().get(misconception_id)
    return page(
        request,
        "drill_down.html",
        title=f"Submissions showing {misconception_id}",
        found=found,
        remedy=entry.remedy if entry else "",
        query=query,
        page_number=page_number,
        pages=max(1, -(-found.total // DRILL_PAGE)),
        dashboard_url="/dashboard" + (f"?{urlencode(query.params())}" if query.params() else ""),
    )
