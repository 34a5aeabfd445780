"""Input builders shared by generate_references.py and the hidden suite (fresh random cases).

Targets are rectangles, and predicted logits are noisy versions of rectangles, so that every
case mixes easy pixels (far from the boundary) with hard ones, like a real mask prediction.
Every builder takes a torch.Generator and is deterministic given its state.
"""

import torch


def random_boxes(batch_shape, height, width, generator, dtype=torch.float64):
    """One filled axis-aligned rectangle per mask: -> [*batch_shape, H, W] of 0.0/1.0."""
    count = int(torch.Size(batch_shape).numel())
    ys = torch.randint(0, height, (count, 2), generator=generator).sort(dim=1).values
    xs = torch.randint(0, width, (count, 2), generator=generator).sort(dim=1).values
    rows = torch.arange(height).view(1, height, 1)
    cols = torch.arange(width).view(1, 1, width)
    inside = ((rows >= ys[:, :1, None]) & (rows <= ys[:, 1:, None])
              & (cols >= xs[:, :1, None]) & (cols <= xs[:, 1:, None]))
    return inside.to(dtype).reshape(*batch_shape, height, width)


def noisy_logits(masks, generator, gain=3.0, noise=2.0):
    """Logits that mostly agree with `masks`: gain * (2m - 1) + noise * N(0, 1)."""
    gaussian = torch.randn(masks.shape, generator=generator, dtype=masks.dtype)
    return gain * (2 * masks - 1) + noise * gaussian


def mask_inputs(batch_shape, height, width, generator, dtype=torch.float64):
    """(logits, targets) for the per-mask losses, with independent predicted and true boxes."""
    targets = random_boxes(batch_shape, height, width, generator, dtype)
    guesses = random_boxes(batch_shape, height, width, generator, dtype)
    # Half the prediction comes from the truth, half from an unrelated box: partial overlap.
    blend = 0.5 * (targets + guesses)
    return noisy_logits(blend, generator), targets


def nested_boxes(batch, height, width, generator, dtype=torch.float64):
    """Part, object and scene around one click for each item: -> [B, 3, H, W], part ⊂ object ⊂ scene."""
    levels = []
    centre_y = torch.randint(height // 4, height - height // 4, (batch,), generator=generator)
    centre_x = torch.randint(width // 4, width - width // 4, (batch,), generator=generator)
    rows = torch.arange(height).view(1, height, 1)
    cols = torch.arange(width).view(1, 1, width)
    for half_size in (1, max(2, height // 4), height):
        inside = ((rows - centre_y.view(-1, 1, 1)).abs() <= half_size) & \
                 ((cols - centre_x.view(-1, 1, 1)).abs() <= half_size)
        levels.append(inside)
    return torch.stack(levels, dim=1).to(dtype)


def multimask_inputs(batch, hypotheses, height, width, generator, dtype=torch.float64):
    """(mask_logits [B,K,H,W], iou_pred [B,K], gt [B,H,W]) for an ambiguous click.

    Hypothesis k is a noisy guess at granularity k % 3; the ground truth is one granularity,
    drawn per item, so the best hypothesis varies across the batch.
    """
    levels = nested_boxes(batch, height, width, generator, dtype)
    level_of = torch.arange(hypotheses) % 3
    mask_logits = noisy_logits(levels[:, level_of], generator)
    chosen = torch.randint(0, 3, (batch,), generator=generator)
    gt = levels[torch.arange(batch), chosen]
    iou_pred = torch.rand((batch, hypotheses), generator=generator, dtype=dtype)
    return mask_logits, iou_pred, gt
