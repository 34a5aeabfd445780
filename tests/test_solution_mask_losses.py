"""The mask_losses reference against independent facts: the lesson's golden numbers, float64
recomputation with scalar formulas and explicit loops, gradcheck, and the contract's properties."""

import math

import pytest
import torch

from solutions.mask_losses import dice_loss, mask_iou, multimask_loss, sigmoid_focal_loss

F64 = torch.float64


def _logit(probability):
    return math.log(probability / (1 - probability))


def _random_masks(generator, *shape):
    logits = 3 * torch.randn(*shape, generator=generator, dtype=F64)
    targets = (torch.rand(*shape, generator=generator, dtype=F64) < 0.4).to(F64)
    return logits, targets


# ---------------------------------------------------------------- scalar re-derivations

def _pixel_focal(logit, target, alpha, gamma):
    """One pixel, written case by case (t = 1 / t = 0) rather than with the p_t blend."""
    p = 1 / (1 + math.exp(-logit))
    if target == 1:
        loss = -math.log(p) * (1 - p) ** gamma
        return loss * (alpha if alpha is not None else 1)
    loss = -math.log(1 - p) * p**gamma
    return loss * ((1 - alpha) if alpha is not None else 1)


def _loop_focal(logits, targets, alpha, gamma):
    rows, cols = logits.shape
    total = sum(_pixel_focal(logits[r, c].item(), targets[r, c].item(), alpha, gamma)
                for r in range(rows) for c in range(cols))
    return total / (rows * cols)


def _loop_dice(logits, targets, smooth):
    probs = [1 / (1 + math.exp(-v)) for v in logits.flatten().tolist()]
    truth = targets.flatten().tolist()
    overlap = sum(p * t for p, t in zip(probs, truth))
    return 1 - (2 * overlap + smooth) / (sum(probs) + sum(truth) + smooth)


def _set_iou(logits, targets):
    rows, cols = logits.shape
    predicted = {(r, c) for r in range(rows) for c in range(cols) if logits[r, c] > 0}
    truth = {(r, c) for r in range(rows) for c in range(cols) if targets[r, c] == 1}
    union = predicted | truth
    return len(predicted & truth) / len(union) if union else 0.0


# ---------------------------------------------------------------- the lesson's numbers

def test_focal_reproduces_the_lessons_two_pixels():
    logits = torch.tensor([[[_logit(0.05)]], [[_logit(0.1)]]], dtype=F64)  # p = 0.05 background, p = 0.1 foreground
    targets = torch.tensor([[[0.0]], [[1.0]]], dtype=F64)
    easy, hard = sigmoid_focal_loss(logits, targets, None, 2.0).tolist()
    assert easy == pytest.approx(0.000128, abs=5e-7)
    assert hard == pytest.approx(1.865, abs=5e-4)
    assert hard / easy == pytest.approx(14_600, rel=0.01)  # "about 14,600x"


def test_focal_with_gamma_zero_and_no_alpha_is_cross_entropy():
    logits, targets = _random_masks(torch.Generator().manual_seed(0), 3, 5, 4)
    probs = torch.sigmoid(logits)
    cross_entropy = -(targets * probs.log() + (1 - targets) * (1 - probs).log()).mean(dim=(-2, -1))
    torch.testing.assert_close(sigmoid_focal_loss(logits, targets, None, 0.0), cross_entropy)


# ---------------------------------------------------------------- float64 recomputation

@pytest.mark.parametrize("alpha, gamma", [(0.25, 2.0), (None, 2.0), (0.6, 1.5), (0.25, 0.0), (None, 3.0)])
def test_focal_matches_pixel_by_pixel_formula(alpha, gamma):
    logits, targets = _random_masks(torch.Generator().manual_seed(1), 2, 3, 5, 6)
    out = sigmoid_focal_loss(logits, targets, alpha, gamma)
    assert out.shape == (2, 3)
    expected = torch.tensor([[_loop_focal(logits[b, k], targets[b, k], alpha, gamma) for k in range(3)]
                             for b in range(2)], dtype=F64)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("smooth", [1.0, 0.5, 1e-3])
def test_dice_matches_loop_formula(smooth):
    logits, targets = _random_masks(torch.Generator().manual_seed(2), 4, 6, 5)
    expected = torch.tensor([_loop_dice(logits[i], targets[i], smooth) for i in range(4)], dtype=F64)
    torch.testing.assert_close(dice_loss(logits, targets, smooth), expected, rtol=1e-12, atol=1e-14)


