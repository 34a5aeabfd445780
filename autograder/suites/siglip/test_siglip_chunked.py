"""Hidden suite: `siglip_loss_chunked` equals the full loss, in value and gradients, for chunk
sizes that divide N and sizes that do not (and sizes of 1 and larger than N)."""


import pytest
import torch

from autograder.testing import expect_close
from autograder.suites.siglip import support as S


DTYPES = (torch.float32, torch.float64)

CHUNK_HINT = ("loop over blocks of chunk_size texts: block b covers columns start .. start + chunk_size - 1 "
              "(the last block may be shorter), its positives sit where row i == start + j, and the block "
              "totals are summed and divided by N once; the result must equal siglip_loss")


def _expect_chunked(submission, args, chunk_sizes, expected, *, flag, what):
    """Check every chunk size; diagnose only the first failure (the most informative size comes first)."""
    for chunk_size in chunk_sizes:
        full_args = tuple(args) + (chunk_size,)
        out = submission.call("siglip_loss_chunked", *full_args)
        divides = "divides" if args[0].shape[0] % chunk_size == 0 else "does not divide"
        S.expect_matches(out, expected, target="siglip_loss_chunked", args=full_args, flag=flag,
                         what=f"{what}, chunk_size {chunk_size} (which {divides} N = {args[0].shape[0]})",
                         hint=CHUNK_HINT)


@pytest.mark.grade(target="siglip_loss_chunked", kind="correctness")
def test_chunked_lesson(submission, stored, flag):
    args = S.case_args(stored, "lesson_init", "siglip_loss")
    _expect_chunked(submission, args, (3, 2, 4, 1), S.field(stored, "lesson_init", "siglip_loss"), flag=flag,
                    what="siglip_loss_chunked on the lesson's 4x4 batch")


@pytest.mark.grade(target="siglip_loss_chunked", kind="correctness")
def test_chunked_stored(submission, stored, flag):
    for case in S.LOSS_CASES:
        args = S.case_args(stored, case, "siglip_loss")
        sizes = [int(size) for size in S.field(stored, case, "chunk_sizes")]
        _expect_chunked(submission, args, sizes, S.field(stored, case, "siglip_loss"), flag=flag,
                        what=f"siglip_loss_chunked on stored case {case}")


@pytest.mark.grade(target="siglip_loss_chunked", kind="correctness")
def test_chunked_random(submission, reference, rng, flag):
    for dtype in DTYPES:
        args = S.random_loss_inputs(rng, dtype, n=S.random_size(rng, 9, 14))
        sizes = S.cases.chunk_sizes_for(args[0].shape[0])
        _expect_chunked(submission, args, sizes, reference.siglip_loss(*args), flag=flag,
                        what=f"siglip_loss_chunked on a fresh random {S.dtype_name(dtype)} batch")


@pytest.mark.grade(target="siglip_loss_chunked", kind="gradient")
def test_chunked_gradient_dividing_chunks(submission, reference, rng, flag):
    args = S.random_loss_inputs(rng, torch.float64, n=8, d=5)
    S.expect_grads_match(submission, reference, "siglip_loss_chunked", args, extra_args=(4,), flag=flag,
                         what="siglip_loss_chunked with N = 8, chunk_size 4 (float64)")


@pytest.mark.grade(target="siglip_loss_chunked", kind="gradient")
def test_chunked_gradient_ragged_chunks(submission, reference, rng, flag):
    args = S.random_loss_inputs(rng, torch.float64, n=7, d=5)
    S.expect_grads_match(submission, reference, "siglip_loss_chunked", args, extra_args=(3,), flag=flag,
                         what="siglip_loss_chunked with N = 7, chunk_size 3 (float64; the last chunk has 1 text)")


@pytest.mark.grade(target="siglip_loss_chunked", kind="correctness")
def test_chunked_dtype_device(submission, reference, rng, devices):
    for device in devices:
        for dtype in DTYPES:
            args = S.random_loss_inputs(rng, dtype, n=5, d=6)
            moved = tuple(a.to(device) for a in args)
            out = submission.call("siglip_loss_chunked", *moved, 2)
            what = f"siglip_loss_chunked on {device} {S.dtype_name(dtype)} inputs, chunk_size 2"
            S.expect_same_meta(out, moved[0], shape=[], what=what + " (a 0-d tensor)")
            expect_close(out.cpu(), reference.siglip_loss(*args), what=what)


@pytest.mark.grade(target="siglip_loss_chunked", kind="property")
def test_property_chunked_matches_own_full_loss(submission, reference, rng):
    """Whatever siglip_loss returns, the chunked form of the same computation must agree with it
    (against the reference's siglip_loss when the notebook has none, so this stays a chunked test)."""
    args = S.random_loss_inputs(rng, torch.float64, n=10, d=6)
    own = submission.defines("siglip_loss")
    full = submission.call("siglip_loss", *args) if own else reference.siglip_loss(*args)
    for chunk_size in (3, 5, 10, 16):
        chunked = submission.call("siglip_loss_chunked", *args, chunk_size)
        expect_close(chunked, full, what=f"your siglip_loss_chunked (chunk_size {chunk_size}) against "
                                         f"{'your own' if own else 'the reference'} siglip_loss on the same batch of 10",
                     hint="chunking changes how much is held in memory at once, never the value")
