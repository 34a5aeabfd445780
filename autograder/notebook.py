"""Load a submitted notebook into an ordered list of code cells that plain Python can run.

Each step is one transformation, in the spirit of nbgrader's preprocessors:
read+validate -> select graded code cells -> strip IPython-only syntax.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024


class NotebookError(ValueError):
    """The notebook cannot be read at all; the message is a one-line reason."""


@dataclass(frozen=True)
class CodeCell:
    index: int  # position of the cell in the notebook (all cell types counted)
    source: str


@dataclass
class LoadedNotebook:
    cells: list[CodeCell]
    skipped: list[int] = field(default_factory=list)  # public-test cells not executed by the grader

    @property
    def source_by_index(self) -> dict[int, str]:
        return {cell.index: cell.source for cell in self.cells}


def read_notebook(source: Path | bytes | str) -> nbformat.NotebookNode:
    raw = _read_bytes(source)
    if len(raw) > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"notebook is {len(raw)} bytes; the limit is {MAX_NOTEBOOK_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotebookError(f"notebook is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"notebook is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except nbformat.ValidationError as exc:
        raise NotebookError(f"notebook does not follow nbformat 4: {_first_line(exc.message)}") from None
    except Exception as exc:  # nbformat raises a variety of errors on odd JSON
        raise NotebookError(f"notebook cannot be read by nbformat: {_first_line(str(exc))}") from None
    return notebook


def load_submission(source: Path | bytes | str) -> LoadedNotebook:
    notebook = read_notebook(source)
    cells: list[CodeCell] = []
    skipped: list[int] = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        if is_public_test_cell(cell):
            skipped.append(index)
            continue
        cells.append(CodeCell(index=index, source=strip_ipython_syntax(cell.source)))
    return LoadedNotebook(cells=cells, skipped=skipped)


def is_public_test_cell(cell: nbformat.NotebookNode) -> bool:
    """nbgrader autograder-test cells: graded, not a solution. The hidden suite replaces them."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def strip_ipython_syntax(source: str) -> str:
    """Turn IPython-only lines into no-ops so plain `exec` can run the cell.

    A cell magic (`%%...` on the first line) makes the whole cell non-Python: it is dropped.
    Line magics (`%...`), shell escapes (`!...`) and help (`obj?`) become `pass`, keeping the
    indentation and the line count so tracebacks still point at the student's line numbers.
    """
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        return "\n".join("# " + line for line in lines)
    return "\n".join(_neutralise_line(line) for line in lines)


def _neutralise_line(line: str) -> str:
    stripped = line.lstrip()
    indent = line[: len(line) - len(stripped)]
    if stripped.startswith(("%", "!")) or _is_help_request(stripped):
        return f"{indent}pass  # IPython: {stripped[:60]}"
    if _is_assigned_shell_escape(stripped):
        name = stripped.split("=", 1)[0].strip()
        return f"{indent}{name} = []  # IPython: {stripped[:60]}"
    return line


def _is_help_request(stripped: str) -> bool:
    name = stripped.rstrip("?")
    return stripped.endswith("?") and bool(name) and all(part.isidentifier() for part in name.split("."))


def _is_assigned_shell_escape(stripped: str) -> bool:
    if "=" not in stripped:
        return False
    target, _, value = stripped.partition("=")
    return target.strip().isidentifier() and value.lstrip().startswith(("!", "%"))


def _read_bytes(source: Path | bytes | str) -> bytes:
    if isinstance(source, bytes):
        return source
    path = Path(source)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NotebookError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise NotebookError(f"{path} is a directory, not a notebook") from None
    except OSError as exc:
        raise NotebookError(f"cannot read {path}: {exc.strerror}") from None


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or ["unknown error"])[0][:200]
