"""Hidden suite: `predict_masks` (dot-product mask generation) and `segment_prompts` (one
encoder pass per image, many cheap prompts).

The hypernetwork MLPs, the image encoder and the prompt decoder are grader helpers built inside
the sandbox from the sources next to this file; the encoder counts its own calls.
"""


import pytest
import torch

from autograder.testing import expect_close, expect_meta
from autograder.suites.mask_decoder import _support as support


cases = support.cases
HYPER_FIELDS = ("lin1_weight", "lin1_bias", "lin2_weight", "lin2_bias")
MASK_HINT = ("mask k = the dot product of hypernet[k](mask_tokens_out[:, k]) (a C' vector) with the C'-vector of "
             "every pixel of `upscaled`; each token uses its own hypernet module")


def remote_hypernet(submission, weights):
    source = cases.helper_source("hypernet_mlp.py")
    return [submission.helper(source, "make_hypernet_mlp", *layer) for layer in weights]


def _stored_hypernet(stored, case):
    count = support.stored_int(stored, case, "n_masks")
    return [tuple(stored[f"case.{case}.hyper.{k}.{field}"] for field in HYPER_FIELDS) for k in range(count)]


def _moved(weights, device):
    return [tuple(t.to(device) for t in layer) for layer in weights]


# ---- predict_masks ------------------------------------------------------------------------------

@pytest.mark.grade(target="predict_masks", kind="correctness")
@pytest.mark.parametrize("case", ["masks_k3", "masks_k4_f64"])
def test_predict_masks_stored(submission, stored, case):
    tokens, upscaled = stored[f"case.{case}.tokens"], stored[f"case.{case}.upscaled"]
    expected = stored[f"case.{case}.masks"]
    out = submission.call("predict_masks", tokens, upscaled, remote_hypernet(submission, _stored_hypernet(stored, case)))
    expect_meta(out, shape=expected.shape, dtype=expected.dtype, what=f"predict_masks on stored case '{case}'")
    rtol, atol = support.TOLERANCES[expected.dtype]
    expect_close(out, expected, rtol=rtol, atol=atol, what=f"predict_masks on stored case '{case}'", hint=MASK_HINT)


@pytest.mark.grade(target="predict_masks", kind="correctness")
def test_predict_masks_fresh(submission, reference, rng):
    n_masks = int(torch.randint(2, 5, (1,), generator=rng))
    width, out_width = 12, 5
    height, w = int(torch.randint(4, 12, (1,), generator=rng)), int(torch.randint(4, 12, (1,), generator=rng))
    weights = cases.hypernet_weights(n_masks, width, out_width, rng)
    tokens = torch.randn(3, n_masks, width, generator=rng)
    upscaled = torch.randn(3, out_width, height, w, generator=rng)
    expected = reference.predict_masks(tokens, upscaled, cases.local_hypernet(weights)).detach()
    out = submission.call("predict_masks", tokens, upscaled, remote_hypernet(submission, weights))
    expect_close(out, expected, what=f"predict_masks with {n_masks} mask tokens on {height}x{w} features, batch 3",
                 hint=MASK_HINT)


@pytest.mark.grade(target="predict_masks", kind="gradient")
def test_predict_masks_gradients(submission, reference, rng):
    weights = cases.hypernet_weights(3, 6, 4, rng, torch.float64)
    tokens = torch.randn(2, 3, 6, generator=rng, dtype=torch.float64)
    upscaled = torch.randn(2, 4, 5, 7, generator=rng, dtype=torch.float64)
    cotangent = torch.randn(2, 3, 5, 7, generator=rng, dtype=torch.float64)
    outputs, grads = submission.call_with_grad("predict_masks", [tokens, upscaled, remote_hypernet(submission, weights)],
                                               wrt=(0, 1), cotangents=[cotangent])
    leaves = [tokens.clone().requires_grad_(True), upscaled.clone().requires_grad_(True)]
    expected = reference.predict_masks(*leaves, cases.local_hypernet(weights))
    (expected * cotangent).sum().backward()
    support.expect_forward_right(outputs, expected.detach(), what="predict_masks gradients", rtol=1e-7, atol=1e-9)
    support.compare_grads(tuple(grads), tuple(leaf.grad for leaf in leaves), what="predict_masks gradients",
                          rtol=1e-6, atol=1e-9, hint="the masks must stay differentiable in the mask tokens and the "
                                                     "upscaled features (no detach, no numpy, no Python loops over pixels)")


