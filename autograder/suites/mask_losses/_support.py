"""Shared helpers of the mask_losses suite: siblings, stored cases, tolerances, diagnosis.

Imported by the test files as part of the `autograder.suites.mask_losses` package.
"""

from pathlib import Path

import torch

from autograder.suites.mask_losses import cases, variants  # noqa: F401 (re-exported to the tests)
from autograder.testing import closest_variant, expect_close

HERE = Path(__file__).resolve().parent



# Tolerances for comparing a submission with the reference, and (looser) with a variant.
TOLERANCE = {torch.float32: dict(rtol=1e-4, atol=1e-6), torch.float64: dict(rtol=1e-7, atol=1e-10)}
DIAGNOSIS_TOLERANCE = {torch.float32: dict(rtol=1e-3, atol=1e-5), torch.float64: dict(rtol=1e-5, atol=1e-8)}


def tolerance(dtype):
    return TOLERANCE[dtype]


def case_names(stored, prefix, exclude=()):
    """Names of the stored cases whose name starts with `prefix` (sorted)."""
    names = {key.split(".")[1] for key in stored if key.startswith(f"case.{prefix}")}
    return sorted(names - set(exclude))


def field(stored, name, key):
    return stored.get(f"case.{name}.{key}")


def scalar(stored, name, key):
    """A stored 0-d argument as a Python float; None when the case stores none (alpha None)."""
    value = field(stored, name, key)
    return None if value is None else float(value.item())


def focal_args(stored, name):
    return (field(stored, name, "logits"), field(stored, name, "targets"),
            scalar(stored, name, "alpha"), scalar(stored, name, "gamma"))


def dice_args(stored, name):
    return field(stored, name, "logits"), field(stored, name, "targets"), scalar(stored, name, "smooth")


def iou_args(stored, name):
    return field(stored, name, "logits"), field(stored, name, "targets")


def multimask_args(stored, name):
    return (field(stored, name, "mask_logits"), field(stored, name, "iou_pred"), field(stored, name, "gt"),
            scalar(stored, name, "focal_weight"), scalar(stored, name, "dice_weight"),
            scalar(stored, name, "iou_weight"), scalar(stored, name, "alpha"), scalar(stored, name, "gamma"))


def unpack_pair(result, what):
    """multimask_loss returns (loss, best); anything else fails with a message that says so."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise AssertionError(f"{what}: expected a pair (loss, best), got {type(result).__name__}"
                             f"{' of length ' + str(len(result)) if isinstance(result, (tuple, list)) else ''}")
    loss, best = result
    for label, value in (("loss", loss), ("best", best)):
        if not torch.is_tensor(value):
            raise AssertionError(f"{what}: `{label}` should be a tensor, got {type(value).__name__}")
    return loss, best


def _summary(function):
    return (function.__doc__ or "").strip().splitlines()[0].rstrip(".")


def diagnose(flag, what, actual, table, args, pick=lambda output: output, grad_enabled=False):
    """Flag the misconception whose wrong implementation reproduces `actual` on `args`.

    `table` maps a variant name to (misconception id, function); `pick` selects the compared
    tensor from a variant's output (the loss of multimask_loss). Returns the matched name.
    """
    if not torch.is_tensor(actual) or not actual.is_floating_point():
        return None
    outputs = {}
    for name, (_, function) in table.items():
        try:
            with torch.set_grad_enabled(grad_enabled):
                candidate = pick(function(*args))
        except Exception:  # a variant that cannot run on these inputs simply does not match
            continue
        if torch.is_tensor(candidate) and candidate.shape == actual.shape:
            outputs[name] = candidate.to(actual.device, actual.dtype)
    name = closest_variant(actual, outputs, **DIAGNOSIS_TOLERANCE.get(actual.dtype, DIAGNOSIS_TOLERANCE[torch.float32]))
    if name is not None:
        misconception, function = table[name]
        flag(misconception, f"{what} matches a known mistake: {_summary(function)}")
    return name


def variant_gradients(function, args, wrt, cotangent=None, pick=lambda output: output):
    """Autograd gradients of a trusted (variant or reference) function with respect to args[wrt]."""
    inputs = [arg.detach().clone().requires_grad_(True) if index in wrt and torch.is_tensor(arg) else arg
              for index, arg in enumerate(args)]
    output = pick(function(*inputs))
    seed = torch.ones_like(output) if cotangent is None else cotangent
    leaves = [inputs[index] for index in wrt]
    grads = torch.autograd.grad(output, leaves, seed, allow_unused=True)
    return [torch.zeros_like(leaf) if grad is None else grad for leaf, grad in zip(leaves, grads)]


def diagnose_gradient(flag, what, actual_grad, table, args, wrt_index, cotangent=None, pick=lambda output: output):
    """Like `diagnose`, comparing one input's gradient with each variant's gradient."""
    if not torch.is_tensor(actual_grad):
        return None
    outputs = {}
    for name, (_, function) in table.items():
        try:
            outputs[name] = variant_gradients(function, args, (wrt_index,), cotangent, pick)[0]
        except Exception:
            continue
    tolerances = DIAGNOSIS_TOLERANCE.get(actual_grad.dtype, DIAGNOSIS_TOLERANCE[torch.float32])
    name = closest_variant(actual_grad, outputs, **tolerances)
    if name is not None:
        misconception, function = table[name]
        flag(misconception, f"{what} matches the gradient of a known mistake: {_summary(function)}")
    return name


def zeros_if_none(grad, like):
    return torch.zeros_like(like) if grad is None else grad


def expect_or_diagnose(actual, expected, *, what, hint, flag, table, args, pick=lambda output: output):
    """expect_close against the reference; on a mismatch, flag the matching variant and re-raise."""
    try:
        expect_close(actual, expected, what=what, hint=hint, **tolerance(expected.dtype))
    except AssertionError:
        diagnose(flag, what, actual, table, args, pick)
        raise


def with_hint(check, hint):
    """Run `check()`; if it fails, append `hint` to its message."""
    try:
        check()
    except AssertionError as error:
        raise AssertionError(f"{error}. {hint}") from None


def finite(value):
    return torch.is_tensor(value) and bool(torch.isfinite(value).all())
