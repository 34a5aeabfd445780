"""Hidden suite: `MLPBlock.forward` and `TwoWayAttentionBlock.forward` (one decoder layer).

Reference weights (LayerNorm scales and shifts included, never the defaults) are loaded into
the student's modules; outputs are compared for both streams, then gradients and properties.
"""


import pytest
import torch

from autograder.testing import expect_close, expect_meta
from autograder.suites.mask_decoder import _support as support


cases = support.cases
variants = support.variants
BLOCK_CASES = [case.name for case in cases.BLOCK_CASES]
INPUT_FIELDS = ("queries", "keys", "query_pe", "key_pe")


def _describe(args) -> str:
    width, heads, mlp_dim, rate, skip = args
    return f"TwoWayAttentionBlock(C={width}, heads={heads}, mlp={mlp_dim}, rate={rate}, skip_first_layer_pe={skip})"


def _fresh_block(reference, rng, args, dtype=torch.float32):
    ref = reference.TwoWayAttentionBlock(*args).to(dtype)
    state = cases.random_state_dict(ref, rng, dtype)
    ref.load_state_dict(state)
    return ref, state


def _fresh_inputs(rng, batch, n_tokens, n_keys, width, dtype=torch.float32):
    shapes = [(batch, n_tokens, width), (batch, n_keys, width)] * 2
    return tuple(torch.randn(shape, generator=rng, dtype=dtype) for shape in shapes)


# ---- MLPBlock ---------------------------------------------------------------------------------

@pytest.mark.grade(target="MLPBlock", kind="correctness")
@pytest.mark.parametrize("case", sorted(cases.MLP_CASES))
def test_mlp_block_stored(submission, reference, stored, case):
    args = (support.stored_int(stored, case, "embedding_dim"), support.stored_int(stored, case, "mlp_dim"))
    x = stored[f"case.{case}.x"]
    module = support.student_module(submission, "MLPBlock", args, support.stored_state(stored, case), dtype=x.dtype)
    out = module(x)
    expect_meta(out, shape=x.shape, dtype=x.dtype, what=f"MLPBlock{args} output")
    rtol, atol = support.TOLERANCES[x.dtype]
    expect_close(out, stored[f"case.{case}.out"], rtol=rtol, atol=atol, what=f"MLPBlock{args} on stored case '{case}'",
                 hint="lin2(relu(lin1(x))): ReLU (not GELU) between the two linear layers, no activation after lin2")


@pytest.mark.grade(target="MLPBlock", kind="gradient")
def test_mlp_block_gradients(submission, reference, rng):
    ref = reference.MLPBlock(8, 20).double()
    state = cases.random_state_dict(ref, rng, torch.float64)
    ref.load_state_dict(state)
    x = torch.randn(2, 3, 8, generator=rng, dtype=torch.float64)
    cotangent = torch.randn(2, 3, 8, generator=rng, dtype=torch.float64)
    module = support.student_module(submission, "MLPBlock", (8, 20), state, dtype=torch.float64)
    outputs, input_grads, param_grads = module.call_with_grad([x], wrt=(0,), cotangents=[cotangent])
    leaf = x.clone().requires_grad_(True)
    expected = ref(leaf)
    (expected * cotangent).sum().backward()
    support.expect_forward_right(outputs, expected.detach(), what="MLPBlock gradients", rtol=1e-7, atol=1e-9)
    hint = "keep the computation in torch operations on the module's own layers"
    support.compare_grads(tuple(input_grads), (leaf.grad,), what="MLPBlock gradients", rtol=1e-6, atol=1e-9, hint=hint)
    support.compare_grads(param_grads, {n: p.grad for n, p in ref.named_parameters()}, what="MLPBlock gradients",
                          rtol=1e-6, atol=1e-9, hint=hint)


# ---- TwoWayAttentionBlock: correctness ----------------------------------------------------------

