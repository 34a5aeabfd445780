"""The prompt_encoder notebook: valid, reproducible, nbgrader-consistent, runnable, and in step
with its rubric and the misconception catalogue."""

import ast
import re
from pathlib import Path

import nbformat
import pytest

from autograder.catalogue import load_catalogue
from autograder.rubric import load_rubric
from notebook_tools import cells_where, load_module, nbgrader

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "assignments" / "prompt_encoder" / "prompt_encoder.ipynb"
BUILDER = ROOT / "assignments" / "prompt_encoder" / "build_notebook.py"
SOLUTION = ROOT / "solutions" / "prompt_encoder.py"
RUBRIC = ROOT / "rubrics" / "prompt_encoder.yaml"
VARIANTS = ROOT / "autograder" / "suites" / "prompt_encoder" / "variants.py"
CONTRACT = ["normalize_coords", "fourier_features", "dense_positional_encoding", "encode_points", "encode_boxes"]
STUB_BODY = "    # YOUR CODE HERE\n    raise NotImplementedError()"
ANSWER_BODY = "# YOUR CODE HERE\nraise NotImplementedError()"



@pytest.fixture(scope="module")
def notebook():
    return nbformat.read(str(NOTEBOOK), as_version=4)



def stub_cells(notebook):
    return [c for c in cells_where(notebook, solution=True) if "def " in c.source]


def answer_cells(notebook):
    return [c for c in cells_where(notebook, solution=True) if "def " not in c.source]


def test_notebook_is_valid_nbformat_4(notebook):
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    assert notebook.metadata.kernelspec.name == "python3"


def test_build_script_reproduces_the_committed_notebook(notebook):
    built = load_module("prompt_encoder_builder", BUILDER).build()
    assert nbformat.writes(built) == nbformat.writes(notebook)


def test_every_cell_carries_nbgrader_metadata_with_unique_ids(notebook):
    ids = [nbgrader(c).get("grade_id") for c in notebook.cells]
    assert all(ids), "every cell needs metadata.nbgrader.grade_id"
    assert len(ids) == len(set(ids))
    assert all(nbgrader(c)["schema_version"] == 3 for c in notebook.cells)


def test_stub_cells_define_each_contract_function_once_with_the_nbgrader_stub(notebook):
    defined = []
    for cell in stub_cells(notebook):
        assert nbgrader(cell) == {**nbgrader(cell), "solution": True, "grade": False, "locked": False, "task": False}
        functions = [n for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef)]
        assert len(functions) == 1
        lines = cell.source.split("\n")
        body = "\n".join(lines[functions[0].lineno:])  # everything after the `def` line
        assert body == STUB_BODY, f"{functions[0].name}: the body must be exactly the nbgrader stub"
        defined.append(functions[0].name)
    assert defined == CONTRACT


def test_stub_signatures_follow_the_contract(notebook):
    solution = ast.parse(SOLUTION.read_text())
    expected = {f.name: [a.arg for a in f.args.args] for f in solution.body if isinstance(f, ast.FunctionDef)}
    for cell in stub_cells(notebook):
        function = ast.parse(cell.source).body[0]
        assert [a.arg for a in function.args.args] == expected[function.name]


def test_answer_cells_say_which_variable_and_end_with_the_stub(notebook):
    for cell in answer_cells(notebook):
        assert nbgrader(cell)["locked"] is False and nbgrader(cell)["grade"] is False
        assert cell.source.endswith(ANSWER_BODY)
        assert re.search(r"\b(check|mcq)_[a-z0-9_]+\b", cell.source.split("\n")[0])


def test_public_test_and_given_cells_are_locked(notebook):
    tests = cells_where(notebook, grade=True)
    assert len(tests) == len(CONTRACT)
    for cell in tests:
        assert nbgrader(cell)["locked"] and not nbgrader(cell)["solution"] and nbgrader(cell)["points"] > 0
    for cell in cells_where(notebook, solution=False, grade=False):
        assert nbgrader(cell)["locked"] is True


