"""Build assignments/mask_losses/mask_losses.ipynb, the student notebook of the mask_losses assignment.

    python assignments/mask_losses/build_notebook.py

Every cell carries `metadata.nbgrader` (schema 3, unique grade_id): stub and answer cells hold
nbgrader's stub body, public test cells are locked grade cells, teaching and given-code cells are
locked. The answer variables and option letters must match rubrics/mask_losses.yaml.
"""

from pathlib import Path

from nbformat.v4 import new_notebook

from autograder.authoring import answer, given, public_test, stub, teach
from autograder.authoring import mcq as _mcq

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "mask_losses.ipynb"


def mcq(grade_id, variable, question, options):
    return _mcq(grade_id, variable, question, options, letter_style="{letter})")


# ====================================================================== introduction

INTRO = teach("intro", r"""
# SAM's mask losses: focal + dice, and the minimum over three masks

A segmentation model is only as good as the loss that trains it. In this notebook you write the
loss that trains SAM's mask decoder, piece by piece:

1. `sigmoid_focal_loss`: a per-pixel loss that stops thousands of easy background pixels from
   drowning out the few pixels the model still gets wrong;
2. `dice_loss`: a per-mask loss that looks at the overlap of the whole shape;
3. `mask_iou`: the overlap SAM's IoU head learns to predict;
4. `multimask_loss`: three mask hypotheses per click, of which only the best one is trained, plus
   the IoU head's regression loss.

**How this notebook works.** Cells with `# YOUR CODE HERE` are yours: replace the
`raise NotImplementedError()` with your code. The cell after each function holds *public tests*:
quick checks, mostly on the lesson's numbers, that you can run as often as you like. Grading runs a
larger hidden suite (other sizes, float32 and float64, CPU and GPU, gradients, edge cases).
Question cells ask you to assign a variable; the comment in the cell says which values are allowed.

Conventions (they are the grading contract, section 4 of the course's exercise sheet):

| name | shape | meaning |
|---|---|---|
| `logits` | `[..., H, W]` | raw mask scores; a pixel is predicted foreground when its logit is > 0 |
| `targets`, `gt` | `[..., H, W]` | ground-truth mask, `0.0` or `1.0`, same dtype as the logits |
| `mask_logits` | `[B, K, H, W]` | K mask hypotheses per example (SAM: K = 3) |
| `iou_pred` | `[B, K]` | the IoU head's guess of how good each hypothesis is |

Every per-mask function reduces over the **last two** dimensions only, so it works for any number
of leading dimensions (`[H, W] -> []`, `[B, K, H, W] -> [B, K]`). Work in torch (no NumPy, no
`.item()` in the computation), keep the input's dtype and device, and write vectorised code: no
Python loop over pixels or examples (a loop over the K hypotheses is fine). The lesson traces
masks of 256 x 256; we use small masks so that everything runs in a blink.
""")

IMPORTS = given("imports", r"""
import math

import torch
import torch.nn.functional as F

torch.set_printoptions(precision=6, sci_mode=False)
""")

# ====================================================================== 1. ambiguity

AMBIGUITY = teach("ambiguity", r"""
## 1. One click, three right answers

SAM does not name objects; it draws their outlines. Its output is a mask, one yes/no per pixel,
never a class label, and the training signal is the same: a ground-truth mask for the prompt.

Now think about what a single click means. Someone clicks on a **button of a shirt**. Did they want

- the **button** (a part),
- the **shirt** (the object the button belongs to), or
- the **person** wearing the shirt (the whole)?

All three are sensible, and no model can tell from one click. SAM does not guess: its decoder
outputs **three masks at once**, typically a part, an object and a whole, together with a score for
each, the IoU head's estimate of how well that mask fits what the user meant. A user or a
downstream program then picks the granularity it needs.

This has a consequence for training. The annotator who labelled that click drew *one* of the three
masks, say the shirt. Penalising all three hypotheses for not being the shirt would be wrong: the
button and person hypotheses were good answers to a different reading of the same click. Section 5
builds the loss that handles this. First, the two losses that score a single mask against a
ground truth.
""")

MCQ_WHAT_SAM_IS_TRAINED_ON = mcq(
    "mcq-what-sam-is-trained-on", "mcq_what_sam_is_trained_on",
    "What does SAM's loss compare each predicted mask with?",
    ["A class label for the clicked object, such as \"shirt\", which the mask is scored against.",
     "A ground-truth binary mask for the prompt, pixel by pixel; no category is involved.",
     "A mask from one of a fixed list of categories, with one output head per category, so a new "
     "kind of object needs new training.",
     "A class label and a bounding box, as in object detection; the mask is derived from the box."])

