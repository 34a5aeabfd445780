"""Hidden suite: the lesson's concepts as properties of the student's own functions.

- a SigLIP cell's loss does not move when unrelated pairs join the batch (true/false questions
  stand alone), while CLIP's row probabilities do (multiple choice gets more options);
- SigLIP's gradient for one pair ignores the other pairs, CLIP's does not (Check 1);
- relabelling the pairs only relabels the result;
- the negatives count: harder negatives raise the loss.
"""


import pytest
import torch

from autograder.testing import expect_close, expect_meta
from autograder.suites.siglip import support as S


EXTRA_PAIRS = 12


def _own_similarity_moves(submission, small_args, big_args, rows, cols):
    """Whether the student's own similarity_matrix changes block [rows, cols] between two batches.

    A similarity that normalises over the batch couples the pairs before any loss does; the
    similarity tests diagnose that, so the loss properties then blame the similarity, not the loss.
    """
    try:
        small = submission.call("similarity_matrix", *small_args)
        big = submission.call("similarity_matrix", *big_args)
        return not torch.allclose(small[rows, cols].double(), big[rows, cols].double(), rtol=1e-7, atol=1e-9)
    except Exception:  # not defined, raising or malformed: the similarity tests report it
        return False


SIMILARITY_COUPLED = ("your similarity_matrix itself changes for these pairs when other pairs change (it should "
                      "normalise each embedding on its own, over dim=-1); fix it first, the similarity_matrix tests "
                      "say more")


def _clip_row_probability(reference, image_emb, text_emb, t_prime, row, col):
    """CLIP's softmax probability that image `row` matches text `col` (the reference's numbers)."""
    logits = torch.exp(t_prime) * reference.similarity_matrix(image_emb, text_emb)
    return float(torch.softmax(logits[row], dim=0)[col])


@pytest.mark.grade(target="siglip_pair_losses", kind="property")
def test_property_pair_losses_ignore_added_pairs(submission, reference, stored, rng, flag):
    image_emb, text_emb, t_prime, bias = S.case_args(stored, "lesson", "siglip_pair_losses")
    big_image, big_text = S.cases.appended_pairs(image_emb, text_emb, rng, EXTRA_PAIRS)
    small = submission.call("siglip_pair_losses", image_emb, text_emb, t_prime, bias)
    big = submission.call("siglip_pair_losses", big_image, big_text, t_prime, bias)
    expect_meta(small, shape=[4, 4], what="siglip_pair_losses on the lesson's 4 pairs")
    expect_meta(big, shape=[4 + EXTRA_PAIRS] * 2, what=f"siglip_pair_losses after {EXTRA_PAIRS} pairs joined")
    if torch.allclose(big[:4, :4].double(), small.double(), rtol=1e-7, atol=1e-9):
        return
    if _own_similarity_moves(submission, (image_emb, text_emb), (big_image, big_text), slice(0, 4), slice(0, 4)):
        raise AssertionError(f"siglip_pair_losses: the lesson's 4x4 block changed when {EXTRA_PAIRS} unrelated pairs "
                             f"were appended, expected it unchanged; {SIMILARITY_COUPLED}.")
    clip_before = _clip_row_probability(reference, image_emb, text_emb, t_prime, 0, 1)
    clip_after = _clip_row_probability(reference, big_image, big_text, t_prime, 0, 1)
    moved = f"cell (0, 1) went from {float(small[0, 1]):.6g} to {float(big[0, 1]):.6g}"
    flag("siglip.batch-dependency-is-data",
         f"your SigLIP pair losses for the lesson's 4 pairs changed when {EXTRA_PAIRS} unrelated pairs joined: {moved}")
    raise AssertionError(
        f"siglip_pair_losses: the lesson's 4x4 block changed when {EXTRA_PAIRS} unrelated pairs were appended "
        f"({moved}); expected it unchanged: a SigLIP cell is a true/false question about one image and one text, "
        "whatever else is in the batch. Moving with the batch is CLIP's behaviour: at the same scale its softmax "
        f"probability for cell (0, 1) goes from {clip_before:.3g} to {clip_after:.3g} because the row's "
        f"denominator gains {EXTRA_PAIRS} terms.")


def _text_grad_row(submission, target, args, row):
    outputs, grads = submission.call_with_grad(target, args, wrt=(1,))
    grad = grads[0]
    if grad is None:
        raise AssertionError(f"{target}: no gradient reached text_emb; see the gradient tests")
    expect_meta(grad, shape=list(args[1].shape), what=f"the gradient of {target} with respect to text_emb")
    return grad[row].double()


def _with_text3_like_image0(image_emb, text_emb):
    """The same batch with text 3 turned towards image 0: cell (0, 3) becomes a hard negative."""
    moved = text_emb.clone()
    moved[3] = image_emb[0] * 2.0
    return moved


