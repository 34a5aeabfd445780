"""The stored references of the mask_decoder suite are exactly what the generator produces."""

import importlib.util
from pathlib import Path

import torch
from safetensors.torch import load_file

SUITE = Path(__file__).resolve().parents[1] / "autograder" / "suites" / "mask_decoder"


def _generator():
    spec = importlib.util.spec_from_file_location("mask_decoder_generate_references", SUITE / "generate_references.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stored_references_equal_a_fresh_generation():
    fresh = _generator().build_references()
    stored = load_file(str(SUITE / "references.safetensors"))
    assert sorted(fresh) == sorted(stored)
    for key, value in fresh.items():
        assert stored[key].dtype == value.dtype, key
        assert torch.equal(stored[key], value), f"{key} differs from a fresh generation"


def test_references_cover_the_issue_cases():
    stored = load_file(str(SUITE / "references.safetensors"))
    rates = {int(stored[k]) for k in stored if k.endswith(".downsample_rate") and ".attn_" in k}
    heads = {int(stored[k]) for k in stored if k.endswith(".num_heads") and ".attn_" in k}
    assert rates == {1, 2} and len(heads) >= 3
    skip_flags = {int(stored[k]) for k in stored if k.endswith(".skip_first_layer_pe")}
    assert skip_flags == {0, 1}
    grids = {(int(stored[k]), int(stored[k.replace("grid_h", "grid_w")])) for k in stored if k.endswith(".grid_h")}
    assert (64, 64) in grids and any(h != w for h, w in grids)
    tokens = {stored[k].shape[1] for k in stored if k.endswith(".queries")}
    assert tokens == {5, 7}
    assert {stored[k].dtype for k in stored if k.endswith(".out_keys")} == {torch.float32, torch.float64}
    assert any(stored[k].shape[0] > 1 for k in stored if k.endswith(".out_keys"))
