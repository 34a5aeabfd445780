"""Hidden suite: `similarity_matrix` and `clip_loss` against stored and fresh references."""


import pytest
import torch

from autograder.testing import expect_close
from autograder.suites.siglip import support as S


DTYPES = (torch.float32, torch.float64)

SIMILARITY_HINT = ("similarity_matrix L2-normalises every row of both inputs (dim=-1, eps=1e-12 on the norm) "
                   "and returns image_unit @ text_unit.T, images as rows and texts as columns")
CLIP_HINT = ("clip_loss scales the cosine similarities by exp(t_prime), then averages two mean cross-entropies "
             "with the diagonal as the answer: rows (image -> text) and columns (text -> image)")


# ---- similarity_matrix ---------------------------------------------------------------------

@pytest.mark.grade(target="similarity_matrix", kind="correctness")
def test_similarity_matrix_lesson(submission, stored, flag):
    for case in ("lesson", "lesson_scaled"):
        args = S.case_args(stored, case, "similarity_matrix")
        out = submission.call("similarity_matrix", *args)
        S.expect_matches(out, S.field(stored, case, "similarity"), target="similarity_matrix", args=args, flag=flag,
                         what=f"similarity_matrix on the lesson's 4x4 batch ({case}: rows of "
                              f"{'unit' if case == 'lesson' else 'very different'} length)",
                         hint=SIMILARITY_HINT + "; the result should be the lesson's matrix whatever the row lengths")


@pytest.mark.grade(target="similarity_matrix", kind="correctness")
def test_similarity_matrix_rectangular(submission, reference, stored, rng, flag):
    inputs = [S.case_args(stored, case, "similarity_matrix") for case in S.RECTANGULAR_CASES]
    image_emb, _ = S.cases.paired_batch(rng, S.random_size(rng, 2, 6), 5, torch.float64)
    text_emb, _ = S.cases.paired_batch(rng, S.random_size(rng, 7, 11), 5, torch.float64)
    inputs.append((image_emb, text_emb))
    for args in inputs:
        out = submission.call("similarity_matrix", *args)
        n, m = args[0].shape[0], args[1].shape[0]
        S.expect_matches(out, reference.similarity_matrix(*args), target="similarity_matrix", args=args, flag=flag,
                         what=f"similarity_matrix of {n} images and {m} texts (expected shape [{n}, {m}])",
                         hint=SIMILARITY_HINT + "; N and M differ here, so the shape tells rows from columns")


@pytest.mark.grade(target="similarity_matrix", kind="correctness")
def test_similarity_matrix_random(submission, reference, rng, flag):
    for dtype in DTYPES:
        image_emb, text_emb, _, _ = S.random_loss_inputs(rng, dtype)
        out = submission.call("similarity_matrix", image_emb, text_emb)
        S.expect_matches(out, reference.similarity_matrix(image_emb, text_emb), target="similarity_matrix",
                         args=(image_emb, text_emb), flag=flag,
                         what=f"similarity_matrix on fresh random {S.dtype_name(dtype)} embeddings "
                              f"{list(image_emb.shape)}", hint=SIMILARITY_HINT)


@pytest.mark.grade(target="similarity_matrix", kind="correctness")
def test_similarity_matrix_zero_rows(submission, stored, flag):
    args = S.case_args(stored, "zero_rows_f64", "similarity_matrix")
    out = submission.call("similarity_matrix", *args)
    S.expect_matches(out, S.field(stored, "zero_rows_f64", "similarity"), target="similarity_matrix", args=args,
                     flag=flag, what="similarity_matrix with an all-zero image row and an all-zero text row",
                     hint="a zero row must give similarity 0, not NaN: divide by the norm clamped to at least "
                          "1e-12 (F.normalize(x, dim=-1, eps=1e-12) does this)")


