import json

import nbformat
import pytest

from autograder.notebook import NotebookError, load_submission, strip_ipython_syntax


def _notebook_bytes(*sources: str, test_cell: str | None = None) -> bytes:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# title")] + [nbformat.v4.new_code_cell(s) for s in sources]
    if test_cell is not None:
        cell = nbformat.v4.new_code_cell(test_cell)
        cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 1, "grade_id": "t", "schema_version": 3}
        notebook.cells.append(cell)
    return nbformat.writes(notebook).encode()


def test_code_cells_keep_their_notebook_index():
    loaded = load_submission(_notebook_bytes("a = 1", "b = 2"))
    assert [(c.index, c.source) for c in loaded.cells] == [(1, "a = 1"), (2, "b = 2")]


def test_public_test_cells_are_skipped():
    loaded = load_submission(_notebook_bytes("a = 1", test_cell="assert a == 2"))
    assert [c.source for c in loaded.cells] == ["a = 1"]
    assert loaded.skipped == [2]


@pytest.mark.parametrize("line", ["%matplotlib inline", "!pip install x", "if True:\n    %time f()", "torch.sum?"])
def test_ipython_lines_become_no_ops(line):
    source = strip_ipython_syntax(f"x = 1\n{line}\ny = 2")
    namespace = {"torch": object()}
    exec(compile(source, "<cell>", "exec"), namespace)
    assert namespace["x"] == 1 and namespace["y"] == 2
    assert len(source.splitlines()) == 3 + line.count("\n")  # line numbers in tracebacks still match


def test_cell_magic_drops_the_whole_cell():
    source = strip_ipython_syntax("%%bash\necho hi\nrm -rf /")
    namespace = {}
    exec(compile(source, "<cell>", "exec"), namespace)
    assert set(namespace) == {"__builtins__"}


def test_assigned_shell_escape_becomes_empty_list():
    namespace = {}
    exec(compile(strip_ipython_syntax("files = !ls"), "<cell>", "exec"), namespace)
    assert namespace["files"] == []


@pytest.mark.parametrize("raw, reason", [
    (b"\xff\xfe not utf8", "not UTF-8"),
    (b"{ this is not json", "not valid JSON"),
    (json.dumps({"cells": "nope"}).encode(), "nbformat"),
    (json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]}).encode(), "nbformat"),
])
def test_unreadable_notebooks_raise_a_one_line_reason(raw, reason):
    with pytest.raises(NotebookError) as info:
        load_submission(raw)
    assert reason in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file_is_a_notebook_error(tmp_path):
    with pytest.raises(NotebookError, match="no such file"):
        load_submission(tmp_path / "missing.ipynb")
