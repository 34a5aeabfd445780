"""Hidden tests for the per-mask terms: sigmoid_focal_loss, dice_loss, mask_iou."""


import pytest
import torch
import torch.nn.functional as F

from autograder.testing import expect_close, expect_meta
from autograder.suites.mask_losses import _support as S


V = S.variants
F32, F64 = torch.float32, torch.float64

FOCAL_HINT = ("per pixel: binary cross-entropy with logits times (1 - p_t)**gamma, with "
              "p_t = p*t + (1-p)*(1-t); alpha weights foreground by alpha and background by 1 - alpha; "
              "then the mean over H and W")
DICE_HINT = "1 - (2*sum(p*t) + smooth) / (sum(p) + sum(t) + smooth), sums over H and W, p = sigmoid(logits)"
IOU_HINT = "binarise with logits > 0, then |P and G| / max(|P or G|, 1), counted over H and W"


def _draw(rng, low, high):
    return int(torch.randint(low, high + 1, (1,), generator=rng))


def _extreme_logits(shape, rng, dtype):
    signs = torch.randint(0, 2, shape, generator=rng).to(dtype) * 2 - 1
    return 100.0 * signs


# ====================================================================== sigmoid_focal_loss

@pytest.mark.grade(target="sigmoid_focal_loss", kind="correctness")
def test_focal_lesson_pixels(submission, stored, flag):
    args = S.focal_args(stored, "focal_lesson_pixels")
    out = submission.call("sigmoid_focal_loss", *args)
    S.expect_or_diagnose(
        out, stored["case.focal_lesson_pixels.out"], flag=flag, table=V.FOCAL_VARIANTS, args=args,
        what="sigmoid_focal_loss on the lesson's two one-pixel masks (easy background pixel with "
             "p_t = 0.95, hard foreground pixel with p_t = 0.1; alpha=None, gamma=2)",
        hint="the lesson's values are 0.000128 and 1.865: cross-entropy times (1 - p_t)**2")


@pytest.mark.grade(target="sigmoid_focal_loss", kind="correctness")
def test_focal_stored_cases(submission, stored, flag):
    for name in S.case_names(stored, "focal_", exclude=("focal_lesson_pixels", "focal_f32_extreme")):
        args = S.focal_args(stored, name)
        out = submission.call("sigmoid_focal_loss", *args)
        S.expect_or_diagnose(
            out, S.field(stored, name, "out"), flag=flag, table=V.FOCAL_VARIANTS, args=args,
            what=f"sigmoid_focal_loss on case {name} (alpha={args[2]}, gamma={args[3]}, "
                 f"logits {list(args[0].shape)})", hint=FOCAL_HINT)


@pytest.mark.grade(target="sigmoid_focal_loss", kind="correctness")
def test_focal_default_arguments(submission, reference, rng, flag):
    logits, targets = S.cases.mask_inputs((3,), 6, 6, rng, F64)
    out = submission.call("sigmoid_focal_loss", logits, targets)
    S.expect_or_diagnose(
        out, reference.sigmoid_focal_loss(logits, targets), flag=flag, table=V.FOCAL_VARIANTS,
        args=(logits, targets, 0.25, 2.0),
        what="sigmoid_focal_loss(logits, targets) with the default arguments",
        hint="the defaults are alpha=0.25 and gamma=2.0")


@pytest.mark.grade(target="sigmoid_focal_loss", kind="correctness")
def test_focal_random_inputs(submission, reference, rng, flag):
    for alpha, gamma in [(0.25, 2.0), (None, 3.0), (0.6, 1.5)]:
        batch_shape = (_draw(rng, 1, 3), 3)
        logits, targets = S.cases.mask_inputs(batch_shape, _draw(rng, 4, 9), _draw(rng, 4, 9), rng, F64)
        args = (logits, targets, alpha, gamma)
        out = submission.call("sigmoid_focal_loss", *args)
        S.expect_or_diagnose(
            out, reference.sigmoid_focal_loss(*args), flag=flag, table=V.FOCAL_VARIANTS, args=args,
            what=f"sigmoid_focal_loss on fresh random masks {list(logits.shape)} (alpha={alpha}, gamma={gamma})",
            hint=FOCAL_HINT)


