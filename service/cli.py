"""`tensorgrade serve`, `tensorgrade users ...` and `tensorgrade submit` (also `python -m service.cli`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

SERVE_HINT = """No instructor exists yet. Create one (its API token is the last line printed):
    tensorgrade users add NAME --role instructor --data-dir {data_dir}"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the service's sub-commands to the `tensorgrade` parser."""
    _register_serve(subparsers)
    _register_users(subparsers)
    _register_submit(subparsers)
    from service.executors.worker_cli import register_worker

    register_worker(subparsers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tensorgrade", description="The tensorgrade service.")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def _settings(args: argparse.Namespace, **extra: Any):
    """Flags given on the command line override TENSORGRADE_* variables and .env."""
    from service.settings import Settings

    given = {key: value for key, value in extra.items() if value is not None}
    if getattr(args, "data_dir", None) is not None:
        given["data_dir"] = Path(args.data_dir)
    return Settings(**given)


# --- serve -------------------------------------------------------------------------------


def _register_serve(subparsers) -> None:
    serve = subparsers.add_parser("serve", help="run the grading service (HTTP API)")
    serve.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.add_argument("--data-dir", help="where the SQLite database and uploads live (default ./data)")
    serve.add_argument("--workers", type=int, help="gradings run at once (default 2)")
    serve.add_argument("--allow-weak-sandbox", action="store_true", default=None,
                       help="start even without bubblewrap (weaker isolation of student code; see docs/security.md)")
    serve.set_defaults(func=_cmd_serve)


def _cmd_serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from service.app import create_app
    from service.core.users import count_instructors
    from service.db import Database

    settings = _settings(args, host=args.host, port=args.port, workers=args.workers,
                         allow_weak_sandbox=args.allow_weak_sandbox)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not _sandbox_ready(settings):
        return 2
    database = Database(settings.resolved_database_url)
    database.migrate()
    with database.session() as session:
        instructors = count_instructors(session)
    database.dispose()
    print(f"tensorgrade service on http://{settings.host}:{settings.port}  (API docs: /docs)")
    grading = (f"grading workers: {settings.workers}" if settings.executor == "local"
               else "grading: `tensorgrade worker` processes (celery)")
    print(f"data: {settings.data_dir.resolve()}  {grading}")
    if instructors == 0:
        print(SERVE_HINT.format(data_dir=settings.data_dir))
    sys.stdout.flush()
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False)
    return 0


def _sandbox_ready(settings) -> bool:
    """Refuse to serve untrusted code without bubblewrap, unless the operator accepted that."""
    from autograder.sandbox.isolation import bwrap_path

    if bwrap_path() is not None:
        return True
    if settings.allow_weak_sandbox:
        print("WARNING: bubblewrap is not usable here: student code runs in a plain subprocess with "
              "resource limits only (weaker isolation; see docs/security.md)", file=sys.stderr)
        return True
    print("tensorgrade: refusing to start: bubblewrap (bwrap) is not usable on this machine, so student "
          "code could not be isolated. Install it (Debian/Ubuntu: apt-get install bubblewrap), or accept "
          "weaker isolation with --allow-weak-sandbox / TENSORGRADE_ALLOW_WEAK_SANDBOX=1.", file=sys.stderr)
    return False


# --- users -------------------------------------------------------------------------------


def _register_users(subparsers) -> None:
    users = subparsers.add_parser("users", help="create users and issue API tokens (works on the database directly)")
    commands = users.add_subparsers(dest="users_command", required=True)

    add = commands.add_parser("add", help="create a user; prints the API token on the last line")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["student", "ta", "instructor"])
    add.add_argument("--full-name", default="")
    add.add_argument("--email", default="")
    add.add_argument("--data-dir")
    add.set_defaults(func=_cmd_users_add)

    listing = commands.add_parser("list", help="list users")
    listing.add_argument("--data-dir")
    listing.set_defaults(func=_cmd_users_list)

    token = commands.add_parser("token", help="issue another token for a user; printed on the last line")
    token.add_argument("name")
    token.add_argument("--data-dir")
    token.set_defaults(func=_cmd_users_token)

    roster = commands.add_parser(
        "import", help="create or update users from a roster CSV (name,role[,full_name,email])"
    )
    roster.add_argument("csv")
    roster.add_argument("--data-dir")
    roster.set_defaults(func=_cmd_users_import)


def _database(args: argparse.Namespace):
    from service.db import Database

    database = Database(_settings(args).resolved_database_url)
    database.migrate()
    return database


