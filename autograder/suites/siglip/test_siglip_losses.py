"""Hidden suite: `siglip_pair_losses` and `siglip_loss` against the lesson's traced cells, stored
references and fresh random batches; gradients to both embeddings, t_prime and bias."""


import pytest
import torch

from autograder.testing import expect_close
from autograder.suites.siglip import support as S


DTYPES = (torch.float32, torch.float64)

PAIR_HINT = ("cell (i, j) is -logsigmoid(z_ij * (exp(t_prime) * sim_ij + bias)) with z = 2*eye(N) - 1: "
             "+1 for the matching pair on the diagonal, -1 for every other cell")
LOSS_HINT = "siglip_loss is the sum of all N*N pair losses divided by N (not their mean over N*N)"


# ---- siglip_pair_losses ------------------------------------------------------------------

@pytest.mark.grade(target="siglip_pair_losses", kind="correctness")
def test_siglip_pair_losses_golden(submission, stored, flag):
    args = S.case_args(stored, "lesson", "siglip_pair_losses")
    out = submission.call("siglip_pair_losses", *args)
    S.expect_same_meta(out, args[0], shape=[4, 4], what="siglip_pair_losses on the lesson's 4x4 batch")
    golden = {(0, 0): ("the matching pair, similarity 0.9: -log sigmoid(9)", "golden.neg_log_sigmoid_9"),
              (0, 2): ("a non-matching pair, similarity 0.2: -log sigmoid(-2)", "golden.neg_log_sigmoid_minus_2")}
    for (row, col), (meaning, key) in golden.items():
        S.expect_matches(out[row, col], stored[key], target="siglip_pair_losses", args=args, flag=flag,
                         whole_output=out,
                         what=f"cell ({row}, {col}) of the lesson's pair losses ({meaning}, scale 10, bias 0)",
                         hint=f"the lesson traces this cell as {float(stored[key]):.5g}. " + PAIR_HINT)
    S.expect_matches(out, S.field(stored, "lesson", "pair_losses"), target="siglip_pair_losses", args=args,
                     flag=flag, what="siglip_pair_losses on the lesson's 4x4 batch (scale 10, bias 0)", hint=PAIR_HINT)


@pytest.mark.grade(target="siglip_pair_losses", kind="correctness")
def test_siglip_pair_losses_stored(submission, stored, flag):
    for case in S.LOSS_CASES:
        args = S.case_args(stored, case, "siglip_pair_losses")
        out = submission.call("siglip_pair_losses", *args)
        S.expect_matches(out, S.field(stored, case, "pair_losses"), target="siglip_pair_losses", args=args,
                         flag=flag, what=f"siglip_pair_losses on stored case {case} (N = {args[0].shape[0]}, "
                                         f"t_prime = {float(args[2]):.3g}, bias = {float(args[3]):.3g})",
                         hint=PAIR_HINT)


@pytest.mark.grade(target="siglip_pair_losses", kind="correctness")
def test_siglip_pair_losses_random(submission, reference, rng, flag):
    for dtype in DTYPES:
        args = S.random_loss_inputs(rng, dtype)
        out = submission.call("siglip_pair_losses", *args)
        S.expect_matches(out, reference.siglip_pair_losses(*args), target="siglip_pair_losses", args=args, flag=flag,
                         what=f"siglip_pair_losses on a fresh random {S.dtype_name(dtype)} batch of "
                              f"{args[0].shape[0]}", hint=PAIR_HINT)


@pytest.mark.grade(target="siglip_pair_losses", kind="correctness")
def test_siglip_pair_losses_extreme_logits(submission, stored, flag):
    args = S.case_args(stored, "extreme_f32", "siglip_pair_losses")
    expected = S.field(stored, "extreme_f32", "pair_losses")
    out = submission.call("siglip_pair_losses", *args)
    what = "siglip_pair_losses with float32 logits of +-200"
    S.expect_same_meta(out, args[0], shape=list(expected.shape), what=what)
    if torch.isfinite(out).all():
        S.expect_matches(out, expected, target="siglip_pair_losses", args=args, flag=flag, what=what, hint=PAIR_HINT)
        return
    diagnosis = S.diagnose("siglip_pair_losses", out, args, flag=flag, what=what)
    if not diagnosis:
        flag("impl.siglip.unstable-log-sigmoid", f"{what}: non-finite values where the losses are about 200 and 0.69")
    stability = (" log(sigmoid(x)) underflows to log(0) = -inf once sigmoid(x) is below ~1e-45 in float32; "
                 "F.logsigmoid (or softplus) gives the same numbers without forming the tiny probability.")
    raise AssertionError(f"{what}: got inf/NaN, expected finite losses of about 200 and 0.69."
                         + (diagnosis or stability))