@pytest.mark.grade(target="sigmoid_focal_loss", kind="correctness")
def test_focal_leading_dimensions(submission, rng):
    for batch_shape in [(), (4,), (2, 3)]:
        logits, targets = S.cases.mask_inputs(batch_shape, 5, 6, rng, F64)
        out = submission.call("sigmoid_focal_loss", logits, targets, 0.25, 2.0)
        what = f"sigmoid_focal_loss on logits {list(logits.shape)}"
        S.with_hint(lambda: expect_meta(out, shape=batch_shape, what=what),
                    "one value per mask: reduce over the last two dimensions (H, W) only, whatever comes before them")


@pytest.mark.grade(target="sigmoid_focal_loss", kind="gradient")
def test_focal_gradient(submission, reference, rng, flag):
    logits, targets = S.cases.mask_inputs((2, 3), 6, 5, rng, F64)
    cotangent = torch.randn(2, 3, generator=rng, dtype=F64)
    args = (logits, targets, 0.25, 2.0)
    _, grads = submission.call_with_grad("sigmoid_focal_loss", args, wrt=(0,), cotangents=[cotangent])
    if grads[0] is None:
        raise AssertionError("sigmoid_focal_loss: no gradient reached the logits; keep the computation in "
                             "torch (no .item(), .numpy(), .detach() or torch.no_grad())")
    expected = S.variant_gradients(reference.sigmoid_focal_loss, args, (0,), cotangent)[0]
    try:
        expect_close(grads[0], expected, what="gradient of sigmoid_focal_loss with respect to the logits",
                     hint="the (1 - p_t)**gamma factor depends on the logits too and must stay in the graph",
                     **S.tolerance(F64))
    except AssertionError:
        S.diagnose_gradient(flag, "the gradient of sigmoid_focal_loss", grads[0], V.FOCAL_VARIANTS, args, 0, cotangent)
        raise


@pytest.mark.grade(target="sigmoid_focal_loss", kind="property")
def test_focal_dtype_and_device(submission, rng, devices):
    for device in devices:
        for dtype in (F32, F64):
            logits, targets = S.cases.mask_inputs((2,), 5, 5, rng, dtype)
            out = submission.call("sigmoid_focal_loss", logits.to(device), targets.to(device), 0.25, 2.0)
            expect_meta(out, shape=(2,), dtype=dtype, device=device,
                        what=f"sigmoid_focal_loss on {str(dtype)[6:]} inputs on {device}")


@pytest.mark.grade(target="sigmoid_focal_loss", kind="property")
def test_focal_stable_for_extreme_logits(submission, reference, stored, rng, flag):
    extreme = [S.focal_args(stored, "focal_f32_extreme")]
    targets64 = S.cases.random_boxes((3,), 6, 6, rng, F64)
    extreme.append((_extreme_logits(targets64.shape, rng, F64), targets64, None, 2.0))
    for args in extreme:
        what = f"sigmoid_focal_loss with logits of +-100 ({str(args[0].dtype)[6:]})"
        out, grads = submission.call_with_grad("sigmoid_focal_loss", args, wrt=(0,))
        if not (S.finite(out) and S.finite(grads[0])):
            raise AssertionError(f"{what}: got non-finite values or gradients; sigmoid saturates to exactly 0 or 1 "
                                 "there, so log(p) is -inf: use binary_cross_entropy_with_logits (or logsigmoid)")
        S.expect_or_diagnose(out, reference.sigmoid_focal_loss(*args), flag=flag, table=V.FOCAL_VARIANTS,
                             args=args, what=what,
                             hint="a confidently wrong pixel at logit 100 costs about 100 nats; "
                                  "clamping p changes that")