# ====================================================================== 2. focal loss

FOCAL_TEXT = teach("focal-text", r"""
## 2. Focal loss: let the hard pixels speak

Per pixel, a mask is a binary classification, and the loss you know for that is binary
cross-entropy. Write $p = \sigma(\text{logit})$ for the predicted foreground probability and
$t \in \{0, 1\}$ for the label. The probability the model gives to the **correct** label is

$$p_t = p\,t + (1 - p)(1 - t),$$

and cross-entropy is $\mathrm{CE} = -\log p_t$.

The trouble is counting. In a 256 x 256 mask of a small object, tens of thousands of pixels are
obvious background. Each one costs a little, but together they dominate the sum, and the gradient
is spent on pixels that are already right instead of on the object's boundary.

**Focal loss** multiplies each pixel's cross-entropy by a factor that shrinks as the pixel gets
easier:

$$\mathrm{FL} = (1 - p_t)^{\gamma}\,\mathrm{CE}, \qquad \gamma = 2 \text{ in SAM}.$$

A pixel the model gets right with $p_t = 0.95$ keeps only $(0.05)^2 = 0.25\%$ of its loss; a pixel
it gets badly wrong keeps almost all of it. $\gamma$ is the knob: $\gamma = 0$ gives back plain
cross-entropy, larger $\gamma$ silences easy pixels more aggressively.

Optionally a class weight $\alpha$ multiplies the loss too: foreground pixels ($t = 1$) by
$\alpha$, background pixels ($t = 0$) by $1 - \alpha$, that is $\alpha t + (1 - \alpha)(1 - t)$.
The common default is $\alpha = 0.25$; `alpha=None` means no class weight.

**Your task.** Write `sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2.0)`: the focal loss of
every pixel (cross-entropy times $(1 - p_t)^\gamma$, times the $\alpha$ weight when `alpha` is not
`None`), then the **mean over H and W**, giving one value per mask, shape `[...]`.

Compute the cross-entropy from the logits with `F.binary_cross_entropy_with_logits(...,
reduction="none")`, not as `-log(sigmoid(x))`: at a logit of 100, `sigmoid` rounds to exactly 1.0
and the log of `1 - p` becomes `-inf`. The hidden tests use logits of ±100.
""")

FOCAL_STUB = stub("focal-stub", r'''
def sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2.0):
    """Focal loss per mask: logits, targets [..., H, W] -> [...] (mean over the pixels).

    Per pixel: BCE-with-logits * (1 - p_t)**gamma, p_t = p*t + (1-p)*(1-t), p = sigmoid(logits);
    if alpha is not None, also times alpha*t + (1-alpha)*(1-t).
    """''')

TRACE_TEXT = teach("trace-text", r"""
### The lesson's two pixels

The lesson traces two pixels through the focal loss, with `alpha=None` and `gamma=2`:

| pixel | label | p | p_t | CE = -log p_t | (1 - p_t)^2 | focal loss |
|---|---|---|---|---|---|---|
| easy background | 0 | 0.05 | 0.95 | 0.0513 | 0.0025 | **0.000128** |
| hard foreground | 1 | 0.10 | 0.10 | 2.3026 | 0.81 | **1.865** |

Under cross-entropy the hard pixel costs about 45 times more than the easy one. Under focal loss it
costs 1.865 / 0.000128, roughly **14,600 times** more. That is the whole point: a few hundred hard
pixels now outweigh tens of thousands of easy ones. The cell below runs your function on these two
pixels, each as a one-pixel mask.
""")

TRACE_CODE = given("trace-code", r"""
def logit_of(probability):
    return math.log(probability / (1 - probability))

lesson_logits = torch.tensor([[[logit_of(0.05)]], [[logit_of(0.10)]]], dtype=torch.float64)  # [2, 1, 1]
lesson_targets = torch.tensor([[[0.0]], [[1.0]]], dtype=torch.float64)
easy_loss, hard_loss = sigmoid_focal_loss(lesson_logits, lesson_targets, None, 2.0)
plain_ce = F.binary_cross_entropy_with_logits(lesson_logits, lesson_targets, reduction="none").flatten()
print(f"easy background pixel: CE {plain_ce[0].item():.4f} -> focal {easy_loss.item():.6f}")
print(f"hard foreground pixel: CE {plain_ce[1].item():.4f} -> focal {hard_loss.item():.4f}")
print(f"ratio hard/easy: CE {(plain_ce[1] / plain_ce[0]).item():.1f}x, focal {(hard_loss / easy_loss).item():,.0f}x")
""")