@pytest.mark.grade(target="TwoWayAttentionBlock", kind="correctness")
@pytest.mark.parametrize("case", BLOCK_CASES)
def test_block_stored(submission, reference, stored, flag, case):
    args, state = support.block_args(stored, case), support.stored_state(stored, case)
    inputs = tuple(stored[f"case.{case}.{field}"] for field in INPUT_FIELDS)
    dtype = inputs[0].dtype
    module = support.student_module(submission, "TwoWayAttentionBlock", args, state, dtype=dtype)
    ref = support.reference_module(reference, "TwoWayAttentionBlock", args, state, dtype)
    grid = (support.stored_int(stored, case, "grid_h"), support.stored_int(stored, case, "grid_w"))
    what = (f"{_describe(args)} on stored case '{case}' ({inputs[0].shape[0]} image(s), {inputs[0].shape[1]} tokens, "
            f"{grid[0]}x{grid[1]} grid, {support.dtype_name(dtype)})")
    support.check_block(flag, module(*inputs), ref, inputs, what=what,
                        hint="four post-norm steps: self-attention, token-to-image, MLP, image-to-token")


@pytest.mark.grade(target="TwoWayAttentionBlock", kind="correctness")
@pytest.mark.parametrize("skip_first_layer_pe", [False, True], ids=["pe-first", "skip-pe"])
def test_block_fresh(submission, reference, rng, flag, skip_first_layer_pe):
    args = (24, 3, 40, 2, skip_first_layer_pe)
    ref, state = _fresh_block(reference, rng, args)
    n_tokens = int(torch.randint(5, 8, (1,), generator=rng))
    grid = (int(torch.randint(3, 9, (1,), generator=rng)), int(torch.randint(3, 9, (1,), generator=rng)))
    inputs = _fresh_inputs(rng, 2, n_tokens, grid[0] * grid[1], 24)
    module = support.student_module(submission, "TwoWayAttentionBlock", args, state)
    support.check_block(flag, module(*inputs), ref, inputs,
                        what=f"{_describe(args)} on random inputs ({n_tokens} tokens, {grid[0]}x{grid[1]} grid, batch 2)")


@pytest.mark.grade(target="TwoWayAttentionBlock", kind="correctness")
def test_block_lesson_size(submission, reference, rng, flag):
    """SAM's sizes: C=256, 8 heads, MLP 2048, rate 2; 5 tokens and a 64x64 image embedding."""
    args = (256, 8, 2048, 2, False)
    ref, state = _fresh_block(reference, rng, args)
    inputs = _fresh_inputs(rng, 1, 5, 64 * 64, 256)
    module = support.student_module(submission, "TwoWayAttentionBlock", args, state)
    support.check_block(flag, module(*inputs), ref, inputs, what=f"{_describe(args)}, 5 tokens over a 64x64 image",
                        hint="the smaller cases' messages say more", diagnose=False)


@pytest.mark.grade(target="TwoWayAttentionBlock", kind="gradient")
@pytest.mark.parametrize("skip_first_layer_pe", [False, True], ids=["pe-first", "skip-pe"])
def test_block_gradients(submission, reference, rng, skip_first_layer_pe):
    args = (16, 2, 24, 2, skip_first_layer_pe)
    ref, state = _fresh_block(reference, rng, args, torch.float64)
    inputs = _fresh_inputs(rng, 2, 5, 12, 16, torch.float64)
    cotangents = support.random_cotangents([inputs[0].shape, inputs[1].shape], rng, torch.float64)
    module = support.student_module(submission, "TwoWayAttentionBlock", args, state, dtype=torch.float64)
    outputs, input_grads, param_grads = module.call_with_grad(list(inputs), wrt=(0, 1, 2, 3), cotangents=cotangents)

    leaves = [x.clone().requires_grad_(True) for x in inputs]
    out_queries, out_keys = ref(*leaves)
    ((out_queries * cotangents[0]).sum() + (out_keys * cotangents[1]).sum()).backward()
    support.expect_forward_right(_pair(outputs, _describe(args)), (out_queries.detach(), out_keys.detach()),
                                 what=f"{_describe(args)} gradients", rtol=1e-7, atol=1e-9)
    hint = ("gradients must reach queries, keys, both positional encodings and every parameter (all three "
            "attentions, the MLP and norm1..norm4); avoid .detach(), .data and in-place edits of the inputs")
    what = f"{_describe(args)} gradients"
    support.compare_grads(tuple(input_grads), tuple(leaf.grad for leaf in leaves), what=what, rtol=1e-6, atol=1e-9, hint=hint)
    support.compare_grads(param_grads, {n: p.grad for n, p in ref.named_parameters()}, what=what,
                          rtol=1e-6, atol=1e-9, hint=hint)


