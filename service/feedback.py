"""Print a report as the server returned it (a ReportView as JSON) for a terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

STATUS_STYLE = {"passed": "green", "failed": "red", "error": "red", "timeout": "yellow", "not_implemented": "dim"}


def print_report(report: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    shown = report.get("effective_score")
    line = f"[bold]{report['assignment']}[/bold]: score {report['score']:g} / {report['max_score']:g}"
    if shown is not None and shown != report["score"]:
        line += f"  (counted: {shown:g})"
    if report.get("late_days"):
        line += f"  [yellow]{report['late_days']} day(s) late[/yellow]"
    console.print(line)
    if report.get("override"):
        override = report["override"]
        console.print(f"score set to {override['score']:g} by the course staff: {override['comment']}")
    console.print(_tests_table(report["tests"]))
    hidden = report.get("hidden")
    if hidden:
        console.print(
            f"hidden tests: {hidden['passed']} of {hidden['tests']} passed, "
            f"{hidden['score']:g} / {hidden['max_score']:g} points (details later)"
        )
    _print_misconceptions(console, report.get("misconceptions", []))
    for cell in report.get("cells", []):
        console.print(f"[yellow]cell {cell['cell_index']} {cell['status']}[/yellow]: {cell['message']}")


def _tests_table(tests: list[dict[str, Any]]) -> Table:
    table = Table(title="tests", show_lines=False)
    table.add_column("test", overflow="fold")
    table.add_column("status")
    table.add_column("points", justify="right")
    table.add_column("message", overflow="fold")
    for test in tests:
        style = STATUS_STYLE.get(test["status"], "")
        message = (test.get("message") or "").strip().splitlines()
        table.add_row(
            test["name"],
            f"[{style}]{test['status']}[/{style}]" if style else test["status"],
            f"{test['score']:g}/{test['max_score']:g}",
            message[0][:120] if message else "",
        )
    return table


def _print_misconceptions(console: Console, hits: list[dict[str, Any]]) -> None:
    if not hits:
        console.print("no misconceptions detected")
        return
    console.print("[bold]misconceptions[/bold]")
    for hit in hits:
        kind = "" if hit["planned"] else " (implementation)"
        console.print(f"- [bold]{hit['id']}[/bold]{kind}: {hit['feedback']}")
        if hit.get("remedy"):
            console.print(f"  remedy: {hit['remedy']}")