@pytest.mark.grade(target="similarity_matrix", kind="gradient")
def test_similarity_matrix_gradient(submission, reference, rng, flag):
    image_emb, _ = S.cases.paired_batch(rng, 5, 6, torch.float64)
    text_emb, _ = S.cases.paired_batch(rng, 3, 6, torch.float64)
    cotangent = torch.randn(5, 3, generator=rng, dtype=torch.float64)
    S.expect_grads_match(submission, reference, "similarity_matrix", (image_emb, text_emb), flag=flag,
                         what="similarity_matrix [5 x 3] (float64)", cotangent=cotangent)


@pytest.mark.grade(target="similarity_matrix", kind="correctness")
def test_similarity_matrix_dtype_device(submission, reference, rng, devices):
    for device in devices:
        for dtype in DTYPES:
            image_emb, text_emb, _, _ = S.random_loss_inputs(rng, dtype, n=4, d=6)
            image_emb, text_emb = image_emb.to(device), text_emb[:3].to(device)
            out = submission.call("similarity_matrix", image_emb, text_emb)
            what = f"similarity_matrix on {device} {S.dtype_name(dtype)} inputs"
            S.expect_same_meta(out, image_emb, shape=[4, 3], what=what)
            expect_close(out.cpu(), reference.similarity_matrix(image_emb.cpu(), text_emb.cpu()), what=what)


# ---- clip_loss -------------------------------------------------------------------------------

@pytest.mark.grade(target="clip_loss", kind="correctness")
def test_clip_loss_lesson(submission, stored, flag):
    for case in ("lesson", "lesson_scaled"):
        args = S.case_args(stored, case, "clip_loss")
        out = submission.call("clip_loss", *args)
        S.expect_matches(out, S.field(stored, case, "clip_loss"), target="clip_loss", args=args, flag=flag,
                         what=f"clip_loss on the lesson's 4x4 batch with t_prime = log(1/0.07) ({case})",
                         hint=CLIP_HINT)


@pytest.mark.grade(target="clip_loss", kind="correctness")
def test_clip_loss_stored(submission, stored, flag):
    for case in S.CLIP_CASES:
        args = S.case_args(stored, case, "clip_loss")
        out = submission.call("clip_loss", *args)
        S.expect_matches(out, S.field(stored, case, "clip_loss"), target="clip_loss", args=args, flag=flag,
                         what=f"clip_loss on stored case {case} (N = {args[0].shape[0]})", hint=CLIP_HINT)


@pytest.mark.grade(target="clip_loss", kind="correctness")
def test_clip_loss_random(submission, reference, rng, flag):
    for dtype in DTYPES:
        image_emb, text_emb, _, _ = S.random_loss_inputs(rng, dtype)
        t_prime = S.random_clip_t_prime(rng, dtype)
        args = (image_emb, text_emb, t_prime)
        out = submission.call("clip_loss", *args)
        S.expect_matches(out, reference.clip_loss(*args), target="clip_loss", args=args, flag=flag,
                         what=f"clip_loss on a fresh random {S.dtype_name(dtype)} batch of {image_emb.shape[0]}",
                         hint=CLIP_HINT)


@pytest.mark.grade(target="clip_loss", kind="gradient")
def test_clip_loss_gradient(submission, reference, rng, flag):
    image_emb, text_emb, _, _ = S.random_loss_inputs(rng, torch.float64, n=6, d=8)
    args = (image_emb, text_emb, S.random_clip_t_prime(rng, torch.float64))
    S.expect_grads_match(submission, reference, "clip_loss", args, flag=flag, what="clip_loss (N = 6, float64)")


@pytest.mark.grade(target="clip_loss", kind="correctness")
def test_clip_loss_dtype_device(submission, reference, rng, devices):
    for device in devices:
        for dtype in DTYPES:
            image_emb, text_emb, _, _ = S.random_loss_inputs(rng, dtype, n=5, d=6)
            args = tuple(a.to(device) for a in (image_emb, text_emb, S.random_clip_t_prime(rng, dtype)))
            out = submission.call("clip_loss", *args)
            what = f"clip_loss on {device} {S.dtype_name(dtype)} inputs"
            S.expect_same_meta(out, image_emb.to(device), shape=[], what=what + " (a 0-d tensor)")
            expect_close(out.cpu(), reference.clip_loss(*(a.cpu() for a in args)), what=what)
