"""Build the stored reference cases of the mask_losses suite from the reference solution.

Run `python autograder/suites/mask_losses/generate_references.py` to rewrite
references.safetensors. Keys are `case.<name>.<field>`; the prefix of <name> says which
function the case is for (focal_, dice_, iou_, multi_). Arguments are stored under the contract's
parameter names; an `alpha` of None is stored as no `alpha` key at all.
"""

import importlib.util
import math
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]
OUTPUT = HERE / "references.safetensors"


def _load_sibling(name):
    spec = importlib.util.spec_from_file_location(f"_mask_losses_suite_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reference():
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from solutions import mask_losses
    return mask_losses


cases = _load_sibling("cases")
F32, F64 = torch.float32, torch.float64


def _logit(probability):
    return math.log(probability / (1 - probability))


def _scalar(value, dtype=F64):
    return torch.tensor(float(value), dtype=dtype)


def _store(references, name, **fields):
    for field, value in fields.items():
        if value is None:
            continue
        references[f"case.{name}.{field}"] = value if torch.is_tensor(value) else _scalar(value)


# ---------------------------------------------------------------- sigmoid_focal_loss

def _focal_cases(generator):
    """(name, logits, targets, alpha, gamma)."""
    lesson_logits = torch.tensor([[[_logit(0.05)]], [[_logit(0.1)]]], dtype=F64)
    lesson_targets = torch.tensor([[[0.0]], [[1.0]]], dtype=F64)
    yield "focal_lesson_pixels", lesson_logits, lesson_targets, None, 2.0
    settings = [
        ("focal_f32_default", (3,), 8, 8, F32, 0.25, 2.0),
        ("focal_f64_alpha_none", (2, 3), 6, 5, F64, None, 2.0),
        ("focal_f64_gamma0", (4,), 7, 7, F64, 0.25, 0.0),
        ("focal_f64_alpha05_gamma1", (2,), 8, 8, F64, 0.5, 1.0),
        ("focal_f32_alpha075_gamma3", (2, 2), 8, 6, F32, 0.75, 3.0),
        ("focal_f64_gamma_half", (5,), 6, 6, F64, None, 0.5),
        ("focal_f64_single_mask", (), 9, 7, F64, 0.25, 2.0),
    ]
    for name, batch_shape, height, width, dtype, alpha, gamma in settings:
        logits, targets = cases.mask_inputs(batch_shape, height, width, generator, dtype)
        yield name, logits, targets, alpha, gamma
    extreme_targets = cases.random_boxes((3,), 6, 6, generator, F32)
    signs = torch.randint(0, 2, extreme_targets.shape, generator=generator).to(F32) * 2 - 1
    yield "focal_f32_extreme", 100.0 * signs, extreme_targets, 0.25, 2.0


def _dice_cases(generator):
    """(name, logits, targets, smooth)."""
    for name, batch_shape, height, width, dtype, smooth in [
        ("dice_f32_default", (3,), 8, 8, F32, 1.0),
        ("dice_f64_smooth_small", (2, 3), 6, 6, F64, 1e-3),
        ("dice_f64_smooth5", (4,), 8, 8, F64, 5.0),
        ("dice_f64_single_mask", (), 7, 9, F64, 1.0),
    ]:
        logits, targets = cases.mask_inputs(batch_shape, height, width, generator, dtype)
        yield name, logits, targets, smooth
    empty = torch.zeros(2, 6, 6, dtype=F64)
    yield "dice_both_empty", torch.full_like(empty, -30.0), empty, 1.0
    yield "dice_empty_target", cases.noisy_logits(cases.random_boxes((2,), 6, 6, generator), generator), empty, 1.0
    yield "dice_full", torch.full_like(empty, 30.0), torch.ones_like(empty), 1.0
    signs = torch.randint(0, 2, (3, 6, 6), generator=generator).to(F32) * 2 - 1
    yield "dice_f32_extreme", 100.0 * signs, cases.random_boxes((3,), 6, 6, generator, F32), 1.0


def _iou_cases(generator):
    """(name, logits, targets)."""
    for name, batch_shape, height, width, dtype in [
        ("iou_f32", (3,), 8, 8, F32),
        ("iou_f64", (2, 3), 6, 6, F64),
        ("iou_f64_single_mask", (), 9, 8, F64),
    ]:
        logits, targets = cases.mask_inputs(batch_shape, height, width, generator, dtype)
        yield name, logits, targets
    empty = torch.zeros(2, 5, 5, dtype=F64)
    yield "iou_both_empty", torch.full_like(empty, -4.0), empty
    yield "iou_empty_target", cases.noisy_logits(cases.random_boxes((2,), 5, 5, generator), generator), empty
    yield "iou_full", torch.full_like(empty, 4.0), torch.ones_like(empty)
    left = torch.zeros(5, 5, dtype=F64)
    left[:, :2] = 1.0
    yield "iou_disjoint", 4.0 * (1 - 2 * left), left  # predicts exactly the complement
    # Exact zeros are background (the rule is logits > 0): two of the four foreground guesses.
    zero_logits = torch.tensor([[0.0, 0.0, 2.0, 2.0], [-1.0, -1.0, -1.0, -1.0]], dtype=F64).view(1, 2, 4)
    zero_targets = torch.tensor([[1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]], dtype=F64).view(1, 2, 4)
    yield "iou_zero_logits", zero_logits, zero_targets


def _multimask_cases(generator):
    """(name, mask_logits, iou_pred, gt, focal_weight, dice_weight, iou_weight, alpha, gamma)."""
    defaults = (20.0, 1.0, 1.0, 0.25, 2.0)
    for name, batch, hypotheses, size, dtype, settings in [
        ("multi_f32_default", 2, 3, 8, F32, defaults),
        ("multi_f64_default", 4, 3, 8, F64, defaults),
        ("multi_f64_weights", 3, 3, 8, F64, (5.0, 2.0, 0.5, None, 1.0)),
        ("multi_f64_alpha075_gamma3", 3, 3, 6, F64, (20.0, 1.0, 2.0, 0.75, 3.0)),
        ("multi_f64_four_hypotheses", 3, 4, 6, F64, defaults),
    ]:
        mask_logits, iou_pred, gt = cases.multimask_inputs(batch, hypotheses, size, size, generator, dtype)
        yield (name, mask_logits, iou_pred, gt, *settings)

    one_mask = cases.multimask_inputs(2, 1, 6, 6, generator)[0]
    equal = one_mask.expand(2, 3, 6, 6).clone()
    iou_pred = torch.rand(2, 3, generator=generator, dtype=F64)
    gt = cases.random_boxes((2,), 6, 6, generator)
    yield ("multi_ties_all_equal", equal, iou_pred, gt, *defaults)

    worse = torch.full((2, 1, 6, 6), -5.0, dtype=F64)
    last_two = torch.cat([worse, 5.0 * (2 * gt[:, None] - 1).expand(2, 2, 6, 6)], dim=1)
    yield ("multi_ties_last_two", last_two, iou_pred, gt, *defaults)

    mask_logits, iou_pred, _ = cases.multimask_inputs(3, 3, 6, 6, generator)
    yield ("multi_empty_gt", mask_logits, iou_pred, torch.zeros(3, 6, 6, dtype=F64), *defaults)
    yield ("multi_full_gt", mask_logits, iou_pred, torch.ones(3, 6, 6, dtype=F64), *defaults)

    mask_logits, iou_pred, gt = cases.multimask_inputs(2, 3, 6, 6, generator, F32)
    yield ("multi_f32_extreme", 100.0 * mask_logits.sign(), iou_pred, gt, *defaults)


def build_references():
    """Every stored case with the reference's answers -> flat dict of tensors."""
    reference = _reference()
    generator = torch.Generator().manual_seed(20230405)
    out = {}
    for name, logits, targets, alpha, gamma in _focal_cases(generator):
        _store(out, name, logits=logits, targets=targets, alpha=alpha, gamma=gamma,
               out=reference.sigmoid_focal_loss(logits, targets, alpha, gamma))
    for name, logits, targets, smooth in _dice_cases(generator):
        _store(out, name, logits=logits, targets=targets, smooth=smooth,
               out=reference.dice_loss(logits, targets, smooth))
    for name, logits, targets in _iou_cases(generator):
        _store(out, name, logits=logits, targets=targets, out=reference.mask_iou(logits, targets))
    for name, mask_logits, iou_pred, gt, *settings in _multimask_cases(generator):
        loss, best = reference.multimask_loss(mask_logits, iou_pred, gt, *settings)
        focal_weight, dice_weight, iou_weight, alpha, gamma = settings
        _store(out, name, mask_logits=mask_logits, iou_pred=iou_pred, gt=gt,
               focal_weight=focal_weight, dice_weight=dice_weight, iou_weight=iou_weight,
               alpha=alpha, gamma=gamma, loss=loss, best=best)
    return {key: value.detach().clone().contiguous() for key, value in out.items()}


if __name__ == "__main__":
    references = build_references()
    save_file(references, str(OUTPUT))
    print(f"wrote {len(references)} tensors to {OUTPUT}")