FOCAL_TESTS = public_test("focal-tests", r"""
_logits = torch.tensor([[[math.log(0.05 / 0.95)]], [[math.log(0.1 / 0.9)]]], dtype=torch.float64)
_targets = torch.tensor([[[0.0]], [[1.0]]], dtype=torch.float64)
_out = sigmoid_focal_loss(_logits, _targets, None, 2.0)
assert torch.is_tensor(_out) and _out.shape == (2,), \
    f"one value per mask: expected shape (2,), got {getattr(_out, 'shape', _out)}"
assert abs(_out[0].item() - 0.000128) < 5e-7, f"easy background pixel: expected 0.000128, got {_out[0].item():.6g}"
assert abs(_out[1].item() - 1.865) < 5e-4, f"hard foreground pixel: expected 1.865, got {_out[1].item():.6g}"

_gen = torch.Generator().manual_seed(0)
_x = torch.randn(2, 3, 4, 5, generator=_gen, dtype=torch.float64)
_t = (torch.rand(2, 3, 4, 5, generator=_gen) < 0.3).double()
_ce = F.binary_cross_entropy_with_logits(_x, _t, reduction="none").mean(dim=(-2, -1))
assert sigmoid_focal_loss(_x, _t).shape == (2, 3), "reduce over the last two dimensions only"
assert torch.allclose(sigmoid_focal_loss(_x, _t, None, 0.0), _ce), \
    "with alpha=None and gamma=0 focal loss is plain cross-entropy"
_fg_only = sigmoid_focal_loss(torch.zeros(1, 2, 2), torch.ones(1, 2, 2), 0.25, 0.0)
assert torch.allclose(_fg_only, torch.tensor([0.25 * math.log(2)])), "foreground pixels are weighted by alpha"
_out32 = sigmoid_focal_loss(_x.float(), _t.float())
assert _out32.dtype == torch.float32, "keep the input dtype"
_extreme = sigmoid_focal_loss(torch.tensor([[[100.0, -100.0]]]), torch.tensor([[[0.0, 0.0]]]))
assert torch.isfinite(_extreme).all(), "logits of +-100 must give finite values: use binary_cross_entropy_with_logits"
print("sigmoid_focal_loss: public tests passed")
""")

CHECK_RATIO_TEXT = teach("check-ratio-text", r"""
**Check.** Using your function (`alpha=None`, `gamma=2`), how many times larger is the hard
foreground pixel's focal loss than the easy background pixel's? Assign the ratio as a float (for
example computed from `hard_loss` and `easy_loss` above).
""")

CHECK_RATIO = answer("check-focal-ratio", "check_focal_ratio", "a float: the hard pixel's focal loss divided by the easy pixel's")

PLOT_TEXT = teach("plot-text", r"""
### Focal loss against cross-entropy

The plot draws $(1 - p_t)^\gamma \cdot (-\log p_t)$ over $p_t$ for a few values of $\gamma$
($\gamma = 0$ is cross-entropy). It uses its own one-line formula, not your function, so it works
before you have written anything. Notice how flat the focal curves are on the right, where the
model is already right, and how close they stay to cross-entropy on the left, where it is wrong.
""")

PLOT_CODE = given("plot-code", r"""
try:
    import matplotlib.pyplot as plt
except ImportError:  # the plot is an illustration; nothing else depends on it
    plt = None
    print("matplotlib is not installed: skipping the plot")

if plt is not None:
    p_correct = torch.linspace(0.01, 0.99, 199, dtype=torch.float64)
    figure, axis = plt.subplots(figsize=(6.5, 4))
    for gamma in (0.0, 0.5, 1.0, 2.0, 5.0):
        curve = (1 - p_correct) ** gamma * -torch.log(p_correct)
        label = "cross-entropy (gamma = 0)" if gamma == 0 else f"focal, gamma = {gamma:g}"
        axis.plot(p_correct, curve, label=label, linewidth=2.5 if gamma in (0.0, 2.0) else 1.2)
    axis.axvline(0.95, color="grey", linestyle=":", linewidth=1)
    axis.axvline(0.10, color="grey", linestyle=":", linewidth=1)
    axis.text(0.95, 3.6, "easy \np_t = 0.95 ", fontsize=8, ha="right")
    axis.text(0.10, 3.6, " hard\n p_t = 0.1", fontsize=8)
    axis.set(xlabel="p_t (probability of the correct label)", ylabel="loss of one pixel", ylim=(0, 4.5),
             title="Focal loss mutes the pixels the model already gets right")
    axis.legend(loc="center right")
    plt.show()
""")