@pytest.mark.grade(target="TwoWayAttentionBlock", kind="correctness")
@pytest.mark.parametrize("dtype", support.DTYPES, ids=support.DTYPE_IDS)
def test_block_dtype_device(submission, reference, rng, devices, flag, dtype):
    args = (16, 2, 24, 2, False)
    ref, state = _fresh_block(reference, rng, args, dtype)
    inputs = _fresh_inputs(rng, 1, 5, 4 * 6, 16, dtype)
    for device in devices:
        module = support.student_module(submission, "TwoWayAttentionBlock", args, state, dtype=dtype, device=device)
        out = module(*(x.to(device) for x in inputs))
        if isinstance(out, (tuple, list)) and len(out) == 2:
            for name, tensor, like in zip(("queries", "keys"), out, inputs[:2]):
                expect_meta(tensor, shape=like.shape, dtype=dtype, device=device,
                            what=f"TwoWayAttentionBlock {name} output for {support.dtype_name(dtype)} inputs on {device}")
        support.check_block(flag, out, ref, inputs, what=f"{_describe(args)} on {device}, {support.dtype_name(dtype)}")


# ---- TwoWayAttentionBlock: properties -----------------------------------------------------------

def _pair(out, what):
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise AssertionError(f"{what}: forward must return the pair (queries, keys)")
    return out


@pytest.mark.grade(target="TwoWayAttentionBlock", kind="property")
def test_block_image_positions_are_a_set(submission, reference, rng):
    """Permuting the image positions (with their encodings) permutes the keys output and leaves
    the queries output unchanged: every position is located by its encoding, not by its index."""
    args = (16, 2, 24, 2, False)
    _, state = _fresh_block(reference, rng, args)
    queries, keys, query_pe, key_pe = _fresh_inputs(rng, 1, 5, 20, 16)
    order = support.permutation(20, rng)
    module = support.student_module(submission, "TwoWayAttentionBlock", args, state)
    base_queries, base_keys = _pair(module(queries, keys, query_pe, key_pe), "TwoWayAttentionBlock")
    perm_queries, perm_keys = _pair(module(queries, keys[:, order], query_pe, key_pe[:, order]), "TwoWayAttentionBlock")
    if not torch.allclose(perm_queries, base_queries, rtol=1e-4, atol=1e-5):
        raise AssertionError("shuffling the image positions (keys and key_pe together) changed the queries output: the "
                             "tokens read the image through attention, a weighted sum that ignores the order of positions")
    if not torch.allclose(perm_keys, base_keys[:, order], rtol=1e-4, atol=1e-5):
        raise AssertionError("shuffling the image positions did not shuffle the keys output the same way: each image "
                             "position must be updated from its own features and encoding only")


