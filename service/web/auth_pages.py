"""Sign in with an API token, sign out, and the home page (assignments and recent work)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from service.core import assignments, submissions
from service.core.auth import user_for_token
from service.models import User
from service.web.render import page
from service.web.routing import web_router
from service.web.session import (
    CSRF_FIELD,
    attach_csrf_cookie,
    check_csrf,
    clear_session,
    context_of,
    renew_csrf,
    safe_next,
    session_user,
    set_session,
    signed_in,
)

router = web_router()
RECENT_SUBMISSIONS = 10


@router.get("/")
def home(request: Request, user: Annotated[User, Depends(signed_in)]) -> Response:
    context = context_of(request)
    with context.db.session() as session:
        listed = assignments.list_assignments(session, context.course)
        mine, _ = submissions.search(session, user, submissions.Filters(student=user.name, limit=RECENT_SUBMISSIONS))
        recent = submissions.outs(session, mine)
    return page(request, "home.html", title="Assignments", assignments=listed, recent=recent)


@router.get("/sign-in")
def sign_in_form(request: Request, next: str = "/") -> Response:
    if session_user(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return page(request, "sign_in.html", title="Sign in", next=safe_next(next), problem=None)


@router.post("/sign-in")
def sign_in(
    request: Request,
    token: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    check_csrf(request, csrf_token)
    token = token.strip()
    with context_of(request).db.session() as session:
        user = user_for_token(session, token) if token else None
    if user is None:
        return page(
            request,
            "sign_in.html",
            status_code=401,
            title="Sign in",
            next=safe_next(next),
            problem="That token is unknown or has been revoked. Check that you pasted all of it.",
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session(response, request, token)
    renew_csrf(request)
    attach_csrf_cookie(response, request)
    return response


@router.post("/sign-out")
def sign_out(request: Request, csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "") -> Response:
    check_csrf(request, csrf_token)
    response = RedirectResponse("/sign-in", status_code=303)
    clear_session(response)
    return response