MCQ_FOCAL_FORMULA = mcq(
    "mcq-focal-formula", "mcq_focal_formula",
    "Which computation is SAM's focal loss for one mask (ignoring alpha)?",
    ["The cross-entropy of each pixel, averaged over the mask; the focal factor is only needed for "
     "object detection.",
     "The cross-entropy of each pixel times $p_t^{\\gamma}$, averaged over the mask.",
     "The cross-entropy averaged over the mask first, then multiplied once by "
     "$(1 - e^{-\\text{mean CE}})^{\\gamma}$.",
     "The cross-entropy of each pixel times $(1 - p_t)^{\\gamma}$ of that same pixel, then averaged "
     "over the mask."])

MCQ_FOCAL_ALPHA = mcq(
    "mcq-focal-alpha", "mcq_focal_alpha",
    "With `alpha=0.25`, which weights do a foreground pixel ($t = 1$) and a background pixel "
    "($t = 0$) receive?",
    ["Foreground 0.25, background 0.75.",
     "Foreground 0.75, background 0.25.",
     "Background 0.25, foreground 1.0: alpha only down-weights the abundant class.",
     "None: alpha replaces the $(1 - p_t)^{\\gamma}$ factor, so the loss is alpha times cross-entropy."])

# ====================================================================== 3. dice loss

DICE_TEXT = teach("dice-text", r"""
## 3. Dice loss: is the overall shape right?

Focal loss judges pixels one at a time and then averages. It never asks how the predicted mask as a
whole compares with the true one. **Dice** does: it measures the overlap of the two masks relative
to their sizes,

$$\text{Dice} = \frac{2\,|P \cap G|}{|P| + |G|},$$

1 for a perfect match, 0 for no overlap. To train with it, replace the hard mask $P$ by the
probabilities $p = \sigma(\text{logits})$ (so that it has a gradient) and add a smoothing term $s$
to the top and the bottom:

$$\mathcal{L}_\text{dice} = 1 - \frac{2\sum p\,t + s}{\sum p + \sum t + s}, \qquad s = 1.$$

The smoothing term is not decoration: when the object is absent and the model predicts nothing,
the plain ratio is $0/0$; with $s$ it is $s/s = 1$ and the loss is 0, as it should be for a perfect
prediction.

The lesson sums up the division of labour like this: focal says *"fix this pixel"*, dice says
*"the overall shape is wrong"*. SAM uses both (section 5).

**Your task.** Write `dice_loss(logits, targets, smooth=1.0)`: one value per mask, the sums taken
over H and W.
""")

DICE_STUB = stub("dice-stub", r'''
def dice_loss(logits, targets, smooth=1.0):
    """Soft dice loss per mask: logits, targets [..., H, W] -> [...].

    p = sigmoid(logits); 1 - (2*sum(p*t) + smooth) / (sum(p) + sum(t) + smooth), sums over H, W.
    """''')

DICE_TESTS = public_test("dice-tests", r"""
_empty = torch.zeros(2, 4, 4, dtype=torch.float64)
_both_empty = dice_loss(torch.full_like(_empty, -30.0), _empty)
assert _both_empty.shape == (2,), f"one value per mask: expected shape (2,), got {tuple(_both_empty.shape)}"
assert torch.allclose(_both_empty, torch.zeros(2, dtype=torch.float64), atol=1e-9), \
    f"two empty masks agree perfectly: expected 0, got {_both_empty.tolist()} (did you add smooth to both sides?)"
_half = torch.zeros(1, 2, 2, dtype=torch.float64)
_half[0, 0] = 1.0
# p = 0.5 everywhere: sum(p*t) = 1, sum(p) = 2, sum(t) = 2 -> 1 - (2 + 1) / (2 + 2 + 1) = 0.4
_uncertain = torch.zeros(1, 2, 2, dtype=torch.float64)
assert torch.allclose(dice_loss(_uncertain, _half), torch.tensor([0.4], dtype=torch.float64)), \
    "on a 2x2 mask with p = 0.5 everywhere and two foreground pixels, dice loss is 1 - 3/5 = 0.4"
assert dice_loss(torch.zeros(2, 3, 4, 5), torch.ones(2, 3, 4, 5)).shape == (2, 3), "sum over the last two dimensions only"
assert dice_loss(torch.zeros(3, 3, dtype=torch.float32), torch.ones(3, 3)).dtype == torch.float32, "keep the input dtype"
print("dice_loss: public tests passed")
""")

