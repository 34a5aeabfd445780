"""The mask_losses assignment graded end to end: the reference scores full marks and flags nothing,
an independently written correct version does too, the stub scores zero, and each anticipated
mistake (written the way a student would, appended after the reference) fails the right functions
and carries the right misconception ids. Mistakes in independent functions share one grading."""

import pytest

from autograder.grading import grade
from notebook_tools import notebook_with_cells, solved_notebook, write_notebook

SLUG = "mask_losses"
ID = "impl.mask_losses."
CONTRACT = {"sigmoid_focal_loss", "dice_loss", "mask_iou", "multimask_loss"}

# ---- correct, but written differently from the reference ------------------------------------

INDEPENDENT_CORRECT = '''
import torch
import torch.nn.functional as F

def sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2.0):
    foreground = targets > 0.5
    cross_entropy = -torch.where(foreground, F.logsigmoid(logits), F.logsigmoid(-logits))
    probs = torch.sigmoid(logits)
    miss = torch.where(foreground, 1 - probs, probs)
    loss = cross_entropy * miss.pow(gamma)
    if alpha is not None:
        loss = loss * torch.where(foreground, torch.full_like(probs, alpha), torch.full_like(probs, 1 - alpha))
    return loss.flatten(-2).mean(-1)

def dice_loss(logits, targets, smooth=1.0):
    probs = torch.sigmoid(logits).flatten(-2)
    truth = targets.flatten(-2)
    return 1 - (2 * (probs * truth).sum(-1) + smooth) / (probs.sum(-1) + truth.sum(-1) + smooth)

def mask_iou(logits, targets):
    predicted = (logits > 0).to(logits.dtype)
    intersection = (predicted * targets).sum((-2, -1))
    union = predicted.sum((-2, -1)) + targets.sum((-2, -1)) - intersection
    return intersection / torch.clamp(union, min=1.0)

def multimask_loss(mask_logits, iou_pred, gt, focal_weight=20.0, dice_weight=1.0, iou_weight=1.0,
                   alpha=0.25, gamma=2.0):
    scores = torch.stack([focal_weight * sigmoid_focal_loss(mask_logits[:, k], gt, alpha, gamma)
                          + dice_weight * dice_loss(mask_logits[:, k], gt)
                          for k in range(mask_logits.shape[1])], dim=1)
    best = torch.argmin(scores, dim=1)
    chosen = torch.gather(scores, 1, best[:, None]).squeeze(1)
    index = best.view(-1, 1, 1, 1).expand(-1, 1, *mask_logits.shape[-2:])
    with torch.no_grad():
        reached = mask_iou(torch.gather(mask_logits, 1, index).squeeze(1), gt)
    predicted = torch.gather(iou_pred, 1, best[:, None]).squeeze(1)
    return torch.mean(chosen + iou_weight * (predicted - reached) ** 2), best
'''

# ---- anticipated mistakes ---------------------------------------------------------------------

PLAIN_BCE = '''
def sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2.0):
    return F.binary_cross_entropy_with_logits(logits, targets, reduction="none").mean(dim=(-2, -1))
'''

GAMMA_ON_PT = '''
def sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2.0):
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * p_t ** gamma
    if alpha is not None:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    return loss.mean(dim=(-2, -1))
'''

ALPHA_WRONG_CLASS = '''
def sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2.0):
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha is not None:
        loss = loss * ((1 - alpha) * targets + alpha * (1 - targets))
    return loss.mean(dim=(-2, -1))
'''

MEAN_BEFORE_MODULATION = '''
def sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2.0):
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    if alpha is not None:
        ce = ce * (alpha * targets + (1 - alpha) * (1 - targets))
    ce = ce.mean(dim=(-2, -1))
    p_t = torch.exp(-ce)
    return (1 - p_t) ** gamma * ce
'''

DICE_NO_SMOOTH = '''
def dice_loss(logits, targets, smooth=1.0):
    p = torch.sigmoid(logits)
    overlap = (p * targets).sum(dim=(-2, -1))
    return 1 - 2 * overlap / (p.sum(dim=(-2, -1)) + targets.sum(dim=(-2, -1)))
'''

SOFT_IOU = '''
def mask_iou(logits, targets):
    p = torch.sigmoid(logits)
    overlap = (p * targets).sum(dim=(-2, -1))
    union = p.sum(dim=(-2, -1)) + targets.sum(dim=(-2, -1)) - overlap
    return overlap / union.clamp(min=1.0)
'''


def _multimask(combined="focal_weight * focal + dice_weight * dice", best="combined.argmin(dim=1)",
               mask_term="combined[rows, best]", iou_target="mask_iou(mask_logits[rows, best], gt).detach()",
               iou_term="(iou_pred[rows, best] - iou) ** 2"):
    """A student-style multimask_loss with one line changed."""
    return f'''
def multimask_loss(mask_logits, iou_pred, gt, focal_weight=20.0, dice_weight=1.0, iou_weight=1.0,
                   alpha=0.25, gamma=2.0):
    target = gt[:, None].expand_as(mask_logits)
    focal = sigmoid_focal_loss(mask_logits, target, alpha, gamma)
    dice = dice_loss(mask_logits, target)
    combined = {combined}
    best = {best}
    rows = torch.arange(mask_logits.shape[0])
    iou = {iou_target}
    return ({mask_term} + iou_weight * {iou_term}).mean(), best
'''


