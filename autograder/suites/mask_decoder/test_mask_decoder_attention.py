"""Hidden suite: `Attention.forward` (SAM's multi-head attention with downsampling).

The student's class is built in the sandbox, the reference weights are loaded into it
(strict), and its outputs and gradients are compared with the reference module's.
"""


import pytest
import torch

from autograder.testing import expect_meta
from autograder.suites.mask_decoder import _support as support


cases = support.cases
STORED_CASES = [case.name for case in cases.ATTENTION_CASES]


def _stored_inputs(stored, case):
    return tuple(stored[f"case.{case}.{field}"] for field in ("q", "k", "v"))


@pytest.mark.grade(target="Attention", kind="correctness")
@pytest.mark.parametrize("case", STORED_CASES)
def test_attention_stored(submission, reference, stored, flag, case):
    args, state = support.attention_args(stored, case), support.stored_state(stored, case)
    dtype = stored[f"case.{case}.q"].dtype
    q, k, v = _stored_inputs(stored, case)
    module = support.student_module(submission, "Attention", args, state, dtype=dtype)
    ref = support.reference_module(reference, "Attention", args, state, dtype)
    width, heads, rate = args
    support.check_attention(flag, module(q, k, v), ref, q, k, v,
                            what=f"Attention(C={width}, heads={heads}, rate={rate}) on stored case '{case}' ({support.dtype_name(dtype)})",
                            hint="project q, k, v; split into heads; softmax(q k^T / sqrt(d_head)) over the keys; "
                                 "weighted sum of values; merge heads; out_proj")


@pytest.mark.grade(target="Attention", kind="correctness")
@pytest.mark.parametrize("width, heads, rate", [(48, 1, 1), (48, 6, 2), (64, 4, 4), (24, 3, 1)],
                         ids=["h1-r1", "h6-r2", "h4-r4", "h3-r1"])
def test_attention_fresh(submission, reference, rng, flag, width, heads, rate):
    ref = reference.Attention(width, heads, rate)
    state = cases.random_state_dict(ref, rng)
    ref.load_state_dict(state)
    n_q = int(torch.randint(2, 9, (1,), generator=rng))
    n_k = int(torch.randint(10, 60, (1,), generator=rng))
    q = torch.randn(2, n_q, width, generator=rng)
    k, v = (torch.randn(2, n_k, width, generator=rng) for _ in range(2))
    module = support.student_module(submission, "Attention", (width, heads, rate), state)
    support.check_attention(flag, module(q, k, v), ref, q, k, v,
                            what=f"Attention(C={width}, heads={heads}, rate={rate}) on random inputs, {n_q} queries, {n_k} keys")


@pytest.mark.grade(target="Attention", kind="correctness")
def test_attention_lesson_size(submission, reference, rng, flag):
    """The lesson's trace: 5 tokens [5, 256] reading a 64x64 image [4096, 256] with SAM's sizes."""
    ref = reference.Attention(256, 8, 2)
    state = cases.random_state_dict(ref, rng)
    ref.load_state_dict(state)
    tokens = torch.randn(1, 5, 256, generator=rng)
    image = torch.randn(1, 64 * 64, 256, generator=rng)
    image_pe = torch.randn(1, 64 * 64, 256, generator=rng)
    module = support.student_module(submission, "Attention", (256, 8, 2), state)
    support.check_attention(flag, module(tokens, image + image_pe, image), ref, tokens, image + image_pe, image,
                            what="Attention(256, 8 heads, rate 2): 5 tokens reading 4096 image positions",
                            hint="the smaller cases' messages say more", diagnose=False)


@pytest.mark.grade(target="Attention", kind="gradient")
@pytest.mark.parametrize("rate", [1, 2])
def test_attention_gradients(submission, reference, rng, rate):
    width, heads = 16, 2
    ref = reference.Attention(width, heads, rate).double()
    state = cases.random_state_dict(ref, rng, torch.float64)
    ref.load_state_dict(state)
    inputs = [torch.randn(2, n, width, generator=rng, dtype=torch.float64) for n in (3, 7, 7)]
    cotangent = torch.randn(2, 3, width, generator=rng, dtype=torch.float64)
    module = support.student_module(submission, "Attention", (width, heads, rate), state, dtype=torch.float64)
    outputs, input_grads, param_grads = module.call_with_grad(inputs, wrt=(0, 1, 2), cotangents=[cotangent])

    leaves = [x.clone().requires_grad_(True) for x in inputs]
    ref.zero_grad()
    expected = ref(*leaves)
    (expected * cotangent).sum().backward()
    what = f"Attention(C={width}, heads={heads}, rate={rate}) gradients"
    support.expect_forward_right(outputs, expected.detach(), what=what, rtol=1e-7, atol=1e-9)
    hint = "gradients must flow from the output back to q, k, v and every projection: avoid .detach(), .data, " \
           "torch.no_grad() and building tensors from Python numbers inside forward"
    support.compare_grads(tuple(input_grads), tuple(leaf.grad for leaf in leaves), what=what, rtol=1e-6, atol=1e-9, hint=hint)
    support.compare_grads(param_grads, {name: p.grad for name, p in ref.named_parameters()}, what=what,
                          rtol=1e-6, atol=1e-9, hint=hint)


