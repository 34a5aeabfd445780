"""Reference solution: SAM's mask losses (focal + dice) and the minimum over mask hypotheses.

Contract: section 4 of EXERCISES.md. Masks are logits `[..., H, W]`; targets hold 0.0 or 1.0
in the logits' dtype. Every per-mask function reduces over the last two dimensions only, so it
works for any leading batch shape. Self-contained (torch only) so that it can be pasted into
the student notebook.
"""

import torch
import torch.nn.functional as F


def sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2.0):
    """Focal loss per mask: [..., H, W] logits and {0,1} targets -> [...] (mean over pixels).

    Cross-entropy scaled by (1 - p_t)**gamma, where p_t is the probability the model gives to
    the correct label: confident right pixels (p_t near 1) almost vanish from the loss.
    With `alpha`, foreground pixels are weighted by alpha and background pixels by 1 - alpha.
    """
    probs = torch.sigmoid(logits)
    cross_entropy = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_correct = probs * targets + (1 - probs) * (1 - targets)
    per_pixel = cross_entropy * (1 - p_correct) ** gamma
    if alpha is not None:
        per_pixel = per_pixel * (alpha * targets + (1 - alpha) * (1 - targets))
    return per_pixel.mean(dim=(-2, -1))


def dice_loss(logits, targets, smooth=1.0):
    """Soft dice loss per mask: [..., H, W] -> [...]; 0 for perfect overlap, near 1 for none.

    `smooth` keeps the ratio defined when both masks are empty (the loss is then 0).
    """
    probs = torch.sigmoid(logits)
    overlap = (probs * targets).sum(dim=(-2, -1))
    total = probs.sum(dim=(-2, -1)) + targets.sum(dim=(-2, -1))
    return 1 - (2 * overlap + smooth) / (total + smooth)


def mask_iou(logits, targets):
    """IoU of the binarised prediction (logits > 0) with the target: [..., H, W] -> [...].

    Not differentiable (it counts pixels). Two empty masks give 0, not 0/0.
    """
    predicted = logits > 0
    truth = targets > 0.5
    intersection = (predicted & truth).sum(dim=(-2, -1)).to(logits.dtype)
    union = (predicted | truth).sum(dim=(-2, -1)).clamp(min=1).to(logits.dtype)
    return intersection / union


def multimask_loss(mask_logits, iou_pred, gt, focal_weight=20.0, dice_weight=1.0,
                   iou_weight=1.0, alpha=0.25, gamma=2.0):
    """SAM's multi-mask loss: mask_logits [B, K, H, W], iou_pred [B, K], gt [B, H, W].

    Returns (loss [], best LongTensor [B]). Each hypothesis is scored with
    focal_weight * focal + dice_weight * dice; only the lowest-scoring one (ties: lowest k)
    enters the loss, together with the squared error of its predicted IoU against the IoU it
    actually achieves (a target, so no gradient flows through it).
    """
    gt_per_mask = gt.unsqueeze(1).expand_as(mask_logits)
    combined = (focal_weight * sigmoid_focal_loss(mask_logits, gt_per_mask, alpha, gamma)
                + dice_weight * dice_loss(mask_logits, gt_per_mask))  # [B, K]
    best = combined.detach().argmin(dim=1)  # argmin returns the first index among equal minima
    rows = torch.arange(mask_logits.shape[0], device=mask_logits.device)
    achieved_iou = mask_iou(mask_logits[rows, best], gt).detach()
    iou_error = (iou_pred[rows, best] - achieved_iou) ** 2
    loss = (combined[rows, best] + iou_weight * iou_error).mean()
    return loss, best