MEAN_OVER_MASKS = _multimask(mask_term="combined.mean(dim=1)")
WEIGHTS_SWAPPED = _multimask(combined="dice_weight * focal + focal_weight * dice")
IOU_EVERY_HYPOTHESIS = _multimask(iou_target="mask_iou(mask_logits, target).detach()",
                                  iou_term="((iou_pred - iou) ** 2).mean(dim=1)")
SOFT_IOU_NOT_DETACHED = _multimask(iou_target="soft_iou(mask_logits[rows, best], gt)") + '''
def soft_iou(logits, targets):
    p = torch.sigmoid(logits)
    overlap = (p * targets).sum(dim=(-2, -1))
    return overlap / (p.sum(dim=(-2, -1)) + targets.sum(dim=(-2, -1)) - overlap)
'''
BEST_BY_PREDICTED_IOU = _multimask(best="iou_pred.argmax(dim=1)")


def _grade(notebook, tmp_path, name):
    return grade(write_notebook(notebook, tmp_path / f"{name}.ipynb"), SLUG, seed=1234)


def _code_tests(report):
    return [test for test in report.tests if not test.target.startswith("check:")]


def _failing_targets(report):
    return {test.target for test in _code_tests(report) if test.status != "passed"}


def _ids(report):
    return {hit.id for hit in report.misconceptions}


@pytest.mark.slow
def test_reference_scores_full_marks_and_flags_nothing(tmp_path):
    report = _grade(solved_notebook(SLUG), tmp_path, "reference")
    assert [t.name for t in report.tests if t.status != "passed"] == []
    assert report.score == report.max_score > 0
    assert report.misconceptions == []
    assert len(_code_tests(report)) > 30


@pytest.mark.slow
def test_independent_correct_submission_scores_full_marks(tmp_path):
    notebook = notebook_with_cells(SLUG, [INDEPENDENT_CORRECT], with_solution=False)
    report = _grade(notebook, tmp_path, "independent")
    assert [(t.name, t.message) for t in report.tests if t.status != "passed"] == []
    assert report.misconceptions == []


@pytest.mark.slow
def test_stub_notebook_scores_zero_without_crashing(tmp_path):
    report = _grade(notebook_with_cells(SLUG, [], with_solution=False, with_answers=False), tmp_path, "stub")
    assert report.score == 0 and report.max_score > 0
    assert {test.status for test in report.tests} == {"not_implemented"}
    assert report.misconceptions == []


MISTAKES = {
    # name: (cells appended after the reference, wrong answers, targets that must fail, ids expected)
    "plain-bce+dice-no-smooth+mean-over-masks": (
        [PLAIN_BCE, DICE_NO_SMOOTH, MEAN_OVER_MASKS],
        {"mcq_mean_over_masks": "a", "check_masks_receiving_gradient": 3},
        {"sigmoid_focal_loss", "dice_loss", "multimask_loss"},
        {ID + "plain-bce", ID + "dice-no-smooth", "sam.mean-over-masks"}),
    "gamma-on-pt+soft-iou+iou-every-hypothesis": (
        [GAMMA_ON_PT, SOFT_IOU, IOU_EVERY_HYPOTHESIS],
        {"mcq_focal_formula": "b"},
        {"sigmoid_focal_loss", "mask_iou", "multimask_loss"},
        {ID + "gamma-on-pt", ID + "iou-soft-target", ID + "iou-loss-every-hypothesis"}),
    "alpha-wrong-class+weights-swapped": (
        [ALPHA_WRONG_CLASS, WEIGHTS_SWAPPED],
        {"mcq_combined_loss": "b"},
        {"sigmoid_focal_loss", "multimask_loss"},
        {ID + "alpha-wrong-class", ID + "weights-swapped"}),
    "mean-before-modulation+iou-target-not-detached": (
        [MEAN_BEFORE_MODULATION, SOFT_IOU_NOT_DETACHED],
        {},
        {"sigmoid_focal_loss", "multimask_loss"},
        {ID + "mean-before-modulation", ID + "iou-target-not-detached", ID + "iou-soft-target"}),
    "best-by-predicted-iou": (
        [BEST_BY_PREDICTED_IOU],
        {"mcq_choose_best": "a"},
        {"multimask_loss"},
        {ID + "best-by-predicted-iou"}),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_anticipated_mistakes_fail_the_right_targets_with_the_right_ids(name, tmp_path):
    cells, answers, failing, expected_ids = MISTAKES[name]
    answer_cell = "\n".join(f"{variable} = {value!r}" for variable, value in answers.items())
    report = _grade(notebook_with_cells(SLUG, [*cells, answer_cell]), tmp_path, name.replace("+", "_"))
    assert _failing_targets(report) == failing
    assert {t.status for t in _code_tests(report) if t.target in failing} <= {"passed", "failed"}
    assert _ids(report) == expected_ids
    for hit in report.misconceptions:
        assert hit.evidence and hit.feedback and hit.remedy
    for test in _code_tests(report):
        if test.target not in failing:
            assert test.misconceptions == [], test.name
    wrong = {t.target for t in report.tests if t.target.startswith("check:") and t.status != "passed"}
    assert len(wrong) == len(answers)
    for test in report.tests:
        if test.target in wrong:
            assert test.status == "failed" and test.misconceptions and set(test.misconceptions) <= expected_ids
