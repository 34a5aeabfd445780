"""Shared machinery of the mask_decoder hidden suite: building student modules with reference
weights, comparing outputs with messages a student can act on, and diagnosing misconceptions
from outputs. Imported by the test files from the `autograder.suites.mask_decoder` package.
"""

from __future__ import annotations


import torch

from autograder.testing import closest_variant, describe_mismatch, expect_close, expect_meta, is_close


from autograder.suites.mask_decoder import cases, variants  # noqa: E402,F401 (re-exported to the tests)

DTYPES = [torch.float32, torch.float64]
DTYPE_IDS = ["float32", "float64"]
DIAGNOSIS_MAX_KEYS = 1024  # larger grids: the message only (a variant attending image-to-image costs Nk^2)
TOLERANCES = {torch.float32: (1e-4, 2e-5), torch.float64: (1e-7, 1e-9)}

ATTENTION_HINTS = {
    "impl.mask_decoder.softmax-wrong-axis": "the softmax must run over the keys (the last axis of the [.., Nq, Nk] scores): each query's weights sum to 1",
    "impl.mask_decoder.missing-scale": "divide the scores by sqrt(d_head), the width of ONE head (internal_dim / num_heads)",
    "impl.mask_decoder.head-split-wrong": "split [B, N, C] into heads as [B, N, h, d] and then transpose to [B, h, N, d]; merge back the same way",
    "impl.mask_decoder.kv-wrong-source": "same formula, different source: values come from `v`, keys from `k`, queries from `q`",
}
BLOCK_HINTS = {
    **ATTENTION_HINTS,
    "impl.mask_decoder.kv-wrong-source": "in a cross-attention the reader supplies Q and the stream being read supplies K (with its positions) and V (without them)",
    "impl.mask_decoder.pe-not-readded": "add query_pe / key_pe to the CURRENT queries / keys right before every attention; the streams change after each step",
    "impl.mask_decoder.pre-norm": "SAM's block is post-norm: x = norm(x + sublayer(x)), the LayerNorm comes after each residual add",
    "impl.mask_decoder.image-to-token-skipped": "step (4) lets the image read the tokens: keys = norm4(keys + cross_attn_image_to_token(keys + key_pe, queries + query_pe, queries))",
    "impl.mask_decoder.skip-pe-residual": "with skip_first_layer_pe the self-attention output replaces the queries (no residual), then norm1",
    "impl.mask_decoder.skip-pe-ignored": "with skip_first_layer_pe the first self-attention uses the plain queries, without query_pe",
}


# ---- student modules -----------------------------------------------------------------------

def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def student_module(submission, class_name: str, args: tuple, state: dict, *, dtype=torch.float32, device="cpu"):
    """Build the student's class with `args`, move it to dtype/device, load the reference weights
    (strict: wrong names or shapes fail with the offending keys)."""
    module = submission.new(class_name, *args)
    if dtype != torch.float32 or device != "cpu":
        module = submission.helper(cases.helper_source("module_tools.py"), "to_dtype_device", module, dtype_name(dtype), device)
    module.load_state_dict({name: value.to(dtype) for name, value in state.items()})
    return module


def stored_state(stored: dict, case: str) -> dict[str, torch.Tensor]:
    prefix = f"case.{case}.sd."
    return {key[len(prefix):]: value for key, value in stored.items() if key.startswith(prefix)}


def stored_int(stored: dict, case: str, field: str) -> int:
    return int(stored[f"case.{case}.{field}"])


def attention_args(stored, case) -> tuple:
    return tuple(stored_int(stored, case, f) for f in ("embedding_dim", "num_heads", "downsample_rate"))


def block_args(stored, case) -> tuple:
    ints = tuple(stored_int(stored, case, f) for f in ("embedding_dim", "num_heads", "mlp_dim", "downsample_rate"))
    return ints + (bool(stored_int(stored, case, "skip_first_layer_pe")),)


def reference_module(reference, class_name: str, args: tuple, state: dict, dtype=torch.float32):
    module = getattr(reference, class_name)(*args).to(dtype)
    module.load_state_dict({name: value.to(dtype) for name, value in state.items()}, strict=True)
    return module


# ---- comparisons with diagnosis -------------------------------------------------------------

def _tolerance(dtype):
    return TOLERANCES.get(dtype, TOLERANCES[torch.float32])


def _flag_and_hint(flag, name: str | None, hints: dict, what: str) -> str:
    if name is None:
        return ""
    misconception = variants.misconception_id(name)
    form = name.split("/", 1)[1]
    flag(misconception, f"{what} matches the known wrong implementation `{form}`")
    return hints.get(misconception, "")


def check_attention(flag, out, ref_module, q, k, v, *, what: str, hint: str = "", diagnose: bool = True):
    """Compare a student's Attention output with the reference; on a mismatch, name the mistake."""
    with torch.no_grad():
        expected = ref_module(q, k, v)
    rtol, atol = _tolerance(q.dtype)
    expect_meta(out, shape=expected.shape, what=what)
    if diagnose and not is_close(out.cpu(), expected, rtol=rtol, atol=atol):
        hint = diagnose_attention(flag, out, ref_module, q, k, v, what=what) or hint
    expect_close(out.cpu(), expected, rtol=rtol, atol=atol, what=what, hint=hint)