MISSED_TEXT = teach("missed-text", r"""
### An object that the model misses entirely

Take a 64 x 64 image with a small 4 x 4 object in the middle, and a model that predicts background
everywhere with a moderate logit of -3 (p ≈ 0.047). It has missed the object completely. The cell
below scores this prediction with both losses.
""")

MISSED_CODE = given("missed-code", r"""
missed_target = torch.zeros(64, 64, dtype=torch.float64)
missed_target[30:34, 30:34] = 1.0                       # a 4 x 4 object: 16 of 4,096 pixels
missed_logits = torch.full((64, 64), -3.0, dtype=torch.float64)
missed_focal = sigmoid_focal_loss(missed_logits, missed_target, None, 2.0)
missed_dice = dice_loss(missed_logits, missed_target)
print(f"focal loss: {missed_focal.item():.4f}")
print(f"dice loss:  {missed_dice.item():.4f}   (the worst possible value is 1)")
""")

MISSED_CHECKS_TEXT = teach("missed-checks-text", r"""
**Checks.** Assign the focal loss (`alpha=None`, `gamma=2`) and the dice loss of the missed-object
example as floats, then say which of the two losses reports that the prediction is close to as bad
as it can be: `"focal"` or `"dice"`.

Think about why. Focal loss is a mean over 4,096 pixels of which 4,080 are correct; the 16 missed
pixels are hard and keep most of their loss, but the average dilutes them. Dice compares the whole
predicted mask with the whole object, whatever its size.
""")

CHECK_FOCAL_MISSED = answer("check-focal-missed-object", "check_focal_missed_object", "a float: the focal loss of the missed-object example")
CHECK_DICE_MISSED = answer("check-dice-missed-object", "check_dice_missed_object", "a float: the dice loss of the missed-object example")
CHECK_WHICH_LOSS = answer("check-loss-that-notices", "check_loss_that_notices_missed_object", '"focal" or "dice" (a string)')

MCQ_DICE_SMOOTHING = mcq(
    "mcq-dice-smoothing", "mcq_dice_smoothing",
    "An image contains no object and the model predicts an empty mask. What does the smoothing term "
    "of the dice loss do here?",
    ["Nothing that matters: it is a small regulariser, and leaving it out changes the loss only "
     "negligibly.",
     "It turns the undefined 0/0 into s/s = 1, so the loss is 0 (the prediction is perfect) and the "
     "gradient stays finite.",
     "It makes the empty prediction cost 1, because an empty mask should never be rewarded.",
     "It matters only for the gradient; the loss value is the same with or without it."])

# ====================================================================== 4. mask IoU

IOU_TEXT = teach("iou-text", r"""
## 4. The IoU a mask actually reaches

Each of SAM's three masks comes with a score, the output of the **IoU head**: a guess of the
Intersection over Union between that mask and the object the user meant. At inference, with no
ground truth around, these scores are how SAM ranks its three answers. In training, the head learns
them by regression against the IoU the mask really reaches, and "really" means the mask a user
would get: the logits thresholded at 0.

$$\text{IoU} = \frac{|P \cap G|}{\max(|P \cup G|,\ 1)}, \qquad P = \{\text{logits} > 0\}.$$

The `max(·, 1)` makes two empty masks give 0 instead of 0/0. This count of pixels has no useful
gradient, and that is fine: it is a target, not something to train through.

**Your task.** Write `mask_iou(logits, targets)`: binarise with `logits > 0`, count, divide, one
value per mask, in the dtype of the logits.
""")

IOU_STUB = stub("iou-stub", r'''
def mask_iou(logits, targets):
    """IoU of the binarised prediction (logits > 0) with the target: [..., H, W] -> [...].

    |P and G| / max(|P or G|, 1); two empty masks give 0. Output dtype = logits dtype.
    """''')

IOU_TESTS = public_test("iou-tests", r"""
_logits = torch.tensor([[[2.0, 2.0, -1.0], [0.0, -3.0, -1.0]]], dtype=torch.float64)   # [1, 2, 3]
_target = torch.tensor([[[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]], dtype=torch.float64)
# predicted {(0,0), (0,1)} (a logit of exactly 0 is background), true {(0,0), (1,0)}: 1 / 3
_iou = mask_iou(_logits, _target)
assert _iou.shape == (1,), f"one value per mask: expected shape (1,), got {tuple(_iou.shape)}"
assert torch.allclose(_iou, torch.tensor([1 / 3], dtype=torch.float64)), f"expected IoU 1/3, got {_iou.tolist()}"
_none = mask_iou(torch.full((2, 3, 3), -1.0), torch.zeros(2, 3, 3))
assert torch.equal(_none, torch.zeros(2)), f"two empty masks give 0, got {_none.tolist()}"
assert torch.equal(mask_iou(torch.ones(3, 3), torch.ones(3, 3)), torch.tensor(1.0)), "a perfect mask has IoU 1"
_batch = torch.randn(2, 3, 4, 4, dtype=torch.float64)
assert mask_iou(_batch, torch.ones_like(_batch)).dtype == torch.float64, "keep the dtype of the logits"
print("mask_iou: public tests passed")
""")