@pytest.mark.grade(target="predict_masks", kind="correctness")
@pytest.mark.parametrize("dtype", support.DTYPES, ids=support.DTYPE_IDS)
def test_predict_masks_dtype_device(submission, reference, rng, devices, dtype):
    weights = cases.hypernet_weights(3, 8, 4, rng, dtype)
    tokens = torch.randn(1, 3, 8, generator=rng, dtype=dtype)
    upscaled = torch.randn(1, 4, 6, 9, generator=rng, dtype=dtype)
    expected = reference.predict_masks(tokens, upscaled, cases.local_hypernet(weights)).detach()
    for device in devices:
        out = submission.call("predict_masks", tokens.to(device), upscaled.to(device),
                              remote_hypernet(submission, _moved(weights, device)))
        expect_meta(out, shape=(1, 3, 6, 9), dtype=dtype, device=device,
                    what=f"predict_masks for {support.dtype_name(dtype)} inputs on {device}")
        rtol, atol = support.TOLERANCES[dtype]
        expect_close(out.cpu(), expected, rtol=rtol, atol=atol, what=f"predict_masks on {device}", hint=MASK_HINT)


@pytest.mark.grade(target="predict_masks", kind="property")
def test_predict_masks_token_k_drives_mask_k(submission, rng):
    """Changing mask token k changes mask k and no other: each mask has its own token and MLP."""
    weights = cases.hypernet_weights(3, 6, 4, rng)
    tokens = torch.randn(1, 3, 6, generator=rng)
    upscaled = torch.randn(1, 4, 5, 5, generator=rng)
    hypernet = remote_hypernet(submission, weights)
    base = submission.call("predict_masks", tokens, upscaled, hypernet)
    expect_meta(base, shape=(1, 3, 5, 5), what="predict_masks output")
    changed_tokens = tokens.clone()
    changed_tokens[:, 1] = torch.randn(6, generator=rng)
    changed = submission.call("predict_masks", changed_tokens, upscaled, hypernet)
    unchanged = [k for k in (0, 2) if torch.allclose(changed[:, k], base[:, k], rtol=1e-5, atol=1e-6)]
    if unchanged != [0, 2] or torch.allclose(changed[:, 1], base[:, 1], rtol=1e-5, atol=1e-6):
        raise AssertionError("changing mask token 1 must change mask 1 and leave masks 0 and 2 alone: mask k comes "
                             "from token k through hypernet[k] only")


# ---- segment_prompts ------------------------------------------------------------------------------

def _remote_encoder_decoder(submission, encoder_args, decoder_args):
    source = cases.helper_source("segment_helpers.py")
    encoder = submission.helper(source, "make_image_encoder", *encoder_args, cases.ENCODER_DEPTH)
    decoder = submission.helper(source, "make_prompt_decoder", *decoder_args)
    return encoder, decoder


def _stored_segment(stored):
    count = support.stored_int(stored, "segment", "n_prompts")
    encoder_args = tuple(stored[f"case.segment.encoder.{f}"] for f in ("patch_weight", "patch_bias", "mix_weight"))
    decoder_args = tuple(stored[f"case.segment.decoder.{f}"] for f in ("point_weight", "mask_queries"))
    prompts = [stored[f"case.segment.prompt.{i}"] for i in range(count)]
    expected = [stored[f"case.segment.masks.{i}"] for i in range(count)]
    return stored["case.segment.image"], prompts, encoder_args, decoder_args, expected


def _fresh_segment(rng, counts, dtype=torch.float32):
    image_hw = (48, 40)
    image = torch.randn(3, *image_hw, generator=rng, dtype=dtype)
    encoder_args = cases.encoder_weights(12, 8, rng, dtype)
    decoder_args = cases.decoder_weights(12, 3, rng, dtype)
    prompts = cases.random_prompts(counts, image_hw, rng, dtype)
    return image, prompts, encoder_args, decoder_args


