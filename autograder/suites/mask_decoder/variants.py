"""Wrong implementations of the mask_decoder contract, one per anticipated mistake.

Each variant is the correct computation with one `Mistake` switched on, run with the weights of
a reference module (its `q_proj`, `norm1`, ... are only read). An Attention-level mistake is
also carried into the decoder block, as it would be in a student notebook whose block calls the
faulty Attention. Variant names are `<misconception id>/<form>`; `misconception_id(name)`
strips the form. Trusted code: used by the hidden suite, never sent to the sandbox.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch

PREFIX = "impl.mask_decoder."


@dataclass(frozen=True)
class Mistake:
    # inside Attention
    softmax_over: str = "keys"      # "queries": normalise each key's column instead of each query's row
    scale: str = "head"             # "none": no 1/sqrt(d); "width": 1/sqrt(internal width), not per head
    head_split: str = "transpose"   # "view": [B,N,C] reshaped straight to [B,h,N,d]
    values_from: str = "v"          # "k": the values are projected from the key input
    # inside TwoWayAttentionBlock
    cross_source: str = "other"     # "own": both cross-attentions read K and V from their own stream
    pe: str = "every"               # "first-only", "stale" (computed once, before the updates), "none"
    pe_in_values: bool = False      # the value tensors carry the positional encoding too
    norm: str = "post"              # "pre": LayerNorm the stream before each sub-layer, no norm after
    image_to_token: str = "run"     # "skip": keys returned as they came; "norm-only": norm4(keys)
    first_layer: str = "replace"    # with skip_first_layer_pe: "residual" adds it; "pe-anyway" ignores the flag


VARIANTS: dict[str, Mistake] = {
    PREFIX + "softmax-wrong-axis/over-queries": Mistake(softmax_over="queries"),
    PREFIX + "missing-scale/none": Mistake(scale="none"),
    PREFIX + "missing-scale/full-width": Mistake(scale="width"),
    PREFIX + "head-split-wrong/view": Mistake(head_split="view"),
    PREFIX + "kv-wrong-source/values-from-keys": Mistake(values_from="k"),
    PREFIX + "kv-wrong-source/own-stream": Mistake(cross_source="own"),
    PREFIX + "kv-wrong-source/pe-in-values": Mistake(pe_in_values=True),
    PREFIX + "pe-not-readded/first-only": Mistake(pe="first-only"),
    PREFIX + "pe-not-readded/stale": Mistake(pe="stale"),
    PREFIX + "pe-not-readded/never": Mistake(pe="none"),
    PREFIX + "pre-norm/pre": Mistake(norm="pre"),
    PREFIX + "image-to-token-skipped/untouched": Mistake(image_to_token="skip"),
    PREFIX + "image-to-token-skipped/norm-only": Mistake(image_to_token="norm-only"),
    PREFIX + "skip-pe-residual/residual": Mistake(first_layer="residual"),
    PREFIX + "skip-pe-ignored/pe-anyway": Mistake(first_layer="pe-anyway"),
}

ATTENTION_FIELDS = ("softmax_over", "scale", "head_split", "values_from")


def misconception_id(variant_name: str) -> str:
    return variant_name.split("/", 1)[0]


def _is_attention_mistake(mistake: Mistake) -> bool:
    default = Mistake()
    return any(getattr(mistake, name) != getattr(default, name) for name in ATTENTION_FIELDS)


def _split(x, heads, how):
    batch, tokens, width = x.shape
    if how == "view":
        return x.reshape(batch, heads, tokens, width // heads)
    return x.reshape(batch, tokens, heads, width // heads).transpose(1, 2)


def attention(module, q, k, v, m: Mistake = Mistake()):
    """`module` is a reference Attention whose projections are used as the weights."""
    heads = module.num_heads
    queries = _split(module.q_proj(q), heads, m.head_split)
    keys = _split(module.k_proj(k), heads, m.head_split)
    values = _split(module.v_proj(k if m.values_from == "k" else v), heads, m.head_split)
    scores = queries @ keys.transpose(-2, -1)
    if m.scale == "head":
        scores = scores / math.sqrt(queries.shape[-1])
    elif m.scale == "width":
        scores = scores / math.sqrt(module.internal_dim)
    weights = torch.softmax(scores, dim=-1 if m.softmax_over == "keys" else -2)
    mixed = weights @ values  # [B, h, Nq, d]
    batch, _, n_q, head_dim = mixed.shape
    if m.head_split == "view":
        merged = mixed.reshape(batch, n_q, heads * head_dim)
    else:
        merged = mixed.transpose(1, 2).reshape(batch, n_q, heads * head_dim)
    return module.out_proj(merged)


def block(module, queries, keys, query_pe, key_pe, m: Mistake = Mistake()):
    """`module` is a reference TwoWayAttentionBlock; returns (queries, keys)."""
    def attend(sub, q, k, v):
        return attention(sub, q, k, v, m)

    def with_pe(x, pe, original=None):
        if m.pe in ("first-only", "none"):
            return x
        if m.pe == "stale":
            return original + pe
        return x + pe

    pre = m.norm == "pre"
    original_queries, original_keys = queries, keys

    # (1) self-attention among the tokens
    if module.skip_first_layer_pe and m.first_layer != "pe-anyway":
        source = module.norm1(queries) if pre else queries
        update = attend(module.self_attn, source, source, source)
        queries = queries + update if m.first_layer == "residual" else update
    else:
        source = module.norm1(queries) if pre else queries
        positioned = source if m.pe == "none" else source + query_pe
        values = positioned if m.pe_in_values else source
        queries = queries + attend(module.self_attn, positioned, positioned, values)
    if not pre:
        queries = module.norm1(queries)

    # (2) token-to-image cross-attention
    source = module.norm2(queries) if pre else queries
    q = with_pe(source, query_pe, original_queries)
    if m.cross_source == "own":
        kv, kv_pe, kv_original = source, query_pe, original_queries
    else:
        kv, kv_pe, kv_original = keys, key_pe, original_keys
    k = with_pe(kv, kv_pe, kv_original)
    queries = queries + attend(module.cross_attn_token_to_image, q, k, k if m.pe_in_values else kv)
    if not pre:
        queries = module.norm2(queries)

    # (3) MLP on the tokens
    source = module.norm3(queries) if pre else queries
    queries = queries + module.mlp.lin2(torch.relu(module.mlp.lin1(source)))
    if not pre:
        queries = module.norm3(queries)

    # (4) image-to-token cross-attention, updating the image
    if m.image_to_token == "skip":
        return queries, keys
    if m.image_to_token == "norm-only":
        return queries, module.norm4(keys)
    source = module.norm4(keys) if pre else keys
    q = with_pe(source, key_pe, original_keys)
    if m.cross_source == "own":
        kv, kv_pe, kv_original = source, key_pe, original_keys
    else:
        kv, kv_pe, kv_original = queries, query_pe, original_queries
    k = with_pe(kv, kv_pe, kv_original)
    keys = keys + attend(module.cross_attn_image_to_token, q, k, k if m.pe_in_values else kv)
    if not pre:
        keys = module.norm4(keys)
    return queries, keys


@torch.no_grad()
def attention_outputs(module, q, k, v) -> dict[str, torch.Tensor]:
    """{variant name: output} for the Attention-level mistakes."""
    return {name: attention(module, q, k, v, m) for name, m in VARIANTS.items() if _is_attention_mistake(m)}


class LazyOutputs(Mapping):
    """{variant name: output}, each output computed only when asked for (diagnosis stops at the
    first match) and dropped when it equals the correct output (a mistake this input cannot show)."""

    def __init__(self, names, compute, correct):
        self._names = list(names)
        self._compute = compute
        self._correct = correct
        self._cache: dict[str, torch.Tensor | None] = {}

    def __iter__(self):
        return iter(self._names)

    def __len__(self):
        return len(self._names)

    def __getitem__(self, name):
        if name not in self._names:
            raise KeyError(name)
        if name not in self._cache:
            with torch.no_grad():
                output = self._compute(name)
            same = output.shape == self._correct.shape and torch.allclose(output, self._correct, rtol=1e-6, atol=1e-7)
            self._cache[name] = None if same else output
        return self._cache[name]


def block_outputs(module, queries, keys, query_pe, key_pe) -> Mapping[str, torch.Tensor | None]:
    """{variant name: flattened (queries, keys), or None where the mistake changes nothing here}."""
    with torch.no_grad():
        correct = flatten_pair(*block(module, queries, keys, query_pe, key_pe))
    names = [name for name, m in VARIANTS.items()
             if m.first_layer == "replace" or module.skip_first_layer_pe]  # the flag's mistakes need the flag

    def compute(name):
        return flatten_pair(*block(module, queries, keys, query_pe, key_pe, VARIANTS[name]))

    return LazyOutputs(names, compute, correct)


def flatten_pair(queries, keys) -> torch.Tensor:
    """(queries, keys) -> one 1-D tensor, the form in which block outputs are compared."""
    return torch.cat([queries.reshape(-1), keys.reshape(-1)])
