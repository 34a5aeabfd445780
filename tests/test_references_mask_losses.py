"""The stored references of the mask_losses suite are reproducible, and its wrong variants are
really wrong (each differs from the reference) while the knob-built contract equals it."""

import importlib.util
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from solutions import mask_losses as reference

SUITE = Path(__file__).resolve().parents[1] / "autograder" / "suites" / "mask_losses"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"_test_mask_losses_{name}", SUITE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate_references = _load("generate_references")
variants = _load("variants")
cases = _load("cases")


def test_stored_references_match_a_fresh_build():
    stored = load_file(str(SUITE / "references.safetensors"))
    fresh = generate_references.build_references()
    assert sorted(stored) == sorted(fresh)
    for key, value in fresh.items():
        assert stored[key].dtype == value.dtype, key
        assert torch.equal(stored[key], value), key


def test_stored_cases_cover_the_issue():
    stored = load_file(str(SUITE / "references.safetensors"))
    names = {key.split(".")[1] for key in stored}
    for required in ["focal_lesson_pixels", "dice_both_empty", "iou_both_empty", "iou_full", "dice_full",
                     "multi_ties_all_equal", "multi_empty_gt", "multi_full_gt", "multi_f32_extreme"]:
        assert required in names
    assert torch.equal(stored["case.multi_ties_all_equal.best"], torch.zeros(2, dtype=torch.int64))
    assert torch.equal(stored["case.multi_ties_last_two.best"], torch.ones(2, dtype=torch.int64))
    alpha_none = {name for name in names if f"case.{name}.alpha" not in stored and name.startswith("focal_")}
    assert alpha_none, "some focal case must use alpha=None"
    assert 0.25 in {stored[key].item() for key in stored if key.startswith("case.focal_") and key.endswith(".alpha")}
    gammas = {stored[f"case.{name}.gamma"].item() for name in names if name.startswith("focal_")}
    assert {0.0, 1.0, 2.0, 3.0} <= gammas
    assert {torch.float32, torch.float64} <= {stored[f"case.{n}.out"].dtype for n in names if n.startswith("focal_")}


def _multimask_inputs(seed=0):
    return cases.multimask_inputs(3, 3, 6, 6, torch.Generator().manual_seed(seed))


def test_knob_built_contract_equals_the_reference():
    mask_logits, iou_pred, gt = _multimask_inputs()
    for settings in [(20.0, 1.0, 1.0, 0.25, 2.0), (3.0, 2.0, 0.5, None, 1.0)]:
        loss, best = variants.multimask_reference(mask_logits, iou_pred, gt, *settings)
        expected_loss, expected_best = reference.multimask_loss(mask_logits, iou_pred, gt, *settings)
        torch.testing.assert_close(loss, expected_loss)
        assert torch.equal(best, expected_best)


@pytest.mark.parametrize("name", sorted(variants.FOCAL_VARIANTS))
def test_each_focal_variant_is_wrong(name):
    logits, targets = cases.mask_inputs((4,), 6, 6, torch.Generator().manual_seed(1))
    _, function = variants.FOCAL_VARIANTS[name]
    assert not torch.allclose(function(logits, targets, 0.25, 2.0), reference.sigmoid_focal_loss(logits, targets),
                              rtol=1e-3)


@pytest.mark.parametrize("name", sorted(variants.MULTIMASK_VARIANTS))
def test_each_multimask_variant_is_wrong(name):
    mask_logits, iou_pred, gt = _multimask_inputs(2)
    _, function = variants.MULTIMASK_VARIANTS[name]
    wrong, _ = function(mask_logits, iou_pred, gt)
    assert not torch.allclose(wrong, reference.multimask_loss(mask_logits, iou_pred, gt)[0], rtol=1e-3)


def test_dice_and_iou_variants_are_wrong():
    logits, targets = cases.mask_inputs((4,), 6, 6, torch.Generator().manual_seed(3))
    for _, function in variants.DICE_VARIANTS.values():
        assert not torch.allclose(function(logits, targets), reference.dice_loss(logits, targets), rtol=1e-3)
    for _, function in variants.IOU_VARIANTS.values():
        assert not torch.allclose(function(logits, targets), reference.mask_iou(logits, targets), rtol=1e-3)


def test_not_detached_variant_differs_only_in_the_mask_gradient():
    mask_logits, iou_pred, gt = _multimask_inputs(4)
    _, leaky = variants.MULTIMASK_GRADIENT_VARIANTS["soft-iou-target-not-detached"]
    _, detached = variants.MULTIMASK_VARIANTS["soft-iou-target"]
    grads = []
    for function in (leaky, detached):
        leaf = mask_logits.clone().requires_grad_(True)
        loss, _ = function(leaf, iou_pred, gt)
        loss.backward()
        grads.append((loss.detach(), leaf.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0])
    assert not torch.allclose(grads[0][1], grads[1][1])


def test_every_variant_id_is_in_the_catalogue():
    from autograder.catalogue import load_catalogue

    catalogue = load_catalogue(Path(__file__).resolve().parents[1] / "rubrics" / "misconceptions")
    tables = [variants.FOCAL_VARIANTS, variants.DICE_VARIANTS, variants.IOU_VARIANTS,
              variants.MULTIMASK_VARIANTS, variants.MULTIMASK_GRADIENT_VARIANTS]
    for table in tables:
        for misconception, _ in table.values():
            assert misconception in catalogue, misconception
