"""Building assignment notebooks: cells with the nbgrader metadata the engine and nbgrader expect.

Used by `assignments/<slug>/build_notebook.py`; see docs/ENGINE.md ("Authoring conventions").
"""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

STUB_BODY = "# YOUR CODE HERE\nraise NotImplementedError()"
OPTION_LETTERS = "abcd"


def nbgrader_meta(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = True,
                  points: float | None = None) -> dict:
    nbgrader = {"schema_version": 3, "grade_id": grade_id, "solution": solution, "grade": grade,
                "locked": locked, "task": False}
    if points is not None:
        nbgrader["points"] = points
    return {"nbgrader": nbgrader}


def _clean(text: str) -> str:
    return text.strip("\n")


def teach(grade_id: str, text: str):
    """Locked teaching text."""
    return new_markdown_cell(_clean(text), metadata=nbgrader_meta(grade_id))


def given(grade_id: str, source: str):
    """Locked code the student runs but does not write (imports, plots, given classes)."""
    return new_code_cell(_clean(source), metadata=nbgrader_meta(grade_id))


def stub(grade_id: str, header: str):
    """A function to write: its signature and docstring, then nbgrader's stub body."""
    body = "\n".join("    " + line for line in STUB_BODY.splitlines())
    return new_code_cell(_clean(header) + "\n" + body, metadata=nbgrader_meta(grade_id, solution=True, locked=False))


def public_test(grade_id: str, source: str, points: float = 1):
    """A locked, graded test cell the student can run (the grader skips it)."""
    return new_code_cell(_clean(source), metadata=nbgrader_meta(grade_id, grade=True, points=points))


def answer(grade_id: str, variable: str, allowed: str):
    """An answer cell: the student replaces the stub with `variable = ...`."""
    source = f"# Set `{variable}` to {allowed}.\n{STUB_BODY}"
    return new_code_cell(source, metadata=nbgrader_meta(grade_id, solution=True, locked=False))


def mcq(grade_id: str, variable: str, question: str, options: list[str], *, letter_style: str = "({letter})"):
    """A multiple-choice question (markdown) and its answer cell."""
    listing = "\n".join(f"- **{letter_style.format(letter=letter)}** {text}" for letter, text in zip(OPTION_LETTERS, options))
    return [teach(f"{grade_id}-question", f"**Question.** {question}\n\n{listing}"),
            answer(grade_id, variable, 'one of "a", "b", "c", "d" (a string)')]
