"""Shared, trusted pieces of the mask_decoder suite: case definitions, seeded weights, and the
grader helpers built in-process (the same sources the sandbox runs). Imports only torch and the
standard library, so `generate_references.py` can use it without the engine.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

SUITE_DIR = Path(__file__).resolve().parent
REPO_ROOT = SUITE_DIR.parents[2]


def load_sibling(filename: str, *, folder: Path = SUITE_DIR):
    """Import a file of this suite by path under a name no other suite uses."""
    path = folder / filename
    name = f"tensorgrade_mask_decoder_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def load_solution():
    """The trusted reference, imported as a package when installed, else by path."""
    try:
        from solutions import mask_decoder
    except ImportError:
        return load_sibling("mask_decoder.py", folder=REPO_ROOT / "solutions")
    return mask_decoder


def helper_source(filename: str) -> str:
    """Source text of a grader helper (sent to the sandbox as text, never imported there)."""
    return (SUITE_DIR / filename).read_text(encoding="utf-8")


def build_local_helper(filename: str, factory: str, *args):
    """Build a grader helper in this process, exactly as the sandbox does."""
    namespace = {"__name__": "tensorgrade_helper"}
    exec(compile(helper_source(filename), f"<{filename}>", "exec"), namespace)
    return namespace[factory](*args)


# ---- seeded weights ----------------------------------------------------------------------

def random_state_dict(module: torch.nn.Module, generator: torch.Generator, dtype=torch.float32) -> dict[str, torch.Tensor]:
    """Weights for `module` drawn from `generator`: linear layers ~ N(0, 1/fan_in), biases and
    LayerNorm shifts small, LayerNorm scales around 1 (never the defaults, so that mixing up
    norm1..norm4 or skipping one changes the output)."""
    state = {}
    for name, param in module.state_dict().items():
        noise = torch.randn(param.shape, generator=generator, dtype=torch.float64)
        layer_kind = name.split(".")[-2] if "." in name else ""
        if layer_kind.startswith("norm"):
            value = 1 + 0.3 * noise if name.endswith("weight") else 0.2 * noise
        elif name.endswith("bias"):
            value = 0.1 * noise
        else:
            value = noise / math.sqrt(param.shape[-1])
        state[name] = value.to(dtype)
    return state


def seeded_module(module: torch.nn.Module, seed: int, dtype=torch.float32) -> tuple[torch.nn.Module, dict]:
    """Load seeded weights into a freshly built reference module; returns (module, state_dict)."""
    state = random_state_dict(module, torch.Generator().manual_seed(seed), dtype)
    module = module.to(dtype)
    module.load_state_dict(state, strict=True)
    return module, state


# ---- cases ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class AttentionCase:
    name: str
    embedding_dim: int
    num_heads: int
    downsample_rate: int
    batch: int
    n_queries: int
    n_keys: int
    dtype: torch.dtype
    seed: int


@dataclass(frozen=True)
class BlockCase:
    name: str
    embedding_dim: int
    num_heads: int
    mlp_dim: int
    downsample_rate: int
    skip_first_layer_pe: bool
    batch: int
    n_tokens: int
    grid: tuple[int, int]
    dtype: torch.dtype
    seed: int


ATTENTION_CASES = [
    AttentionCase("attn_r1_h4", 32, 4, 1, 2, 5, 64, torch.float32, 101),
    AttentionCase("attn_r2_h2", 32, 2, 2, 2, 7, 48, torch.float32, 102),
    AttentionCase("attn_r2_h8", 64, 8, 2, 1, 5, 40, torch.float32, 103),
    AttentionCase("attn_self_h1", 16, 1, 1, 3, 6, 6, torch.float32, 104),
    AttentionCase("attn_f64_r2_h2", 16, 2, 2, 2, 3, 10, torch.float64, 105),
]

BLOCK_CASES = [
    BlockCase("block_grid64", 32, 4, 64, 2, False, 1, 5, (64, 64), torch.float32, 201),
    BlockCase("block_skip_pe", 32, 4, 64, 2, True, 2, 7, (6, 10), torch.float32, 202),
    BlockCase("block_batch2", 16, 2, 32, 2, False, 2, 7, (8, 8), torch.float32, 203),
    BlockCase("block_f64", 16, 2, 24, 2, False, 2, 5, (5, 3), torch.float64, 204),
    BlockCase("block_f64_skip_pe", 16, 4, 24, 1, True, 1, 5, (4, 7), torch.float64, 205),
]

MLP_CASES = {"mlp_f32": (16, 40, torch.float32, 301), "mlp_f64": (8, 12, torch.float64, 302)}


def attention_module(reference, case: AttentionCase) -> tuple[torch.nn.Module, dict]:
    module = reference.Attention(case.embedding_dim, case.num_heads, case.downsample_rate)
    return seeded_module(module, case.seed, case.dtype)


def block_module(reference, case: BlockCase) -> tuple[torch.nn.Module, dict]:
    module = reference.TwoWayAttentionBlock(case.embedding_dim, case.num_heads, case.mlp_dim,
                                            case.downsample_rate, case.skip_first_layer_pe)
    return seeded_module(module, case.seed, case.dtype)


def block_inputs(case: BlockCase, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """(queries [B,Nq,C], keys [B,h*w,C], query_pe, key_pe) as the decoder feeds them."""
    n_keys = case.grid[0] * case.grid[1]
    shapes = [(case.batch, case.n_tokens, case.embedding_dim), (case.batch, n_keys, case.embedding_dim)] * 2
    queries, keys, query_pe, key_pe = (torch.randn(s, generator=generator, dtype=case.dtype) for s in shapes)
    return queries, keys, query_pe, key_pe


# ---- predict_masks and segment_prompts ------------------------------------------------------

def hypernet_weights(n_masks: int, width: int, out_width: int, generator: torch.Generator, dtype=torch.float32) -> list[tuple]:
    """K tuples (lin1_weight, lin1_bias, lin2_weight, lin2_bias) for `hypernet_mlp.py`."""
    layers = []
    for _ in range(n_masks):
        layers.append((
            torch.randn(width, width, generator=generator, dtype=dtype) / math.sqrt(width),
            0.1 * torch.randn(width, generator=generator, dtype=dtype),
            torch.randn(out_width, width, generator=generator, dtype=dtype) / math.sqrt(width),
            0.1 * torch.randn(out_width, generator=generator, dtype=dtype),
        ))
    return layers


def local_hypernet(weights: list[tuple]) -> list[torch.nn.Module]:
    return [build_local_helper("hypernet_mlp.py", "make_hypernet_mlp", *layer) for layer in weights]


ENCODER_DEPTH = 4


def encoder_weights(width: int, patch: int, generator: torch.Generator, dtype=torch.float32) -> tuple:
    """(patch_weight [C,3,p,p], patch_bias [C], mix_weight [C,C]) for `segment_helpers.py`."""
    return (
        torch.randn(width, 3, patch, patch, generator=generator, dtype=dtype) / (patch * math.sqrt(3)),
        0.1 * torch.randn(width, generator=generator, dtype=dtype),
        torch.randn(width, width, generator=generator, dtype=dtype) / math.sqrt(width),
    )


def decoder_weights(width: int, n_masks: int, generator: torch.Generator, dtype=torch.float32) -> tuple:
    """(point_weight [2,C], mask_queries [K,C]) for `segment_helpers.py`."""
    return (
        0.05 * torch.randn(2, width, generator=generator, dtype=dtype),
        torch.randn(n_masks, width, generator=generator, dtype=dtype) / math.sqrt(width),
    )


def random_prompts(counts: list[int], image_hw: tuple[int, int], generator: torch.Generator, dtype=torch.float32) -> list[torch.Tensor]:
    """One [N_i, 2] tensor of (x, y) pixel clicks per entry of `counts`."""
    height, width = image_hw
    scale = torch.tensor([float(width), float(height)], dtype=dtype)
    return [torch.rand(n, 2, generator=generator, dtype=dtype) * scale for n in counts]


def per_prompt_masks(image, prompts, encoder_args, decoder_args) -> list[torch.Tensor]:
    """What `segment_prompts` must return: the encoder and decoder run in full for every prompt."""
    masks = []
    with torch.no_grad():
        for points in prompts:
            encoder = build_local_helper("segment_helpers.py", "make_image_encoder", *encoder_args, ENCODER_DEPTH)
            decoder = build_local_helper("segment_helpers.py", "make_prompt_decoder", *decoder_args)
            masks.append(decoder(encoder(image[None]), points))
    return masks