def test_rubric_checks_appear_in_answer_cells_and_mcq_text(notebook):
    rubric = load_rubric(RUBRIC)
    answers = "\n".join(c.source for c in answer_cells(notebook))
    for check in rubric.checks:
        assert re.search(rf"\b{check.variable}\b", answers), f"{check.variable} has no answer cell"
        if check.variable.startswith("mcq_"):
            index = next(i for i, c in enumerate(notebook.cells) if check.variable in c.source)
            question = notebook.cells[index - 1]
            assert question.cell_type == "markdown"
            letters = set(re.findall(r"\*\*([a-d])\)\*\*", question.source))
            assert {check.expected, *check.wrong_options} == letters, f"{check.name}: every option is mapped"


def test_rubric_ids_and_variant_ids_are_in_the_catalogue():
    catalogue = load_catalogue(ROOT / "rubrics" / "misconceptions")
    rubric = load_rubric(RUBRIC)
    variants = load_module("prompt_encoder_variants_for_test", VARIANTS)
    variant_ids = {variants.misconception_id(name) for name in variants.VARIANTS}
    assert rubric.referenced_misconceptions() <= catalogue.ids()
    assert variant_ids <= catalogue.ids()
    assert {"sam.is-classifier", "sam.retrain-per-object"} <= rubric.referenced_misconceptions()
    impl_ids = {i for i in catalogue.ids() if i.startswith("impl.prompt_encoder.")}
    assert impl_ids == variant_ids | {"impl.prompt_encoder.raw-coordinates-enough"}


def test_rubric_patterns_cover_every_suite_test():
    rubric = load_rubric(RUBRIC)
    suite = ROOT / "autograder" / "suites" / "prompt_encoder"
    names = re.findall(r"^def (test_\w+)", "".join(p.read_text() for p in suite.glob("test_*.py")), re.M)
    assert names
    for name in names:
        rule = rubric.rule_for(name)
        assert rule is not None and rule.points > 0, name


# ---- execution ----------------------------------------------------------------------------

def execute(notebook):
    from nbclient import NotebookClient

    NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True).execute()
    return notebook


def errors_of(cell):
    return [o.ename for o in cell.get("outputs", []) if o.output_type == "error"]


@pytest.mark.slow
def test_stub_notebook_runs_top_to_bottom_with_every_public_test_failing(notebook):
    ran = execute(nbformat.from_dict(notebook))
    for cell in ran.cells:
        if cell.cell_type != "code":
            continue
        meta = nbgrader(cell)
        if meta.get("grade") or (meta.get("solution") and "def " not in cell.source):
            assert errors_of(cell) == ["NotImplementedError"], meta["grade_id"]
        else:
            assert errors_of(cell) == [], meta["grade_id"]


def filled(notebook):
    """The notebook with each stub replaced by the reference function and each answer filled in."""
    solution_source = SOLUTION.read_text()
    functions = {n.name: ast.get_source_segment(solution_source, n) for n in ast.parse(solution_source).body
                 if isinstance(n, ast.FunctionDef)}
    answers = {c.variable: c.expected for c in load_rubric(RUBRIC).checks}
    result = nbformat.from_dict(notebook)
    for cell in result.cells:
        meta = nbgrader(cell)
        if not meta.get("solution"):
            continue
        if "def " in cell.source:
            name = ast.parse(cell.source).body[0].name
            cell.source = functions[name]
        else:
            names = re.findall(r"\b((?:check|mcq)_[a-z0-9_]+)\b", cell.source.split("\n")[0])
            cell.source = "\n".join(f"{n} = {answers[n]!r}" for n in names)
    return result


@pytest.mark.slow
def test_notebook_with_the_reference_passes_its_public_tests_and_draws_the_picture(notebook):
    ran = execute(filled(notebook))
    for cell in ran.cells:
        if cell.cell_type == "code":
            assert errors_of(cell) == [], nbgrader(cell)["grade_id"]
    picture = next(c for c in ran.cells if nbgrader(c)["grade_id"] == "picture")
    assert any("image/png" in o.get("data", {}) for o in picture.outputs)
    for test in cells_where(ran, grade=True):
        assert "public tests passed" in "".join(o.get("text", "") for o in test.outputs)
