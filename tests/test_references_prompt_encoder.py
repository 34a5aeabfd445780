"""references.safetensors of the prompt_encoder suite: reproducible, and covering what the issue asks."""

import importlib.util
import math
from pathlib import Path

import torch
from safetensors.torch import load_file

SUITE = Path(__file__).resolve().parents[1] / "autograder" / "suites" / "prompt_encoder"


def load_module(name):
    spec = importlib.util.spec_from_file_location(f"prompt_encoder_{name}_for_test", SUITE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


STORED = load_file(str(SUITE / "references.safetensors"))
CASES = load_module("cases")


def test_regenerating_gives_the_stored_file_exactly():
    rebuilt = load_module("generate_references").build_references()
    assert rebuilt.keys() == STORED.keys()
    for key, tensor in rebuilt.items():
        assert tensor.dtype == STORED[key].dtype, key
        assert torch.equal(tensor, STORED[key]), key


def test_every_case_has_its_arguments_and_output():
    for name, (function, _) in CASES.case_inputs().items():
        for field in (*CASES.SIGNATURES[function], "out"):
            assert f"case.{name}.{field}" in STORED


def test_the_worked_click_is_stored_with_the_lessons_numbers():
    out = STORED["case.click_normalize.out"][0].tolist()
    assert [round(v, 3) for v in out] == [0.334, 0.505]
    assert STORED["case.click_normalize.image_size"].tolist() == [1024, 1024]
    assert STORED["case.click_points_sam_f32.out"].shape == (1, 2, 256)  # the click plus the padding token


def test_cases_cover_non_square_images_both_dtypes_padding_and_every_label():
    sizes = [STORED[k].tolist() for k in STORED if k.endswith(".image_size") or k.endswith(".grid_hw")]
    assert sum(h != w for h, w in sizes) >= 6
    assert any(h > w for h, w in sizes) and any(h < w for h, w in sizes)
    dtypes = {STORED[k].dtype for k in STORED if k.endswith(".out")}
    assert {torch.float32, torch.float64} <= dtypes
    assert {bool(STORED[k]) for k in STORED if k.endswith(".pad")} == {True, False}
    for key in (k for k in STORED if k.endswith(".labels") and STORED[k].shape[1] >= 3):
        for row in STORED[key]:
            assert set(row.tolist()) >= {-1, 0, 1}, key
    assert max(STORED[k].shape[0] for k in STORED if k.endswith(".points")) >= 3  # batches


def test_stored_padding_tokens_are_not_a_point_embed():
    out = STORED["case.points_pad_f32.out"]
    assert torch.equal(out[:, -1], STORED["case.points_pad_f32.not_a_point_embed"].expand(out.shape[0], -1))


def test_stored_fourier_bands_lie_on_the_unit_circle():
    for key in (k for k in STORED if k.startswith("case.fourier") and k.endswith(".out")):
        out = STORED[key].double()
        half = out.shape[-1] // 2
        radius = out[..., :half] ** 2 + out[..., half:] ** 2
        assert torch.allclose(radius, torch.ones_like(radius), atol=1e-6), key


def test_stored_dense_cell_matches_a_hand_computed_band():
    gaussian = STORED["case.dense_3x5_f64.gaussian"]
    out = STORED["case.dense_3x5_f64.out"]
    row, col, band = 2, 4, 1
    x, y = (col + 0.5) / 5, (row + 0.5) / 3
    phase = 2 * math.pi * ((2 * x - 1) * gaussian[0, band].item() + (2 * y - 1) * gaussian[1, band].item())
    frequencies = gaussian.shape[1]
    assert math.isclose(out[band, row, col].item(), math.sin(phase), abs_tol=1e-12)
    assert math.isclose(out[frequencies + band, row, col].item(), math.cos(phase), abs_tol=1e-12)