@pytest.mark.grade(target="siglip_pair_losses", kind="gradient")
def test_siglip_pair_losses_gradient(submission, reference, rng, flag):
    args = S.random_loss_inputs(rng, torch.float64, n=5, d=7)
    cotangent = torch.randn(5, 5, generator=rng, dtype=torch.float64)
    S.expect_grads_match(submission, reference, "siglip_pair_losses", args, flag=flag,
                         what="siglip_pair_losses (N = 5, float64)", cotangent=cotangent)


@pytest.mark.grade(target="siglip_pair_losses", kind="correctness")
def test_siglip_pair_losses_dtype_device(submission, reference, rng, devices):
    for device in devices:
        for dtype in DTYPES:
            args = S.random_loss_inputs(rng, dtype, n=4, d=6)
            moved = tuple(a.to(device) for a in args)
            out = submission.call("siglip_pair_losses", *moved)
            what = f"siglip_pair_losses on {device} {S.dtype_name(dtype)} inputs"
            S.expect_same_meta(out, moved[0], shape=[4, 4], what=what)
            expect_close(out.cpu(), reference.siglip_pair_losses(*args), what=what)


# ---- siglip_loss ---------------------------------------------------------------------------

@pytest.mark.grade(target="siglip_loss", kind="correctness")
def test_siglip_loss_lesson(submission, stored, flag):
    for case in ("lesson", "lesson_init"):
        args = S.case_args(stored, case, "siglip_loss")
        out = submission.call("siglip_loss", *args)
        S.expect_matches(out, S.field(stored, case, "siglip_loss"), target="siglip_loss", args=args, flag=flag,
                         what=f"siglip_loss on the lesson's 4x4 batch (t_prime = {float(args[2]):.3g}, "
                              f"bias = {float(args[3]):.3g})", hint=LOSS_HINT)


@pytest.mark.grade(target="siglip_loss", kind="correctness")
def test_siglip_loss_stored(submission, stored, flag):
    for case in S.LOSS_CASES:
        args = S.case_args(stored, case, "siglip_loss")
        out = submission.call("siglip_loss", *args)
        S.expect_matches(out, S.field(stored, case, "siglip_loss"), target="siglip_loss", args=args, flag=flag,
                         what=f"siglip_loss on stored case {case} (N = {args[0].shape[0]})", hint=LOSS_HINT)


@pytest.mark.grade(target="siglip_loss", kind="correctness")
def test_siglip_loss_random(submission, reference, rng, flag):
    for dtype in DTYPES:
        args = S.random_loss_inputs(rng, dtype)
        out = submission.call("siglip_loss", *args)
        S.expect_matches(out, reference.siglip_loss(*args), target="siglip_loss", args=args, flag=flag,
                         what=f"siglip_loss on a fresh random {S.dtype_name(dtype)} batch of {args[0].shape[0]}",
                         hint=LOSS_HINT)


@pytest.mark.grade(target="siglip_loss", kind="gradient")
def test_siglip_loss_gradient(submission, reference, rng, flag):
    args = S.random_loss_inputs(rng, torch.float64, n=6, d=5)
    S.expect_grads_match(submission, reference, "siglip_loss", args, flag=flag, what="siglip_loss (N = 6, float64)")


@pytest.mark.grade(target="siglip_loss", kind="correctness")
def test_siglip_loss_dtype_device(submission, reference, rng, devices):
    for device in devices:
        for dtype in DTYPES:
            args = S.random_loss_inputs(rng, dtype, n=5, d=6)
            moved = tuple(a.to(device) for a in args)
            out = submission.call("siglip_loss", *moved)
            what = f"siglip_loss on {device} {S.dtype_name(dtype)} inputs"
            S.expect_same_meta(out, moved[0], shape=[], what=what + " (a 0-d tensor)")
            expect_close(out.cpu(), reference.siglip_loss(*args), what=what)
