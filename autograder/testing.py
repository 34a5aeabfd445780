"""Assertions and diagnosis helpers for hidden suites: messages a student can act on."""

from __future__ import annotations

from typing import Mapping

import torch


def _as_tensor(value, like: torch.Tensor | None = None) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach()
    return torch.as_tensor(value, dtype=like.dtype if like is not None else None)


def describe_tensor(value) -> str:
    if not isinstance(value, torch.Tensor):
        return f"a {type(value).__name__} ({str(value)[:60]})"
    return f"a tensor of shape {list(value.shape)}, dtype {str(value.dtype).removeprefix('torch.')}, device {value.device}"


def describe_mismatch(actual: torch.Tensor, expected: torch.Tensor) -> str:
    """Largest error, where it is, and the two values there."""
    actual = actual.detach().to("cpu", torch.float64)
    expected = expected.detach().to("cpu", torch.float64)
    if actual.numel() == 0:
        return "both are empty"
    nonfinite = ~torch.isfinite(actual)
    if nonfinite.any() and not (~torch.isfinite(expected) & nonfinite).all():
        where = _index_of(nonfinite.flatten().nonzero()[0].item(), actual.shape)
        return f"got a non-finite value {actual[where].item()} at index {list(where)} (expected {expected[where].item():.6g})"
    error = (actual - expected).abs().nan_to_num(0.0)
    flat_index = int(error.flatten().argmax())
    where = _index_of(flat_index, actual.shape)
    fraction = float((error > 1e-6 + 1e-4 * expected.abs()).double().mean())
    at = f" at index {list(where)}" if actual.dim() else ""
    return (f"max abs error {error.max().item():.3g}{at} (got {actual[where].item():.6g}, "
            f"expected {expected[where].item():.6g}); {fraction:.0%} of entries differ")


def _index_of(flat_index: int, shape) -> tuple:
    index = []
    for size in reversed(list(shape)):
        index.append(flat_index % size)
        flat_index //= size
    return tuple(reversed(index))


def expect_meta(actual, *, shape=None, dtype=None, device=None, what: str = "the result") -> None:
    if not isinstance(actual, torch.Tensor):
        raise AssertionError(f"{what}: expected a torch.Tensor, got {describe_tensor(actual)}")
    problems = []
    if shape is not None and list(actual.shape) != list(shape):
        problems.append(f"shape {list(actual.shape)} instead of {list(shape)}")
    if dtype is not None and actual.dtype != dtype:
        problems.append(f"dtype {actual.dtype} instead of {dtype} (outputs keep the input dtype)")
    if device is not None and actual.device.type != torch.device(device).type:
        problems.append(f"device {actual.device} instead of {device} (outputs stay on the input device)")
    if problems:
        raise AssertionError(f"{what}: got " + ", ".join(problems))


def expect_close(actual, expected, *, rtol: float | None = None, atol: float | None = None,
                 what: str = "the result", hint: str = "", check_dtype: bool = False) -> None:
    """Assert `actual` matches `expected` in shape and values, with a message that explains."""
    expected_t = _as_tensor(expected)
    if not isinstance(actual, torch.Tensor):
        if isinstance(actual, (int, float, bool)) and expected_t.dim() == 0:
            actual = torch.tensor(actual, dtype=expected_t.dtype)
        else:
            raise AssertionError(f"{what}: expected {describe_tensor(expected_t)}, got {describe_tensor(actual)}")
    actual_t = actual.detach()
    if list(actual_t.shape) != list(expected_t.shape):
        raise AssertionError(f"{what}: expected shape {list(expected_t.shape)}, got shape {list(actual_t.shape)}"
                             + (f". {hint}" if hint else ""))
    if check_dtype and actual_t.dtype != expected_t.dtype:
        raise AssertionError(f"{what}: expected dtype {expected_t.dtype}, got {actual_t.dtype}")
    rtol, atol = _tolerances(expected_t.dtype, rtol, atol)
    actual64 = actual_t.to("cpu", torch.float64) if not actual_t.dtype == torch.bool else actual_t.cpu()
    expected64 = expected_t.to("cpu", torch.float64) if not expected_t.dtype == torch.bool else expected_t.cpu()
    if expected64.dtype == torch.bool or not expected64.is_floating_point():
        same = torch.equal(actual64.to(expected64.dtype), expected64)
    else:
        same = torch.allclose(actual64, expected64, rtol=rtol, atol=atol, equal_nan=True)
    if not same:
        detail = describe_mismatch(actual64.double(), expected64.double())
        raise AssertionError(f"{what}: values differ: {detail}" + (f". {hint}" if hint else ""))


def _tolerances(dtype: torch.dtype, rtol: float | None, atol: float | None) -> tuple[float, float]:
    defaults = {torch.float64: (1e-7, 1e-9), torch.float32: (1e-4, 1e-5), torch.float16: (1e-2, 1e-3), torch.bfloat16: (2e-2, 1e-2)}
    default_rtol, default_atol = defaults.get(dtype, (0.0, 0.0))
    return (default_rtol if rtol is None else rtol), (default_atol if atol is None else atol)


def is_close(actual, expected, *, rtol: float | None = None, atol: float | None = None) -> bool:
    try:
        expect_close(actual, expected, rtol=rtol, atol=atol)
    except AssertionError:
        return False
    return True


def closest_variant(actual, candidates: Mapping[str, torch.Tensor], *, rtol: float = 1e-4, atol: float = 1e-6) -> str | None:
    """The name of the first candidate output that `actual` matches, or None.

    Suites compute what each known-wrong implementation would return on the same inputs; a
    match tells the student which misunderstanding their code shows.
    """
    for name, candidate in candidates.items():
        if candidate is not None and is_close(actual, candidate, rtol=rtol, atol=atol):
            return name
    return None


def load_sibling(test_file: str, name: str):
    """Import `name`.py from the folder of `test_file` under a name unique to that folder.

    Suites are not packages and several have a `cases.py`; a unique module name keeps them apart
    in a process that grades several assignments.
    """
    import importlib.util
    import sys
    from pathlib import Path

    folder = Path(test_file).resolve().parent
    unique = f"tensorgrade_suite_{folder.name}_{name}"
    if unique in sys.modules:
        return sys.modules[unique]
    spec = importlib.util.spec_from_file_location(unique, folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    spec.loader.exec_module(module)
    return module
