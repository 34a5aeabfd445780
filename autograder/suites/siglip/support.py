"""Helpers shared by the siglip hidden suite: stored cases, comparisons that diagnose, gradients.

Test modules import it from the `autograder.suites.siglip` package.
Trusted code; it reaches student code only through the `submission` object it is handed.
"""

from pathlib import Path

import torch

from autograder.testing import closest_variant, expect_close, expect_meta

HERE = Path(__file__).resolve().parent


from autograder.suites.siglip import cases, variants  # noqa: E402,F401 (re-exported to the tests)

SIGNATURE_FIELDS = {
    "similarity_matrix": ("image_emb", "text_emb"),
    "clip_loss": ("image_emb", "text_emb", "clip_t_prime"),
    "siglip_pair_losses": ("image_emb", "text_emb", "t_prime", "bias"),
    "siglip_loss": ("image_emb", "text_emb", "t_prime", "bias"),
    "zero_shot_classify": ("image_emb", "class_prompt_emb"),
}
# Every argument a real training loop trains, by position.
TRAINED_ARGS = {
    "similarity_matrix": (0, 1),
    "clip_loss": (0, 1, 2),
    "siglip_pair_losses": (0, 1, 2, 3),
    "siglip_loss": (0, 1, 2, 3),
    "siglip_loss_chunked": (0, 1, 2, 3),
}
ARG_NAMES = ("image_emb", "text_emb", "t_prime", "bias")

# zero_rows_f64 is only used by the similarity test, so a missing eps costs one test, not six.
LOSS_CASES = ("lesson", "lesson_init", "lesson_scaled", "rand_n1_f64", "rand_n2_f32", "rand_n7_f64",
              "rand_n13_f64", "rand_n16_f32")
CLIP_CASES = ("lesson", "lesson_scaled", "rand_n1_f64", "rand_n2_f32", "rand_n7_f64", "rand_n13_f64",
              "rand_n16_f32")
RECTANGULAR_CASES = ("sim_5x3_f32", "sim_2x9_f64", "sim_1x4_f32")
ZERO_SHOT_CASES = ("zs_rand_f32", "zs_rand_f64", "zs_one_prompt_f32")


def field(stored, case, name):
    return stored[f"case.{case}.{name}"]


def case_args(stored, case, target):
    return tuple(field(stored, case, name) for name in SIGNATURE_FIELDS[target])


# ---- comparison with diagnosis -------------------------------------------------------------

def diagnose(target, actual, args, *, flag, what, kwargs=None):
    """Flag the misconception whose known-wrong implementation gives `actual` on `args`.

    Returns a sentence for the failure message, or "" when no known mistake matches.
    """
    if not isinstance(actual, torch.Tensor):
        return ""
    if actual.numel() == 1 and not torch.isfinite(actual).all():
        return ""  # a lone inf or NaN matches too many broken computations to name one
    candidates = {}
    for name, wrong in variants.VARIANTS.get(target, {}).items():
        with torch.no_grad():
            try:
                output = wrong(*args, **(kwargs or {}))
            except Exception:  # a variant that cannot run on these inputs predicts nothing
                continue
        if output.shape == actual.shape:
            candidates[name] = output.to(torch.float64)
    actual64 = actual.detach().to("cpu", torch.float64)
    match = closest_variant(actual64, candidates, **_variant_tolerance(args))
    if match is None:
        return ""
    description = variants.describe(match)
    flag(variants.misconception_id(match), f"{what}: the output matches the known mistake '{description}'")
    return f" Your output matches a known mistake: {description}."


def _variant_tolerance(args):
    dtype = next((a.dtype for a in args if isinstance(a, torch.Tensor) and a.is_floating_point()), torch.float32)
    return {"rtol": 1e-4, "atol": 1e-5} if dtype != torch.float64 else {"rtol": 1e-6, "atol": 1e-8}


def expect_matches(actual, expected, *, target, args, flag, what, hint="", kwargs=None, whole_output=None):
    """expect_close, and on a mismatch name the known mistake that produces the output.

    `whole_output`: when `actual` is a slice (a golden cell), the full output to diagnose.
    """
    try:
        expect_close(actual, expected, what=what, hint=hint)
    except AssertionError as failure:
        diagnosed = actual if whole_output is None else whole_output
        diagnosis = diagnose(target, diagnosed, args, flag=flag, what=what, kwargs=kwargs)
        message = str(failure) if not diagnosis or str(failure).endswith(".") else f"{failure}."
        raise AssertionError(f"{message}{diagnosis}") from None


def expect_same_meta(actual, like, *, what, shape=None, dtype=None):
    expect_meta(actual, shape=list(like.shape) if shape is None else shape,
                dtype=like.dtype if dtype is None else dtype, device=like.device.type, what=what)


# ---- gradients -----------------------------------------------------------------------------

def reference_grads(function, args, wrt, cotangent=None):
    """Autograd gradients of the trusted `function` with respect to args[i] for i in wrt."""
    leaves = [a.detach().clone().requires_grad_(i in wrt) if isinstance(a, torch.Tensor) and a.is_floating_point()
              else a for i, a in enumerate(args)]
    output = function(*leaves)
    output.backward(torch.ones_like(output) if cotangent is None else cotangent)
    return output.detach(), [leaves[i].grad for i in wrt]


def expect_grads_match(submission, reference, target, args, *, flag, what, cotangent=None, extra_args=()):
    """Compare the student's gradients for every trained argument with the reference's."""
    wrt = TRAINED_ARGS[target]
    full_args = tuple(args) + tuple(extra_args)
    outputs, grads = submission.call_with_grad(target, full_args, wrt=wrt,
                                               cotangents=None if cotangent is None else [cotangent])
    expected_out, expected_grads = reference_grads(getattr(reference, target), full_args, wrt, cotangent)
    value_ok = isinstance(outputs, torch.Tensor) and outputs.shape == expected_out.shape and torch.allclose(
        outputs.detach().double(), expected_out.double(), **_variant_tolerance(args))
    for index, grad, expected in zip(wrt, grads, expected_grads):
        name = ARG_NAMES[index]
        if grad is None:
            if value_ok:
                flag("impl.siglip.breaks-autograd",
                     f"{what}: the value is right but no gradient reached {name}")
            raise AssertionError(
                f"{what}: no gradient reached `{name}` (expected one of shape {list(expected.shape)}). "
                "Something in the computation leaves autograd: .item(), float(), math.exp on a tensor, "
                "torch.tensor(...) around a tensor, .detach() or .numpy().")
        expect_close(grad, expected, what=f"{what}: gradient with respect to `{name}`",
                     hint="" if value_ok else "the value itself is wrong too; fix the correctness tests first")


# ---- random inputs from the per-run generator --------------------------------------------------

def random_size(rng, low, high):
    """An int in [low, high]."""
    return int(torch.randint(low, high + 1, (), generator=rng))


def random_loss_inputs(rng, dtype, n=None, d=None):
    n = random_size(rng, 3, 12) if n is None else n
    d = random_size(rng, 4, 24) if d is None else d
    image_emb, text_emb = cases.paired_batch(rng, n, d, dtype)
    t_prime, bias = cases.loss_parameters(rng, dtype)
    return image_emb, text_emb, t_prime, bias


def random_clip_t_prime(rng, dtype):
    return cases.scalar(cases.uniform(rng, 0.5, 3.0), dtype)


def dtype_name(dtype):
    return "float32" if dtype == torch.float32 else "float64"
