"""Shared route dependencies: the service context, the caller, role checks."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.context import ServiceContext
from service.core.auth import user_for_token
from service.errors import ServiceError, forbidden
from service.models import User
from service.schemas import MAX_ID, ErrorBody, Text, UTCTime

bearer = HTTPBearer(auto_error=False, description="an API token from `tensorgrade users add`")

ERRORS = {
    400: {"model": ErrorBody, "description": "the request body cannot be parsed"},
    401: {"model": ErrorBody, "description": "no token, or an unknown or revoked one"},
    403: {"model": ErrorBody, "description": "the caller's role may not do this"},
    422: {"model": ErrorBody, "description": "invalid input"},
}
NOT_FOUND = {404: {"model": ErrorBody, "description": "not found (or not yours)"}}


def get_context(request: Request) -> ServiceContext:
    return request.app.state.context


def current_user(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    context: Annotated[ServiceContext, Depends(get_context)],
) -> User:
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise ServiceError(401, "unauthenticated", "send an API token: Authorization: Bearer TOKEN", headers=challenge)
    with context.db.session() as session:
        user = user_for_token(session, credentials.credentials)
    if user is None:
        raise ServiceError(401, "invalid_token", "the API token is unknown or revoked", headers=challenge)
    return user


def staff_user(user: Annotated[User, Depends(current_user)]) -> User:
    if not user.is_staff:
        raise forbidden("only course staff (ta, instructor) may do this")
    return user


def instructor_user(user: Annotated[User, Depends(current_user)]) -> User:
    if user.role != "instructor":
        raise forbidden("only instructors may do this")
    return user


Context = Annotated[ServiceContext, Depends(get_context)]
AnyUser = Annotated[User, Depends(current_user)]
Staff = Annotated[User, Depends(staff_user)]
Instructor = Annotated[User, Depends(instructor_user)]

SubmissionId = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]
Score = Annotated[float | None, Query(allow_inf_nan=False)]


def text_query(max_length: int, description: str | None = None):
    """An optional free-text query parameter."""
    return Annotated[Text | None, Query(max_length=max_length, description=description)]


def time_query(description: str):
    return Annotated[UTCTime | None, Query(description=description)]
