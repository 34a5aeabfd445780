"""Hidden suite: `zero_shot_classify` with prompt ensembles: stored and fresh cases, ties,
dtype/device, and the invariances a correct ensemble has."""


import pytest
import torch

from autograder.testing import expect_close, expect_meta
from autograder.suites.siglip import support as S


DTYPES = (torch.float32, torch.float64)
FRESH_SIZE = dict(n=128, k=6, p=6, d=8)  # large enough that every known mistake changes some prediction

ZERO_SHOT_HINT = ("normalise each of the P prompt embeddings of a class, average them, normalise the average, "
                  "then predict the class with the highest cosine similarity to the image (argmax over classes)")


def _expect_predictions(submission, args, expected, *, flag, what):
    out = submission.call("zero_shot_classify", *args)
    expect_meta(out, shape=list(expected.shape), dtype=torch.int64, what=what)
    wrong = int((out != expected).sum()) if isinstance(out, torch.Tensor) else -1
    S.expect_matches(out, expected, target="zero_shot_classify", args=args, flag=flag,
                     what=f"{what}: {wrong} of {expected.shape[0]} predictions differ", hint=ZERO_SHOT_HINT)


@pytest.mark.grade(target="zero_shot_classify", kind="correctness")
def test_zero_shot_stored(submission, stored, flag):
    for case in S.ZERO_SHOT_CASES:
        args = S.case_args(stored, case, "zero_shot_classify")
        k, p = args[1].shape[:2]
        _expect_predictions(submission, args, S.field(stored, case, "predictions"), flag=flag,
                            what=f"zero_shot_classify on stored case {case} ({k} classes x {p} prompts)")


@pytest.mark.grade(target="zero_shot_classify", kind="correctness")
def test_zero_shot_random(submission, reference, rng, flag):
    for dtype in DTYPES:
        args = S.cases.prompt_ensemble(rng, dtype=dtype, **FRESH_SIZE)
        _expect_predictions(submission, args, reference.zero_shot_classify(*args), flag=flag,
                            what=f"zero_shot_classify on fresh random {S.dtype_name(dtype)} prompts")


@pytest.mark.grade(target="zero_shot_classify", kind="correctness")
def test_zero_shot_ties_lowest_index(submission, stored, reference, rng, flag):
    fresh = S.cases.tied_classes(rng, 24, torch.float32)
    for args, label in ((S.case_args(stored, "zs_ties_f64", "zero_shot_classify"), "stored, float64"),
                        (fresh, "fresh, float32")):
        _expect_predictions(submission, args, reference.zero_shot_classify(*args), flag=flag,
                            what=f"zero_shot_classify where classes 1 and 3 are identical ({label}); "
                                 "a tie must go to the lowest class index, 1")


@pytest.mark.grade(target="zero_shot_classify", kind="correctness")
def test_zero_shot_dtype_device(submission, reference, rng, devices):
    for device in devices:
        for dtype in DTYPES:
            image_emb, prompts = S.cases.prompt_ensemble(rng, 6, 3, 2, 5, dtype)
            out = submission.call("zero_shot_classify", image_emb.to(device), prompts.to(device))
            what = f"zero_shot_classify on {device} {S.dtype_name(dtype)} inputs"
            expect_meta(out, shape=[6], dtype=torch.int64, device=device, what=what + " (a LongTensor of class indices)")
            expect_close(out.cpu(), reference.zero_shot_classify(image_emb, prompts), what=what)


@pytest.mark.grade(target="zero_shot_classify", kind="property")
def test_property_zero_shot_prompt_length_invariant(submission, rng, flag):
    """Stretching any prompt embedding (a positive factor) must not change any prediction."""
    image_emb, prompts = S.cases.prompt_ensemble(rng, dtype=torch.float64, **FRESH_SIZE)
    factors = torch.exp(6 * torch.rand(*prompts.shape[:2], 1, generator=rng, dtype=torch.float64) - 3)
    before = submission.call("zero_shot_classify", image_emb, prompts)
    after = submission.call("zero_shot_classify", image_emb, prompts * factors)
    expect_meta(before, shape=[image_emb.shape[0]], what="zero_shot_classify")
    changed = int((before != after).sum())
    if changed:
        flag("impl.siglip.prompt-ensemble-normalisation",
             f"rescaling prompt embeddings by positive factors changed {changed} of {before.shape[0]} predictions")
        raise AssertionError(
            f"zero_shot_classify: multiplying prompt embeddings by positive factors (0.05x to 20x) changed {changed} "
            f"of {before.shape[0]} predictions, expected none. A prompt's length carries no meaning; normalise each "
            "prompt before averaging, and the average before comparing.")


@pytest.mark.grade(target="zero_shot_classify", kind="property")
def test_property_zero_shot_permutation_equivariant(submission, rng):
    image_emb, prompts = S.cases.prompt_ensemble(rng, 40, 5, 3, 8, torch.float64)
    image_order = torch.randperm(image_emb.shape[0], generator=rng)
    class_order = torch.randperm(prompts.shape[0], generator=rng)
    base = submission.call("zero_shot_classify", image_emb, prompts)
    expect_meta(base, shape=[40], what="zero_shot_classify")
    by_images = submission.call("zero_shot_classify", image_emb[image_order], prompts)
    expect_close(by_images, base[image_order], what="zero_shot_classify after shuffling the images",
                 hint="each image's prediction depends only on that image and the classes")
    by_classes = submission.call("zero_shot_classify", image_emb, prompts[class_order])
    expect_meta(by_classes, shape=[40], dtype=torch.int64, what="zero_shot_classify after shuffling the classes")
    expect_close(class_order[by_classes], base, what="zero_shot_classify after shuffling the classes "
                                                     "(predictions mapped back to the original class order)",
                 hint="a class's score depends only on its own prompts, not on its position")
