"""Shared helpers of the prompt_encoder hidden suite: tolerances, random inputs, diagnosis.

Imported by the test files from the `autograder.suites.prompt_encoder` package, so another
suite's helper of the same file name can never be picked up instead.
"""

from pathlib import Path

import torch

from autograder.testing import closest_variant, expect_close

HERE = Path(__file__).resolve().parent


from autograder.suites.prompt_encoder import cases, variants  # noqa: E402,F401 (re-exported to the tests)

USES_GAUSSIAN = {  # position of `gaussian` among each function's arguments
    "fourier_features": 1,
    "dense_positional_encoding": 1,
    "encode_points": 3,
    "encode_boxes": 2,
}


def tolerances(dtype):
    """(rtol, atol): phases reach tens of radians, so float32 sin/cos carry ~1e-5 of rounding."""
    return (1e-4, 1e-4) if dtype == torch.float32 else (1e-7, 1e-8)


def to_cpu(value):
    return value.cpu() if isinstance(value, torch.Tensor) else value


def expect_matches(actual, expected, *, what, hint=""):
    rtol, atol = tolerances(expected.dtype)
    expect_close(actual, expected, rtol=rtol, atol=atol, what=what, hint=hint)


def diagnose(submission, flag, function_name, args, actual, expected, evidence):
    """Name the known mistake that `actual` (the student's output on `args`) shows, if any.

    First by output: the student's result equals a wrong variant's result on the same inputs
    (variants that agree with `expected` on these inputs are left out: they prove nothing here).
    Then by behaviour: a result that does not move when `gaussian` changes ignores the projection.
    Flags the id and returns a sentence for the failure message ("" when nothing matched).
    """
    if not isinstance(actual, torch.Tensor):
        return ""
    candidates = {
        name: out for name, out in variants.outputs(function_name, [to_cpu(a) for a in args]).items()
        if not _same(out, expected.cpu())
    }
    rtol, atol = tolerances(expected.dtype)
    match = closest_variant(actual, candidates, rtol=rtol, atol=atol)
    if match is not None:
        flag(variants.misconception_id(match), f"{evidence}: equals the version that {variants.description(match)}")
        return f" Your result equals that of a version that {variants.description(match)}."
    if function_name in USES_GAUSSIAN and _ignores_gaussian(submission, function_name, args, actual):
        flag(variants.PREFIX + "transformer-frequencies",
             f"{evidence}: the output stays the same when the gaussian matrix is replaced")
        return (" Your result does not change when the gaussian matrix changes: the features must come from"
                " `coords @ gaussian`, not from fixed frequencies.")
    return ""


def _same(a, b):
    if a.shape != b.shape:
        return False
    rtol, atol = tolerances(b.dtype)
    return torch.allclose(a.double(), b.double(), rtol=rtol, atol=atol)


def _ignores_gaussian(submission, function_name, args, actual):
    position = USES_GAUSSIAN[function_name]
    other = list(args)
    gaussian = args[position]
    other[position] = torch.flip(gaussian, dims=[1]) * 1.7 + 0.3  # same shape, different values
    try:
        again = submission.call(function_name, *other)
    except Exception:  # noqa: BLE001 - a second failure tells us nothing more
        return False
    return isinstance(again, torch.Tensor) and again.shape == actual.shape and torch.equal(again.cpu(), actual.cpu())


def check(submission, flag, function_name, args, expected, *, what, hint=""):
    """Call the student's function, compare with `expected`, diagnose and re-raise on mismatch."""
    actual = submission.call(function_name, *args)
    try:
        expect_matches(actual, expected, what=what, hint=hint)
    except AssertionError as failure:
        extra = diagnose(submission, flag, function_name, args, actual, expected, what)
        raise AssertionError(f"{failure}{extra}") from None
    return actual


# ---- fresh random inputs (from the test's `rng`) -------------------------------------------

def randint(rng, low, high):
    return int(torch.randint(low, high, (1,), generator=rng))


def non_square_size(rng):
    """(H, W) with H != W, tall or wide at random."""
    short, extra = randint(rng, 200, 700), randint(rng, 60, 500)
    return (short, short + extra) if randint(rng, 0, 2) else (short + extra, short)


def gaussian(rng, frequencies, dtype=torch.float64):
    return torch.randn(2, frequencies, generator=rng, dtype=torch.float64).to(dtype)


def pixels(rng, shape, image_size, dtype=torch.float64):
    height, width = image_size
    unit = torch.rand(*shape, 2, generator=rng, dtype=torch.float64)
    return (unit * torch.tensor([width - 1.0, height - 1.0])).to(dtype)


def embeds(rng, rows, channels, dtype=torch.float64):
    return torch.randn(rows, channels, generator=rng, dtype=torch.float64).to(dtype)


def point_inputs(rng, batch, count, *, labels=None, pad=False, dtype=torch.float64, frequencies=6):
    """Arguments of encode_points, in contract order, on a random non-square image."""
    size = non_square_size(rng)
    if labels is None:
        labels = torch.randint(-1, 2, (batch, count), generator=rng)
    return [pixels(rng, (batch, count), size, dtype), labels, size, gaussian(rng, frequencies, dtype),
            embeds(rng, 2, 2 * frequencies, dtype), embeds(rng, 1, 2 * frequencies, dtype)[0], pad]


def box_inputs(rng, batch, dtype=torch.float64, frequencies=5):
    size = non_square_size(rng)
    a, b = pixels(rng, (batch,), size), pixels(rng, (batch,), size)
    boxes = torch.cat([torch.minimum(a, b), torch.maximum(a, b) + 1], dim=-1).to(dtype)
    return [boxes, size, gaussian(rng, frequencies, dtype), embeds(rng, 2, 2 * frequencies, dtype)]


def moved(args, device):
    return [a.to(device) if isinstance(a, torch.Tensor) else a for a in args]
