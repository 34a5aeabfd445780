"""Reference solution: SAM's two-way cross-attention decoder layer, mask prediction, prompt reuse.

Contract: section 3 of EXERCISES.md. The `__init__` methods are the ones the notebook gives the
student (parameter names match segment-anything, so reference weights load with strict=True);
the notebook's build script copies them from this file. Self-contained (torch and math only)
so that it can be pasted into the student notebook.
"""

import math

import torch
from torch import nn


class Attention(nn.Module):
    """Multi-head attention whose projections may shrink the width by `downsample_rate`."""

    def __init__(self, embedding_dim, num_heads, downsample_rate=1):
        super().__init__()
        self.embedding_dim = embedding_dim
        self.internal_dim = embedding_dim // downsample_rate
        self.num_heads = num_heads
        assert self.internal_dim % num_heads == 0, "num_heads must divide embedding_dim / downsample_rate"
        self.q_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.k_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.v_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.out_proj = nn.Linear(self.internal_dim, embedding_dim)

    def forward(self, q, k, v):
        """q [B, Nq, C], k [B, Nk, C], v [B, Nk, C] -> [B, Nq, C].

        Each query's weights are a softmax over the Nk keys of its scaled dot products.
        """
        queries = _split_heads(self.q_proj(q), self.num_heads)  # [B, h, Nq, d]
        keys = _split_heads(self.k_proj(k), self.num_heads)  # [B, h, Nk, d]
        values = _split_heads(self.v_proj(v), self.num_heads)  # [B, h, Nk, d]
        head_dim = queries.shape[-1]
        scores = queries @ keys.transpose(-2, -1) / math.sqrt(head_dim)  # [B, h, Nq, Nk]
        weights = torch.softmax(scores, dim=-1)
        return self.out_proj(_merge_heads(weights @ values))


def _split_heads(x, num_heads):
    """[B, N, h*d] -> [B, h, N, d]: consecutive channel blocks become heads."""
    batch, tokens, width = x.shape
    return x.reshape(batch, tokens, num_heads, width // num_heads).transpose(1, 2)


def _merge_heads(x):
    """[B, h, N, d] -> [B, N, h*d], the inverse of `_split_heads`."""
    batch, heads, tokens, head_dim = x.shape
    return x.transpose(1, 2).reshape(batch, tokens, heads * head_dim)


class MLPBlock(nn.Module):
    """Two linear layers with a ReLU between them, applied to every token independently."""

    def __init__(self, embedding_dim, mlp_dim):
        super().__init__()
        self.lin1 = nn.Linear(embedding_dim, mlp_dim)
        self.lin2 = nn.Linear(mlp_dim, embedding_dim)
        self.act = nn.ReLU()

    def forward(self, x):
        """x [..., C] -> [..., C]."""
        return self.lin2(self.act(self.lin1(x)))


class TwoWayAttentionBlock(nn.Module):
    """One layer of SAM's decoder: tokens read the image, then the image reads the tokens."""

    def __init__(
        self,
        embedding_dim=256,
        num_heads=8,
        mlp_dim=2048,
        attention_downsample_rate=2,
        skip_first_layer_pe=False,
    ):
        super().__init__()
        self.self_attn = Attention(embedding_dim, num_heads)
        self.norm1 = nn.LayerNorm(embedding_dim)
        self.cross_attn_token_to_image = Attention(embedding_dim, num_heads, attention_downsample_rate)
        self.norm2 = nn.LayerNorm(embedding_dim)
        self.mlp = MLPBlock(embedding_dim, mlp_dim)
        self.norm3 = nn.LayerNorm(embedding_dim)
        self.norm4 = nn.LayerNorm(embedding_dim)
        self.cross_attn_image_to_token = Attention(embedding_dim, num_heads, attention_downsample_rate)
        self.skip_first_layer_pe = skip_first_layer_pe

    def forward(self, queries, keys, query_pe, key_pe):
        """queries [B, Nq, C], keys [B, Nk, C], query_pe [B, Nq, C], key_pe [B, Nk, C]
        -> (queries [B, Nq, C], keys [B, Nk, C]).

        Positions are added to whatever plays query or key in every attention (never to the
        values), and each step is a residual add followed by its LayerNorm.
        """
        if self.skip_first_layer_pe:
            queries = self.self_attn(queries, queries, queries)
        else:
            positioned = queries + query_pe
            queries = queries + self.self_attn(positioned, positioned, queries)
        queries = self.norm1(queries)

        read_from_image = self.cross_attn_token_to_image(queries + query_pe, keys + key_pe, keys)
        queries = self.norm2(queries + read_from_image)

        queries = self.norm3(queries + self.mlp(queries))

        read_from_tokens = self.cross_attn_image_to_token(keys + key_pe, queries + query_pe, queries)
        keys = self.norm4(keys + read_from_tokens)
        return queries, keys


def predict_masks(mask_tokens_out, upscaled, hypernet):
    """mask_tokens_out [B, K, C], upscaled [B, C', H, W], hypernet: K modules C -> C'
    -> mask logits [B, K, H, W].

    Mask k at a pixel is the dot product of hypernet[k](token k) with that pixel's features.
    """
    mask_vectors = torch.stack(
        [mlp(mask_tokens_out[:, index]) for index, mlp in enumerate(hypernet)], dim=1
    )  # [B, K, C']
    return torch.einsum("bkc,bchw->bkhw", mask_vectors, upscaled)


def segment_prompts(image, prompts, image_encoder, prompt_decoder):
    """image [3, H, W], prompts: list of [N_i, 2] clicks -> list of masks [K, h, w], one per prompt.

    The heavy encoder runs once; every prompt reuses its embedding with the light decoder.
    """
    embedding = image_encoder(image[None])  # [1, C, h, w]
    return [prompt_decoder(embedding, points) for points in prompts]
