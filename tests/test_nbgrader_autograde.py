"""`nbgrader autograde` (the notebook's public test cells) and tensorgrade (its visible tests) agree.

For every assignment a course generates the assignment from the committed source notebook, then
autogrades two submissions with the real nbgrader: the notebook solved in place, and the same
notebook with one function replaced by a classic mistake. tensorgrade grades the same two files.
Each public test cell tests the function defined just above it; nbgrader's full marks on that
cell must coincide with tensorgrade passing every visible test of that function.
"""

from __future__ import annotations

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.batch import public_test_targets, visible_outcome
from autograder.grading import grade
from autograder.registry import list_assignments
from nbgrader_tools import (add_source, gradebook_url, make_course, notebook_name, run_nbgrader, solved_in_place,
                            with_cell_after)

# One function per assignment, replaced by a mistake the lessons warn about (a cell inserted after
# the student's solution cell, as a student redefining it would). Each is a function no other
# function of the notebook calls: a public test cell of a *calling* function may check other
# properties than tensorgrade's visible tests of it (say, which hypothesis gets gradient rather
# than the loss value), so only leaves make the cell-by-cell comparison meaningful.
BROKEN = {
    "mask_losses": ("multimask_loss", """
def multimask_loss(mask_logits, iou_pred, gt, focal_weight=20.0, dice_weight=1.0, iou_weight=1.0,
                   alpha=0.25, gamma=2.0):
    targets = gt[:, None].expand_as(mask_logits)
    combined = focal_weight * sigmoid_focal_loss(mask_logits, targets, alpha, gamma) + dice_weight * dice_loss(mask_logits, targets)
    best = combined.argmin(dim=1)
    rows = torch.arange(mask_logits.shape[0])
    iou_target = mask_iou(mask_logits[rows, best], gt).detach()
    # every hypothesis is trained towards the label: the mean over the K masks, not the minimum
    return (combined.mean(dim=1) + iou_weight * (iou_pred[rows, best] - iou_target) ** 2).mean(), best
"""),
    "prompt_encoder": ("encode_boxes", """
def encode_boxes(boxes, image_size, gaussian, corner_embeds):
    corners = boxes.reshape(-1, 2, 2)   # the +0.5 shift to the pixel centre is forgotten
    return fourier_features(normalize_coords(corners, image_size), gaussian) + corner_embeds
"""),
    "mask_decoder": ("predict_masks", """
def predict_masks(mask_tokens_out, upscaled, hypernet):
    vectors = hypernet[0](mask_tokens_out)   # one MLP for every mask token instead of one each
    return torch.einsum("bkc,bchw->bkhw", vectors, upscaled)
"""),
    "siglip": ("siglip_loss_chunked", """
def siglip_loss_chunked(image_emb, text_emb, t_prime, bias, chunk_size):
    # no chunks, and the N*N pair losses are averaged instead of summed and divided by N
    return siglip_pair_losses(image_emb, text_emb, t_prime, bias).mean()
"""),
}
SLUGS = [rubric.slug for rubric in list_assignments()]


def test_every_assignment_has_a_broken_variant():
    assert set(BROKEN) == set(SLUGS)


@pytest.fixture(scope="module", params=SLUGS)
def graded(request, tmp_path_factory):
    """Both graders' results for the solved and the broken submission of one assignment."""
    slug = request.param
    course = make_course(tmp_path_factory.mktemp(f"autograde-{slug}"))
    add_source(course, slug)
    run_nbgrader(course, "generate_assignment", slug)
    function, code = BROKEN[slug]
    solved = solved_in_place(slug)
    submissions = {"solved": solved, "broken": with_cell_after(solved, function, code.strip())}
    paths = {}
    for student, notebook in submissions.items():
        paths[student] = course / "submitted" / student / slug / notebook_name(slug)
        paths[student].parent.mkdir(parents=True)
        nbformat.write(notebook, str(paths[student]))
    run_nbgrader(course, "autograde", slug)

    notebook = notebook_name(slug).removesuffix(".ipynb")
    nbgrader_scores = {}
    with Gradebook(gradebook_url(course), course_id="") as gradebook:
        for student in submissions:
            grades = gradebook.find_submission_notebook(notebook, slug, student).grades
            nbgrader_scores[student] = {g.name: (g.auto_score, g.max_score) for g in grades}
    reports = {student: grade(path, slug, seed=20240611, run_budgets=False) for student, path in paths.items()}
    return {"slug": slug, "function": function, "targets": public_test_targets(solved),
            "nbgrader": nbgrader_scores, "tensorgrade": reports}


def _agreement(graded, student):
    """[(public cell, nbgrader full marks?, tensorgrade visible tests all passed?)]"""
    rows = []
    for cell, names in graded["targets"].items():
        auto_score, max_score = graded["nbgrader"][student][cell]
        rows.append((cell, auto_score == max_score, visible_outcome(graded["tensorgrade"][student], names)))
    return rows


def test_every_public_test_cell_maps_to_visible_tensorgrade_tests(graded):
    assert graded["targets"], "the notebook has public test cells"
    for cell, _, tensorgrade_passed in _agreement(graded, "solved"):
        assert tensorgrade_passed is not None, f"{cell}: no visible tensorgrade test covers its function"


def test_solved_notebook_gets_full_marks_from_both(graded):
    for cell, nbgrader_full, tensorgrade_passed in _agreement(graded, "solved"):
        assert nbgrader_full and tensorgrade_passed, (cell, nbgrader_full, tensorgrade_passed)
    report = graded["tensorgrade"]["solved"]
    assert report.score == report.max_score, [t.name for t in report.tests if t.status != "passed"]


def test_broken_function_fails_in_both(graded):
    cells = [cell for cell, names in graded["targets"].items() if graded["function"] in names]
    assert cells, f"no public test cell tests {graded['function']}"
    for cell in cells:
        auto_score, max_score = graded["nbgrader"]["broken"][cell]
        assert auto_score == 0 < max_score, f"nbgrader gave {auto_score}/{max_score} on {cell}"
    assert visible_outcome(graded["tensorgrade"]["broken"], [graded["function"]]) is False


@pytest.mark.parametrize("student", ["solved", "broken"])
def test_graders_agree_on_every_public_test_cell(graded, student):
    disagreements = [(cell, nbgrader_full, tensorgrade_passed)
                     for cell, nbgrader_full, tensorgrade_passed in _agreement(graded, student)
                     if nbgrader_full != tensorgrade_passed]
    assert not disagreements, f"nbgrader full marks vs tensorgrade visible tests passed: {disagreements}"