@pytest.mark.grade(target="TwoWayAttentionBlock", kind="property")
def test_block_tokens_are_a_set(submission, reference, rng):
    """Permuting the tokens (with their encodings) permutes the queries output and leaves the keys."""
    args = (16, 2, 24, 2, False)
    _, state = _fresh_block(reference, rng, args)
    queries, keys, query_pe, key_pe = _fresh_inputs(rng, 1, 7, 15, 16)
    order = support.permutation(7, rng)
    module = support.student_module(submission, "TwoWayAttentionBlock", args, state)
    base_queries, base_keys = _pair(module(queries, keys, query_pe, key_pe), "TwoWayAttentionBlock")
    perm_queries, perm_keys = _pair(module(queries[:, order], keys, query_pe[:, order], key_pe), "TwoWayAttentionBlock")
    if not torch.allclose(perm_queries, base_queries[:, order], rtol=1e-4, atol=1e-5):
        raise AssertionError("shuffling the tokens (queries and query_pe together) did not shuffle the queries output "
                             "the same way: a token's result may depend on the others only through attention")
    if not torch.allclose(perm_keys, base_keys, rtol=1e-4, atol=1e-5):
        raise AssertionError("shuffling the tokens changed the keys output: the image reads the tokens through "
                             "attention, which does not depend on their order")


@pytest.mark.grade(target="TwoWayAttentionBlock", kind="property")
def test_block_image_reads_the_tokens(submission, reference, rng, flag):
    """Two-way: the keys output must depend on the tokens (step 4, image-to-token)."""
    args = (16, 2, 24, 2, False)
    ref, state = _fresh_block(reference, rng, args)
    queries, keys, query_pe, key_pe = _fresh_inputs(rng, 1, 5, 12, 16)
    other_queries = torch.randn(queries.shape, generator=rng)
    module = support.student_module(submission, "TwoWayAttentionBlock", args, state)
    out_a = _pair(module(queries, keys, query_pe, key_pe), "TwoWayAttentionBlock")
    _, keys_b = _pair(module(other_queries, keys, query_pe, key_pe), "TwoWayAttentionBlock")
    if torch.allclose(out_a[1], keys_b, rtol=1e-6, atol=1e-7):
        what = "the block whose keys output ignores the tokens"
        hint = support.diagnose_block(flag, out_a, ref, (queries, keys, query_pe, key_pe), what=what)
        if not hint:
            hint = support.BLOCK_HINTS["impl.mask_decoder.image-to-token-skipped"]
            flag("impl.mask_decoder.image-to-token-skipped",
                 "the keys output stayed the same when the tokens were replaced by different ones")
        raise AssertionError(f"replacing the tokens left the keys output unchanged: the image never read the tokens. {hint}")


@pytest.mark.grade(target="TwoWayAttentionBlock", kind="property")
def test_block_uses_image_positions(submission, reference, rng, flag):
    """The image's positional encoding must matter for the tokens: it is re-added to the keys
    before token-to-image attention (it is never stored in the keys stream itself)."""
    args = (16, 2, 24, 2, False)
    ref, state = _fresh_block(reference, rng, args)
    queries, keys, query_pe, key_pe = _fresh_inputs(rng, 1, 5, 12, 16)
    other_key_pe = torch.randn(key_pe.shape, generator=rng)
    module = support.student_module(submission, "TwoWayAttentionBlock", args, state)
    out_a = _pair(module(queries, keys, query_pe, key_pe), "TwoWayAttentionBlock")
    queries_b, _ = _pair(module(queries, keys, query_pe, other_key_pe), "TwoWayAttentionBlock")
    if torch.allclose(out_a[0], queries_b, rtol=1e-6, atol=1e-7):
        what = "the block whose tokens ignore key_pe"
        hint = support.diagnose_block(flag, out_a, ref, (queries, keys, query_pe, key_pe), what=what)
        if not hint:
            hint = support.BLOCK_HINTS["impl.mask_decoder.pe-not-readded"]
            flag("impl.mask_decoder.pe-not-readded",
                 "the queries output stayed the same when key_pe was replaced: the image positions never reached the tokens")
        raise AssertionError(f"changing key_pe left the queries output unchanged: the tokens cannot tell where the "
                             f"image features are. {hint}")
