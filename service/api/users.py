"""Users, tokens and the roster (instructors manage them; staff may list them)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, File, Path, Query, UploadFile

from service.api.deps import ERRORS, NOT_FOUND, Context, Instructor, Staff
from service.core import users
from service.core.auth import issue_token
from service.errors import ServiceError, not_found
from service.models import AuditEvent
from service.schemas import ErrorBody, IssuedToken, Role, RosterImport, Text, UserCreate, UserOut

router = APIRouter(tags=["users"])


def _out(user) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


@router.get("/api/users", response_model=list[UserOut], responses=ERRORS)
def list_users(context: Context, _staff: Staff, role: Role | None = None) -> list[UserOut]:
    with context.db.session() as session:
        return [_out(user) for user in users.list_users(session, role)]


@router.post(
    "/api/users",
    response_model=IssuedToken,
    status_code=201,
    responses={**ERRORS, 409: {"model": ErrorBody, "description": "the name is taken"}},
)
def create_user(body: UserCreate, context: Context, actor: Instructor) -> IssuedToken:
    """Create a user and issue their first API token (shown once)."""
    with context.db.session() as session:
        user = users.create_user(session, body.name, body.role, body.full_name, body.email)
        token = issue_token(session, user)
        session.add(
            AuditEvent(
                actor_id=actor.id, action="user_create", detail=json.dumps({"user": user.name, "role": user.role})
            )
        )
        return IssuedToken(user=_out(user), token=token)


@router.post("/api/users/{name}/tokens", response_model=IssuedToken, status_code=201, responses={**ERRORS, **NOT_FOUND})
def new_token(name: Annotated[Text, Path(max_length=120)], context: Context, _instructor: Instructor) -> IssuedToken:
    """Issue another token for a user (earlier tokens stay valid)."""
    with context.db.session() as session:
        user = users.find_user(session, name)
        if user is None:
            raise not_found(f"user {name!r}")
        return IssuedToken(user=_out(user), token=issue_token(session, user))


@router.post(
    "/api/roster",
    response_model=RosterImport,
    responses={**ERRORS, 413: {"model": ErrorBody, "description": "too large"}},
)
def import_roster(
    context: Context,
    actor: Instructor,
    file: Annotated[UploadFile, File(description="CSV with header name,role[,full_name,email]")],
    issue_tokens: Annotated[bool, Query(description="issue a token to every user created")] = True,
) -> RosterImport:
    raw = file.file.read(context.settings.max_upload_bytes + 1)
    if len(raw) > context.settings.max_upload_bytes:
        raise ServiceError(413, "payload_too_large", "the roster file is too large")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ServiceError(422, "invalid_roster", "the roster is not UTF-8 text") from None
    with context.db.session() as session:
        outcome = users.import_roster(session, text, actor, issue_tokens)
        return RosterImport(
            created=[_out(user) for user in outcome.created],
            updated=[_out(user) for user in outcome.updated],
            unchanged=outcome.unchanged,
            tokens=outcome.tokens,
        )
