"""assignments/siglip/siglip.ipynb: valid, reproducible from build_notebook.py, consistent
nbgrader metadata, runs top to bottom with the stubs failing every public test, passes them
once the reference solution fills the stubs, and matches the rubric's checks."""

import ast
import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

from autograder.registry import get_rubric
from autograder.rubric import load_rubric

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "assignments" / "siglip" / "siglip.ipynb"
SOLUTION = REPO / "solutions" / "siglip.py"
STUB_LINES = ("# YOUR CODE HERE", "raise NotImplementedError()")
CONTRACT = {
    "similarity_matrix": ["image_emb", "text_emb"],
    "clip_loss": ["image_emb", "text_emb", "t_prime"],
    "siglip_pair_losses": ["image_emb", "text_emb", "t_prime", "bias"],
    "siglip_loss": ["image_emb", "text_emb", "t_prime", "bias"],
    "siglip_loss_chunked": ["image_emb", "text_emb", "t_prime", "bias", "chunk_size"],
    "zero_shot_classify": ["image_emb", "class_prompt_emb"],
}


def notebook():
    return nbformat.read(str(NOTEBOOK), as_version=4)


def nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


def cells_of(kind):
    """kind: 'stub' (solution code defining functions), 'answer', 'test', 'given' (locked code)."""
    found = []
    for cell in notebook().cells:
        meta = nbgrader(cell)
        if cell.cell_type != "code":
            continue
        if meta.get("solution"):
            is_answer = not cell.source.lstrip().startswith("def ")
            if (kind == "answer") == is_answer and kind in ("stub", "answer"):
                found.append(cell)
        elif meta.get("grade") and kind == "test":
            found.append(cell)
        elif not meta.get("grade") and kind == "given":
            found.append(cell)
    return found


def answer_variable(cell):
    match = re.match(r"# Set `(\w+)` to ", cell.source)
    assert match, f"answer cell {nbgrader(cell)['grade_id']} does not say which variable to set"
    return match.group(1)


def test_notebook_is_valid_nbformat4_with_a_python3_kernel():
    nb = notebook()
    nbformat.validate(nb)
    assert nb.nbformat == 4 and nb.metadata.kernelspec.name == "python3"


def test_notebook_is_what_build_notebook_produces():
    spec = importlib.util.spec_from_file_location("siglip_build_notebook", NOTEBOOK.with_name("build_notebook.py"))
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    built = builder.build()
    assert [(c.cell_type, c.source, c.metadata) for c in built.cells] == \
           [(c.cell_type, c.source, c.metadata) for c in notebook().cells]


def test_every_cell_has_nbgrader_metadata_with_unique_ids():
    ids = []
    for cell in notebook().cells:
        meta = nbgrader(cell)
        assert meta.get("schema_version") == 3 and meta.get("grade_id"), cell.source[:60]
        ids.append(meta["grade_id"])
        if meta["solution"]:
            assert meta["locked"] is False and meta["grade"] is False
        elif meta["grade"]:
            assert meta["locked"] is True and meta["points"] > 0 and cell.cell_type == "code"
        else:
            assert meta["locked"] is True
    assert len(ids) == len(set(ids))


def test_stub_cells_define_the_contract_with_the_nbgrader_stub_body():
    defined = {}
    for cell in cells_of("stub"):
        tree = ast.parse(cell.source)
        functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
        assert len(functions) == 1, cell.source[:60]
        function = functions[0]
        defined[function.name] = [arg.arg for arg in function.args.args]
        body_lines = [line.strip() for line in cell.source.splitlines()[-2:]]
        assert tuple(body_lines) == STUB_LINES, function.name
        assert ast.get_docstring(function), f"{function.name} has no docstring with its shapes"
    assert defined == CONTRACT


def test_answer_cells_hold_the_stub_body_and_match_the_rubric():
    rubric = load_rubric(REPO / "rubrics" / "siglip.yaml")
    answers = cells_of("answer")
    for cell in answers:
        assert tuple(cell.source.splitlines()[-2:]) == STUB_LINES
    variables = [answer_variable(cell) for cell in answers]
    assert sorted(variables) == sorted(check.variable for check in rubric.checks)
    assert all(re.fullmatch(r"(check|mcq)_[a-z0-9_]+", variable) for variable in variables)


def test_every_answer_cell_follows_its_question():
    answer_ids = {nbgrader(cell)["grade_id"] for cell in cells_of("answer")}
    cells = notebook().cells
    for index, cell in enumerate(cells):
        if nbgrader(cell)["grade_id"] in answer_ids:
            question = cells[index - 1]
            assert question.cell_type == "markdown" and "?" in question.source, nbgrader(cell)["grade_id"]


def test_multiple_choice_questions_map_every_wrong_option():
    rubric = get_rubric("siglip")
    answer_ids = {nbgrader(cell)["grade_id"] for cell in cells_of("answer")}
    cells = notebook().cells
    by_variable = {answer_variable(cell): index for index, cell in enumerate(cells)
                   if nbgrader(cell)["grade_id"] in answer_ids}
    covered = set()
    for check in rubric.checks:
        if not check.variable.startswith("mcq_"):
            continue
        question = cells[by_variable[check.variable] - 1].source
        letters = re.findall(r"^- \*\*\(([a-d])\)\*\*", question, flags=re.MULTILINE)
        assert letters == ["a", "b", "c", "d"], check.variable
        assert set(check.wrong_options) == set(letters) - {check.expected}, check.variable
        assert all(check.wrong_options.values()), check.variable
        covered |= {mid for ids in check.wrong_options.values() for mid in ids}
    lesson_ids = {"module.vlm-is-chat-llm", "siglip.different-from-clip", "siglip.wastes-negatives",
                  "siglip.batch-dependency-is-data", "siglip.v2-is-just-the-loss", "siglip.self-distillation-is-kd",
                  "siglip.small-batch-only"}
    assert lesson_ids <= covered


def test_rubric_ids_are_catalogued():
    from autograder.registry import catalogue

    assert get_rubric("siglip").referenced_misconceptions() <= catalogue().ids()


def _execute(nb):
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True).execute()
    return nb


def _errors(cell):
    return [output for output in cell.get("outputs", []) if output.output_type == "error"]


@pytest.mark.slow
def test_stub_notebook_runs_top_to_bottom_and_every_public_test_fails_clearly():
    answer_ids = {nbgrader(cell)["grade_id"] for cell in cells_of("answer")}
    nb = _execute(notebook())
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = nbgrader(cell)
        errors = _errors(cell)
        if meta.get("grade") or meta["grade_id"] in answer_ids:
            assert [error.ename for error in errors] == ["NotImplementedError"], meta["grade_id"]
        else:
            assert errors == [], (meta["grade_id"], errors and errors[0].evalue)


@pytest.mark.slow
def test_public_tests_pass_with_the_reference_solution():
    nb = notebook()
    stub_ids = {nbgrader(cell)["grade_id"] for cell in cells_of("stub")}
    first = True
    for cell in nb.cells:
        if nbgrader(cell).get("grade_id") in stub_ids:
            cell.source = SOLUTION.read_text() if first else "# defined with the solution above"
            first = False
    nb = _execute(nb)
    for cell in nb.cells:
        if nbgrader(cell).get("grade"):
            assert _errors(cell) == [], (nbgrader(cell)["grade_id"], _errors(cell) and _errors(cell)[0].evalue)
            assert "public tests passed" in "".join(output.get("text", "") for output in cell.outputs)
