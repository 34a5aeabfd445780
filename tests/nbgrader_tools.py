"""Helpers for the tests that run the real nbgrader: a throw-away course directory, the nbgrader
command line, notebooks solved in place (as a student hands them in) and notebook comparison."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from autograder.nbgrader_source import is_solution_cell, source_path_for, strip_solution_markers
from autograder.registry import get_rubric, resolve

# Metadata nbgrader adds or recomputes when it releases a notebook: checksums and recorded cell
# types (its own bookkeeping) and the lock flags of LockCells (deletable/editable = False).
NBGRADER_BOOKKEEPING = ("checksum", "cell_type")
LOCK_FLAGS = ("deletable", "editable")


def nbgrader_env() -> dict[str, str]:
    """The environment for nbgrader: this venv's scripts (nbgrader shells out to `alembic`) first."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def make_course(root: Path) -> Path:
    """An empty nbgrader course directory with its nbgrader_config.py and a SQLite gradebook."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.db_url = {gradebook_url(root)!r}\n"
        "c.Execute.timeout = 300\n",
        encoding="utf-8")
    return root


def gradebook_url(course: Path) -> str:
    return f"sqlite:///{course / 'gradebook.db'}"


def run_nbgrader(course: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    completed = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=nbgrader_env(),
                               capture_output=True, text=True, timeout=timeout)
    assert completed.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{completed.stdout}\n{completed.stderr}"
    return completed


def notebook_name(slug: str) -> str:
    return Path(get_rubric(slug).notebook).name


def committed_source(slug: str) -> Path:
    return source_path_for(resolve(get_rubric(slug).solution))


def add_source(course: Path, slug: str) -> Path:
    """Put the committed source notebook where nbgrader looks for it: source/<slug>/<notebook>."""
    target = course / "source" / slug / notebook_name(slug)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(committed_source(slug), target)
    return target


def solved_in_place(slug: str) -> nbformat.NotebookNode:
    """The student notebook with every stub and answer cell filled in where it stands, the way a
    student who solved everything hands it in (the source notebook without its markers)."""
    source = nbformat.read(str(committed_source(slug)), as_version=4)
    for cell in source.cells:
        if cell.cell_type == "code" and is_solution_cell(cell):
            cell.source = strip_solution_markers(cell.source)
    return source


def with_cell_after(notebook: nbformat.NotebookNode, defining: str, code: str) -> nbformat.NotebookNode:
    """A copy of `notebook` with a student's extra code cell right after the solution cell that
    defines `defining` (a later definition replaces the earlier one, as in Jupyter)."""
    changed = copy.deepcopy(notebook)
    index = next(i for i, cell in enumerate(changed.cells)
                 if cell.cell_type == "code" and is_solution_cell(cell)
                 and (f"def {defining}(" in cell.source or f"class {defining}(" in cell.source))
    changed.cells.insert(index + 1, nbformat.v4.new_code_cell(code))
    return changed


def comparable(notebook) -> dict:
    """A notebook as JSON data without what nbgrader may legitimately add or recompute: its
    bookkeeping metadata and lock flags, execution counts, and kernelspec/language_info beyond
    the kernel and language names."""
    data = _plain(notebook)
    metadata = data.get("metadata", {})
    for key in ("kernelspec", "language_info"):
        if key in metadata:
            metadata[key] = {"name": metadata[key].get("name")}
    for cell in data["cells"]:
        for flag in LOCK_FLAGS:
            if cell["metadata"].get(flag) is False:
                del cell["metadata"][flag]
        for key in NBGRADER_BOOKKEEPING:
            cell["metadata"].get("nbgrader", {}).pop(key, None)
        if cell["cell_type"] == "code":
            cell["execution_count"] = None
    return data


def _plain(value):
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