def _cmd_users_add(args: argparse.Namespace) -> int:
    from service.core.auth import issue_token
    from service.core.users import create_user
    from service.errors import ServiceError

    database = _database(args)
    try:
        with database.session() as session:
            user = create_user(session, args.name, args.role, args.full_name, args.email)
            token = issue_token(session, user)
            user_id = user.id
    except ServiceError as error:
        print(f"tensorgrade: {error.detail}", file=sys.stderr)
        return 2
    finally:
        database.dispose()
    print(f"created {args.role} {args.name} (id {user_id}); API token (shown once):")
    print(token)
    return 0


def _cmd_users_list(args: argparse.Namespace) -> int:
    from service.core.users import list_users

    database = _database(args)
    with database.session() as session:
        for user in list_users(session):
            print(f"{user.id:5}  {user.role:10}  {user.name:24}  {user.full_name}")
    database.dispose()
    return 0


def _cmd_users_token(args: argparse.Namespace) -> int:
    from service.core.auth import issue_token
    from service.core.users import find_user

    database = _database(args)
    with database.session() as session:
        user = find_user(session, args.name)
        token = issue_token(session, user) if user is not None else None
    database.dispose()
    if token is None:
        print(f"tensorgrade: no user named {args.name!r}", file=sys.stderr)
        return 2
    print(f"new API token for {args.name} (shown once):")
    print(token)
    return 0


def _cmd_users_import(args: argparse.Namespace) -> int:
    from service.core.users import import_roster
    from service.errors import ServiceError

    try:
        text = Path(args.csv).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        print(f"tensorgrade: cannot read {args.csv}: {error}", file=sys.stderr)
        return 2
    database = _database(args)
    try:
        with database.session() as session:
            outcome = import_roster(session, text, actor=None)
            summary = (len(outcome.created), len(outcome.updated), outcome.unchanged)
            tokens = dict(outcome.tokens)
    except ServiceError as error:
        print(f"tensorgrade: {error.detail}", file=sys.stderr)
        return 2
    finally:
        database.dispose()
    print("created %d, updated %d, unchanged %d; tokens of the new users (name<TAB>token):" % summary)
    for name, token in tokens.items():
        print(f"{name}\t{token}")
    return 0


# --- submit ------------------------------------------------------------------------------


def _register_submit(subparsers) -> None:
    submit = subparsers.add_parser(
        "submit", help="upload a notebook to the service, wait for its grade, print the feedback"
    )
    submit.add_argument("notebook")
    submit.add_argument("--assignment", required=True)
    submit.add_argument(
        "--server",
        default=os.environ.get("TENSORGRADE_SERVER"),
        help="e.g. http://127.0.0.1:8000 (or TENSORGRADE_SERVER)",
    )
    submit.add_argument("--token", default=os.environ.get("TENSORGRADE_TOKEN"), help="API token (or TENSORGRADE_TOKEN)")
    submit.add_argument("--json", metavar="OUT", help="write the report (as the server showed it) to OUT")
    submit.add_argument("--timeout", type=float, default=900.0, help="stop waiting after this many seconds")
    submit.set_defaults(func=_cmd_submit)


def _cmd_submit(args: argparse.Namespace) -> int:
    from service.client import ClientError, ServiceClient
    from service.feedback import print_report

    if not args.server or not args.token:
        print(
            "tensorgrade: --server and --token are required (or TENSORGRADE_SERVER / TENSORGRADE_TOKEN)",
            file=sys.stderr,
        )
        return 2
    path = Path(args.notebook)
    try:
        data = path.read_bytes()
    except OSError as error:
        print(f"tensorgrade: cannot read {path}: {error.strerror}", file=sys.stderr)
        return 2
    client = ServiceClient(args.server, args.token)
    try:
        submission = client.submit(args.assignment, path.name, data)
        print(f"submitted {path.name} for {args.assignment}: submission {submission['id']} ({submission['status']})")
        final = _wait(client, submission, args.timeout)
        if final is None:
            print(f"still not graded after {args.timeout:g} s; check later: GET /api/submissions/{submission['id']}")
            return 3
        if final["status"] == "error":
            print(f"grading failed: {final['error']}")
            return 1
        report = client.report(final["id"])
    except ClientError as error:
        print(f"tensorgrade: {error}", file=sys.stderr)
        return 2
    finally:
        client.close()
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


def _wait(client, submission: dict, timeout_s: float) -> dict | None:
    """Poll until graded or error, showing the status and the time spent."""
    from rich.console import Console

    console = Console(stderr=True)
    started = time.monotonic()
    delay = 0.25
    status = submission["status"]
    with console.status(f"{status} ...") as spinner:
        while submission["status"] in ("queued", "running"):
            elapsed = time.monotonic() - started
            if elapsed > timeout_s:
                return None
            if submission["status"] != status:
                status = submission["status"]
                console.print(f"submission {submission['id']} is {status}")
            spinner.update(f"{status} ... {elapsed:.0f} s")
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)
            submission = client.submission(submission["id"])
    return submission


if __name__ == "__main__":
    sys.exit(main())
