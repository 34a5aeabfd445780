"""nbgrader *source* notebooks: the student notebook with the reference solution in place.

A source notebook is what an nbgrader course keeps in `source/<assignment>/`: every nbgrader stub
(`# YOUR CODE HERE` / `raise NotImplementedError()`) is replaced by a solution region

    ### BEGIN SOLUTION
    ...the reference code...
    ### END SOLUTION

so that `nbgrader generate_assignment` turns it back into the student notebook. The reference
code comes from the assignment's trusted solution module (the function body with the same
qualified name, plus the module-level helpers it uses that the notebook does not define), and the
answer cells get the rubric's expected answers.
"""

from __future__ import annotations

import ast
import copy
import re
import textwrap
from pathlib import Path
from typing import Any

import nbformat

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
STUB_COMMENT = "# YOUR CODE HERE"
STUB_RAISE = "raise NotImplementedError()"


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class SourceNotebookError(ValueError):
    """The student notebook, the solution and the rubric do not fit together."""


def source_path_for(solution_path: Path) -> Path:
    """solutions/<slug>.py -> solutions/<slug>.source.ipynb"""
    return solution_path.with_name(solution_path.stem + ".source.ipynb")


def is_solution_cell(cell) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution", False))


def source_notebook(student: nbformat.NotebookNode, solution_source: str,
                    answers: dict[str, Any]) -> nbformat.NotebookNode:
    """The nbgrader source notebook of `student`: every stub filled with a solution region.

    `answers` maps each answer variable (check_*/mcq_*) to its expected value; every one of them
    must be named by exactly one answer cell.
    """
    notebook = copy.deepcopy(student)
    solution = SolutionModule(solution_source)
    defined = notebook_names(notebook)
    assigned: list[str] = []
    for cell in notebook.cells:
        if cell.cell_type == "code" and is_solution_cell(cell):
            cell.source, variables = _solved_source(cell, solution, answers, defined)
            assigned += variables
    missing = sorted(set(answers) - set(assigned))
    repeated = sorted({name for name in assigned if assigned.count(name) > 1})
    if missing or repeated:
        raise SourceNotebookError(f"answer variables without an answer cell: {missing}; "
                                  f"named by several answer cells: {repeated}")
    return notebook


def strip_solution_markers(source: str) -> str:
    """A source cell as a student who solved it would hand it in: the markers removed."""
    return "\n".join(line for line in source.split("\n")
                     if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION))


def _solved_source(cell, solution: "SolutionModule", answers: dict[str, Any],
                   defined: set[str]) -> tuple[str, list[str]]:
    lines = cell.source.split("\n")
    stubs = _stub_positions(lines)
    grade_id = cell.metadata["nbgrader"].get("grade_id", "?")
    if not stubs:
        raise SourceNotebookError(f"solution cell {grade_id!r} holds no nbgrader stub")
    tree = ast.parse(cell.source)
    variables: list[str] = []
    for index in reversed(stubs):  # bottom-up, so earlier line numbers stay valid
        indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
        if indent == "":
            named = [name for name in answers if re.search(rf"\b{re.escape(name)}\b", cell.source)]
            if not named:
                raise SourceNotebookError(f"answer cell {grade_id!r} names no rubric answer variable")
            region = [f"{name} = {answers[name]!r}" for name in named]
            variables += named
        else:
            qualname = _enclosing_function(tree, index + 2)
            if qualname is None:
                raise SourceNotebookError(f"indented stub outside a function in cell {grade_id!r}")
            region = solution.solution_lines(qualname, defined)
        lines[index:index + 2] = ([indent + BEGIN_SOLUTION] + [indent + line if line else "" for line in region]
                                  + [indent + END_SOLUTION])
    return "\n".join(lines), variables


def _stub_positions(lines: list[str]) -> list[int]:
    """Indices of `# YOUR CODE HERE` lines directly followed by the stub's raise at the same indent."""
    positions = []
    for index in range(len(lines) - 1):
        first, second = lines[index], lines[index + 1]
        if (first.strip() == STUB_COMMENT and second.strip() == STUB_RAISE
                and first[: len(first) - len(first.lstrip())] == second[: len(second) - len(second.lstrip())]):
            positions.append(index)
    return positions


def _enclosing_function(tree: ast.AST, line: int) -> tuple[str, ...] | None:
    """Qualified name (class, method) of the innermost function whose body holds `line` (1-based)."""
    found = None

    def visit(node, prefix):
        nonlocal found
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _DEFINITIONS):
                if child.lineno <= line <= child.end_lineno:
                    path = prefix + (child.name,)
                    if not isinstance(child, ast.ClassDef):
                        found = path
                    visit(child, path)

    visit(tree, ())
    return found


