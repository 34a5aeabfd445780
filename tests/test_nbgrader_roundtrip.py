"""nbgrader source notebooks: the real `nbgrader generate_assignment` turns each committed
solutions/<slug>.source.ipynb into exactly the student notebook of assignments/<slug>/, and the
committed source is what the build script would write today."""

from __future__ import annotations

import json
import textwrap

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.nbgrader_source import (BEGIN_SOLUTION, END_SOLUTION, SourceNotebookError, source_notebook,
                                        strip_solution_markers)
from autograder.registry import get_rubric, list_assignments, resolve
from nbgrader_tools import add_source, committed_source, comparable, make_course, notebook_name, run_nbgrader

SLUGS = [rubric.slug for rubric in list_assignments()]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return make_course(tmp_path_factory.mktemp("nbgrader-course"))


def student_notebook(slug: str) -> nbformat.NotebookNode:
    return nbformat.read(str(resolve(get_rubric(slug).notebook)), as_version=4)


@pytest.mark.parametrize("slug", SLUGS)
def test_generate_assignment_reproduces_the_student_notebook(course, slug):
    add_source(course, slug)
    run_nbgrader(course, "generate_assignment", slug, "--force")
    released = nbformat.read(str(course / "release" / slug / notebook_name(slug)), as_version=4)
    student = student_notebook(slug)

    assert [cell.source for cell in released.cells] == [cell.source for cell in student.cells]
    assert comparable(released) == comparable(student)


@pytest.mark.parametrize("slug", SLUGS)
def test_committed_source_is_up_to_date(slug):
    """Rebuilding from the student notebook, the reference and the rubric gives the committed file
    (run assignments/<slug>/build_notebook.py after changing any of them)."""
    rubric = get_rubric(slug)
    rebuilt = source_notebook(student_notebook(slug), resolve(rubric.solution).read_text(encoding="utf-8"),
                              {check.variable: check.expected for check in rubric.checks})
    committed = json.loads(committed_source(slug).read_text(encoding="utf-8"))
    assert json.loads(nbformat.writes(rebuilt)) == committed


@pytest.mark.parametrize("slug", SLUGS)
def test_every_answer_cell_holds_the_rubric_answer(slug):
    source = nbformat.read(str(committed_source(slug)), as_version=4)
    code = "\n".join(strip_solution_markers(cell.source) for cell in source.cells
                     if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"))
    for check in get_rubric(slug).checks:
        assert f"\n{check.variable} = {check.expected!r}\n" in f"\n{code}\n", check.variable


# ---- the source builder on a small synthetic notebook ------------------------------------------

SOLUTION = textwrap.dedent('''
    import math

    SCALE = 2.0


    def _halve(x):
        """Private helper: the notebook does not define it."""
        return x / SCALE


    def area(radius):
        """Reference docstring, not copied."""
        # a comment that belongs to the body
        return math.pi * _halve(radius) ** 2


    class Box:
        def size(self):
            return self.width * self.height
''')


def synthetic_student() -> nbformat.NotebookNode:
    def meta(grade_id, solution):
        return {"nbgrader": {"schema_version": 3, "grade_id": grade_id, "solution": solution, "grade": False,
                             "locked": not solution}}

    stub = "    # YOUR CODE HERE\n    raise NotImplementedError()"
    return new_notebook(cells=[
        new_markdown_cell("Write `area`.", metadata=meta("text", False)),
        new_code_cell("import math", metadata=meta("imports", False)),
        new_code_cell(f'def area(radius):\n    """Area of the disk of diameter radius."""\n{stub}', metadata=meta("area", True)),
        new_code_cell("class Box:\n    def __init__(self):\n        self.width, self.height = 2, 3\n\n"
                      "    def size(self):\n        # YOUR CODE HERE\n        raise NotImplementedError()",
                      metadata=meta("box", True)),
        new_code_cell("# Set `check_pi` and `mcq_shape` (see above).\n# YOUR CODE HERE\nraise NotImplementedError()",
                      metadata=meta("answers", True)),
    ])


def test_stubs_get_the_reference_body_and_the_helpers_the_notebook_lacks():
    source = source_notebook(synthetic_student(), SOLUTION, {"check_pi": 3.14, "mcq_shape": "b"})
    area = source.cells[2].source
    assert area.startswith('def area(radius):\n    """Area of the disk of diameter radius."""\n    ### BEGIN SOLUTION\n')
    assert area.endswith("    ### END SOLUTION")
    assert "Reference docstring" not in area and "# a comment that belongs to the body" in area
    assert "    SCALE = 2.0" in area and "    def _halve(x):" in area
    assert "import math" not in area, "the notebook imports math already"
    box = source.cells[3].source
    assert "        ### BEGIN SOLUTION\n        return self.width * self.height\n        ### END SOLUTION" in box

    namespace: dict = {}
    for cell in source.cells[1:4]:
        exec(cell.source, namespace)
    assert namespace["area"](2.0) == pytest.approx(3.141592653589793)
    assert namespace["Box"]().size() == 6


def test_answer_cells_assign_every_variable_they_name():
    source = source_notebook(synthetic_student(), SOLUTION, {"check_pi": 3.14, "mcq_shape": "b"})
    answer = source.cells[4].source
    assert answer.endswith(f"{BEGIN_SOLUTION}\ncheck_pi = 3.14\nmcq_shape = 'b'\n{END_SOLUTION}")


def test_an_answer_variable_without_a_cell_is_an_error():
    with pytest.raises(SourceNotebookError, match="check_missing"):
        source_notebook(synthetic_student(), SOLUTION, {"check_pi": 3.14, "mcq_shape": "b", "check_missing": 1})


def test_a_stub_the_reference_does_not_define_is_an_error():
    with pytest.raises(SourceNotebookError, match="area"):
        source_notebook(synthetic_student(), "def other():\n    return 1\n", {"check_pi": 3.14, "mcq_shape": "b"})
