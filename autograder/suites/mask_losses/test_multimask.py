"""Hidden tests for multimask_loss: the minimum over mask hypotheses and the IoU head's loss."""


import pytest
import torch

from autograder.testing import expect_close, expect_meta
from autograder.suites.mask_losses import _support as S


V = S.variants
F32, F64 = torch.float32, torch.float64
DEFAULTS = (20.0, 1.0, 1.0, 0.25, 2.0)  # focal_weight, dice_weight, iou_weight, alpha, gamma
LOSS_HINT = ("combined = focal_weight*focal + dice_weight*dice per hypothesis; best = argmin over k; "
             "loss = mean over b of combined[b, best] + iou_weight*(iou_pred[b, best] - IoU of that mask)**2")


def _loss_only(output):
    return output[0]


def _random_case(rng, dtype=F64, batch=3, hypotheses=3):
    size = int(torch.randint(5, 9, (1,), generator=rng))
    return S.cases.multimask_inputs(batch, hypotheses, size, size, rng, dtype)


def _check_call(submission, reference, flag, args, what):
    """Call multimask_loss on args; compare loss and best with the reference, diagnosing a wrong loss."""
    loss, best = S.unpack_pair(submission.call("multimask_loss", *args), what)
    expected_loss, expected_best = reference.multimask_loss(*args)
    S.expect_or_diagnose(loss, expected_loss, flag=flag, table=V.MULTIMASK_VARIANTS, args=args, pick=_loss_only,
                         what=f"{what}: the loss", hint=LOSS_HINT)
    expect_close(best, expected_best, what=f"{what}: best",
                 hint="best[b] is the index k of the hypothesis with the lowest combined focal+dice loss "
                      "(the first one on ties), as a LongTensor of shape [B]")
    return loss, best


# ====================================================================== correctness

@pytest.mark.grade(target="multimask_loss", kind="correctness")
def test_multimask_stored_cases(submission, stored, flag):
    for name in S.case_names(stored, "multi_", exclude=("multi_f32_extreme",)):
        args = S.multimask_args(stored, name)
        loss, best = S.unpack_pair(submission.call("multimask_loss", *args), f"multimask_loss on case {name}")
        what = f"multimask_loss on case {name} (mask_logits {list(args[0].shape)})"
        S.expect_or_diagnose(loss, S.field(stored, name, "loss"), flag=flag, table=V.MULTIMASK_VARIANTS,
                             args=args, pick=_loss_only, what=f"{what}: the loss", hint=LOSS_HINT)
        expect_close(best, S.field(stored, name, "best"), what=f"{what}: best",
                     hint="best[b] = argmin over k of the combined loss, the lowest k on ties")


@pytest.mark.grade(target="multimask_loss", kind="correctness")
def test_multimask_default_arguments(submission, reference, rng, flag):
    mask_logits, iou_pred, gt = _random_case(rng)
    loss, best = S.unpack_pair(submission.call("multimask_loss", mask_logits, iou_pred, gt),
                               "multimask_loss(mask_logits, iou_pred, gt)")
    expected_loss, _ = reference.multimask_loss(mask_logits, iou_pred, gt)
    S.expect_or_diagnose(loss, expected_loss, flag=flag, table=V.MULTIMASK_VARIANTS,
                         args=(mask_logits, iou_pred, gt, *DEFAULTS), pick=_loss_only,
                         what="multimask_loss with the default weights",
                         hint="defaults: focal_weight=20, dice_weight=1, iou_weight=1, alpha=0.25, gamma=2")


@pytest.mark.grade(target="multimask_loss", kind="correctness")
def test_multimask_random_inputs(submission, reference, rng, flag):
    for settings in [DEFAULTS, (10.0, 2.0, 0.5, None, 1.0)]:
        mask_logits, iou_pred, gt = _random_case(rng, batch=int(torch.randint(2, 5, (1,), generator=rng)))
        _check_call(submission, reference, flag, (mask_logits, iou_pred, gt, *settings),
                    f"multimask_loss on fresh random masks {list(mask_logits.shape)} "
                    f"(weights {settings[:3]}, alpha={settings[3]}, gamma={settings[4]})")


