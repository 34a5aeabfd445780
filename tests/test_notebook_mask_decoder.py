"""The mask_decoder notebook: valid, reproducible, consistent nbgrader metadata, runs top to
bottom as stubs (every public test failing with NotImplementedError) and with the reference
(every public test passing, the attention-map figure drawn)."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import nbformat
import pytest
import torch

from autograder.catalogue import load_catalogue
from autograder.rubric import load_rubric

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "assignments" / "mask_decoder" / "mask_decoder.ipynb"
BUILDER = ROOT / "assignments" / "mask_decoder" / "build_notebook.py"
RUBRIC = ROOT / "rubrics" / "mask_decoder.yaml"
SOLUTION = ROOT / "solutions" / "mask_decoder.py"
STUB_LINES = ("# YOUR CODE HERE", "raise NotImplementedError()")
WRITTEN_BY_STUDENT = {"Attention.forward", "MLPBlock.forward", "TwoWayAttentionBlock.forward",
                      "predict_masks", "segment_prompts"}


def _notebook():
    return nbformat.read(str(NOTEBOOK), as_version=4)


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _kind(cell) -> str:
    meta = _meta(cell)
    if meta.get("grade") and not meta.get("solution"):
        return "test"
    if meta.get("solution"):
        return "answer" if cell.source.startswith("# Assign") else "stub"
    return "given"


def _load_builder():
    spec = importlib.util.spec_from_file_location("mask_decoder_build_notebook", BUILDER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebook_is_valid_and_matches_its_builder():
    notebook = _notebook()
    nbformat.validate(notebook)
    rebuilt = _load_builder().build()
    assert [c.source for c in rebuilt.cells] == [c.source for c in notebook.cells], "run build_notebook.py again"
    assert [c.metadata for c in rebuilt.cells] == [c.metadata for c in notebook.cells]
    assert notebook.metadata.kernelspec.name == "python3"


def test_every_cell_has_consistent_nbgrader_metadata():
    cells = _notebook().cells
    ids = [_meta(cell).get("grade_id") for cell in cells]
    assert None not in ids and len(ids) == len(set(ids)), "every cell needs a unique grade_id"
    for cell in cells:
        meta = _meta(cell)
        assert meta["schema_version"] == 3
        kind = _kind(cell)
        if kind == "test":
            assert cell.cell_type == "code" and meta["locked"] and meta["points"] > 0
        elif kind in ("stub", "answer"):
            assert cell.cell_type == "code" and not meta["grade"] and not meta["locked"]
        else:
            assert meta["locked"] and not meta["grade"] and not meta["solution"]


def _functions_with_bodies(source: str) -> dict[str, ast.FunctionDef]:
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    found[f"{node.name}.{item.name}"] = item
    return found


def test_stub_cells_hold_exactly_the_nbgrader_stub_for_each_function_to_write():
    written = set()
    for cell in _notebook().cells:
        if _kind(cell) != "stub":
            continue
        lines = cell.source.splitlines()
        for name, node in _functions_with_bodies(cell.source).items():
            if name.endswith("__init__"):
                continue
            written.add(name)
            body = [line.strip() for line in lines[node.body[0].lineno - 1:node.end_lineno]]
            if isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
                body = [line.strip() for line in lines[node.body[0].end_lineno:node.end_lineno]]
            assert tuple(body) == STUB_LINES, f"{name} must have exactly the nbgrader stub body"
    assert written == WRITTEN_BY_STUDENT


def test_given_inits_are_the_reference_inits():
    """The grader loads reference weights by name: the notebook's __init__ must be the reference's."""
    solution = SOLUTION.read_text(encoding="utf-8")
    reference = {name: ast.dump(node) for name, node in _functions_with_bodies(solution).items() if name.endswith("__init__")}
    in_notebook = {}
    for cell in _notebook().cells:
        if _kind(cell) == "stub":
            in_notebook.update({name: ast.dump(node) for name, node in _functions_with_bodies(cell.source).items()
                                if name.endswith("__init__")})
    assert in_notebook == reference


def test_stub_modules_have_the_reference_state_dict():
    namespace: dict = {}
    for cell in _notebook().cells:
        if _kind(cell) in ("given", "stub") and cell.cell_type == "code" and _meta(cell)["grade_id"] != "figure":
            exec(compile(cell.source, _meta(cell)["grade_id"], "exec"), namespace)
    spec = importlib.util.spec_from_file_location("mask_decoder_solution_for_notebook_test", SOLUTION)
    solution = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(solution)
    for args in [(256, 8, 2048, 2, False), (16, 2, 24, 1, True)]:
        ours = {k: v.shape for k, v in namespace["TwoWayAttentionBlock"](*args).state_dict().items()}
        theirs = {k: v.shape for k, v in solution.TwoWayAttentionBlock(*args).state_dict().items()}
        assert ours == theirs
    with pytest.raises(NotImplementedError):
        namespace["Attention"](8, 2)(torch.zeros(1, 2, 8), torch.zeros(1, 3, 8), torch.zeros(1, 3, 8))


def test_rubric_validates_and_every_check_has_one_answer_cell():
    rubric = load_rubric(RUBRIC)
    catalogue = load_catalogue(ROOT / "rubrics" / "misconceptions")
    assert rubric.referenced_misconceptions() <= catalogue.ids()
    assert {budget.target for budget in rubric.budgets} <= {"Attention", "MLPBlock", "TwoWayAttentionBlock", "predict_masks", "segment_prompts"}
    cells = _notebook().cells
    answers = [cell.source for cell in cells if _kind(cell) == "answer"]
    for check in rubric.checks:
        holding = [source for source in answers if f"`{check.variable} = ...`" in source]
        assert len(holding) == 1, f"{check.variable} needs exactly one answer cell"
    assert len(answers) == len(rubric.checks)


def test_each_multiple_choice_question_maps_every_wrong_option():
    rubric = load_rubric(RUBRIC)
    cells = _notebook().cells
    mcqs = [check for check in rubric.checks if check.variable.startswith("mcq_")]
    planned = {"sam.encoder-per-prompt", "sam.decoder-is-unet", "sam.versions-unrelated"}
    assert planned <= {mid for check in mcqs for ids in check.wrong_options.values() for mid in ids}
    for check in mcqs:
        index = next(i for i, cell in enumerate(cells) if f"`{check.variable} = ...`" in cell.source)
        question = cells[index - 1].source
        options = re.findall(r"^\* ([a-d])\)", question, flags=re.M)
        assert options == ["a", "b", "c", "d"], f"the markdown above {check.variable} lists options a-d"
        assert set(check.wrong_options) | {check.expected} == set(options)
        assert all(check.wrong_options.values())


def _execute(notebook):
    from nbclient import NotebookClient

    NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    return notebook


def _errors(cell) -> list[str]:
    return [output.get("ename", "") for output in cell.get("outputs", []) if output.output_type == "error"]


def _text(cell) -> str:
    return "".join(output.get("text", "") for output in cell.get("outputs", []) if output.output_type == "stream")


@pytest.mark.slow
def test_stub_notebook_runs_and_every_public_test_fails_clearly():
    notebook = _execute(_notebook())
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        kind, grade_id = _kind(cell), _meta(cell)["grade_id"]
        if kind in ("test", "answer"):
            assert _errors(cell) == ["NotImplementedError"], f"{grade_id}: {_errors(cell)}"
        elif kind == "given":
            assert _errors(cell) == [], f"given cell {grade_id} must run with the stubs"
        else:
            assert _errors(cell) == [], f"stub cell {grade_id} must define its names without running them"
    figure = next(cell for cell in notebook.cells if _meta(cell)["grade_id"] == "figure")
    assert "Implement Attention.forward" in _text(figure)


def _with_reference(notebook):
    """The stub cells replaced by the reference (first stub) and the answer cells by the rubric's answers."""
    rubric = load_rubric(RUBRIC)
    expected = {check.variable: check.expected for check in rubric.checks}
    first_stub = True
    for cell in notebook.cells:
        kind = _kind(cell)
        if kind == "stub":
            cell.source = SOLUTION.read_text(encoding="utf-8") if first_stub else "pass"
            first_stub = False
        elif kind == "answer":
            variable = re.search(r"`(\w+) = \.\.\.`", cell.source).group(1)
            cell.source = f"{variable} = {expected[variable]!r}"
    return notebook


@pytest.mark.slow
def test_reference_passes_every_public_test_and_draws_the_figure():
    notebook = _execute(_with_reference(_notebook()))
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert _errors(cell) == [], f"{_meta(cell)['grade_id']}: {_errors(cell)}"
    figure = next(cell for cell in notebook.cells if _meta(cell)["grade_id"] == "figure")
    assert "attention weights: [5, 4096]" in _text(figure)
    assert any("image/png" in output.get("data", {}) for output in figure.outputs), "the figure was not drawn"
