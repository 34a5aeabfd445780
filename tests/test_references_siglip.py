"""autograder/suites/siglip/references.safetensors: regenerated in memory it equals the stored
file, it holds the lesson's numbers, and it lets the suite tell every known mistake apart."""

import importlib.util
import math
import sys
from functools import cache
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[1]
SUITE = REPO / "autograder" / "suites" / "siglip"


def _load(name, path):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


generator_module = _load("siglip_generate_references_under_test", SUITE / "generate_references.py")
variants = _load("siglip_variants_under_test", SUITE / "variants.py")
solution = _load("siglip_solution_for_references", REPO / "solutions" / "siglip.py")


@cache
def stored():
    return load_file(str(SUITE / "references.safetensors"))


@cache
def regenerated():
    return generator_module.build_references()


def test_regenerated_references_equal_the_stored_file():
    fresh, saved = regenerated(), stored()
    assert set(fresh) == set(saved)
    for key, tensor in fresh.items():
        assert tensor.dtype == saved[key].dtype and tensor.shape == saved[key].shape, key
        if tensor.is_floating_point():
            tolerance = 1e-12 if tensor.dtype == torch.float64 else 1e-6
            assert torch.allclose(tensor, saved[key], rtol=tolerance, atol=tolerance), key
        else:
            assert torch.equal(tensor, saved[key]), key


def test_golden_numbers_of_the_lesson():
    assert abs(stored()["golden.neg_log_sigmoid_9"].item() - 0.00012) < 5e-6
    assert abs(stored()["golden.neg_log_sigmoid_minus_2"].item() - 2.13) < 5e-3
    assert math.isclose(stored()["golden.neg_log_sigmoid_9"].item(), math.log1p(math.exp(-9)), rel_tol=1e-12)


def test_lesson_case_holds_the_lesson_matrix():
    lesson = torch.tensor([[0.9, 0.1, 0.2, 0.3], [0.2, 0.8, 0.1, 0.4], [0.1, 0.3, 0.7, 0.2], [0.3, 0.2, 0.1, 0.6]],
                          dtype=torch.float64)
    for case in ("lesson", "lesson_init", "lesson_scaled"):
        assert torch.allclose(stored()[f"case.{case}.similarity"].double(), lesson, atol=1e-6), case
    assert stored()["case.lesson_init.bias"].item() == -10.0
    assert math.isclose(stored()["case.lesson_init.t_prime"].item(), math.log(10), rel_tol=1e-6)


def test_chunk_sizes_cover_dividing_and_ragged_chunks():
    for key, sizes in stored().items():
        if key.endswith(".chunk_sizes") and stored()[key.replace("chunk_sizes", "image_emb")].shape[0] > 3:
            n = stored()[key.replace("chunk_sizes", "image_emb")].shape[0]
            assert any(n % int(size) for size in sizes), key
            assert int(sizes[-1]) == 1 and any(int(size) > n for size in sizes), key


def test_tie_case_really_ties():
    image, prompts = stored()["case.zs_ties_f64.image_emb"], stored()["case.zs_ties_f64.class_prompt_emb"]
    class_emb = torch.nn.functional.normalize(torch.nn.functional.normalize(prompts, dim=-1).mean(1), dim=-1)
    scores = torch.nn.functional.normalize(image, dim=-1) @ class_emb.T
    tied = scores[:, 1] == scores[:, 3]
    assert tied.all() and (stored()["case.zs_ties_f64.predictions"] == 1).sum() >= 4


LOSS_CASES = ["rand_n2_f32", "rand_n7_f64", "rand_n13_f64", "rand_n16_f32", "lesson_scaled", "lesson_init", "extreme_f32"]
SIGNATURES = {"similarity_matrix": ("image_emb", "text_emb"), "clip_loss": ("image_emb", "text_emb", "clip_t_prime"),
              "siglip_pair_losses": ("image_emb", "text_emb", "t_prime", "bias"),
              "siglip_loss": ("image_emb", "text_emb", "t_prime", "bias"),
              "zero_shot_classify": ("image_emb", "class_prompt_emb")}


def _distinguishable(target, wrong, case):
    names = SIGNATURES.get(target, SIGNATURES["siglip_loss"])
    args = tuple(stored()[f"case.{case}.{name}"] for name in names)
    if target == "siglip_loss_chunked":
        args += (int(stored()[f"case.{case}.chunk_sizes"][0]),)
        expected = solution.siglip_loss(*args[:4])
    else:
        expected = getattr(solution, target)(*args)
    with torch.no_grad():
        out = wrong(*args)
    if out.shape != expected.shape:
        return True
    if not torch.isfinite(out).all():
        return True
    loose = dict(rtol=1e-3, atol=1e-4)  # ten times looser than the suite's float32 tolerance
    return not torch.allclose(out.double(), expected.double(), **loose)


@pytest.mark.parametrize("target", sorted(variants.VARIANTS))
def test_every_variant_differs_from_the_solution_on_some_stored_case(target):
    cases = ["zs_rand_f32", "zs_rand_f64", "zs_ties_f64"] if target == "zero_shot_classify" else LOSS_CASES
    if target == "clip_loss":
        cases = [case for case in cases if case != "extreme_f32"]
    for name, wrong in variants.VARIANTS[target].items():
        assert any(_distinguishable(target, wrong, case) for case in cases), f"{target}: {name} looks correct"


def test_every_variant_names_a_catalogued_misconception():
    import yaml

    ids = set()
    for path in (REPO / "rubrics" / "misconceptions").glob("*.yaml"):
        ids |= {entry["id"] for entry in yaml.safe_load(path.read_text()) or []}
    named = {variants.misconception_id(name) for table in variants.VARIANTS.values() for name in table}
    assert named <= ids, named - ids
    assert all(variants.describe(name) != name for table in variants.VARIANTS.values() for name in table)