# ====================================================================== 5. the minimum over hypotheses

MULTI_TEXT = teach("multi-text", r"""
## 5. Three hypotheses, one label: the minimum

Now put the pieces together for a batch of clicks. For each example $b$ and hypothesis $k$, SAM
scores the mask with both losses,

$$\text{combined}_{b,k} = 20 \cdot \text{focal}_{b,k} + 1 \cdot \text{dice}_{b,k}.$$

Why 20 to 1? One way to see it: the focal loss is an average over every pixel of the mask, most
of them easy and nearly free, so its values tend to be small next to dice, which lives between 0
and 1 for any mask. The weight of 20 keeps the pixel-level signal audible next to the shape-level
one.

**Only the best hypothesis is trained.** For the shirt-button click labelled "shirt", the loss is
the combined loss of whichever hypothesis came closest to the shirt:

$$\mathcal{L}_b = \min_k\, \text{combined}_{b,k}.$$

Why not the mean over the three? Picture many training clicks on shirt buttons. Sometimes the
annotator drew the button, sometimes the shirt, sometimes the person. With the mean, every
hypothesis is pushed towards every label, so all three solve the *same* problem and end up as the
same blurred compromise: the three outputs become copies and the ambiguity cannot be expressed.
With the minimum, a hypothesis is corrected only when it was the closest, so one of them drifts
towards buttons, another towards shirts, another towards people. They specialise.

**The IoU head** is trained in the same step, but only for the chosen hypothesis: its predicted IoU
is regressed (squared error) onto the IoU that the chosen mask actually reaches. That IoU is a
*target*: computed from the binarised mask and detached, so no gradient flows from the IoU loss
into the masks.

Putting it together, with `best[b]` the index of the lowest combined loss:

$$\mathcal{L} = \frac{1}{B}\sum_b \Big(\text{combined}_{b,\,\text{best}_b} + w_\text{iou}\,\big(\text{iou\_pred}_{b,\,\text{best}_b} - \text{IoU}(\text{mask}_{b,\,\text{best}_b}, \text{gt}_b)\big)^2\Big).$$

**Your task.** Write `multimask_loss(mask_logits, iou_pred, gt, focal_weight=20.0, dice_weight=1.0,
iou_weight=1.0, alpha=0.25, gamma=2.0)` returning `(loss, best)`: `loss` a 0-d tensor, `best` a
LongTensor `[B]`. Use your three functions (pass `alpha` and `gamma` on to the focal loss; the dice
loss keeps its default `smooth`). Ties go to the lowest index, which is what `torch.argmin` does.
To pick one hypothesis per example without a loop, index with `mask_logits[torch.arange(B), best]`.
""")

MULTI_STUB = stub("multi-stub", r'''
def multimask_loss(mask_logits, iou_pred, gt, focal_weight=20.0, dice_weight=1.0, iou_weight=1.0,
                   alpha=0.25, gamma=2.0):
    """SAM's multi-mask loss. mask_logits [B, K, H, W], iou_pred [B, K], gt [B, H, W] -> (loss [], best [B]).

    combined[b, k] = focal_weight * focal + dice_weight * dice; best = argmin_k (lowest k on ties);
    loss = mean_b(combined[b, best] + iou_weight * (iou_pred[b, best] - mask_iou(best mask, gt).detach())**2)
    """''')

