"""The `tensorgrade` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console


def _cmd_grade(args: argparse.Namespace) -> int:
    from autograder.grading import grade
    from autograder.notebook import NotebookError
    from autograder.registry import UnknownAssignment
    from autograder.render import render

    try:
        report = grade(Path(args.notebook), args.assignment, seed=args.seed)
    except (NotebookError, UnknownAssignment) as exc:
        print(f"tensorgrade: cannot grade {args.notebook}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        Path(args.json).write_text(report.model_dump_json(indent=2), encoding="utf-8")
    if not args.quiet:
        render(report, Console())
    return 0


def _cmd_assignments(args: argparse.Namespace) -> int:
    from autograder.registry import list_assignments

    for rubric in list_assignments():
        points = sum(rule.points for rule in rubric.tests)
        print(f"{rubric.slug:16} {rubric.lesson:10} {rubric.title}  ({rubric.notebook})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tensorgrade", description="Auto-grade tensor exercises in Jupyter notebooks.")
    commands = parser.add_subparsers(dest="command", required=True)

    grade_cmd = commands.add_parser("grade", help="grade one notebook and print the report")
    grade_cmd.add_argument("notebook")
    grade_cmd.add_argument("--assignment", required=True, help="assignment slug (see `tensorgrade assignments`)")
    grade_cmd.add_argument("--json", metavar="OUT", help="also write the report as JSON to OUT")
    grade_cmd.add_argument("--seed", type=int, default=None, help="fix the random inputs (reproduce a grading run)")
    grade_cmd.add_argument("--quiet", action="store_true", help="do not print the report")
    grade_cmd.set_defaults(func=_cmd_grade)

    list_cmd = commands.add_parser("assignments", help="list the installed assignments")
    list_cmd.set_defaults(func=_cmd_assignments)

    _register_optional(commands)
    return parser


def _register_optional(commands) -> None:
    """Sub-commands that live outside the engine (the service) register themselves here."""
    try:
        from service.cli import register
    except ImportError:
        return
    register(commands)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