@pytest.mark.grade(target="multimask_loss", kind="gradient")
def test_multimask_gradient(submission, reference, rng, flag):
    args = (*_random_case(rng), *DEFAULTS)
    _, grads = submission.call_with_grad("multimask_loss", args, wrt=(0, 1))
    expected = S.variant_gradients(reference.multimask_loss, args, (0, 1), pick=_loss_only)
    try:
        for grad, expect, label, hint in [
            (grads[0], expected[0], "mask_logits", "only the best hypothesis's focal and dice terms reach the masks"),
            (grads[1], expected[1], "iou_pred", "only iou_pred[b, best] gets 2*iou_weight*(pred - IoU)/B"),
        ]:
            if grad is None:
                raise AssertionError(f"multimask_loss: no gradient reached {label}; the loss must be built from "
                                     f"{label} with torch operations")
            expect_close(grad, expect, what=f"gradient of multimask_loss with respect to {label}", hint=hint,
                         **S.tolerance(F64))
    except AssertionError:
        _diagnose_both_gradients(flag, grads, args)
        raise


def _diagnose_both_gradients(flag, grads, args):
    """Compare the gradients of mask_logits and iou_pred together: some mistakes agree on one of them."""
    actual = torch.cat([S.zeros_if_none(grad, arg).detach().to(F64).flatten() for grad, arg in zip(grads, args[:2])])
    table = {**V.MULTIMASK_VARIANTS, **V.MULTIMASK_GRADIENT_VARIANTS}
    joint = {name: (misconception, _joint_gradient(function)) for name, (misconception, function) in table.items()}
    S.diagnose(flag, "the gradients of multimask_loss", actual, joint, args, grad_enabled=True)


def _joint_gradient(function):
    def gradients(*args):
        mask_grad, iou_grad = S.variant_gradients(function, args, (0, 1), pick=_loss_only)
        return torch.cat([mask_grad.flatten(), iou_grad.flatten()])
    gradients.__doc__ = function.__doc__
    return gradients


# ====================================================================== properties of the minimum

@pytest.mark.grade(target="multimask_loss", kind="property")
def test_multimask_only_best_mask_gets_gradient(submission, rng, flag):
    args = (*_random_case(rng, batch=4), *DEFAULTS)
    outputs, grads = submission.call_with_grad("multimask_loss", args, wrt=(0,))
    _, best = S.unpack_pair(outputs, "multimask_loss")
    grad = S.zeros_if_none(grads[0], args[0]).detach().to(F64)
    rows = torch.arange(grad.shape[0])
    if not grad[rows, best.cpu()].abs().sum() > 0:
        raise AssertionError("multimask_loss: the best hypothesis received no gradient at all; its focal and dice "
                             "losses must stay in the graph")
    others = grad.clone()
    others[rows, best.cpu()] = 0
    leak = others.abs().amax(dim=(-2, -1))  # [B, K]
    if leak.max() <= 1e-12:
        return
    flag(V.MEAN_OVER_MASKS, f"hypotheses other than `best` received mask gradient (largest {leak.max().item():.3g})")
    raise AssertionError(
        f"multimask_loss: hypotheses other than best = {best.tolist()} received gradient from the mask losses "
        f"(largest entry per [b, k]: {[[round(v, 6) for v in row] for row in leak.tolist()]}). Only the "
        "hypothesis closest to the ground truth may learn from this example; averaging over the three pulls all "
        "of them to the same mask, and they can no longer specialise in part, object and scene")


