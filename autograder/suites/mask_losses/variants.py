"""Wrong implementations of the mask_losses contract, one per anticipated mistake.

The hidden suite runs these (trusted, in-process) on the inputs a submission failed on and
asks which one the submission's output or gradient matches. Each table maps a variant name to
(misconception id, function); several names may share an id when a mistake has more than one
common form. Self-contained: torch only, nothing imported from the reference.
"""

import torch
import torch.nn.functional as F

MEAN_OVER_MASKS = "sam.mean-over-masks"
PLAIN_BCE = "impl.mask_losses.plain-bce"
GAMMA_ON_PT = "impl.mask_losses.gamma-on-pt"
ALPHA_WRONG_CLASS = "impl.mask_losses.alpha-wrong-class"
MEAN_BEFORE_MODULATION = "impl.mask_losses.mean-before-modulation"
DICE_NO_SMOOTH = "impl.mask_losses.dice-no-smooth"
IOU_SOFT_TARGET = "impl.mask_losses.iou-soft-target"
IOU_TARGET_NOT_DETACHED = "impl.mask_losses.iou-target-not-detached"
WEIGHTS_SWAPPED = "impl.mask_losses.weights-swapped"
IOU_LOSS_EVERY_HYPOTHESIS = "impl.mask_losses.iou-loss-every-hypothesis"
BEST_BY_PREDICTED_IOU = "impl.mask_losses.best-by-predicted-iou"

PIXELS = (-2, -1)


# ---------------------------------------------------------------- correct building blocks

def _alpha_weight(targets, alpha):
    if alpha is None:
        return torch.ones_like(targets)
    return alpha * targets + (1 - alpha) * (1 - targets)


def _pixel_terms(logits, targets):
    """(cross-entropy, p_t) per pixel."""
    probs = torch.sigmoid(logits)
    cross_entropy = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_correct = probs * targets + (1 - probs) * (1 - targets)
    return cross_entropy, p_correct


def _focal(logits, targets, alpha=0.25, gamma=2.0):
    cross_entropy, p_correct = _pixel_terms(logits, targets)
    weighted = cross_entropy * (1 - p_correct) ** gamma * _alpha_weight(targets, alpha)
    return weighted.mean(dim=PIXELS)


def _dice(logits, targets, smooth=1.0):
    probs = torch.sigmoid(logits)
    overlap = (probs * targets).sum(dim=PIXELS)
    total = probs.sum(dim=PIXELS) + targets.sum(dim=PIXELS)
    return 1 - (2 * overlap + smooth) / (total + smooth)


def _hard_iou(logits, targets):
    predicted, truth = logits > 0, targets > 0.5
    intersection = (predicted & truth).sum(dim=PIXELS).to(logits.dtype)
    union = (predicted | truth).sum(dim=PIXELS).clamp(min=1).to(logits.dtype)
    return intersection / union


# ---------------------------------------------------------------- sigmoid_focal_loss variants

def focal_plain_bce(logits, targets, alpha=0.25, gamma=2.0):
    """Binary cross-entropy averaged over pixels: no modulation, no alpha."""
    cross_entropy, _ = _pixel_terms(logits, targets)
    return cross_entropy.mean(dim=PIXELS)


def focal_plain_bce_alpha(logits, targets, alpha=0.25, gamma=2.0):
    """Alpha-weighted cross-entropy with the (1 - p_t)**gamma factor left out."""
    cross_entropy, _ = _pixel_terms(logits, targets)
    return (cross_entropy * _alpha_weight(targets, alpha)).mean(dim=PIXELS)


def focal_gamma_on_pt(logits, targets, alpha=0.25, gamma=2.0):
    """p_t**gamma instead of (1 - p_t)**gamma: easy pixels get the most weight."""
    cross_entropy, p_correct = _pixel_terms(logits, targets)
    return (cross_entropy * p_correct**gamma * _alpha_weight(targets, alpha)).mean(dim=PIXELS)


def focal_alpha_wrong_class(logits, targets, alpha=0.25, gamma=2.0):
    """alpha on background pixels and 1 - alpha on foreground pixels."""
    flipped = None if alpha is None else 1 - alpha
    return _focal(logits, targets, flipped, gamma)


