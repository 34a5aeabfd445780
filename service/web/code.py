"""The student's code on the report pages, highlighted on the server with Pygments.

Two sources: the excerpts of cells that raised while the notebook was loaded (in the report),
and the definitions of the functions whose tests failed (found in the uploaded notebook). The
notebook is only parsed (`ast.parse`), never run.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from autograder.notebook import CodeCell

CODE_CSS_CLASS = "code"
MAX_PARSED_CELL_CHARS = 200_000  # a longer cell is not searched for definitions
_CELL_LINE = re.compile(r"<cell (?P<cell>\d+)>, line (?P<line>\d+)")


def highlighted(source: str, *, first_line: int = 1, marked_lines: tuple[int, ...] = ()) -> Markup:
    """Python source as HTML with line numbers counted from `first_line`; `marked_lines` (in
    the same numbering) are emphasised. Pygments escapes the source."""
    relative = [line - first_line + 1 for line in marked_lines if line >= first_line]
    formatter = HtmlFormatter(
        cssclass=CODE_CSS_CLASS,
        linenos="inline",
        linenostart=first_line,
        hl_lines=relative,
        wrapcode=True,
    )
    return Markup(highlight(source, PythonLexer(), formatter))


@lru_cache(maxsize=1)
def stylesheet() -> str:
    """Pygments' colours for `.code` blocks (the default style: every colour ≥ 4.5:1 on white
    except the highlighted-line background, which only tints)."""
    return HtmlFormatter(style="default", cssclass=CODE_CSS_CLASS).get_style_defs(f".{CODE_CSS_CLASS}")


def error_lines(message: str, cell_index: int) -> tuple[int, ...]:
    """Line numbers of `cell_index` named in a traceback (`<cell 35>, line 1, in <module>`)."""
    return tuple(int(match["line"]) for match in _CELL_LINE.finditer(message) if int(match["cell"]) == cell_index)


@dataclass(frozen=True)
class Definition:
    """Where the notebook defines a tested name: the cell, the lines and their source."""

    target: str
    cell_index: int
    first_line: int
    source: str


def find_definition(cells: list[CodeCell], target: str) -> Definition | None:
    """The last definition of `target` (`name`, `Class` or `Class.method`) in the notebook: the
    grader runs every cell in order, so a later definition replaces an earlier one."""
    path = target.split(".")
    for cell in reversed(cells):
        if len(cell.source) > MAX_PARSED_CELL_CHARS or path[0] not in cell.source:
            continue
        node = _find_in(_parse(cell.source), path)
        if node is not None:
            lines = cell.source.splitlines()
            first = min([node.lineno] + [decorator.lineno for decorator in node.decorator_list])
            end = node.end_lineno or node.lineno
            return Definition(target, cell.index, first, "\n".join(lines[first - 1 : end]))
    return None


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _find_in(tree: ast.AST | None, path: list[str]) -> ast.AST | None:
    """The last top-level def/class named path[0], then inside it path[1], and so on."""
    if tree is None:
        return None
    scope: ast.AST = tree
    for name in path:
        matches = [
            node
            for node in getattr(scope, "body", [])
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name
        ]
        if not matches:
            return scope if scope is not tree and isinstance(scope, ast.ClassDef) else None
        scope = matches[-1]
    return scope


def failing_definitions(cells: list[CodeCell], targets: list[str]) -> list[Definition]:
    """The student's code for each failing function that the notebook defines."""
    found = (find_definition(cells, target) for target in targets if not target.startswith("check:"))
    return [definition for definition in found if definition is not None]