def diagnose_attention(flag, out, ref_module, q, k, v, *, what: str) -> str:
    """Flag the known mistake whose output `out` matches, if any; returns its hint."""
    with torch.no_grad():
        expected = ref_module(q, k, v)
    rtol, atol = _tolerance(q.dtype)
    candidates = _drop_correct(variants.attention_outputs(ref_module, q, k, v), expected)
    name = closest_variant(out.cpu(), candidates, rtol=rtol, atol=atol)
    return _flag_and_hint(flag, name, ATTENTION_HINTS, what)


def check_block(flag, out, ref_module, inputs, *, what: str, hint: str = "", diagnose: bool = True):
    """Compare a student's TwoWayAttentionBlock (queries, keys) with the reference; on a mismatch
    (and with `diagnose`; the large lesson-size cases skip it), name the mistake."""
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise AssertionError(f"{what}: forward must return the pair (queries, keys); got {type(out).__name__}"
                             + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else ""))
    with torch.no_grad():
        want_queries, want_keys = ref_module(*inputs)
    out_queries, out_keys = (t.cpu() if isinstance(t, torch.Tensor) else t for t in out)
    expect_meta(out_queries, shape=want_queries.shape, what=f"{what}, queries output")
    expect_meta(out_keys, shape=want_keys.shape, what=f"{what}, keys output")
    rtol, atol = _tolerance(inputs[0].dtype)
    ok_queries = is_close(out_queries, want_queries, rtol=rtol, atol=atol)
    ok_keys = is_close(out_keys, want_keys, rtol=rtol, atol=atol)
    if ok_queries and ok_keys:
        return
    if diagnose and inputs[1].shape[1] <= DIAGNOSIS_MAX_KEYS:
        hint = diagnose_block(flag, (out_queries, out_keys), ref_module, inputs, what=what) or hint
    if torch.equal(out_keys, inputs[1].cpu()) and not ok_keys:
        hint = hint or BLOCK_HINTS["impl.mask_decoder.image-to-token-skipped"]
    which = "queries" if not ok_queries else "keys"
    first_wrong = out_queries if not ok_queries else out_keys
    want = want_queries if not ok_queries else want_keys
    note = "" if not ok_queries else " (the queries output is right, so steps 1-3 are fine: look at step 4)"
    raise AssertionError(f"{what}: the {which} output differs{note}: {describe_mismatch(first_wrong, want)}"
                         + (f". {hint}" if hint else ""))


def diagnose_block(flag, out, ref_module, inputs, *, what: str) -> str:
    """Flag the known mistake whose (queries, keys) output `out` matches, if any; returns its hint."""
    rtol, atol = _tolerance(inputs[0].dtype)
    candidates = variants.block_outputs(ref_module, *inputs)
    actual = variants.flatten_pair(*(t.cpu() for t in out))
    name = closest_variant(actual, candidates, rtol=rtol, atol=atol)
    return _flag_and_hint(flag, name, BLOCK_HINTS, what)


def _drop_correct(candidates: dict, expected: torch.Tensor) -> dict:
    """Some mistakes are invisible for some shapes (one head cannot be split wrongly)."""
    return {name: value for name, value in candidates.items() if not torch.allclose(value, expected, rtol=1e-6, atol=1e-7)}


def compare_grads(actual: dict | tuple, expected: dict | tuple, *, what: str, rtol: float, atol: float, hint: str):
    """Gradients by name (parameters) or position (inputs); None means no gradient flowed."""
    items = actual.items() if isinstance(actual, dict) else enumerate(actual)
    expected_of = expected if isinstance(expected, dict) else dict(enumerate(expected))
    for key, grad in items:
        want = expected_of[key]
        label = f"the gradient of {key}" if isinstance(key, str) else f"the gradient of input {key}"
        if grad is None:
            raise AssertionError(f"{what}: no gradient reached {label.removeprefix('the gradient of ')}; {hint}")
        expect_close(grad.cpu(), want, rtol=rtol, atol=atol, what=f"{what}, {label}", hint=hint)


def expect_forward_right(outputs, expected, *, what: str, rtol: float, atol: float):
    """Gradient tests compare gradients of the RIGHT function: a wrong forward fails here first."""
    pairs = zip(outputs, expected) if isinstance(expected, (tuple, list)) else [(outputs, expected)]
    for actual, want in pairs:
        if not (isinstance(actual, torch.Tensor) and actual.shape == want.shape and is_close(actual.cpu(), want, rtol=rtol, atol=atol)):
            raise AssertionError(f"{what}: the forward output is already wrong (see the correctness tests), so its "
                                 "gradients cannot match; fix the forward pass first")


def random_cotangents(shapes, generator, dtype):
    return [torch.randn(shape, generator=generator, dtype=dtype) for shape in shapes]


def permutation(n: int, generator: torch.Generator) -> torch.Tensor:
    """A random permutation that moves at least one element (n >= 2)."""
    while True:
        order = torch.randperm(n, generator=generator)
        if not torch.equal(order, torch.arange(n)):
            return order
