"""Users and the roster: create, list, import a CSV of students and staff."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.core.auth import issue_token
from service.errors import ServiceError
from service.models import ROLES, AuditEvent, User
from service.schemas import USER_NAME_PATTERN

ROSTER_COLUMNS = ("name", "role", "full_name", "email")


def create_user(session: Session, name: str, role: str, full_name: str = "", email: str = "") -> User:
    _check_name_and_role(name, role)
    if session.execute(select(User).where(User.name == name)).scalar_one_or_none() is not None:
        raise ServiceError(409, "user_exists", f"a user named {name!r} already exists")
    user = User(name=name, role=role, full_name=full_name, email=email)
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, name: str) -> User | None:
    return session.execute(select(User).where(User.name == name)).scalar_one_or_none()


def count_instructors(session: Session) -> int:
    return session.execute(select(func.count()).select_from(User).where(User.role == "instructor")).scalar_one()


def list_users(session: Session, role: str | None = None) -> list[User]:
    query = select(User).order_by(User.name)
    if role is not None:
        query = query.where(User.role == role)
    return list(session.execute(query).scalars())


@dataclass
class RosterOutcome:
    created: list[User] = field(default_factory=list)
    updated: list[User] = field(default_factory=list)
    unchanged: int = 0
    tokens: dict[str, str] = field(default_factory=dict)


def import_roster(session: Session, text: str, actor: User | None, issue_tokens: bool = True) -> RosterOutcome:
    """Create or update users from CSV with a header: name, role (student|ta|instructor),
    optionally full_name and email. All rows are checked before anything is written."""
    rows = _parse_roster(text)
    outcome = RosterOutcome()
    for row in rows:
        user = find_user(session, row["name"])
        if user is None:
            user = create_user(session, row["name"], row["role"], row["full_name"], row["email"])
            outcome.created.append(user)
            if issue_tokens:
                outcome.tokens[user.name] = issue_token(session, user)
        elif (user.role, user.full_name, user.email) != (row["role"], row["full_name"], row["email"]):
            user.role, user.full_name, user.email = row["role"], row["full_name"], row["email"]
            outcome.updated.append(user)
        else:
            outcome.unchanged += 1
    session.add(
        AuditEvent(
            actor_id=actor.id if actor else None,
            action="roster_import",
            detail=json.dumps(
                {"created": [u.name for u in outcome.created], "updated": [u.name for u in outcome.updated]}
            ),
        )
    )
    session.flush()
    return outcome


def _parse_roster(text: str) -> list[dict[str, str]]:
    try:
        return _parse_roster_rows(text)
    except csv.Error as error:
        raise ServiceError(422, "invalid_roster", f"the roster is not valid CSV: {error}") from None


def _parse_roster_rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header = [column.strip().lower() for column in (reader.fieldnames or [])]
    if "name" not in header or "role" not in header:
        raise ServiceError(
            422, "invalid_roster", "the roster CSV needs a header with at least the columns name and role"
        )
    unknown = sorted(set(header) - set(ROSTER_COLUMNS))
    if unknown:
        raise ServiceError(422, "invalid_roster", f"unknown roster columns {unknown}; allowed: {list(ROSTER_COLUMNS)}")
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    for line_number, raw in enumerate(reader, start=2):
        row = {key.strip().lower(): (value or "").strip() for key, value in raw.items() if key is not None}
        if not any(row.values()):
            continue
        row = {column: row.get(column, "") for column in ROSTER_COLUMNS}
        row["role"] = row["role"].lower()
        try:
            _check_name_and_role(row["name"], row["role"])
        except ServiceError as error:
            raise ServiceError(422, "invalid_roster", f"line {line_number}: {error.detail}") from None
        if row["name"] in seen:
            raise ServiceError(422, "invalid_roster", f"line {line_number}: {row['name']!r} appears twice")
        seen.add(row["name"])
        rows.append(row)
    return rows


def _check_name_and_role(name: str, role: str) -> None:
    if not re.fullmatch(USER_NAME_PATTERN, name):
        raise ServiceError(422, "invalid_user", f"{name!r} is not a valid user name (letters, digits, . _ @ + -)")
    if role not in ROLES:
        raise ServiceError(422, "invalid_user", f"role {role!r} is not one of {list(ROLES)}")