def test_mask_iou_matches_pixel_sets():
    logits, targets = _random_masks(torch.Generator().manual_seed(3), 5, 7, 6)
    logits[0, :3, :3] = 0.0  # exact zeros are background
    expected = torch.tensor([_set_iou(logits[i], targets[i]) for i in range(5)], dtype=F64)
    torch.testing.assert_close(mask_iou(logits, targets), expected)


def test_multimask_matches_explicit_loops():
    generator = torch.Generator().manual_seed(4)
    mask_logits, _ = _random_masks(generator, 3, 3, 5, 5)
    gt = (torch.rand(3, 5, 5, generator=generator, dtype=F64) < 0.5).to(F64)
    iou_pred = torch.rand(3, 3, generator=generator, dtype=F64)
    weights = dict(focal_weight=7.0, dice_weight=2.0, iou_weight=0.5, alpha=0.3, gamma=1.5)
    loss, best = multimask_loss(mask_logits, iou_pred, gt, *weights.values())
    total, expected_best = 0.0, []
    for b in range(3):
        scores = [weights["focal_weight"] * _loop_focal(mask_logits[b, k], gt[b], weights["alpha"], weights["gamma"])
                  + weights["dice_weight"] * _loop_dice(mask_logits[b, k], gt[b], 1.0) for k in range(3)]
        k = min(range(3), key=lambda index: (scores[index], index))
        expected_best.append(k)
        iou = _set_iou(mask_logits[b, k], gt[b])
        total += scores[k] + weights["iou_weight"] * (iou_pred[b, k].item() - iou) ** 2
    assert best.tolist() == expected_best
    assert best.dtype == torch.int64
    assert loss.item() == pytest.approx(total / 3, rel=1e-12)


# ---------------------------------------------------------------- gradients

@pytest.mark.parametrize("alpha, gamma", [(0.25, 2.0), (None, 1.5)])
def test_focal_gradcheck(alpha, gamma):
    logits, targets = _random_masks(torch.Generator().manual_seed(5), 2, 4, 3)
    logits.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: sigmoid_focal_loss(x, targets, alpha, gamma), (logits,))


def test_dice_gradcheck():
    logits, targets = _random_masks(torch.Generator().manual_seed(6), 2, 4, 3)
    logits.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: dice_loss(x, targets, 1.0), (logits,))


def test_multimask_gradcheck():
    generator = torch.Generator().manual_seed(7)
    mask_logits, _ = _random_masks(generator, 2, 3, 4, 4)
    gt = (torch.rand(2, 4, 4, generator=generator, dtype=F64) < 0.5).to(F64)
    iou_pred = torch.rand(2, 3, generator=generator, dtype=F64)
    mask_logits.requires_grad_(True)
    iou_pred.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda m, q: multimask_loss(m, q, gt)[0], (mask_logits, iou_pred))


def test_only_the_best_hypothesis_gets_gradient():
    generator = torch.Generator().manual_seed(8)
    mask_logits, _ = _random_masks(generator, 4, 3, 5, 5)
    gt = (torch.rand(4, 5, 5, generator=generator, dtype=F64) < 0.5).to(F64)
    iou_pred = torch.rand(4, 3, generator=generator, dtype=F64)
    mask_logits.requires_grad_(True)
    iou_pred.requires_grad_(True)
    iou_weight = 1.5
    loss, best = multimask_loss(mask_logits, iou_pred, gt, 20.0, 1.0, iou_weight)
    loss.backward()
    rows = torch.arange(4)
    chosen = torch.zeros(4, 3, dtype=torch.bool)
    chosen[rows, best] = True
    assert (mask_logits.grad[~chosen] == 0).all()
    assert (mask_logits.grad[chosen].abs().sum(dim=(-2, -1)) > 0).all()
    # The IoU target is a constant: d/dpred of w*(pred - iou)^2 averaged over B.
    achieved = torch.tensor([_set_iou(mask_logits[b, best[b]].detach(), gt[b]) for b in range(4)], dtype=F64)
    expected = torch.zeros(4, 3, dtype=F64)
    expected[rows, best] = 2 * iou_weight * (iou_pred.detach()[rows, best] - achieved) / 4
    torch.testing.assert_close(iou_pred.grad, expected)


def test_iou_target_sends_no_gradient_to_the_masks():
    generator = torch.Generator().manual_seed(9)
    mask_logits, _ = _random_masks(generator, 2, 3, 4, 4)
    gt = (torch.rand(2, 4, 4, generator=generator, dtype=F64) < 0.5).to(F64)
    mask_logits.requires_grad_(True)
    loss, _ = multimask_loss(mask_logits, torch.rand(2, 3, generator=generator, dtype=F64), gt, 0.0, 0.0, 1.0)
    loss.backward()
    assert mask_logits.grad is None or (mask_logits.grad == 0).all()


# ---------------------------------------------------------------- selection properties