def focal_mean_then_exp(logits, targets, alpha=0.25, gamma=2.0):
    """The image-classification recipe: p_t = exp(-mean CE), then modulate the mean loss."""
    cross_entropy, _ = _pixel_terms(logits, targets)
    mean_loss = (cross_entropy * _alpha_weight(targets, alpha)).mean(dim=PIXELS)
    p_correct = torch.exp(-cross_entropy.mean(dim=PIXELS))
    return (1 - p_correct) ** gamma * mean_loss


def focal_weighted_mean_then_exp(logits, targets, alpha=0.25, gamma=2.0):
    """p_t = exp(-mean of the alpha-weighted CE), then that one factor modulates the mean loss."""
    cross_entropy, _ = _pixel_terms(logits, targets)
    mean_loss = (cross_entropy * _alpha_weight(targets, alpha)).mean(dim=PIXELS)
    return (1 - torch.exp(-mean_loss)) ** gamma * mean_loss


def focal_mean_pt_first(logits, targets, alpha=0.25, gamma=2.0):
    """p_t averaged over the mask, then one modulation factor for the whole mask."""
    cross_entropy, p_correct = _pixel_terms(logits, targets)
    mean_loss = (cross_entropy * _alpha_weight(targets, alpha)).mean(dim=PIXELS)
    return (1 - p_correct.mean(dim=PIXELS)) ** gamma * mean_loss


def focal_product_of_means(logits, targets, alpha=0.25, gamma=2.0):
    """mean(CE) times mean((1 - p_t)**gamma): the two factors averaged separately."""
    cross_entropy, p_correct = _pixel_terms(logits, targets)
    mean_loss = (cross_entropy * _alpha_weight(targets, alpha)).mean(dim=PIXELS)
    return mean_loss * ((1 - p_correct) ** gamma).mean(dim=PIXELS)


FOCAL_VARIANTS = {
    "plain-bce": (PLAIN_BCE, focal_plain_bce),
    "plain-bce-with-alpha": (PLAIN_BCE, focal_plain_bce_alpha),
    "gamma-on-pt": (GAMMA_ON_PT, focal_gamma_on_pt),
    "alpha-wrong-class": (ALPHA_WRONG_CLASS, focal_alpha_wrong_class),
    "mean-then-exp": (MEAN_BEFORE_MODULATION, focal_mean_then_exp),
    "weighted-mean-then-exp": (MEAN_BEFORE_MODULATION, focal_weighted_mean_then_exp),
    "mean-pt-first": (MEAN_BEFORE_MODULATION, focal_mean_pt_first),
    "product-of-means": (MEAN_BEFORE_MODULATION, focal_product_of_means),
}


# ---------------------------------------------------------------- dice_loss and mask_iou variants

def dice_no_smooth(logits, targets, smooth=1.0):
    """The smoothing term dropped: 0/0 when both masks are empty."""
    return _dice(logits, targets, 0.0)


def iou_soft(logits, targets):
    """IoU of the sigmoid probabilities instead of the binarised mask."""
    probs = torch.sigmoid(logits)
    intersection = (probs * targets).sum(dim=PIXELS)
    union = probs.sum(dim=PIXELS) + targets.sum(dim=PIXELS) - intersection
    return intersection / union.clamp(min=1e-6)


DICE_VARIANTS = {"dice-no-smooth": (DICE_NO_SMOOTH, dice_no_smooth)}
IOU_VARIANTS = {"soft-iou": (IOU_SOFT_TARGET, iou_soft)}


# ---------------------------------------------------------------- multimask_loss variants