def notebook_names(notebook: nbformat.NotebookNode) -> set[str]:
    """Names bound at the top level by the notebook's code cells (stubs included)."""
    names: set[str] = set()
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        code = "\n".join(line for line in cell.source.split("\n") if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for statement in tree.body:
            names |= _bound_names(statement)
    return names


def _bound_names(statement: ast.stmt) -> set[str]:
    if isinstance(statement, _DEFINITIONS):
        return {statement.name}
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in statement.names}
    targets = []
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, (ast.AnnAssign, ast.AugAssign, ast.For)):
        targets = [statement.target]
    return {node.id for target in targets for node in ast.walk(target) if isinstance(node, ast.Name)}


class SolutionModule:
    """The reference solution's source, looked up by qualified name."""

    def __init__(self, source: str):
        self.source = source
        self.lines = source.split("\n")
        self.tree = ast.parse(source)
        self.top_level: dict[str, ast.stmt] = {}
        for statement in self.tree.body:
            for name in _bound_names(statement):
                self.top_level.setdefault(name, statement)

    def find(self, qualname: tuple[str, ...]) -> ast.FunctionDef:
        scope: list[ast.stmt] = self.tree.body
        node = None
        for name in qualname:
            node = next((child for child in scope if isinstance(child, _DEFINITIONS) and child.name == name), None)
            if node is None:
                raise SourceNotebookError(f"the reference solution defines no {'.'.join(qualname)}")
            scope = node.body
        return node

    def solution_lines(self, qualname: tuple[str, ...], defined: set[str]) -> list[str]:
        """The reference body of `qualname` (docstring dropped), preceded by the module-level
        helpers it needs that the notebook does not define, unindented."""
        function = self.find(qualname)
        body = function.body
        if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            start = body[0].end_lineno + 1
        else:
            start = _first_line(body[0])
        text = textwrap.dedent("\n".join(self.lines[start - 1:function.end_lineno])).strip("\n")
        helpers = [self._segment(node) for node in self._helpers(function, defined)]
        return "\n\n".join(helpers + [text]).split("\n")

    def _helpers(self, function: ast.AST, defined: set[str]) -> list[ast.stmt]:
        """Top-level statements of the solution that `function` uses, directly or through
        another helper, and the notebook does not provide; in the solution's order."""
        own_name = getattr(function, "name", None)
        wanted: set[int] = set()
        pending = [function]
        while pending:
            node = pending.pop()
            for name in _used_names(node):
                helper = self.top_level.get(name)
                if helper is None or name in defined or name == own_name or id(helper) in wanted:
                    continue
                wanted.add(id(helper))
                pending.append(helper)
        return [statement for statement in self.tree.body if id(statement) in wanted]

    def _segment(self, node: ast.stmt) -> str:
        return "\n".join(self.lines[_first_line(node) - 1:node.end_lineno])


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno] + [decorator.lineno for decorator in decorators])


def _used_names(node: ast.AST) -> set[str]:
    return {child.id for child in ast.walk(node) if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load)}


def reuse_cell_ids(notebook: nbformat.NotebookNode, previous: Path) -> None:
    """Give cells the ids they had in the notebook written before, when its cells carry the same
    grade_ids in the same order: rebuilding an unchanged notebook then leaves it byte-identical
    even when the builder draws random cell ids."""
    if not previous.is_file():
        return
    old = nbformat.read(str(previous), as_version=4)

    def grade_ids(nb):
        return [cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") for cell in nb.cells]

    if grade_ids(old) == grade_ids(notebook) and all("id" in cell for cell in old.cells):
        for cell, old_cell in zip(notebook.cells, old.cells):
            cell["id"] = old_cell["id"]


def write_notebooks(student: nbformat.NotebookNode, student_path: Path, slug: str) -> tuple[Path, Path]:
    """Write the student notebook and, from the same cells, `solutions/<slug>.source.ipynb`."""
    from autograder.registry import get_rubric, resolve

    rubric = get_rubric(slug)
    solution_path = resolve(rubric.solution)
    answers = {check.variable: check.expected for check in rubric.checks}
    reuse_cell_ids(student, student_path)
    source = source_notebook(student, solution_path.read_text(encoding="utf-8"), answers)
    target = source_path_for(solution_path)
    for notebook, path in ((student, student_path), (source, target)):
        nbformat.validate(notebook)
        nbformat.write(notebook, str(path))
    return student_path, target
