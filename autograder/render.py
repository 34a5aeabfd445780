"""A readable terminal rendering of a grade report (rich)."""

from __future__ import annotations

from collections import OrderedDict

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from autograder.report import GradeReport, TestResult

STATUS_STYLE = {"passed": "green", "failed": "red", "error": "magenta", "timeout": "yellow", "not_implemented": "dim"}


def render(report: GradeReport, console: Console | None = None, *, show_hidden_details: bool = True) -> None:
    console = console or Console()
    console.print(_header(report))
    console.print(_targets_table(report))
    failing = [t for t in report.tests if t.status != "passed" and (show_hidden_details or t.visible)]
    if failing:
        console.print(_failures(failing))
    if report.timing:
        console.print(_timing_table(report))
    if report.misconceptions:
        console.print(_misconceptions(report))
    elif report.score == report.max_score:
        console.print(Text("No misconceptions detected.", style="green"))
    if report.cells:
        console.print(_cells(report))


def _header(report: GradeReport) -> Panel:
    ratio = report.score / report.max_score if report.max_score else 0.0
    style = "green" if ratio == 1 else "yellow" if ratio >= 0.5 else "red"
    title = Text.assemble(("Assignment ", "bold"), (report.assignment, "bold cyan"), "  score ",
                          (f"{report.score:g} / {report.max_score:g}", f"bold {style}"))
    env = report.environment
    sub = f"device {env.device} · torch {env.torch} · python {env.python} · isolation: {env.isolation} · grader {report.grader_version}"
    return Panel(Group(title, Text(sub, style="dim")), expand=False)


def _by_target(tests: list[TestResult]) -> "OrderedDict[str, list[TestResult]]":
    groups: OrderedDict[str, list[TestResult]] = OrderedDict()
    for test in tests:
        groups.setdefault(test.target, []).append(test)
    return groups


def _targets_table(report: GradeReport) -> Table:
    table = Table(title="Results by function", title_justify="left")
    for column in ("target", "passed", "score", "status"):
        table.add_column(column)
    for target, tests in _by_target(report.tests).items():
        passed = sum(t.status == "passed" for t in tests)
        statuses = sorted({t.status for t in tests if t.status != "passed"})
        status_text = Text(", ".join(statuses) or "all passed", style=STATUS_STYLE.get(statuses[0] if statuses else "passed", ""))
        table.add_row(target, f"{passed}/{len(tests)}", f"{sum(t.score for t in tests):g}/{sum(t.max_score for t in tests):g}", status_text)
    return table


def _failures(tests: list[TestResult]) -> Panel:
    lines = []
    for test in tests:
        lines.append(Text.assemble((f"{test.status:>15} ", STATUS_STYLE[test.status]), (test.name, "bold")))
        if test.message:
            lines.append(Text("                " + test.message.replace("\n", "\n                ")[:800], style="dim"))
    return Panel(Group(*lines), title="What went wrong", title_align="left")


def _timing_table(report: GradeReport) -> Table:
    table = Table(title="Timing and memory budgets", title_justify="left")
    for column in ("target", "ratio", "budget", "device", "size"):
        table.add_column(column)
    for timing in report.timing:
        style = "green" if timing.passed else "red"
        table.add_row(timing.target, Text(f"{timing.ratio:.2f}x", style=style), f"{timing.budget:g}x", timing.device, timing.size)
    return table


def _misconceptions(report: GradeReport) -> Panel:
    parts = []
    for hit in report.misconceptions:
        label = "lesson misconception" if hit.planned else "implementation mistake"
        parts.append(Text.assemble((hit.id, "bold yellow"), f"  ({label}; seen in {', '.join(hit.evidence[:4])})"))
        parts.append(Text("  " + hit.feedback))
        if hit.remedy:
            parts.append(Text("  Revisit: " + hit.remedy, style="cyan"))
    return Panel(Group(*parts), title="What your code suggests you misunderstood", title_align="left")


def _cells(report: GradeReport) -> Panel:
    lines = [Text(f"cell {cell.cell_index}: {cell.status}: {cell.message.splitlines()[0] if cell.message else ''}") for cell in report.cells]
    return Panel(Group(*lines), title="Notebook cells that failed while loading (grading went on)", title_align="left")