def test_ties_resolve_to_lowest_index():
    generator = torch.Generator().manual_seed(10)
    one, _ = _random_masks(generator, 2, 1, 5, 5)
    gt = (torch.rand(2, 5, 5, generator=generator, dtype=F64) < 0.5).to(F64)
    iou_pred = torch.rand(2, 3, generator=generator, dtype=F64)
    _, best = multimask_loss(one.expand(2, 3, 5, 5).contiguous(), iou_pred, gt)
    assert best.tolist() == [0, 0]
    good = 6 * (2 * gt - 1)
    _, best = multimask_loss(torch.stack([-good, good, good], dim=1), iou_pred, gt)
    assert best.tolist() == [1, 1]


def test_permuting_hypotheses_permutes_best_and_keeps_the_loss():
    generator = torch.Generator().manual_seed(11)
    mask_logits, _ = _random_masks(generator, 4, 3, 5, 5)
    gt = (torch.rand(4, 5, 5, generator=generator, dtype=F64) < 0.5).to(F64)
    iou_pred = torch.rand(4, 3, generator=generator, dtype=F64)
    loss, best = multimask_loss(mask_logits, iou_pred, gt)
    order = torch.tensor([2, 0, 1])
    permuted_loss, permuted_best = multimask_loss(mask_logits[:, order], iou_pred[:, order], gt)
    torch.testing.assert_close(permuted_loss, loss)
    assert order[permuted_best].tolist() == best.tolist()


def test_min_is_below_mean_over_hypotheses():
    generator = torch.Generator().manual_seed(12)
    mask_logits, _ = _random_masks(generator, 3, 3, 5, 5)
    gt = (torch.rand(3, 5, 5, generator=generator, dtype=F64) < 0.5).to(F64)
    loss, _ = multimask_loss(mask_logits, torch.zeros(3, 3, dtype=F64), gt, iou_weight=0.0)
    per_mask = 20 * sigmoid_focal_loss(mask_logits, gt[:, None].expand_as(mask_logits)) + \
        dice_loss(mask_logits, gt[:, None].expand_as(mask_logits))
    torch.testing.assert_close(loss, per_mask.min(dim=1).values.mean())
    assert loss < per_mask.mean()


# ---------------------------------------------------------------- empty masks, extremes, dtypes

def test_empty_and_full_masks():
    empty = torch.zeros(1, 4, 4, dtype=F64)
    full = torch.ones(1, 4, 4, dtype=F64)
    assert dice_loss(torch.full_like(empty, -40.0), empty).item() == pytest.approx(0.0, abs=1e-12)
    assert dice_loss(torch.full_like(empty, 40.0), full).item() == pytest.approx(0.0, abs=1e-12)
    assert mask_iou(torch.full_like(empty, -1.0), empty).item() == 0.0
    assert mask_iou(torch.full_like(empty, 1.0), empty).item() == 0.0
    assert mask_iou(torch.full_like(empty, 1.0), full).item() == 1.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_stable_at_extreme_logits(dtype):
    generator = torch.Generator().manual_seed(13)
    signs = torch.randint(0, 2, (2, 3, 4, 4), generator=generator).to(dtype) * 2 - 1
    mask_logits = (100 * signs).requires_grad_(True)
    gt = torch.randint(0, 2, (2, 4, 4), generator=generator).to(dtype)
    iou_pred = torch.rand(2, 3, generator=generator, dtype=dtype).requires_grad_(True)
    loss, _ = multimask_loss(mask_logits, iou_pred, gt)
    loss.backward()
    for value in (loss, mask_logits.grad, iou_pred.grad):
        assert torch.isfinite(value).all()
    # A confidently wrong pixel costs its logit in nats: 100 * (1 - alpha) for a background pixel.
    wrong = torch.full((1, 1, 1), 100.0, dtype=dtype)
    assert sigmoid_focal_loss(wrong, torch.zeros_like(wrong)).item() == pytest.approx(75.0, rel=1e-6)


def test_dtype_and_leading_dimensions():
    for dtype in (torch.float32, torch.float64):
        logits = torch.randn(2, 3, 4, 5, dtype=dtype)
        targets = (torch.rand(2, 3, 4, 5) < 0.5).to(dtype)
        for function in (sigmoid_focal_loss, dice_loss, mask_iou):
            out = function(logits, targets)
            assert out.shape == (2, 3) and out.dtype == dtype
            assert function(logits[0, 0], targets[0, 0]).shape == ()
        loss, best = multimask_loss(logits, torch.rand(2, 3, dtype=dtype), targets[:, 0])
        assert loss.shape == () and loss.dtype == dtype and best.dtype == torch.int64 and best.shape == (2,)
