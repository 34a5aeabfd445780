"""Build the stored references of the mask_decoder suite from the reference solution.

Every case has fixed seeds: weights (`case.<name>.sd.<parameter>`), inputs, outputs, and its
configuration as 0-d int64 tensors. Run from anywhere:

    python autograder/suites/mask_decoder/generate_references.py
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

_CASES_NAME = "tensorgrade_mask_decoder_cases"
if _CASES_NAME not in sys.modules:
    _spec = importlib.util.spec_from_file_location(_CASES_NAME, Path(__file__).with_name("cases.py"))
    sys.modules[_CASES_NAME] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules[_CASES_NAME])
cases = sys.modules[_CASES_NAME]

OUTPUT = Path(__file__).with_name("references.safetensors")


def _scalar(value) -> torch.Tensor:
    return torch.tensor(int(value), dtype=torch.int64)


def _with_prefix(prefix: str, tensors: dict) -> dict:
    return {f"{prefix}.{key}": value for key, value in tensors.items()}


def attention_references(reference) -> dict[str, torch.Tensor]:
    out = {}
    for case in cases.ATTENTION_CASES:
        module, state = cases.attention_module(reference, case)
        generator = torch.Generator().manual_seed(case.seed + 1000)
        q = torch.randn(case.batch, case.n_queries, case.embedding_dim, generator=generator, dtype=case.dtype)
        if case.n_queries == case.n_keys:  # self-attention: the same tensor in all three roles
            k = v = q
        else:
            k, v = (torch.randn(case.batch, case.n_keys, case.embedding_dim, generator=generator, dtype=case.dtype)
                    for _ in range(2))
        with torch.no_grad():
            result = module(q, k, v)
        prefix = f"case.{case.name}"
        out.update(_with_prefix(prefix + ".sd", state))
        out.update(_with_prefix(prefix, {
            "q": q, "k": k, "v": v, "out": result,
            "embedding_dim": _scalar(case.embedding_dim), "num_heads": _scalar(case.num_heads),
            "downsample_rate": _scalar(case.downsample_rate),
        }))
    return out


def mlp_references(reference) -> dict[str, torch.Tensor]:
    out = {}
    for name, (width, hidden, dtype, seed) in cases.MLP_CASES.items():
        module, state = cases.seeded_module(reference.MLPBlock(width, hidden), seed, dtype)
        x = torch.randn(3, 4, width, generator=torch.Generator().manual_seed(seed + 1000), dtype=dtype)
        with torch.no_grad():
            result = module(x)
        out.update(_with_prefix(f"case.{name}.sd", state))
        out.update(_with_prefix(f"case.{name}", {
            "x": x, "out": result, "embedding_dim": _scalar(width), "mlp_dim": _scalar(hidden)}))
    return out


def block_references(reference) -> dict[str, torch.Tensor]:
    out = {}
    for case in cases.BLOCK_CASES:
        module, state = cases.block_module(reference, case)
        queries, keys, query_pe, key_pe = cases.block_inputs(case, torch.Generator().manual_seed(case.seed + 1000))
        with torch.no_grad():
            out_queries, out_keys = module(queries, keys, query_pe, key_pe)
        prefix = f"case.{case.name}"
        out.update(_with_prefix(prefix + ".sd", state))
        out.update(_with_prefix(prefix, {
            "queries": queries, "keys": keys, "query_pe": query_pe, "key_pe": key_pe,
            "out_queries": out_queries, "out_keys": out_keys,
            "embedding_dim": _scalar(case.embedding_dim), "num_heads": _scalar(case.num_heads),
            "mlp_dim": _scalar(case.mlp_dim), "downsample_rate": _scalar(case.downsample_rate),
            "skip_first_layer_pe": _scalar(case.skip_first_layer_pe),
            "grid_h": _scalar(case.grid[0]), "grid_w": _scalar(case.grid[1]),
        }))
    return out


def predict_masks_references(reference) -> dict[str, torch.Tensor]:
    out = {}
    specs = {"masks_k3": (2, 3, 16, 4, (8, 12), torch.float32, 401),
             "masks_k4_f64": (1, 4, 8, 8, (16, 16), torch.float64, 402)}
    for name, (batch, n_masks, width, out_width, (height, w), dtype, seed) in specs.items():
        generator = torch.Generator().manual_seed(seed)
        weights = cases.hypernet_weights(n_masks, width, out_width, generator, dtype)
        tokens = torch.randn(batch, n_masks, width, generator=generator, dtype=dtype)
        upscaled = torch.randn(batch, out_width, height, w, generator=generator, dtype=dtype)
        with torch.no_grad():
            masks = reference.predict_masks(tokens, upscaled, cases.local_hypernet(weights))
        prefix = f"case.{name}"
        for index, layer in enumerate(weights):
            out.update(_with_prefix(f"{prefix}.hyper.{index}", dict(zip(
                ("lin1_weight", "lin1_bias", "lin2_weight", "lin2_bias"), layer))))
        out.update(_with_prefix(prefix, {"tokens": tokens, "upscaled": upscaled, "masks": masks,
                                         "n_masks": _scalar(n_masks)}))
    return out


def segment_references(reference) -> dict[str, torch.Tensor]:
    """One image, four prompts of 1 to 4 clicks; the expected masks come from running the encoder
    and decoder in full for every prompt (the definition), not from the reference's shortcut."""
    generator = torch.Generator().manual_seed(501)
    width, patch, n_masks = 16, 8, 3
    image = torch.randn(3, 64, 48, generator=generator)
    encoder_args = cases.encoder_weights(width, patch, generator)
    decoder_args = cases.decoder_weights(width, n_masks, generator)
    prompts = cases.random_prompts([1, 2, 3, 4], (64, 48), generator)
    expected = cases.per_prompt_masks(image, prompts, encoder_args, decoder_args)
    encoder = cases.build_local_helper("segment_helpers.py", "make_image_encoder", *encoder_args, cases.ENCODER_DEPTH)
    decoder = cases.build_local_helper("segment_helpers.py", "make_prompt_decoder", *decoder_args)
    with torch.no_grad():
        produced = reference.segment_prompts(image, prompts, encoder, decoder)
    if encoder.calls != 1 or any(not torch.equal(a, b) for a, b in zip(produced, expected)):
        raise AssertionError("the reference segment_prompts disagrees with per-prompt evaluation")
    out = {"case.segment.image": image, "case.segment.n_prompts": _scalar(len(prompts))}
    out.update(_with_prefix("case.segment.encoder", dict(zip(("patch_weight", "patch_bias", "mix_weight"), encoder_args))))
    out.update(_with_prefix("case.segment.decoder", dict(zip(("point_weight", "mask_queries"), decoder_args))))
    for index, (points, masks) in enumerate(zip(prompts, expected)):
        out[f"case.segment.prompt.{index}"] = points
        out[f"case.segment.masks.{index}"] = masks
    return out


def build_references() -> dict[str, torch.Tensor]:
    reference = cases.load_solution()
    tensors = {}
    for part in (attention_references, mlp_references, block_references, predict_masks_references, segment_references):
        tensors.update(part(reference))
    return {key: value.contiguous().clone() for key, value in tensors.items()}


if __name__ == "__main__":
    references = build_references()
    save_file(references, str(OUTPUT))
    print(f"wrote {len(references)} tensors to {OUTPUT}")