@pytest.mark.grade(target="sigmoid_focal_loss", kind="property")
def test_focal_reduces_to_cross_entropy(submission, rng):
    logits, targets = S.cases.mask_inputs((3,), 6, 6, rng, F64)
    out = submission.call("sigmoid_focal_loss", logits, targets, None, 0.0)
    cross_entropy = F.binary_cross_entropy_with_logits(logits, targets, reduction="none").mean(dim=(-2, -1))
    expect_close(out, cross_entropy, what="sigmoid_focal_loss with alpha=None and gamma=0",
                 hint="with gamma = 0 the modulation (1 - p_t)**0 is 1 and no alpha weighting applies: the "
                      "focal loss must equal the plain binary cross-entropy averaged over the pixels",
                 **S.tolerance(F64))


@pytest.mark.grade(target="sigmoid_focal_loss", kind="property")
def test_focal_modulation_per_pixel(submission, flag):
    """One-pixel masks: focal / cross-entropy must equal (1 - p_t)**gamma, pixel by pixel."""
    p_correct = torch.tensor([0.05, 0.2, 0.5, 0.8, 0.95, 0.99], dtype=F64)
    targets = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 0.0], dtype=F64).view(-1, 1, 1)
    probs = torch.where(targets.flatten() > 0, p_correct, 1 - p_correct)
    logits = torch.log(probs / (1 - probs)).view(-1, 1, 1)
    out = submission.call("sigmoid_focal_loss", logits, targets, None, 2.0)
    expect_meta(out, shape=(6,), what="sigmoid_focal_loss on six one-pixel masks")
    cross_entropy = -torch.log(p_correct)
    factor = out.detach().to(F64) / cross_entropy
    if torch.allclose(factor, (1 - p_correct) ** 2, rtol=1e-6):
        return
    if torch.allclose(factor, p_correct**2, rtol=1e-6):
        flag(V.GAMMA_ON_PT, "focal/CE on one-pixel masks equals p_t**2 instead of (1 - p_t)**2")
    elif torch.allclose(factor, torch.ones_like(factor), rtol=1e-6):
        flag(V.PLAIN_BCE, "focal/CE on one-pixel masks is 1 for every p_t: no modulation at all")
    raise AssertionError(
        f"sigmoid_focal_loss / cross-entropy for pixels with p_t = {p_correct.tolist()} (alpha=None, gamma=2) "
        f"should be (1 - p_t)**2 = {[round(v, 5) for v in ((1 - p_correct) ** 2).tolist()]}, got "
        f"{[round(v, 5) for v in factor.tolist()]}. Confident correct pixels (p_t near 1) must be "
        "scaled down the most: that is what lets the rare hard pixels dominate")


@pytest.mark.grade(target="sigmoid_focal_loss", kind="property")
def test_focal_alpha_weights_foreground(submission, flag):
    """gamma = 0: an all-foreground mask costs alpha * CE, an all-background mask (1 - alpha) * CE."""
    logits = torch.full((2, 3, 3), 0.4, dtype=F64)
    targets = torch.stack([torch.ones(3, 3, dtype=F64), torch.zeros(3, 3, dtype=F64)])
    out = submission.call("sigmoid_focal_loss", logits, targets, 0.25, 0.0)
    expect_meta(out, shape=(2,), what="sigmoid_focal_loss on an all-foreground and an all-background mask")
    cross_entropy = F.binary_cross_entropy_with_logits(logits, targets, reduction="none").mean(dim=(-2, -1))
    weight = out.detach().to(F64) / cross_entropy
    if torch.allclose(weight, torch.tensor([0.25, 0.75], dtype=F64), rtol=1e-6):
        return
    if torch.allclose(weight, torch.tensor([0.75, 0.25], dtype=F64), rtol=1e-6):
        flag(V.ALPHA_WRONG_CLASS, "with alpha=0.25 foreground pixels were weighted 0.75 and background 0.25")
    raise AssertionError(
        f"sigmoid_focal_loss with alpha=0.25, gamma=0: the weight on an all-foreground mask should be 0.25 and on "
        f"an all-background mask 0.75, got {weight[0].item():.4g} and {weight[1].item():.4g}. "
        "The weight is alpha*t + (1-alpha)*(1-t)")


