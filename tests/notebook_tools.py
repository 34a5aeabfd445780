"""Build submissions for tests: the stub notebook plus cells (the reference, wrong variants)."""

from __future__ import annotations

from pathlib import Path

import nbformat

from autograder.registry import get_rubric, resolve


def stub_notebook(slug: str) -> nbformat.NotebookNode:
    return nbformat.read(resolve(get_rubric(slug).notebook), as_version=4)


def solution_source(slug: str) -> str:
    return resolve(get_rubric(slug).solution).read_text(encoding="utf-8")


def answers_source(slug: str) -> str:
    """Assignments of the rubric's expected answer to every check variable."""
    return "\n".join(f"{check.variable} = {check.expected!r}" for check in get_rubric(slug).checks)


def notebook_with_cells(slug: str, extra_sources: list[str], *, with_solution: bool = True,
                        with_answers: bool = True) -> nbformat.NotebookNode:
    """The stub notebook, then (optionally) the reference solution and the right answers, then
    `extra_sources` as further code cells (later definitions win, as in a real notebook)."""
    notebook = stub_notebook(slug)
    appended = ([solution_source(slug)] if with_solution else []) + ([answers_source(slug)] if with_answers else [])
    for source in appended + list(extra_sources):
        notebook.cells.append(nbformat.v4.new_code_cell(source))
    return notebook


def solved_notebook(slug: str) -> nbformat.NotebookNode:
    return notebook_with_cells(slug, [])


def write_notebook(notebook: nbformat.NotebookNode, path: Path) -> Path:
    nbformat.write(notebook, str(path))
    return path


def load_module(name: str, path: Path):
    """Import a file (a build script, a suite's variants) by path under `name`."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def cells_where(notebook: nbformat.NotebookNode, **flags) -> list:
    """Cells whose nbgrader metadata has every flag given (e.g. solution=True)."""
    return [c for c in notebook.cells if nbgrader(c) and all(nbgrader(c).get(k) == v for k, v in flags.items())]
