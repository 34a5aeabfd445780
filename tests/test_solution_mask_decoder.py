"""The mask_decoder reference checked against independent facts.

- attention recomputed in float64 by explicit loops over batch, heads, queries and keys,
  with the weight matrices read straight from the parameters (no reshapes, no softmax call);
- the decoder block recomputed step by step from EXERCISES.md with that attention;
- the lesson's tensor trace ([5, 256] x [4096, 256] -> [5, 4096] scores whose rows sum to 1);
- gradcheck (finite differences) for every module and for predict_masks;
- permutation properties and the once-per-image encoder rule.
"""

import math

import pytest
import torch

from solutions import mask_decoder as ref


def _randomise(module, seed):
    """Give every parameter (LayerNorm scales and shifts included) a non-trivial random value."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in module.named_parameters():
            noise = torch.randn(param.shape, generator=generator, dtype=torch.float64)
            if name.split(".")[-2].startswith("norm") and name.endswith("weight"):
                param.copy_(1 + 0.2 * noise)
            else:
                param.copy_(noise / math.sqrt(max(param.shape[-1], 1)))
    return module


def _linear(x_row, layer):
    """One vector through an nn.Linear, written as an explicit sum."""
    weight, bias = layer.weight.double(), layer.bias.double()
    return torch.stack([sum(weight[o, i] * x_row[i] for i in range(x_row.shape[0])) + bias[o]
                        for o in range(weight.shape[0])])


@torch.no_grad()
def loop_attention(module, q, k, v):
    """Independent float64 multi-head attention: loops over batch, head, query and key."""
    q, k, v = q.double(), k.double(), v.double()
    batch, n_q, width = q.shape
    n_k = k.shape[1]
    heads = module.num_heads
    head_dim = module.internal_dim // heads
    out = torch.zeros(batch, n_q, width, dtype=torch.float64)
    for b in range(batch):
        qp = [_linear(q[b, i], module.q_proj) for i in range(n_q)]
        kp = [_linear(k[b, j], module.k_proj) for j in range(n_k)]
        vp = [_linear(v[b, j], module.v_proj) for j in range(n_k)]
        for i in range(n_q):
            merged = []
            for h in range(heads):
                channels = slice(h * head_dim, (h + 1) * head_dim)
                scores = [float((qp[i][channels] * kp[j][channels]).sum()) / math.sqrt(head_dim)
                          for j in range(n_k)]
                top = max(scores)
                exps = [math.exp(s - top) for s in scores]
                total = sum(exps)
                mixed = sum((exps[j] / total) * vp[j][channels] for j in range(n_k))
                merged.append(mixed)
            out[b, i] = _linear(torch.cat(merged), module.out_proj)
    return out


def _layer_norm(x, norm):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + norm.eps) * norm.weight.double() + norm.bias.double()


def stepwise_block(block, queries, keys, query_pe, key_pe):
    """The four steps of EXERCISES.md, each with the loop attention above, in float64."""
    queries, keys, query_pe, key_pe = (t.double() for t in (queries, keys, query_pe, key_pe))
    if block.skip_first_layer_pe:
        queries = _layer_norm(loop_attention(block.self_attn, queries, queries, queries), block.norm1)
    else:
        update = loop_attention(block.self_attn, queries + query_pe, queries + query_pe, queries)
        queries = _layer_norm(queries + update, block.norm1)
    update = loop_attention(block.cross_attn_token_to_image, queries + query_pe, keys + key_pe, keys)
    queries = _layer_norm(queries + update, block.norm2)
    hidden = torch.clamp(queries @ block.mlp.lin1.weight.double().T + block.mlp.lin1.bias.double(), min=0)
    mlp_out = hidden @ block.mlp.lin2.weight.double().T + block.mlp.lin2.bias.double()
    queries = _layer_norm(queries + mlp_out, block.norm3)
    update = loop_attention(block.cross_attn_image_to_token, keys + key_pe, queries + query_pe, queries)
    keys = _layer_norm(keys + update, block.norm4)
    return queries, keys


@pytest.mark.parametrize(
    "width, heads, rate, n_q, n_k",
    [(8, 1, 1, 3, 5), (8, 2, 1, 4, 6), (12, 3, 2, 5, 7), (16, 4, 2, 2, 9)],
)
def test_attention_matches_loop_recomputation(width, heads, rate, n_q, n_k):
    module = _randomise(ref.Attention(width, heads, rate), seed=width + heads + rate)
    gen = torch.Generator().manual_seed(n_q * 31 + n_k)
    q, k, v = (torch.randn(2, n, width, generator=gen) for n in (n_q, n_k, n_k))
    out = module(q, k, v)
    assert out.shape == (2, n_q, width)
    torch.testing.assert_close(out.double(), loop_attention(module, q, k, v), rtol=1e-5, atol=1e-5)


def test_attention_float64_matches_loop_tightly():
    module = _randomise(ref.Attention(8, 2, 2), seed=3).double()
    gen = torch.Generator().manual_seed(9)
    q, k, v = (torch.randn(1, n, 8, generator=gen, dtype=torch.float64) for n in (3, 4, 4))
    torch.testing.assert_close(module(q, k, v), loop_attention(module, q, k, v), rtol=1e-12, atol=1e-12)


def _one_hot_probe(width):
    """A one-head Attention whose value and output projections are the identity, so calling it
    with one-hot values reads the attention weights back out of the output."""
    probe = ref.Attention(width, 1)
    with torch.no_grad():
        for layer in (probe.v_proj, probe.out_proj):
            layer.weight.copy_(torch.eye(width))
            layer.bias.zero_()
    return probe


def test_lesson_trace_five_tokens_over_64x64_grid():
    """[5, 256] tokens attending to [4096, 256] positions give a [5, 4096] score matrix."""
    width, n_keys = 256, 64 * 64
    probe = _one_hot_probe(width)
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randn(1, 5, width, generator=gen)
    image = torch.randn(1, n_keys, width, generator=gen)
    columns = []
    with torch.no_grad():
        for start in range(0, n_keys, width):
            values = torch.zeros(1, n_keys, width)
            values[0, start:start + width] = torch.eye(width)
            columns.append(probe(tokens, image, values)[0])  # [5, 256] weights of these keys
    weights = torch.cat(columns, dim=1)
    assert weights.shape == (5, 4096)
    assert torch.all(weights >= 0)
    torch.testing.assert_close(weights.sum(1), torch.ones(5), rtol=1e-5, atol=1e-5)
    # the same weights from scratch: scaled dot products of the projected vectors
    scores = probe.q_proj(tokens[0]) @ probe.k_proj(image[0]).T / math.sqrt(width)
    expected = torch.exp(scores - scores.max(1, keepdim=True).values)
    expected = expected / expected.sum(1, keepdim=True)
    torch.testing.assert_close(weights, expected.detach(), rtol=1e-4, atol=1e-6)


def test_identical_keys_give_the_mean_value_whatever_the_query():
    module = _randomise(ref.Attention(8, 2), seed=5)
    gen = torch.Generator().manual_seed(1)
    keys = torch.randn(1, 1, 8, generator=gen).expand(1, 6, 8)
    values = torch.randn(1, 6, 8, generator=gen)
    out = module(torch.randn(1, 3, 8, generator=gen), keys, values)
    expected = module.out_proj(module.v_proj(values).mean(1, keepdim=True)).expand(1, 3, 8)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)


def test_mlp_block_is_relu_between_two_linears():
    mlp = _randomise(ref.MLPBlock(4, 6), seed=2)
    x = torch.tensor([[1.0, -2.0, 0.5, 3.0]])
    with torch.no_grad():
        hidden = [max(0.0, float(_linear(x[0], mlp.lin1)[o])) for o in range(6)]
    expected = _linear(torch.tensor(hidden, dtype=torch.float64), mlp.lin2)
    torch.testing.assert_close(mlp(x)[0].double(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("skip_first_layer_pe", [False, True])
@pytest.mark.parametrize("grid", [(3, 3), (2, 5)])
def test_block_matches_stepwise_recomputation(skip_first_layer_pe, grid):
    block = _randomise(ref.TwoWayAttentionBlock(8, 2, 16, 2, skip_first_layer_pe), seed=11)
    gen = torch.Generator().manual_seed(grid[0] * 10 + grid[1])
    n_keys = grid[0] * grid[1]
    queries, query_pe = (torch.randn(2, 5, 8, generator=gen) for _ in range(2))
    keys, key_pe = (torch.randn(2, n_keys, 8, generator=gen) for _ in range(2))
    out_queries, out_keys = block(queries, keys, query_pe, key_pe)
    want_queries, want_keys = stepwise_block(block, queries, keys, query_pe, key_pe)
    torch.testing.assert_close(out_queries.double(), want_queries, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out_keys.double(), want_keys, rtol=1e-4, atol=1e-5)


def test_block_default_sizes_are_sams():
    block = ref.TwoWayAttentionBlock()
    assert block.self_attn.q_proj.weight.shape == (256, 256)
    assert block.cross_attn_token_to_image.q_proj.weight.shape == (128, 256)
    assert block.cross_attn_image_to_token.out_proj.weight.shape == (256, 128)
    assert block.mlp.lin1.weight.shape == (2048, 256)
    assert block.self_attn.num_heads == 8


def test_block_gradients_match_finite_differences():
    block = _randomise(ref.TwoWayAttentionBlock(4, 2, 6, 2), seed=4).double()
    gen = torch.Generator().manual_seed(2)
    inputs = [torch.randn(1, n, 4, generator=gen, dtype=torch.float64, requires_grad=True)
              for n in (3, 4, 3, 4)]
    assert torch.autograd.gradcheck(lambda *xs: block(*xs), inputs)
    weight = block.cross_attn_image_to_token.k_proj.weight

    def as_function_of_weight(w):
        with torch.no_grad():
            weight.copy_(w)
        return block(*[x.detach() for x in inputs])[1].sum()

    # finite difference of one weight entry against autograd
    block.zero_grad()
    block(*[x.detach() for x in inputs])[1].sum().backward()
    analytic = weight.grad[1, 2].item()
    base = weight.detach().clone()
    step = 1e-6
    plus, minus = base.clone(), base.clone()
    plus[1, 2] += step
    minus[1, 2] -= step
    numeric = (as_function_of_weight(plus) - as_function_of_weight(minus)).item() / (2 * step)
    as_function_of_weight(base)
    assert math.isclose(analytic, numeric, rel_tol=1e-5, abs_tol=1e-8)


def test_permuting_image_positions_permutes_keys_and_keeps_queries():
    block = _randomise(ref.TwoWayAttentionBlock(8, 2, 16, 2), seed=6).double()
    gen = torch.Generator().manual_seed(3)
    queries, query_pe = (torch.randn(1, 5, 8, generator=gen, dtype=torch.float64) for _ in range(2))
    keys, key_pe = (torch.randn(1, 12, 8, generator=gen, dtype=torch.float64) for _ in range(2))
    order = torch.randperm(12, generator=gen)
    q1, k1 = block(queries, keys, query_pe, key_pe)
    q2, k2 = block(queries, keys[:, order], query_pe, key_pe[:, order])
    torch.testing.assert_close(q2, q1)
    torch.testing.assert_close(k2, k1[:, order])
    token_order = torch.randperm(5, generator=gen)
    q3, k3 = block(queries[:, token_order], keys, query_pe[:, token_order], key_pe)
    torch.testing.assert_close(q3, q1[:, token_order])
    torch.testing.assert_close(k3, k1)


def _hypernet(k, width, out_width, seed):
    gen = torch.Generator().manual_seed(seed)
    layers = []
    for _ in range(k):
        layer = torch.nn.Sequential(torch.nn.Linear(width, width), torch.nn.ReLU(), torch.nn.Linear(width, out_width))
        with torch.no_grad():
            for p in layer.parameters():
                p.copy_(torch.randn(p.shape, generator=gen))
        layers.append(layer.double())
    return layers


def test_predict_masks_matches_per_pixel_loops():
    hypernet = _hypernet(3, 4, 2, seed=1)
    gen = torch.Generator().manual_seed(5)
    tokens = torch.randn(2, 3, 4, generator=gen, dtype=torch.float64)
    upscaled = torch.randn(2, 2, 3, 5, generator=gen, dtype=torch.float64)
    masks = ref.predict_masks(tokens, upscaled, hypernet)
    assert masks.shape == (2, 3, 3, 5)
    for b in range(2):
        for k in range(3):
            vector = hypernet[k](tokens[b, k])
            for y in range(3):
                for x in range(5):
                    expected = sum(vector[c] * upscaled[b, c, y, x] for c in range(2))
                    assert math.isclose(masks[b, k, y, x].item(), expected.item(), rel_tol=1e-12, abs_tol=1e-12)
    inputs = (tokens.requires_grad_(), upscaled.requires_grad_())
    assert torch.autograd.gradcheck(lambda t, u: ref.predict_masks(t, u, hypernet), inputs)


def test_predict_masks_keeps_float32():
    hypernet = [layer.float() for layer in _hypernet(2, 4, 3, seed=2)]
    masks = ref.predict_masks(torch.randn(1, 2, 4), torch.randn(1, 3, 6, 4), hypernet)
    assert masks.dtype == torch.float32 and masks.shape == (1, 2, 6, 4)


class _CountingEncoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0
        self.conv = torch.nn.Conv2d(3, 4, 4, stride=4)

    def forward(self, image):
        self.calls += 1
        return self.conv(image)


def _decoder(embedding, points):
    weights = torch.softmax(points.sum(-1), 0)  # [N]
    summary = (embedding[0].flatten(1) @ embedding[0].flatten(1).T).sum(0)  # [C]
    return (summary[:2, None, None] * weights.sum()) * embedding[0, :2] + points.mean()


def test_segment_prompts_runs_encoder_once_and_equals_per_prompt():
    torch.manual_seed(0)
    encoder = _CountingEncoder()
    image = torch.randn(3, 16, 16)
    prompts = [torch.rand(n, 2) * 16 for n in (1, 2, 3)]
    masks = ref.segment_prompts(image, prompts, encoder, _decoder)
    assert encoder.calls == 1
    assert len(masks) == 3
    for points, mask in zip(prompts, masks):
        torch.testing.assert_close(mask, _decoder(encoder(image[None]), points))
