"""The mask_losses notebook: valid, reproducible, nbgrader-consistent, runnable with the stubs and
with the reference, and in step with its rubric, its suite and the misconception catalogue."""

import ast
import re
from pathlib import Path

import nbformat
import pytest

from autograder.catalogue import load_catalogue
from autograder.rubric import load_rubric
from notebook_tools import cells_where, load_module, nbgrader

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "assignments" / "mask_losses" / "mask_losses.ipynb"
BUILDER = ROOT / "assignments" / "mask_losses" / "build_notebook.py"
SOLUTION = ROOT / "solutions" / "mask_losses.py"
RUBRIC = ROOT / "rubrics" / "mask_losses.yaml"
SUITE = ROOT / "autograder" / "suites" / "mask_losses"
CONTRACT = ["sigmoid_focal_loss", "dice_loss", "mask_iou", "multimask_loss"]
STUB_BODY = "    # YOUR CODE HERE\n    raise NotImplementedError()"
ANSWER_BODY = "# YOUR CODE HERE\nraise NotImplementedError()"



@pytest.fixture(scope="module")
def notebook():
    return nbformat.read(str(NOTEBOOK), as_version=4)



def stub_cells(notebook):
    return [c for c in cells_where(notebook, solution=True) if "def " in c.source]


def answer_cells(notebook):
    return [c for c in cells_where(notebook, solution=True) if "def " not in c.source]


def answer_variable(cell):
    return re.search(r"\b((?:check|mcq)_[a-z0-9_]+)\b", cell.source.split("\n")[0]).group(1)


# ---- structure ----------------------------------------------------------------------------

def test_notebook_is_valid_nbformat_4(notebook):
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    assert notebook.metadata.kernelspec.name == "python3"


def test_build_script_reproduces_the_committed_notebook(notebook):
    built = load_module("mask_losses_builder", BUILDER).build()
    assert nbformat.writes(built) == nbformat.writes(notebook)


def test_every_cell_carries_nbgrader_metadata_with_unique_ids(notebook):
    ids = [nbgrader(c).get("grade_id") for c in notebook.cells]
    assert all(ids), "every cell needs metadata.nbgrader.grade_id"
    assert len(ids) == len(set(ids))
    assert all(nbgrader(c)["schema_version"] == 3 for c in notebook.cells)


def test_stub_cells_define_each_contract_function_once_with_the_nbgrader_stub(notebook):
    defined = []
    for cell in stub_cells(notebook):
        meta = nbgrader(cell)
        assert (meta["solution"], meta["grade"], meta["locked"], meta["task"]) == (True, False, False, False)
        functions = [node for node in ast.parse(cell.source).body if isinstance(node, ast.FunctionDef)]
        assert len(functions) == 1
        docstring_end = functions[0].body[0].end_lineno  # the body after the docstring is the stub
        body = "\n".join(cell.source.split("\n")[docstring_end:])
        assert body == STUB_BODY, f"{functions[0].name}: the body must be exactly the nbgrader stub"
        defined.append(functions[0].name)
    assert defined == CONTRACT


def test_stub_signatures_and_defaults_follow_the_reference(notebook):
    solution = {node.name: node for node in ast.parse(SOLUTION.read_text()).body if isinstance(node, ast.FunctionDef)}
    for cell in stub_cells(notebook):
        stub = ast.parse(cell.source).body[0]
        reference = solution[stub.name]
        assert [a.arg for a in stub.args.args] == [a.arg for a in reference.args.args]
        assert [ast.literal_eval(d) for d in stub.args.defaults] == \
            [ast.literal_eval(d) for d in reference.args.defaults]


def test_answer_cells_name_their_variable_and_end_with_the_stub(notebook):
    for cell in answer_cells(notebook):
        meta = nbgrader(cell)
        assert (meta["solution"], meta["grade"], meta["locked"]) == (True, False, False)
        assert cell.source.endswith(ANSWER_BODY)
        assert cell.source.startswith("# Set `")
        answer_variable(cell)


def test_public_test_and_given_cells_are_locked(notebook):
    tests = cells_where(notebook, grade=True)
    assert len(tests) == len(CONTRACT)
    for cell in tests:
        meta = nbgrader(cell)
        assert meta["locked"] and not meta["solution"] and meta["points"] > 0
    for cell in cells_where(notebook, solution=False, grade=False):
        assert nbgrader(cell)["locked"] is True


def test_rubric_checks_match_the_answer_cells_and_every_option_is_mapped(notebook):
    rubric = load_rubric(RUBRIC)
    variables = [answer_variable(cell) for cell in answer_cells(notebook)]
    assert sorted(variables) == sorted(check.variable for check in rubric.checks)
    for check in rubric.checks:
        if not check.variable.startswith("mcq_"):
            continue
        index = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and check.variable in c.source)
        question = notebook.cells[index - 1]
        assert question.cell_type == "markdown" and question.source.startswith("**Question.**")
        letters = re.findall(r"^- \*\*([a-d])\)\*\*", question.source, re.M)
        assert letters == ["a", "b", "c", "d"]
        assert {check.expected, *check.wrong_options} == set(letters), f"{check.name}: every option is mapped"
        assert check.expected not in check.wrong_options