def _expect_masks(out, expected, *, what):
    if not isinstance(out, (list, tuple)):
        raise AssertionError(f"{what}: expected a list with one [K, h, w] tensor per prompt, got {type(out).__name__}")
    if len(out) != len(expected):
        raise AssertionError(f"{what}: expected {len(expected)} mask tensors (one per prompt), got {len(out)}")
    for index, (mask, want) in enumerate(zip(out, expected)):
        rtol, atol = support.TOLERANCES[want.dtype]
        expect_close(mask.cpu() if isinstance(mask, torch.Tensor) else mask, want, rtol=rtol, atol=atol,
                     what=f"{what}, prompt {index}",
                     hint="each prompt's masks must equal prompt_decoder(image_encoder(image[None]), points): "
                          "the same embedding, in the order of the prompts")


@pytest.mark.grade(target="segment_prompts", kind="correctness")
def test_segment_prompts_stored(submission, stored):
    image, prompts, encoder_args, decoder_args, expected = _stored_segment(stored)
    encoder, decoder = _remote_encoder_decoder(submission, encoder_args, decoder_args)
    out = submission.call("segment_prompts", image, prompts, encoder, decoder)
    _expect_masks(out, expected, what=f"segment_prompts on the stored image with {len(prompts)} prompts")


@pytest.mark.grade(target="segment_prompts", kind="correctness")
def test_segment_prompts_fresh(submission, rng):
    counts = [int(n) for n in torch.randint(1, 6, (6,), generator=rng)]
    image, prompts, encoder_args, decoder_args = _fresh_segment(rng, counts)
    encoder, decoder = _remote_encoder_decoder(submission, encoder_args, decoder_args)
    out = submission.call("segment_prompts", image, prompts, encoder, decoder)
    expected = cases.per_prompt_masks(image, prompts, encoder_args, decoder_args)
    _expect_masks(out, expected, what=f"segment_prompts on a random image with prompts of {counts} clicks")


@pytest.mark.grade(target="segment_prompts", kind="property")
@pytest.mark.parametrize("n_prompts", [1, 10])
def test_segment_prompts_encoder_runs_once(submission, rng, flag, n_prompts):
    """The heavy encoder runs once per image, however many prompts reuse its embedding."""
    image, prompts, encoder_args, decoder_args = _fresh_segment(rng, [2] * n_prompts)
    encoder, decoder = _remote_encoder_decoder(submission, encoder_args, decoder_args)
    out = submission.call("segment_prompts", image, prompts, encoder, decoder)
    calls = encoder.get("calls")
    if calls > 1:
        flag("sam.encoder-per-prompt", f"the image encoder ran {calls} times for {n_prompts} prompts on one image")
        raise AssertionError(f"the image encoder ran {calls} times for {n_prompts} prompts on one image; it should run "
                             "once: encode the image first, then give that one embedding to the decoder for every prompt")
    if calls == 0:
        raise AssertionError("the image encoder was never called: the embedding must come from "
                             "image_encoder(image[None]) for this image")
    if not isinstance(out, (list, tuple)) or len(out) != n_prompts:
        raise AssertionError(f"expected a list of {n_prompts} mask tensors, one per prompt")


@pytest.mark.grade(target="segment_prompts", kind="correctness")
@pytest.mark.parametrize("dtype", support.DTYPES, ids=support.DTYPE_IDS)
def test_segment_prompts_dtype_device(submission, rng, devices, dtype):
    image, prompts, encoder_args, decoder_args = _fresh_segment(rng, [1, 3], dtype)
    expected = cases.per_prompt_masks(image, prompts, encoder_args, decoder_args)
    for device in devices:
        encoder, decoder = _remote_encoder_decoder(
            submission, tuple(t.to(device) for t in encoder_args), tuple(t.to(device) for t in decoder_args))
        out = submission.call("segment_prompts", image.to(device), [p.to(device) for p in prompts], encoder, decoder)
        if isinstance(out, (list, tuple)):
            for mask, want in zip(out, expected):
                expect_meta(mask, shape=want.shape, dtype=dtype, device=device,
                            what=f"segment_prompts masks for a {support.dtype_name(dtype)} image on {device}")
        _expect_masks(out, expected, what=f"segment_prompts on {device}, {support.dtype_name(dtype)}")