@pytest.mark.grade(target="multimask_loss", kind="property")
def test_multimask_iou_gradient_only_at_best(submission, reference, rng, flag):
    mask_logits, iou_pred, gt = _random_case(rng, batch=4)
    iou_weight = 1.5
    args = (mask_logits, iou_pred, gt, 20.0, 1.0, iou_weight, 0.25, 2.0)
    outputs, grads = submission.call_with_grad("multimask_loss", args, wrt=(1,))
    _, best = S.unpack_pair(outputs, "multimask_loss")
    grad = S.zeros_if_none(grads[0], iou_pred).detach().to(F64)
    batch, rows = iou_pred.shape[0], torch.arange(iou_pred.shape[0])
    best = best.cpu()
    achieved = reference.mask_iou(mask_logits[rows, best], gt)
    expected = torch.zeros_like(iou_pred)
    expected[rows, best] = 2 * iou_weight * (iou_pred[rows, best] - achieved) / batch
    if torch.allclose(grad, expected, rtol=1e-7, atol=1e-10):
        return
    off_best = grad.clone()
    off_best[rows, best] = 0
    if off_best.abs().max() > 1e-12:
        flag(V.IOU_LOSS_EVERY_HYPOTHESIS, "iou_pred received gradient at hypotheses other than `best`")
    else:
        soft = V.iou_soft(mask_logits[rows, best], gt)
        if torch.allclose(grad[rows, best], 2 * iou_weight * (iou_pred[rows, best] - soft) / batch, rtol=1e-5):
            flag(V.IOU_SOFT_TARGET, "the IoU gradient matches a target computed from sigmoid probabilities")
    raise AssertionError(
        f"gradient of multimask_loss with respect to iou_pred (iou_weight={iou_weight}, B={batch}): expected "
        f"{[[round(v, 6) for v in row] for row in expected.tolist()]}, got "
        f"{[[round(v, 6) for v in row] for row in grad.tolist()]}. Only iou_pred[b, best[b]] is trained, towards "
        "the IoU that the binarised best mask actually reaches: 2*iou_weight*(pred - IoU)/B")


@pytest.mark.grade(target="multimask_loss", kind="property")
def test_multimask_iou_target_carries_no_gradient(submission, rng, flag):
    """With focal and dice weighted 0, only the IoU term is left; its target must not train the masks."""
    mask_logits, iou_pred, gt = _random_case(rng)
    args = (mask_logits, iou_pred, gt, 0.0, 0.0, 1.0, 0.25, 2.0)
    _, grads = submission.call_with_grad("multimask_loss", args, wrt=(0,))
    grad = S.zeros_if_none(grads[0], mask_logits)
    if grad.abs().max() <= 1e-12:
        return
    flag(V.IOU_TARGET_NOT_DETACHED, "with focal_weight = dice_weight = 0 the mask logits still received gradient")
    raise AssertionError(
        f"multimask_loss with focal_weight=0 and dice_weight=0 sent gradient into mask_logits (largest "
        f"{grad.abs().max().item():.3g}). The IoU that the chosen mask reaches is the target of the IoU head: "
        "compute it from the binarised mask and detach it, so that the IoU head learns to predict quality "
        "without the masks being changed to please it")


@pytest.mark.grade(target="multimask_loss", kind="property")
def test_multimask_ties_resolve_to_lowest_index(submission, rng):
    mask_logits, iou_pred, gt = _random_case(rng, hypotheses=1)
    good = 6.0 * (2 * gt - 1)
    for label, hypotheses, expected in [
        ("three identical hypotheses", mask_logits.expand(-1, 3, -1, -1), 0),
        ("a poor hypothesis 0 and identical hypotheses 1 and 2",
         torch.stack([-good, good, good], dim=1), 1),
    ]:
        result = submission.call("multimask_loss", hypotheses.contiguous(), iou_pred.expand(-1, 3).contiguous(),
                                 gt, *DEFAULTS)
        _, best = S.unpack_pair(result, "multimask_loss")
        if not torch.equal(best.cpu(), torch.full((gt.shape[0],), expected)):
            raise AssertionError(f"multimask_loss with {label}: best should be {expected} for every item, got "
                                 f"{best.tolist()}. Ties resolve to the lowest index (torch.argmin does this)")