def test_misconceptions_are_in_the_catalogue_and_covered():
    catalogue = load_catalogue(ROOT / "rubrics" / "misconceptions")
    rubric = load_rubric(RUBRIC)
    variants = load_module("mask_losses_variants_for_notebook_test", SUITE / "variants.py")
    variant_ids = {mid for table in (variants.FOCAL_VARIANTS, variants.DICE_VARIANTS, variants.IOU_VARIANTS,
                                     variants.MULTIMASK_VARIANTS, variants.MULTIMASK_GRADIENT_VARIANTS)
                   for mid, _ in table.values()}
    impl_ids = {mid for mid in catalogue.ids() if mid.startswith("impl.mask_losses.")}
    assert rubric.referenced_misconceptions() <= catalogue.ids()
    assert variant_ids <= catalogue.ids()
    assert impl_ids == variant_ids - {"sam.mean-over-masks"}, "every impl id has a wrong implementation"
    assert "sam.mean-over-masks" in rubric.referenced_misconceptions() & variant_ids
    # every impl id is also reachable through a multiple-choice option
    mcq_ids = {mid for check in rubric.checks for ids in check.wrong_options.values() for mid in ids}
    assert impl_ids <= mcq_ids


def test_rubric_patterns_cover_every_suite_test():
    rubric = load_rubric(RUBRIC)
    names = re.findall(r"^def (test_\w+)", "".join(p.read_text() for p in sorted(SUITE.glob("test_*.py"))), re.M)
    assert len(names) == len(set(names)) > 30
    for name in names:
        rule = rubric.rule_for(name)
        assert rule is not None and rule.points > 0, name
        assert rule.pattern == name, f"{name} is scored by the pattern {rule.pattern!r}"
    assert {rule.pattern for rule in rubric.tests} == set(names), "every rubric pattern names a suite test"


def test_rubric_expected_answers_are_what_the_reference_computes():
    reference = load_module("mask_losses_reference_for_notebook_test", SOLUTION)
    import math
    import torch

    checks = {check.variable: check for check in load_rubric(RUBRIC).checks}
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    easy, hard = reference.sigmoid_focal_loss(torch.tensor([[[logit(0.05)]], [[logit(0.1)]]], dtype=torch.float64),
                                              torch.tensor([[[0.0]], [[1.0]]], dtype=torch.float64), None, 2.0)
    assert abs((hard / easy).item() - checks["check_focal_ratio"].expected) <= 1.0
    assert checks["check_focal_ratio"].is_correct(1.865 / 0.000128)  # the lesson's rounded numbers count too
    target = torch.zeros(64, 64, dtype=torch.float64)
    target[30:34, 30:34] = 1.0
    logits = torch.full((64, 64), -3.0, dtype=torch.float64)
    focal = reference.sigmoid_focal_loss(logits, target, None, 2.0).item()
    dice = reference.dice_loss(logits, target).item()
    assert abs(focal - checks["check_focal_missed_object"].expected) < 1e-5
    assert abs(dice - checks["check_dice_missed_object"].expected) < 1e-5
    assert not checks["check_focal_missed_object"].is_correct(dice)


# ---- execution ----------------------------------------------------------------------------

def execute(notebook):
    from nbclient import NotebookClient

    NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True).execute()
    return notebook


def errors_of(cell):
    return [output.ename for output in cell.get("outputs", []) if output.output_type == "error"]


def text_of(cell):
    return "".join(output.get("text", "") for output in cell.get("outputs", []))


@pytest.mark.slow
def test_stub_notebook_runs_top_to_bottom_with_every_public_test_failing(notebook):
    ran = execute(nbformat.from_dict(notebook))
    calls_student_code = {"trace-code", "missed-code", "demo-code"}
    for cell in ran.cells:
        if cell.cell_type != "code":
            continue
        meta = nbgrader(cell)
        failing = meta.get("grade") or (meta.get("solution") and "def " not in cell.source) \
            or meta["grade_id"] in calls_student_code
        expected = ["NotImplementedError"] if failing else []
        assert errors_of(cell) == expected, meta["grade_id"]


def filled(notebook):
    """Each stub replaced by the reference function, each answer cell by the rubric's answer."""
    source = SOLUTION.read_text()
    functions = {node.name: ast.get_source_segment(source, node) for node in ast.parse(source).body
                 if isinstance(node, ast.FunctionDef)}
    answers = {check.variable: check.expected for check in load_rubric(RUBRIC).checks}
    result = nbformat.from_dict(notebook)
    for cell in result.cells:
        if not nbgrader(cell).get("solution"):
            continue
        if "def " in cell.source:
            cell.source = functions[ast.parse(cell.source).body[0].name]
        else:
            variable = answer_variable(cell)
            cell.source = f"{variable} = {answers[variable]!r}"
    return result


@pytest.mark.slow
def test_notebook_with_the_reference_passes_its_tests_and_reproduces_the_lesson(notebook):
    ran = execute(filled(notebook))
    by_id = {nbgrader(cell)["grade_id"]: cell for cell in ran.cells}
    for cell in ran.cells:
        if cell.cell_type == "code":
            assert errors_of(cell) == [], nbgrader(cell)["grade_id"]
    for cell in cells_where(ran, grade=True):
        assert "public tests passed" in text_of(cell)
    trace = text_of(by_id["trace-code"])
    assert "focal 0.000128" in trace and "focal 1.8651" in trace and "14,545x" in trace
    assert any("image/png" in output.get("data", {}) for output in by_id["plot-code"].outputs)
    demo = text_of(by_id["demo-code"]).split("mean over hypotheses")
    minimum_rows = re.findall(r"hypothesis \d\s+([\d. ]+)", demo[0])
    mean_rows = re.findall(r"hypothesis \d\s+([\d. ]+)", demo[1])
    assert len(minimum_rows) == len(mean_rows) == 3
    assert len(set(mean_rows)) == 1, "with the mean the three hypotheses end up identical"
    best_columns = {max(range(3), key=lambda j: float(row.split()[j])) for row in minimum_rows}
    assert best_columns == {0, 1, 2}, "with the minimum each hypothesis matches a different granularity"