MULTI_TESTS = public_test("multi-tests", r"""
_gt = torch.zeros(2, 4, 4, dtype=torch.float64)
_gt[:, 1:3, 1:3] = 1.0
_good = 8.0 * (2 * _gt - 1)                                  # confidently right
_hypotheses = torch.stack([-_good, _good, 0.5 * _good], dim=1)  # [2, 3, 4, 4]: wrong, right, right but unsure
_iou_pred = torch.full((2, 3), 0.5, dtype=torch.float64)
_loss, _best = multimask_loss(_hypotheses, _iou_pred, _gt)
assert torch.is_tensor(_loss) and _loss.shape == (), "loss is a 0-d tensor"
assert _best.dtype == torch.int64 and _best.tolist() == [1, 1], \
    f"hypothesis 1 matches the ground truth: expected best [1, 1], got {_best.tolist()}"
_same = _hypotheses[:, 1:2].expand(2, 3, 4, 4).contiguous()
assert multimask_loss(_same, _iou_pred, _gt)[1].tolist() == [0, 0], "ties resolve to the lowest index"

_leaf = _hypotheses.clone().requires_grad_(True)
_iou_leaf = _iou_pred.clone().requires_grad_(True)
multimask_loss(_leaf, _iou_leaf, _gt)[0].backward()
assert _leaf.grad[:, [0, 2]].abs().max() == 0, "only the best hypothesis may receive gradient from the mask losses"
# IoU of the best mask is 1: d/dpred of (pred - 1)^2 averaged over B = 2 is (0.5 - 1)
assert torch.allclose(_iou_leaf.grad, torch.tensor([[0.0, -0.5, 0.0], [0.0, -0.5, 0.0]], dtype=torch.float64)), \
    f"only iou_pred[b, best] is trained, towards the real IoU: got gradient {_iou_leaf.grad.tolist()}"
print("multimask_loss: public tests passed")
""")

DEMO_TEXT = teach("demo-text", r"""
### Watch them specialise (or not)

The cell below trains three free mask hypotheses for one ambiguous click on a 16 x 16 image. Each
step draws 8 labels at random among three nested squares around the click: a small one (the
button), a medium one (the shirt) and a large one (the person). It trains once with your
`multimask_loss` (the minimum) and once with the mean of the same combined loss over the three
hypotheses, then prints the IoU of each hypothesis with each of the three squares.

With the minimum you should see each hypothesis match a different square (IoU 1.0 on a different
column). With the mean all three rows are the same: one compromise mask, three times. The cell
takes a second or two.
""")

DEMO_CODE = given("demo-code", r"""
def nested_squares(size=16):
    rows = torch.arange(size).view(-1, 1)
    cols = torch.arange(size).view(1, -1)
    centre = size // 2
    def square(half):
        return (((rows - centre).abs() <= half) & ((cols - centre).abs() <= half)).float()
    return torch.stack([square(1), square(4), square(7)])   # button, shirt, person: [3, 16, 16]


def train_hypotheses(use_minimum, steps=80, seed=0):
    generator = torch.Generator().manual_seed(seed)
    levels = nested_squares()
    hypotheses = (0.1 * torch.randn(1, 3, 16, 16, generator=generator)).requires_grad_(True)
    scores = torch.zeros(1, 3, requires_grad=True)
    optimizer = torch.optim.Adam([hypotheses, scores], lr=0.25)
    for _ in range(steps):
        labels = levels[torch.randint(0, 3, (8,), generator=generator)]     # 8 clicks, 8 annotators
        batch = hypotheses.expand(8, -1, -1, -1)
        if use_minimum:
            loss, _ = multimask_loss(batch, scores.expand(8, -1), labels)
        else:
            per_label = labels[:, None].expand_as(batch)
            loss = (20 * sigmoid_focal_loss(batch, per_label) + dice_loss(batch, per_label)).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return torch.stack([mask_iou(hypotheses[0], level.expand(3, -1, -1)) for level in levels], dim=1)


for title, use_minimum in [("minimum over hypotheses", True), ("mean over hypotheses", False)]:
    table = train_hypotheses(use_minimum)
    print(f"{title}: IoU of each hypothesis with    button  shirt  person")
    for k, row in enumerate(table.tolist()):
        print(f"    hypothesis {k}                            " + "  ".join(f"{v:5.2f}" for v in row))
""")

MIN_CHECKS_TEXT = teach("min-checks-text", r"""
**Checks.**

1. One training example, three hypotheses, SAM's loss: how many of the three masks receive
   gradient from the mask losses (focal and dice)? Assign an int.
2. If the loss were the **mean** over the three hypotheses instead of the minimum, would the three
   masks tend to become the same mask? Assign `True` or `False`.
""")

CHECK_MASKS_WITH_GRADIENT = answer("check-masks-receiving-gradient", "check_masks_receiving_gradient", "an int: 0, 1, 2 or 3")
CHECK_MEAN_IDENTICAL = answer("check-mean-makes-masks-identical", "check_mean_makes_masks_identical", "True or False")