@pytest.mark.grade(target="siglip_loss", kind="property")
def test_property_siglip_gradient_ignores_other_pairs(submission, stored, flag):
    image_emb, text_emb, t_prime, bias = S.case_args(stored, "lesson", "siglip_loss")
    moved_text = _with_text3_like_image0(image_emb, text_emb)
    before = _text_grad_row(submission, "siglip_loss", (image_emb, text_emb, t_prime, bias), 1)
    after = _text_grad_row(submission, "siglip_loss", (image_emb, moved_text, t_prime, bias), 1)
    if torch.allclose(after, before, rtol=1e-7, atol=1e-10):
        return
    if _own_similarity_moves(submission, (image_emb, text_emb), (image_emb, moved_text), slice(None), 1):
        raise AssertionError("siglip_loss: moving text 3 changed the gradient reaching text 1, expected no change; "
                             f"{SIMILARITY_COUPLED}.")
    change = float((after - before).abs().max())
    flag("siglip.batch-dependency-is-data",
         f"the gradient of your siglip_loss for text 1 changed by {change:.3g} when only text 3 changed")
    raise AssertionError(
        "siglip_loss: moving text 3 (and nothing else) changed the gradient reaching text 1 by up to "
        f"{change:.3g}; expected no change. Each SigLIP cell depends only on its own similarity, so cells (0, 1) and "
        "(0, 3) do not talk to each other; a shared softmax denominator is what couples them in CLIP.")


@pytest.mark.grade(target="clip_loss", kind="property")
def test_property_clip_gradient_couples_pairs(submission, stored):
    image_emb, text_emb, clip_t_prime = S.case_args(stored, "lesson", "clip_loss")
    before = _text_grad_row(submission, "clip_loss", (image_emb, text_emb, clip_t_prime), 1)
    after = _text_grad_row(submission, "clip_loss",
                           (image_emb, _with_text3_like_image0(image_emb, text_emb), clip_t_prime), 1)
    change = float((after - before).abs().max())
    scale = float(before.abs().max()) + 1e-12
    assert change > 1e-3 * scale, (
        "clip_loss: moving text 3 left the gradient reaching text 1 unchanged (max change "
        f"{change:.3g}); expected it to change. In CLIP, text 1 and text 3 share image 0's softmax row, so a "
        "harder competitor in that row changes what every other entry of the row receives. Use cross-entropy "
        "over each row and each column of the scaled similarity matrix.")


@pytest.mark.grade(target="siglip_pair_losses", kind="property")
def test_property_pair_losses_permutation_equivariant(submission, rng):
    args = S.random_loss_inputs(rng, torch.float64, n=7, d=6)
    order = torch.randperm(7, generator=rng)
    base = submission.call("siglip_pair_losses", *args)
    expect_meta(base, shape=[7, 7], what="siglip_pair_losses on a batch of 7")
    shuffled = submission.call("siglip_pair_losses", args[0][order], args[1][order], args[2], args[3])
    expect_close(shuffled, base[order][:, order],
                 what="siglip_pair_losses after shuffling the pairs (images and texts in the same order)",
                 hint="shuffling the pairs must shuffle the rows and columns of the result the same way; the "
                      "positive label follows the pair, wherever it sits in the batch")


@pytest.mark.grade(target="siglip_loss", kind="property")
def test_property_siglip_loss_permutation_invariant(submission, rng):
    args = S.random_loss_inputs(rng, torch.float64, n=9, d=5)
    order = torch.randperm(9, generator=rng)
    base = submission.call("siglip_loss", *args)
    shuffled = submission.call("siglip_loss", args[0][order], args[1][order], args[2], args[3])
    expect_close(shuffled, base, what="siglip_loss after shuffling the order of the pairs",
                 hint="the loss of a batch cannot depend on the order its pairs arrive in")


@pytest.mark.grade(target="clip_loss", kind="property")
def test_property_clip_loss_permutation_invariant(submission, rng):
    image_emb, text_emb, _, _ = S.random_loss_inputs(rng, torch.float64, n=9, d=5)
    t_prime = S.random_clip_t_prime(rng, torch.float64)
    order = torch.randperm(9, generator=rng)
    base = submission.call("clip_loss", image_emb, text_emb, t_prime)
    shuffled = submission.call("clip_loss", image_emb[order], text_emb[order], t_prime)
    expect_close(shuffled, base, what="clip_loss after shuffling the order of the pairs",
                 hint="the loss of a batch cannot depend on the order its pairs arrive in")


@pytest.mark.grade(target="siglip_loss", kind="property")
def test_property_siglip_loss_counts_negatives(submission, flag):
    """Same matching pairs, harder negatives: a loss that scores the negatives must go up."""
    (easy_image, easy_text), (hard_image, hard_text) = S.cases.hard_negative_batches(4, 6, 0.6, torch.float64)
    t_prime, bias = S.cases.scalar(S.cases.LESSON_T_PRIME, torch.float64), S.cases.scalar(-5.0, torch.float64)
    easy = submission.call("siglip_loss", easy_image, easy_text, t_prime, bias)
    hard = submission.call("siglip_loss", hard_image, hard_text, t_prime, bias)
    expect_meta(easy, shape=[], what="siglip_loss")
    rise = float(hard) - float(easy)
    if rise > 1e-3:
        return
    what = "siglip_loss on a batch of hard negatives"
    diagnosis = S.diagnose("siglip_loss", hard, (hard_image, hard_text, t_prime, bias), flag=flag, what=what)
    if not diagnosis:  # no more specific mistake explains the flat loss
        flag("siglip.wastes-negatives",
             f"your siglip_loss did not rise ({float(easy):.4g} -> {float(hard):.4g}) when every negative pair went "
             "from cosine 0 to cosine 0.6 with the matching pairs unchanged")
    raise AssertionError(
        f"siglip_loss: two batches with identical matching pairs, the second with much more similar negatives "
        f"(cosine 0.6 instead of 0), gave {float(easy):.4g} and {float(hard):.4g}; expected the second to be clearly "
        "larger. The sigmoid loss scores all N*N - N non-matching cells as 'no' questions, so harder negatives "
        f"must cost more.{diagnosis}")