@pytest.mark.grade(target="sigmoid_focal_loss", kind="property")
def test_focal_is_mean_of_pixel_losses(submission, rng, flag):
    """A mask's focal loss is the average of its pixels' focal losses (modulate first, then average)."""
    logits, targets = S.cases.mask_inputs((), 4, 4, rng, F64)
    whole = submission.call("sigmoid_focal_loss", logits[None], targets[None], 0.25, 2.0)
    pixels = submission.call("sigmoid_focal_loss", logits.reshape(16, 1, 1), targets.reshape(16, 1, 1), 0.25, 2.0)
    expect_meta(whole, shape=(1,), what="sigmoid_focal_loss on one 4x4 mask")
    expect_meta(pixels, shape=(16,), what="sigmoid_focal_loss on its 16 pixels as one-pixel masks")
    average = pixels.detach().to(F64).mean()
    if torch.allclose(whole.detach().to(F64)[0], average, rtol=1e-6, atol=1e-12):
        return
    if torch.allclose(whole.detach().to(F64)[0], 16 * average, rtol=1e-6, atol=1e-12):
        raise AssertionError(f"sigmoid_focal_loss of a 4x4 mask is {whole[0].item():.6g}, the sum of its 16 pixel "
                             "losses; the contract takes the mean over H and W")
    flag(V.MEAN_BEFORE_MODULATION, "the loss of a 4x4 mask differs from the mean of its 16 pixel losses")
    raise AssertionError(
        f"sigmoid_focal_loss of a 4x4 mask is {whole[0].item():.6g}, but the mean of the same 16 pixels scored one "
        f"at a time is {average.item():.6g}. Each pixel gets its own (1 - p_t)**gamma factor; average over the "
        "pixels only at the very end")


# ====================================================================== dice_loss

@pytest.mark.grade(target="dice_loss", kind="correctness")
def test_dice_stored_cases(submission, stored, flag):
    for name in S.case_names(stored, "dice_", exclude=("dice_both_empty", "dice_f32_extreme")):
        args = S.dice_args(stored, name)
        out = submission.call("dice_loss", *args)
        S.expect_or_diagnose(out, S.field(stored, name, "out"), flag=flag, table=V.DICE_VARIANTS, args=args,
                             what=f"dice_loss on case {name} (smooth={args[2]}, logits {list(args[0].shape)})",
                             hint=DICE_HINT)


@pytest.mark.grade(target="dice_loss", kind="correctness")
def test_dice_default_smooth(submission, reference, rng, flag):
    logits, targets = S.cases.mask_inputs((3,), 6, 6, rng, F64)
    out = submission.call("dice_loss", logits, targets)
    S.expect_or_diagnose(out, reference.dice_loss(logits, targets), flag=flag, table=V.DICE_VARIANTS,
                         args=(logits, targets, 1.0), what="dice_loss(logits, targets) with the default smooth",
                         hint="the default is smooth=1.0, added to both the numerator and the denominator")


@pytest.mark.grade(target="dice_loss", kind="correctness")
def test_dice_random_inputs(submission, reference, rng, flag):
    for smooth in (1.0, 0.5):
        logits, targets = S.cases.mask_inputs((_draw(rng, 1, 3), 3), _draw(rng, 4, 9), _draw(rng, 4, 9), rng, F64)
        args = (logits, targets, smooth)
        out = submission.call("dice_loss", *args)
        S.expect_or_diagnose(out, reference.dice_loss(*args), flag=flag, table=V.DICE_VARIANTS, args=args,
                             what=f"dice_loss on fresh random masks {list(logits.shape)} (smooth={smooth})",
                             hint=DICE_HINT)


@pytest.mark.grade(target="dice_loss", kind="correctness")
def test_dice_leading_dimensions(submission, rng):
    for batch_shape in [(), (4,), (2, 3)]:
        logits, targets = S.cases.mask_inputs(batch_shape, 6, 5, rng, F64)
        out = submission.call("dice_loss", logits, targets, 1.0)
        S.with_hint(lambda: expect_meta(out, shape=batch_shape, what=f"dice_loss on logits {list(logits.shape)}"),
                    "one value per mask: sum over the last two dimensions (H, W) only")


