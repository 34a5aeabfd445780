"""The `tensorgrade` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console


def _cmd_grade(args: argparse.Namespace) -> int:
    from autograder.grading import SuiteError, grade
    from autograder.notebook import NotebookError
    from autograder.registry import UnknownAssignment
    from autograder.render import render

    try:
        report = grade(Path(args.notebook), args.assignment, seed=args.seed)
    except (NotebookError, UnknownAssignment) as exc:
        print(f"tensorgrade: cannot grade {args.notebook}: {exc}", file=sys.stderr)
        return 2
    except SuiteError as exc:
        print(f"tensorgrade: grader error (not your fault; tell the course staff): {exc}", file=sys.stderr)
        return 3
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


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from autograder.budgets import calibrate
    from autograder.grading import available_devices, budget_device
    from autograder.registry import get_rubric, list_assignments

    device = args.device or budget_device(available_devices())
    rubrics = [get_rubric(args.assignment)] if args.assignment else list_assignments()
    console = Console()
    for rubric in rubrics:
        for row in calibrate(rubric, device, rounds=args.rounds):
            spread = max(abs(row["ratio_max"] - 1), abs(1 - row["ratio_min"]))
            console.print(f"{rubric.slug:15} {row['budget']:32} {device:5} reference {row['reference_ms']:8.2f} ms  "
                          f"ref/ref ratio {row['ratio_min']:.2f}..{row['ratio_max']:.2f} (noise ±{spread:.0%})  budget {row['budget_ratio']}x")
    return 0


def _cmd_plans_import(args: argparse.Namespace) -> int:
    from autograder.plans import propose_entries, render_yaml
    from autograder.registry import catalogue, rubrics_dir

    current = catalogue()
    plan = Path(args.plan)
    try:
        text = plan.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"tensorgrade: cannot read {plan}: {exc.strerror}", file=sys.stderr)
        return 2
    entries = propose_entries(text, plan.name, current.ids(), existing_entries=list(current.entries.values()))
    rendered = render_yaml(entries)
    if args.out:
        target = Path(args.out).resolve()
        catalogue_dir = (rubrics_dir() / "misconceptions").resolve()
        if target.parent == catalogue_dir or target.exists():
            print(f"tensorgrade: will not write {args.out}: proposals go to a new file outside {catalogue_dir}, "
                  "to be reviewed before they join the catalogue", file=sys.stderr)
            return 2
        target.write_text(rendered, encoding="utf-8")
        print(f"{len(entries)} proposed entries written to {args.out}; review them, fill observed_by, then move them into rubrics/misconceptions/")
    else:
        print(rendered)
    return 0


def _cmd_grade_batch(args: argparse.Namespace) -> int:
    from rich.table import Table

    from autograder.batch import grade_batch, parse_assignment_options

    exchange = Path(args.exchange)
    if not exchange.is_dir():
        print(f"tensorgrade: {exchange} is not a folder (expected an nbgrader course or exchange with submitted/)",
              file=sys.stderr)
        return 2
    console = Console(stderr=True)
    batch = grade_batch(exchange, Path(args.out), parse_assignment_options(args.assignment), db_url=args.nbgrader_db,
                        course_id=args.nbgrader_course, seed=args.seed, console=console)
    table = Table("student", "assignment", "score", "note")
    for result in batch.results:
        report = result.report
        table.add_row(result.submission.student, result.submission.assignment,
                      f"{report.score:g} / {report.max_score:g}" if report else "-", result.problem)
    console.print(table)
    console.print(f"{len(batch.results)} submissions, {len(batch.problems)} not graded; "
                  f"gradebook {batch.gradebook_csv}, details {batch.submissions_csv}")
    if args.nbgrader_db:
        console.print(f"{batch.pushed} submissions recorded in the nbgrader gradebook {args.nbgrader_db}")
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

    calibrate_cmd = commands.add_parser("calibrate", help="measure reference-vs-reference timing noise for the budgets")
    calibrate_cmd.add_argument("--assignment", help="one assignment (default: all)")
    calibrate_cmd.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when available")
    calibrate_cmd.add_argument("--rounds", type=int, default=3)
    calibrate_cmd.set_defaults(func=_cmd_calibrate)

    plans_cmd = commands.add_parser("plans", help="work with lesson plans")
    plans_sub = plans_cmd.add_subparsers(dest="plans_command", required=True)
    import_cmd = plans_sub.add_parser("import", help="propose catalogue entries (YAML) from a lesson plan's misconceptions")
    import_cmd.add_argument("plan")
    import_cmd.add_argument("--out", help="write the proposal here instead of printing it (never into the catalogue)")
    import_cmd.set_defaults(func=_cmd_plans_import)

    batch_cmd = commands.add_parser("grade-batch", help="grade an nbgrader exchange (submitted/<student>/<assignment>/)")
    batch_cmd.add_argument("exchange", help="nbgrader course directory, or its submitted/ folder")
    batch_cmd.add_argument("--out", required=True, help="folder for the reports, gradebook.csv and submissions.csv")
    batch_cmd.add_argument("--assignment", action="append", metavar="SLUG|NAME=SLUG",
                           help="grade only this assignment (repeatable); NAME=SLUG grades nbgrader assignment NAME "
                                "with tensorgrade assignment SLUG")
    batch_cmd.add_argument("--nbgrader-db", metavar="URL", help="also record the scores in this nbgrader gradebook "
                                                                "(e.g. sqlite:///course/gradebook.db)")
    batch_cmd.add_argument("--nbgrader-course", default="", metavar="ID",
                           help="nbgrader course id of the gradebook (default: nbgrader's default, empty)")
    batch_cmd.add_argument("--seed", type=int, default=None, help="fix the random inputs of every grading run")
    batch_cmd.set_defaults(func=_cmd_grade_batch)

    _register_optional(commands)
    return parser


def _register_optional(commands) -> None:
    """Sub-commands that live outside the engine (the service) register themselves here."""
    try:
        from service.cli import register
    except ModuleNotFoundError as exc:
        if exc.name not in ("service", "service.cli"):
            raise
        return
    register(commands)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