def _multimask(mask_logits, iou_pred, gt, focal_weight=20.0, dice_weight=1.0, iou_weight=1.0,
               alpha=0.25, gamma=2.0, *, focal=_focal, dice=_dice, iou=_hard_iou,
               detach_target=True, reduce_masks="min", iou_on="best", select_by="loss",
               swap_weights=False):
    """The contract with one knob turned; every multimask variant below is a call of this."""
    if swap_weights:
        focal_weight, dice_weight = dice_weight, focal_weight
    gt_per_mask = gt.unsqueeze(1).expand_as(mask_logits)
    combined = (focal_weight * focal(mask_logits, gt_per_mask, alpha, gamma)
                + dice_weight * dice(mask_logits, gt_per_mask))
    if select_by == "loss":
        best = combined.detach().argmin(dim=1)
    else:
        best = iou_pred.detach().argmax(dim=1)
    rows = torch.arange(mask_logits.shape[0], device=mask_logits.device)
    achieved = iou(mask_logits, gt_per_mask)  # [B, K]
    if detach_target:
        achieved = achieved.detach()
    iou_errors = (iou_pred - achieved) ** 2  # [B, K]
    reduce_iou = {"best": lambda errors: errors[rows, best],
                  "mean": lambda errors: errors.mean(dim=1),
                  "sum": lambda errors: errors.sum(dim=1)}
    reduce_combined = {"min": lambda losses: losses[rows, best],
                       "mean": lambda losses: losses.mean(dim=1),
                       "sum": lambda losses: losses.sum(dim=1)}
    mask_term = reduce_combined[reduce_masks](combined)
    iou_term = reduce_iou[iou_on](iou_errors)
    return (mask_term + iou_weight * iou_term).mean(), best


def _knob(doc, **knobs):
    def variant(*args, **kwargs):
        return _multimask(*args, **kwargs, **knobs)
    variant.__doc__ = doc
    return variant


MULTIMASK_VARIANTS = {
    "mean-over-masks": (MEAN_OVER_MASKS, _knob(
        "the mask loss averaged over the hypotheses instead of taking the best one",
        reduce_masks="mean")),
    "mean-over-masks-with-iou": (MEAN_OVER_MASKS, _knob(
        "mask and IoU losses averaged over the hypotheses instead of taking the best one",
        reduce_masks="mean", iou_on="mean")),
    "sum-over-masks": (MEAN_OVER_MASKS, _knob(
        "the mask loss summed over the hypotheses instead of taking the best one",
        reduce_masks="sum")),
    "weights-swapped": (WEIGHTS_SWAPPED, _knob(
        "focal_weight applied to the dice loss and dice_weight to the focal loss",
        swap_weights=True)),
    "iou-loss-mean-over-hypotheses": (IOU_LOSS_EVERY_HYPOTHESIS, _knob(
        "the IoU head's squared error averaged over every hypothesis, not only the best",
        iou_on="mean")),
    "iou-loss-sum-over-hypotheses": (IOU_LOSS_EVERY_HYPOTHESIS, _knob(
        "the IoU head's squared error summed over every hypothesis, not only the best",
        iou_on="sum")),
    "soft-iou-target": (IOU_SOFT_TARGET, _knob(
        "the IoU target computed from sigmoid probabilities instead of the binarised mask",
        iou=iou_soft)),
    "best-by-predicted-iou": (BEST_BY_PREDICTED_IOU, _knob(
        "the hypothesis chosen by the highest predicted IoU instead of the lowest mask loss",
        select_by="predicted-iou")),
    "dice-no-smooth": (DICE_NO_SMOOTH, _knob(
        "the dice loss computed without its smoothing term", dice=dice_no_smooth)),
}
# A wrong focal loss inside an otherwise correct multimask_loss shows in its value too.
MULTIMASK_VARIANTS.update({
    f"focal:{name}": (misconception, _knob(f"focal loss: {focal.__doc__.strip().splitlines()[0]}", focal=focal))
    for name, (misconception, focal) in FOCAL_VARIANTS.items()
})

# Same value as the soft-target variant; only the gradient into the mask logits differs.
MULTIMASK_GRADIENT_VARIANTS = {
    "soft-iou-target-not-detached": (IOU_TARGET_NOT_DETACHED, _knob(
        "a soft IoU target through which gradient flows back into the mask logits",
        iou=iou_soft, detach_target=False)),
}


def multimask_reference(*args, **kwargs):
    """The contract itself, built from the same knobs (used to check the knobs' default)."""
    return _multimask(*args, **kwargs)