@pytest.mark.grade(target="dice_loss", kind="property")
def test_dice_empty_and_full_masks(submission, stored, flag):
    args = S.dice_args(stored, "dice_both_empty")
    out = submission.call("dice_loss", *args)
    if torch.is_tensor(out) and not S.finite(out):
        flag(V.DICE_NO_SMOOTH, "dice_loss returned NaN when both the prediction and the target are empty")
    try:
        expect_close(out, S.field(stored, "dice_both_empty", "out"), atol=1e-6, rtol=0.0,
                     what="dice_loss when both the prediction and the target are empty",
                     hint="two empty masks agree perfectly, so the loss is 0: the smoothing term turns 0/0 into 1/1")
    except AssertionError:
        if S.finite(out):
            S.diagnose(flag, "dice_loss on two empty masks", out, V.DICE_VARIANTS, args)
        raise
    for name, meaning in [("dice_empty_target", "an empty target and a non-empty prediction (close to 1)"),
                          ("dice_full", "a full target and a confident full prediction (close to 0)")]:
        args = S.dice_args(stored, name)
        S.expect_or_diagnose(submission.call("dice_loss", *args), S.field(stored, name, "out"), flag=flag,
                             table=V.DICE_VARIANTS, args=args, what=f"dice_loss for {meaning}", hint=DICE_HINT)


@pytest.mark.grade(target="dice_loss", kind="gradient")
def test_dice_gradient(submission, reference, rng, flag):
    logits, targets = S.cases.mask_inputs((2, 3), 5, 6, rng, F64)
    cotangent = torch.randn(2, 3, generator=rng, dtype=F64)
    args = (logits, targets, 1.0)
    _, grads = submission.call_with_grad("dice_loss", args, wrt=(0,), cotangents=[cotangent])
    if grads[0] is None:
        raise AssertionError("dice_loss: no gradient reached the logits; use sigmoid probabilities (not a "
                             "thresholded mask) and keep the computation in torch")
    expected = S.variant_gradients(reference.dice_loss, args, (0,), cotangent)[0]
    try:
        expect_close(grads[0], expected, what="gradient of dice_loss with respect to the logits", hint=DICE_HINT,
                     **S.tolerance(F64))
    except AssertionError:
        S.diagnose_gradient(flag, "the gradient of dice_loss", grads[0], V.DICE_VARIANTS, args, 0, cotangent)
        raise


@pytest.mark.grade(target="dice_loss", kind="property")
def test_dice_dtype_and_device(submission, rng, devices):
    for device in devices:
        for dtype in (F32, F64):
            logits, targets = S.cases.mask_inputs((2,), 5, 5, rng, dtype)
            out = submission.call("dice_loss", logits.to(device), targets.to(device), 1.0)
            expect_meta(out, shape=(2,), dtype=dtype, device=device,
                        what=f"dice_loss on {str(dtype)[6:]} inputs on {device}")


@pytest.mark.grade(target="dice_loss", kind="property")
def test_dice_stable_for_extreme_logits(submission, stored, flag):
    args = S.dice_args(stored, "dice_f32_extreme")
    out, grads = submission.call_with_grad("dice_loss", args, wrt=(0,))
    what = "dice_loss with logits of +-100"
    if not (S.finite(out) and S.finite(grads[0])):
        raise AssertionError(f"{what}: got non-finite values or gradients; torch.sigmoid is safe at +-100, "
                             "1 / (1 + exp(-x)) written by hand may not be")
    S.expect_or_diagnose(out, S.field(stored, "dice_f32_extreme", "out"), flag=flag, table=V.DICE_VARIANTS,
                         args=args, what=what, hint=DICE_HINT)


# ====================================================================== mask_iou

@pytest.mark.grade(target="mask_iou", kind="correctness")
def test_mask_iou_stored_cases(submission, stored, flag):
    for name in S.case_names(stored, "iou_", exclude=("iou_zero_logits", "iou_both_empty", "iou_empty_target")):
        args = S.iou_args(stored, name)
        out = submission.call("mask_iou", *args)
        S.expect_or_diagnose(out, S.field(stored, name, "out"), flag=flag, table=V.IOU_VARIANTS, args=args,
                             what=f"mask_iou on case {name} (logits {list(args[0].shape)})", hint=IOU_HINT)


