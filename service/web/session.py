"""Signing in to the pages: the API token in an HttpOnly cookie, and CSRF protection.

The browser never shows the token to scripts: it is set by the sign-in form's POST in an
HttpOnly cookie and read back by the server on every page. State-changing forms carry a
double-submit token: a random value in a second cookie that the page also writes into a hidden
field; a POST is accepted only when the two match. Another site can make the browser send the
cookies, but it can neither read them nor guess the value to put in the form.
"""

from __future__ import annotations

import secrets
from urllib.parse import quote

from fastapi import Request, Response

from service.context import ServiceContext
from service.core.auth import user_for_token
from service.errors import ServiceError, forbidden
from service.models import User

SESSION_COOKIE = "tg_session"
CSRF_COOKIE = "tg_csrf"
CSRF_FIELD = "csrf_token"
SESSION_MAX_AGE_S = 12 * 3600
CSRF_MAX_AGE_S = 7 * 24 * 3600


class SignInRequired(Exception):
    """The page needs a signed-in user; the browser is sent to the sign-in page."""


def context_of(request: Request) -> ServiceContext:
    return request.app.state.context


def session_user(request: Request) -> User | None:
    """The user whose token is in the session cookie (None when absent, unknown or revoked)."""
    if not hasattr(request.state, "web_user"):
        token = request.cookies.get(SESSION_COOKIE)
        user = None
        if token:
            with context_of(request).db.session() as session:
                user = user_for_token(session, token)
        request.state.web_user = user
    return request.state.web_user


def signed_in(request: Request) -> User:
    user = session_user(request)
    if user is None:
        raise SignInRequired()
    return user


def staff(request: Request) -> User:
    """The same rule as the API's staff routes: TAs and instructors."""
    user = signed_in(request)
    if not user.is_staff:
        raise forbidden("only course staff (ta, instructor) may see this page")
    return user


def sign_in_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/sign-in?next=" + quote(target, safe="")


def safe_next(target: str | None) -> str:
    """Only paths on this site: no scheme, no host, no `//host` or `/\\host` tricks."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\\" in target:
        return "/"
    if any(ord(ch) < 0x20 for ch in target):
        return "/"
    return target


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )


def clear_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


# --- CSRF ----------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    """This browser's CSRF value: the cookie's, or a fresh one that the response will set."""
    if not hasattr(request.state, "csrf"):
        existing = request.cookies.get(CSRF_COOKIE, "")
        fresh = not (16 <= len(existing) <= 128)
        request.state.csrf = secrets.token_urlsafe(32) if fresh else existing
        request.state.csrf_fresh = fresh
    return request.state.csrf


def renew_csrf(request: Request) -> str:
    """A new value at sign-in, so a value planted before it is worthless after it."""
    request.state.csrf = secrets.token_urlsafe(32)
    request.state.csrf_fresh = True
    return request.state.csrf


def attach_csrf_cookie(response: Response, request: Request) -> None:
    if getattr(request.state, "csrf_fresh", False):
        response.set_cookie(
            CSRF_COOKIE,
            request.state.csrf,
            max_age=CSRF_MAX_AGE_S,
            httponly=True,
            samesite="lax",  # strict would drop it on links from other sites, and a new value would break open tabs
            secure=_secure(request),
            path="/",
        )


def check_csrf(request: Request, submitted: str | None) -> None:
    """Refuse a state-changing form whose hidden token does not match the cookie."""
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not submitted or not secrets.compare_digest(expected.encode(), submitted.encode()):
        raise ServiceError(
            403,
            "csrf_failed",
            "the form has expired or did not come from this site; reload the page and try again",
        )