MCQ_MEAN_OVER_MASKS = mcq(
    "mcq-mean-over-masks", "mcq_mean_over_masks",
    "A teammate proposes to average the three mask losses instead of taking the minimum, \"so that "
    "every hypothesis learns from every example\". What happens?",
    ["Training improves: each hypothesis now gets three times as much signal.",
     "Nothing changes: the mean and the minimum send the same gradients to the masks.",
     "Every hypothesis is pulled towards whatever mask the label shows, so the three converge to "
     "the same compromise and SAM can no longer offer part, object and whole.",
     "The masks still specialise, because they start from different random initialisations."])

MCQ_CHOOSE_BEST = mcq(
    "mcq-choose-best", "mcq_choose_best",
    "During training, which hypothesis does the mask loss train for a given example?",
    ["The one with the highest predicted IoU, since that is the mask SAM would show the user.",
     "The one whose combined focal + dice loss against the ground truth is lowest.",
     "All three, each weighted by one third.",
     "The one the IoU head ranks first, because the ground truth is only used for the IoU head."])

MCQ_COMBINED_LOSS = mcq(
    "mcq-combined-loss", "mcq_combined_loss",
    "For one hypothesis the focal loss is 0.01 and the dice loss is 0.30. What is its combined loss "
    "with SAM's default weights?",
    ["20 × 0.01 + 1 × 0.30 = 0.50.",
     "1 × 0.01 + 20 × 0.30 = 6.01, since the shape-level dice term deserves the large weight.",
     "(20 × 0.01 + 1 × 0.30) / 3 ≈ 0.17, since the loss is shared by the three hypotheses.",
     "20 × (the plain cross-entropy of the mask) + 1 × 0.30; the focal factor is not used here."])

MCQ_IOU_TARGET = mcq(
    "mcq-iou-target", "mcq_iou_target",
    "What is the IoU head trained on?",
    ["The squared error between the chosen hypothesis's predicted IoU and the IoU of that mask, "
     "binarised at logit 0, with the ground truth; that IoU is a fixed target.",
     "The squared error against the IoU computed from the sigmoid probabilities, which is smooth "
     "and therefore a better target.",
     "The squared error against an IoU computed so that gradient also flows into the mask logits, "
     "letting the masks move towards their predicted scores.",
     "The squared errors of all three hypotheses, every step, since each score must be calibrated."])

SUMMARY = teach("summary", r"""
## Summary

- A click is ambiguous (button, shirt, person), so SAM predicts three masks and a score for each.
- Focal loss is cross-entropy times $(1 - p_t)^\gamma$ per pixel: the lesson's easy pixel costs
  0.000128, its hard pixel 1.865, about 14,600 times more.
- Dice looks at the whole mask: it notices a missed small object that a pixel average barely sees.
- SAM combines them 20 : 1 and trains only the hypothesis with the lowest combined loss; the mean
  would turn the three hypotheses into copies.
- The IoU head regresses onto the real, binarised, detached IoU of the chosen mask.
""")


def build():
    cells = [
        INTRO, IMPORTS,
        AMBIGUITY, *MCQ_WHAT_SAM_IS_TRAINED_ON,
        FOCAL_TEXT, FOCAL_STUB, TRACE_TEXT, TRACE_CODE, FOCAL_TESTS,
        CHECK_RATIO_TEXT, CHECK_RATIO,
        PLOT_TEXT, PLOT_CODE,
        *MCQ_FOCAL_FORMULA, *MCQ_FOCAL_ALPHA,
        DICE_TEXT, DICE_STUB, DICE_TESTS,
        MISSED_TEXT, MISSED_CODE, MISSED_CHECKS_TEXT, CHECK_FOCAL_MISSED, CHECK_DICE_MISSED, CHECK_WHICH_LOSS,
        *MCQ_DICE_SMOOTHING,
        IOU_TEXT, IOU_STUB, IOU_TESTS,
        MULTI_TEXT, MULTI_STUB, MULTI_TESTS,
        DEMO_TEXT, DEMO_CODE,
        MIN_CHECKS_TEXT, CHECK_MASKS_WITH_GRADIENT, CHECK_MEAN_IDENTICAL,
        *MCQ_MEAN_OVER_MASKS, *MCQ_CHOOSE_BEST, *MCQ_COMBINED_LOSS, *MCQ_IOU_TARGET,
        SUMMARY,
    ]
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index:02d}-{cell.metadata['nbgrader']['grade_id']}"[:64]
    return notebook


if __name__ == "__main__":
    from autograder.nbgrader_source import write_notebooks

    # One cell list, two notebooks: the student's and nbgrader's source (solutions/*.source.ipynb).
    for written in write_notebooks(build(), OUTPUT, "mask_losses"):
        print(f"wrote {written}")