@pytest.mark.grade(target="mask_iou", kind="correctness")
def test_mask_iou_random_inputs(submission, reference, rng, flag):
    logits, targets = S.cases.mask_inputs((_draw(rng, 1, 3), 3), _draw(rng, 4, 9), _draw(rng, 4, 9), rng, F64)
    out = submission.call("mask_iou", logits, targets)
    S.expect_or_diagnose(out, reference.mask_iou(logits, targets), flag=flag, table=V.IOU_VARIANTS,
                         args=(logits, targets), what=f"mask_iou on fresh random masks {list(logits.shape)}",
                         hint=IOU_HINT)


@pytest.mark.grade(target="mask_iou", kind="correctness")
def test_mask_iou_threshold_at_zero(submission, stored):
    args = S.iou_args(stored, "iou_zero_logits")
    expect_close(submission.call("mask_iou", *args), S.field(stored, "iou_zero_logits", "out"),
                 what="mask_iou where some logits are exactly 0",
                 hint="a pixel is foreground only when its logit is strictly positive (logits > 0, i.e. p > 0.5)")


@pytest.mark.grade(target="mask_iou", kind="correctness")
def test_mask_iou_leading_dimensions(submission, rng):
    for batch_shape in [(), (4,), (2, 3)]:
        logits, targets = S.cases.mask_inputs(batch_shape, 5, 5, rng, F64)
        out = submission.call("mask_iou", logits, targets)
        S.with_hint(lambda: expect_meta(out, shape=batch_shape, what=f"mask_iou on logits {list(logits.shape)}"),
                    "one IoU per mask: count over the last two dimensions (H, W) only")


@pytest.mark.grade(target="mask_iou", kind="property")
def test_mask_iou_empty_masks(submission, stored):
    for name, meaning, hint in [
        ("iou_both_empty", "both the prediction and the target are empty",
         "the contract divides by max(|P or G|, 1), so two empty masks give 0 (not 0/0 = NaN, not 1)"),
        ("iou_empty_target", "the target is empty but the prediction is not",
         "nothing of the prediction overlaps an empty target: IoU 0"),
    ]:
        out = submission.call("mask_iou", *S.iou_args(stored, name))
        expect_close(out, S.field(stored, name, "out"), rtol=0.0, atol=1e-12, what=f"mask_iou when {meaning}",
                     hint=hint)


@pytest.mark.grade(target="mask_iou", kind="property")
def test_mask_iou_counts_binarised_pixels(submission, rng, flag):
    """Scaling the logits by a positive factor keeps every sign, so the IoU must not change."""
    logits, targets = S.cases.mask_inputs((3,), 6, 6, rng, F64)
    plain = submission.call("mask_iou", logits, targets)
    scaled = submission.call("mask_iou", 0.2 * logits, targets)
    expect_meta(plain, shape=(3,), what="mask_iou on three masks")
    if torch.allclose(plain.detach().to(F64), scaled.detach().to(F64), rtol=1e-9, atol=1e-12):
        return
    flag(V.IOU_SOFT_TARGET, "mask_iou changed when the logits were scaled by 0.2 without changing sign")
    raise AssertionError(
        f"mask_iou changed from {plain.tolist()} to {scaled.tolist()} when every logit was multiplied by 0.2. "
        "The IoU counts pixels of the binarised mask (logits > 0), so only the signs of the logits matter; "
        "sigmoid probabilities give a soft overlap instead")


@pytest.mark.grade(target="mask_iou", kind="property")
def test_mask_iou_dtype_and_device(submission, rng, devices):
    for device in devices:
        for dtype in (F32, F64):
            logits, targets = S.cases.mask_inputs((2,), 5, 5, rng, dtype)
            out = submission.call("mask_iou", logits.to(device), targets.to(device))
            expect_meta(out, shape=(2,), dtype=dtype, device=device,
                        what=f"mask_iou on {str(dtype)[6:]} inputs on {device}")
