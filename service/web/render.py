"""Jinja2 templates, the filters they use, and the headers every page carries."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from service import __version__
from service.errors import ServiceError
from service.web.present import STATUS_WORDS
from service.web.session import attach_csrf_cookie, csrf_token, session_user

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

# Pages load only this site's stylesheet and script; SVG charts use attributes, not inline styles.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def format_score(value: float | None) -> str:
    """6.5 -> '6.5', 7.0 -> '7', None -> '–'."""
    if value is None:
        return "–"
    return f"{round(value, 3):g}"


def format_time(moment: datetime | None) -> str:
    if moment is None:
        return "–"
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def iso_time(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(timezone.utc).isoformat()


def format_percent(value: float) -> str:
    return f"{value:.0%}"


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "svg"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(score=format_score, time=format_time, iso=iso_time, percent=format_percent)
    environment.globals.update(version=__version__, status_words=STATUS_WORDS)
    return environment


templates = _environment()


def page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    """Render `template` with the signed-in user and this browser's CSRF token."""
    values.setdefault("user", session_user(request))
    values.setdefault("title", "")
    html = templates.get_template(template).render(
        request_path=request.url.path, csrf_token=csrf_token(request), **values
    )
    response = HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)
    attach_csrf_cookie(response, request)
    return response


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


ERROR_TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    409: "Not ready",
    413: "Too large",
    422: "Cannot use this",
    429: "Too many submissions",
}


def error_page(request: Request, error: ServiceError) -> Response:
    if wants_json(request):
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers)
    title = ERROR_TITLES.get(error.status, "Something went wrong")
    return page(request, "error.html", status_code=error.status, title=title, error=error)