@pytest.mark.grade(target="Attention", kind="correctness")
@pytest.mark.parametrize("dtype", support.DTYPES, ids=support.DTYPE_IDS)
def test_attention_dtype_device(submission, reference, rng, devices, flag, dtype):
    width, heads, rate = 32, 4, 2
    ref = reference.Attention(width, heads, rate).to(dtype)
    state = cases.random_state_dict(ref, rng, dtype)
    ref.load_state_dict(state)
    q = torch.randn(1, 5, width, generator=rng, dtype=dtype)
    k, v = (torch.randn(1, 20, width, generator=rng, dtype=dtype) for _ in range(2))
    for device in devices:
        module = support.student_module(submission, "Attention", (width, heads, rate), state, dtype=dtype, device=device)
        out = module(q.to(device), k.to(device), v.to(device))
        expect_meta(out, shape=(1, 5, width), dtype=dtype, device=device,
                    what=f"Attention output for {support.dtype_name(dtype)} inputs on {device}")
        support.check_attention(flag, out, ref, q, k, v, what=f"Attention on {device}, {support.dtype_name(dtype)}")


@pytest.mark.grade(target="Attention", kind="property")
def test_attention_identical_values_pass_through(submission, reference, rng, flag):
    """When every key position carries the same value, any weights that sum to 1 over the keys
    return that value: the output cannot depend on the queries."""
    width, heads = 16, 2
    ref = reference.Attention(width, heads)
    state = cases.random_state_dict(ref, rng)
    ref.load_state_dict(state)
    q = torch.randn(1, 6, width, generator=rng)
    k = torch.randn(1, 9, width, generator=rng)
    v = torch.randn(1, 1, width, generator=rng).expand(1, 9, width).contiguous()
    module = support.student_module(submission, "Attention", (width, heads), state)
    out = module(q, k, v)
    expect_meta(out, shape=(1, 6, width), what="Attention output")
    spread = (out - out[:, :1]).abs().max().item()
    if spread > 1e-4:
        hint = support.diagnose_attention(flag, out, ref, q, k, v, what="Attention with identical values at every key")
        raise AssertionError(f"with the same value at every key, the 6 queries got different outputs (spread {spread:.3g}): "
                             "each query's weights must form a softmax over the keys, summing to 1"
                             + (f". {hint}" if hint else ""))


@pytest.mark.grade(target="Attention", kind="property")
def test_attention_key_order_does_not_matter(submission, reference, rng, flag):
    """Shuffling the key/value positions together leaves the output; shuffling queries shuffles it."""
    width, heads = 16, 4
    ref = reference.Attention(width, heads, 2)
    state = cases.random_state_dict(ref, rng)
    ref.load_state_dict(state)
    q = torch.randn(1, 5, width, generator=rng)
    k, v = (torch.randn(1, 12, width, generator=rng) for _ in range(2))
    key_order, query_order = support.permutation(12, rng), support.permutation(5, rng)
    module = support.student_module(submission, "Attention", (width, heads, 2), state)
    base = module(q, k, v)
    expect_meta(base, shape=(1, 5, width), what="Attention output")
    shuffled_keys = module(q, k[:, key_order], v[:, key_order])
    shuffled_queries = module(q[:, query_order], k, v)
    if not torch.allclose(shuffled_keys, base, rtol=1e-4, atol=1e-5):
        raise AssertionError("shuffling the key/value positions (together) changed the output: attention is a weighted "
                             "sum over the keys, and a sum does not depend on the order of its terms")
    if not torch.allclose(shuffled_queries, base[:, query_order], rtol=1e-4, atol=1e-5):
        raise AssertionError("shuffling the queries did not simply shuffle the output rows: each query is processed "
                             "independently of the others")