@pytest.mark.grade(target="multimask_loss", kind="property")
def test_multimask_permutation_of_hypotheses(submission, rng):
    mask_logits, iou_pred, gt = _random_case(rng, batch=4)
    loss, best = S.unpack_pair(submission.call("multimask_loss", mask_logits, iou_pred, gt, *DEFAULTS),
                               "multimask_loss")
    order = torch.tensor([2, 0, 1])
    permuted_loss, permuted_best = S.unpack_pair(
        submission.call("multimask_loss", mask_logits[:, order], iou_pred[:, order], gt, *DEFAULTS), "multimask_loss")
    expect_close(permuted_loss, loss, what="multimask_loss after reordering the hypotheses as [2, 0, 1]",
                 hint="the loss picks the best hypothesis wherever it sits: reordering must not change it",
                 **S.tolerance(F64))
    moved = order[permuted_best.cpu()]
    if not torch.equal(moved, best.cpu()):
        raise AssertionError(f"multimask_loss after reordering the hypotheses as [2, 0, 1]: best was {best.tolist()} "
                             f"before and {permuted_best.tolist()} after, which points at hypotheses "
                             f"{moved.tolist()} of the original order. `best` must follow the hypothesis it names")


@pytest.mark.grade(target="multimask_loss", kind="property")
def test_multimask_weights_apply_to_their_terms(submission, reference, rng, flag):
    mask_logits, iou_pred, gt = _random_case(rng, batch=4)
    focal_only = (mask_logits, iou_pred, gt, 1.0, 0.0, 0.0, 0.25, 2.0)
    dice_only = (mask_logits, iou_pred, gt, 0.0, 1.0, 0.0, 0.25, 2.0)
    for args, label in [(focal_only, "focal_weight=1, dice_weight=0, iou_weight=0 (focal only)"),
                        (dice_only, "focal_weight=0, dice_weight=1, iou_weight=0 (dice only)")]:
        loss, _ = S.unpack_pair(submission.call("multimask_loss", *args), "multimask_loss")
        try:
            expect_close(loss, reference.multimask_loss(*args)[0], what=f"multimask_loss with {label}",
                         hint="focal_weight multiplies the focal loss, dice_weight the dice loss, iou_weight the "
                              "squared IoU error", **S.tolerance(F64))
        except AssertionError:
            other = dice_only if args is focal_only else focal_only
            if torch.is_tensor(loss) and \
                    torch.allclose(loss.detach().to(F64), reference.multimask_loss(*other)[0], rtol=1e-6):
                flag(V.WEIGHTS_SWAPPED, f"with {label} the loss equals the other term alone")
            raise


# ====================================================================== robustness and metadata

@pytest.mark.grade(target="multimask_loss", kind="property")
def test_multimask_stable_for_extreme_logits(submission, reference, stored, rng, flag):
    stored_args = S.multimask_args(stored, "multi_f32_extreme")
    mask_logits, iou_pred, gt = _random_case(rng, batch=2)
    for args in [stored_args, (100.0 * mask_logits.sign(), iou_pred, gt, *DEFAULTS)]:
        what = f"multimask_loss with mask logits of +-100 ({str(args[0].dtype)[6:]})"
        outputs, grads = submission.call_with_grad("multimask_loss", args, wrt=(0, 1))
        loss, _ = S.unpack_pair(outputs, what)
        if not (S.finite(loss) and all(g is None or S.finite(g) for g in grads)):
            raise AssertionError(f"{what}: got a non-finite loss or gradient; compute the cross-entropy from the "
                                 "logits (binary_cross_entropy_with_logits), not from log(sigmoid(x))")
        S.expect_or_diagnose(loss, reference.multimask_loss(*args)[0], flag=flag, table=V.MULTIMASK_VARIANTS,
                             args=args, pick=_loss_only, what=what, hint=LOSS_HINT)


@pytest.mark.grade(target="multimask_loss", kind="property")
def test_multimask_dtype_and_device(submission, rng, devices):
    for device in devices:
        for dtype in (F32, F64):
            mask_logits, iou_pred, gt = _random_case(rng, dtype=dtype, batch=2)
            loss, best = S.unpack_pair(
                submission.call("multimask_loss", mask_logits.to(device), iou_pred.to(device), gt.to(device)),
                "multimask_loss")
            where = f"{str(dtype)[6:]} inputs on {device}"
            expect_meta(loss, shape=(), dtype=dtype, device=device, what=f"multimask_loss's loss for {where}")
            expect_meta(best, shape=(2,), dtype=torch.int64, device=device,
                        what=f"multimask_loss's best for {where} (a LongTensor [B])")
