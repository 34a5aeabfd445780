"""Build assignments/mask_decoder/mask_decoder.ipynb (the student notebook) reproducibly.

    python assignments/mask_decoder/build_notebook.py

The given `__init__` methods are copied from solutions/mask_decoder.py, so the parameter names
the grader loads reference weights into can never drift from the reference.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SOLUTION = REPO / "solutions" / "mask_decoder.py"
NOTEBOOK = HERE / "mask_decoder.ipynb"
STUB_BODY = "# YOUR CODE HERE\nraise NotImplementedError()"


# ---- cell factories (nbgrader metadata, schema 3) ---------------------------------------------

def _nbgrader(grade_id: str, *, solution: bool, grade: bool, locked: bool, points: float | None = None, task: bool | None = False) -> dict:
    meta = {"schema_version": 3, "grade_id": grade_id, "solution": solution, "grade": grade, "locked": locked}
    if task is not None:
        meta["task"] = task
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def markdown(grade_id: str, text: str):
    return new_markdown_cell(textwrap.dedent(text).strip(), metadata=_nbgrader(grade_id, solution=False, grade=False, locked=True))


def given(grade_id: str, source: str):
    return new_code_cell(textwrap.dedent(source).strip(), metadata=_nbgrader(grade_id, solution=False, grade=False, locked=True))


def stub(grade_id: str, source: str):
    return new_code_cell(source.strip(), metadata=_nbgrader(grade_id, solution=True, grade=False, locked=False))


def public_test(grade_id: str, source: str, points: float):
    return new_code_cell(textwrap.dedent(source).strip(),
                         metadata=_nbgrader(grade_id, solution=False, grade=True, locked=True, points=points))


def answer(grade_id: str, variable: str, allowed: str):
    source = f"# Assign `{variable} = ...` with {allowed}.\n{STUB_BODY}"
    return new_code_cell(source, metadata=_nbgrader(grade_id, solution=True, grade=False, locked=False, task=None))


# ---- stubs built from the reference's __init__ -------------------------------------------------

def _init_source(class_name: str) -> str:
    """The reference's `__init__` of `class_name`, indented as a method."""
    source = SOLUTION.read_text(encoding="utf-8")
    tree = ast.parse(source)
    cls = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == class_name)
    init = next(node for node in cls.body if isinstance(node, ast.FunctionDef) and node.name == "__init__")
    return textwrap.indent(textwrap.dedent(ast.get_source_segment(source, init, padded=True)), "    ")


def _docstring(doc: str) -> str:
    doc = doc.strip()
    return f'"""{doc}"""' if "\n" not in doc else f'"""{doc}\n"""'


def class_stub(class_name: str, class_doc: str, forward_signature: str, forward_doc: str) -> str:
    body = textwrap.indent(f"{_docstring(forward_doc)}\n{STUB_BODY}", "        ")
    return (f"class {class_name}(nn.Module):\n"
            f'    """{class_doc}"""\n\n'
            f"{_init_source(class_name)}\n\n"
            f"    def forward({forward_signature}):\n{body}\n")


def function_stub(signature: str, doc: str) -> str:
    body = textwrap.indent(f"{_docstring(doc)}\n{STUB_BODY}", "    ")
    return f"def {signature}:\n{body}\n"


# ---- the notebook --------------------------------------------------------------------------------

def cells() -> list:
    out = []
    out.append(markdown("intro", """
        # SAM's mask decoder: two-way cross-attention

        *Lesson sam-3.* In this notebook you build the part of the Segment Anything Model that turns
        "the user clicked here" into masks: one layer of its **two-way transformer decoder**, the
        **dot product** that paints the masks, and the loop that serves **many prompts from one
        image embedding**.

        You will write:

        | piece | what you write |
        |---|---|
        | `Attention` | `forward`: multi-head scaled dot-product attention (with a width reduction) |
        | `MLPBlock` | `forward`: two linear layers with a ReLU between them |
        | `TwoWayAttentionBlock` | `forward`: self-attention, token-to-image, MLP, image-to-token |
        | `predict_masks` | one mask per mask token, by a dot product with every pixel's features |
        | `segment_prompts` | masks for many prompts on one image, encoding the image once |

        The `__init__` of every module is given and must stay as it is: the grader loads reference
        weights into your modules by parameter name (`q_proj.weight`, `norm3.bias`, ...).
        Outputs keep the dtype and device of the inputs, everything stays differentiable, and there
        are no Python loops over tokens, pixels or batch items (a loop over heads or over a few mask
        tokens is fine).
    """))
    out.append(given("imports", """
        import math

        import torch
        from torch import nn

        torch.manual_seed(0)
    """))

    out.append(markdown("heavy-light", """
        ## 1. A heavy encoder, a light decoder

        SAM has three parts. The **image encoder** (a ViT-H with about 632M parameters) turns a
        1024×1024 image into an embedding of shape `[256, 64, 64]`: 256 channels at each of 64×64
        positions. It is by far the expensive part, on the order of 150 ms on a GPU. The **prompt
        encoder** turns clicks and boxes into a few 256-dimensional tokens (Fourier features of the
        coordinates, the `prompt_encoder` assignment), and the **mask decoder** combines those tokens
        with the image embedding into masks, in roughly 10 ms.

        The split is deliberate. An interactive user clicks, looks, clicks again: many prompts on
        the same picture. The embedding does not depend on the prompt, so it is computed **once per
        image** and every prompt reuses it; only the cheap prompt encoder and decoder run per click.
        The architecture is written around an assumption about how it will be used: you will query
        the same image many times. Section 7 makes you write exactly this reuse.
    """))

    out.append(markdown("tokens", """
        ## 2. What enters the decoder

        The decoder works on two sequences of 256-dimensional vectors:

        * **tokens** (called `queries` in the code), a handful of them, and
        * **the image**, the `[256, 64, 64]` embedding flattened into 64·64 = **4096 positions**
          (called `keys` in the code), each with a positional encoding of the same shape (`key_pe`).

        The lesson counts **5 tokens = 1 prompt token + 3 mask tokens + 1 IoU token**: the click,
        one learned token per mask hypothesis (part, object, whole), and one learned token whose
        output will score the masks. That is a simplification. The released SAM uses **4** mask
        tokens (the three hypotheses plus one used when a single mask is asked for), and the prompt
        encoder appends a **padding point** to clicks when no box is given. So one click gives
        1 IoU token + 4 mask tokens + 1 click + 1 padding point = **7 tokens**.

        The code you write does not care: it takes `[B, Nq, C]` tokens for any `Nq`. The tests use
        both 5 (the lesson's count) and 7 (SAM's count for one click). The learned tokens carry
        their own position-like vector `query_pe` (in SAM it is the tokens' initial values), which is
        re-added the same way as the image's `key_pe`.
    """))
    out.append(markdown("q-tokens", """
        **Check.** In the released SAM, how many tokens enter the mask decoder for a single click and
        no box? Answer with an int.
    """))
    out.append(answer("answer-tokens", "check_sam_tokens_one_click", "an int"))

    out.append(markdown("attention", r"""
        ## 3. One formula, three sources

        All three attention operations of a decoder layer use the same formula,

        $$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{Q K^\top}{\sqrt{d}}\right) V ,$$

        and differ only in **where Q, K and V come from** (the idea you met with text conditioning:
        same formula, different source for K and V):

        | operation | Q from | K, V from | who gets updated |
        |---|---|---|---|
        | self-attention | tokens | tokens | tokens |
        | token-to-image | tokens | image | tokens |
        | image-to-token | image | tokens | image |

        **The tensor trace.** For token-to-image with the lesson's 5 tokens: Q is `[5, 256]`, K is
        `[4096, 256]`, so $QK^\top$ is **`[5, 4096]`**: one row per token, one column per image
        position. Each row answers one token's question "where in the image should I look?", which is
        why the softmax runs **along the row, over the keys**: each token's weights over the 4096
        positions sum to 1. The output `[5, 4096] @ [4096, 256]` is `[5, 256]`: one vector read out
        of the image per token.

        **What `Attention` does**, in order:

        1. project: `q_proj`, `k_proj`, `v_proj` map `C` channels to `C / downsample_rate` (SAM's
           cross-attentions use rate 2, so 256 → 128; this halves their cost);
        2. split into `num_heads` heads: `[B, N, C']` → `[B, N, h, d]` → `[B, h, N, d]` with
           `d = C' / h` (a head is a block of consecutive channels of the same token);
        3. scores `q @ k^T / sqrt(d)`, shape `[B, h, Nq, Nk]`; note `d` is the width of **one head**;
        4. softmax over the last axis (the keys), weighted sum of the values: `[B, h, Nq, d]`;
        5. merge the heads back to `[B, Nq, C']` and apply `out_proj` (`C'` → `C`).
    """))
    out.append(stub("stub-attention", class_stub(
        "Attention", "Multi-head attention whose projections may shrink the width by `downsample_rate`.",
        "self, q, k, v",
        "q [B, Nq, C], k [B, Nk, C], v [B, Nk, C] -> [B, Nq, C]."
    )))
    out.append(public_test("test-attention-shape", """
        # Shapes: 5 tokens reading 48 positions, 2 heads, width reduced 32 -> 16 inside.
        _attn = Attention(32, 2, downsample_rate=2)
        _out = _attn(torch.randn(3, 5, 32), torch.randn(3, 48, 32), torch.randn(3, 48, 32))
        assert _out.shape == (3, 5, 32), f"expected [3, 5, 32], got {list(_out.shape)}"
        _out64 = Attention(8, 2).double()(*(torch.randn(1, n, 8, dtype=torch.float64) for n in (2, 3, 3)))
        assert _out64.dtype == torch.float64, "the output keeps the input dtype"
        print("shapes ok")
    """, points=1))
    out.append(public_test("test-attention-worked", """
        # A worked example with every projection set to the identity (one head, width 2):
        # one query [2, 0], keys [2, 0] and [0, 0], values [1, 0] and [0, 1].
        # scores = [4, 0] / sqrt(2) = [2.828, 0]  ->  softmax = [0.9442, 0.0558]  ->  output [0.9442, 0.0558]
        _attn = Attention(2, 1)
        with torch.no_grad():
            for _layer in (_attn.q_proj, _attn.k_proj, _attn.v_proj, _attn.out_proj):
                _layer.weight.copy_(torch.eye(2))
                _layer.bias.zero_()
        _q = torch.tensor([[[2.0, 0.0]]])
        _k = torch.tensor([[[2.0, 0.0], [0.0, 0.0]]])
        _v = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
        _out = _attn(_q, _k, _v)
        _want = torch.tensor([[[0.9442, 0.0558]]])
        assert torch.allclose(_out, _want, atol=1e-4), (
            f"got {_out.tolist()}, expected {_want.tolist()}; "
            "[0.982, 0.018] means the 1/sqrt(d) scale is missing, [1, 1] a softmax over the queries")
        print("worked example ok")
    """, points=1))
    out.append(markdown("q-score-shape", """
        **Check.** One head, one image: the lesson's 5 tokens attend to a 64×64 image embedding in
        token-to-image attention. The score matrix `q @ k^T` has how many rows and how many columns?
    """))
    out.append(answer("answer-score-rows", "check_attention_score_rows", "an int (rows of the score matrix)"))
    out.append(answer("answer-score-cols", "check_attention_score_cols", "an int (columns of the score matrix)"))

    out.append(markdown("mlp", """
        ## 4. The MLP

        Between the attentions, each token goes through the same small MLP on its own:
        `lin2(relu(lin1(x)))`, 256 → 2048 → 256 in SAM. It has no view of the other tokens or the
        image; mixing happens only in the attentions.
    """))
    out.append(stub("stub-mlp", class_stub(
        "MLPBlock", "Two linear layers with a ReLU between them, applied to every token independently.",
        "self, x", "x [..., C] -> [..., C]."
    )))
    out.append(public_test("test-mlp", """
        _mlp = MLPBlock(2, 2)
        with torch.no_grad():
            for _layer in (_mlp.lin1, _mlp.lin2):
                _layer.weight.copy_(torch.eye(2))
                _layer.bias.zero_()
        _out = _mlp(torch.tensor([[1.0, -2.0]]))
        assert torch.equal(_out, torch.tensor([[1.0, 0.0]])), f"with identity layers the MLP is a ReLU; got {_out.tolist()}"
        assert MLPBlock(8, 16)(torch.randn(2, 3, 8)).shape == (2, 3, 8)
        print("MLPBlock ok")
    """, points=1))

    out.append(markdown("block", """
        ## 5. One decoder layer: four steps, two ways

        `TwoWayAttentionBlock.forward(queries, keys, query_pe, key_pe)` returns the updated
        `(queries, keys)`. SAM stacks two of these layers. Each step adds its update to the stream
        it changes (residual) and **then** applies that step's LayerNorm (**post-norm**):

        1. **self-attention among the tokens**: `q = k = queries + query_pe`, `v = queries`;
           `queries = norm1(queries + self_attn(q, k, v))`.
        2. **token-to-image**: the tokens read the image.
           `q = queries + query_pe`, `k = keys + key_pe`, `v = keys`;
           `queries = norm2(queries + cross_attn_token_to_image(q, k, v))`.
        3. **MLP** on the tokens: `queries = norm3(queries + mlp(queries))`.
        4. **image-to-token**: the image reads the tokens, so every one of the 4096 positions
           learns about the prompt. `q = keys + key_pe`, `k = queries + query_pe`, `v = queries`;
           `keys = norm4(keys + cross_attn_image_to_token(q, k, v))`.

        **Why add the positional encodings again before every attention?** The streams are
        rewritten after every step (residual add, then LayerNorm). A position added once at the
        start would be mixed and rescaled away, and a sum `queries + query_pe` computed at the top
        of the layer would describe the tokens as they *were*. SAM keeps the encodings in separate
        tensors and adds them to whatever plays **query or key** right before each attention,
        so every attention can still tell where each image feature sits. The **values** stay
        free of positions: what a token reads out is content, where to read is decided by Q and K.

        **The first layer** is built with `skip_first_layer_pe=True`. Its tokens already are the
        prompt encodings plus the learned tokens, so step 1 becomes plain self-attention
        `self_attn(queries, queries, queries)` whose output **replaces** `queries` (no positional
        encoding, no residual), followed by `norm1` as usual. Steps 2 to 4 do not change.
    """))
    out.append(stub("stub-block", class_stub(
        "TwoWayAttentionBlock", "One layer of SAM's decoder: tokens read the image, then the image reads the tokens.",
        "self, queries, keys, query_pe, key_pe",
        "queries [B, Nq, C], keys [B, Nk, C], query_pe [B, Nq, C], key_pe [B, Nk, C]\n"
        "-> (queries [B, Nq, C], keys [B, Nk, C])."
    )))
    out.append(public_test("test-block-shapes", """
        # 5 tokens and a 4x6 image grid, C = 16.
        _block = TwoWayAttentionBlock(16, 2, 32, 2)
        _queries, _query_pe = torch.randn(2, 5, 16), torch.randn(2, 5, 16)
        _keys, _key_pe = torch.randn(2, 24, 16), torch.randn(2, 24, 16)
        _out = _block(_queries, _keys, _query_pe, _key_pe)
        assert isinstance(_out, tuple) and len(_out) == 2, "forward returns the pair (queries, keys)"
        assert _out[0].shape == (2, 5, 16) and _out[1].shape == (2, 24, 16)
        _first = TwoWayAttentionBlock(16, 2, 32, 2, skip_first_layer_pe=True)
        assert _first(_queries, _keys, _query_pe, _key_pe)[0].shape == (2, 5, 16)
        print("shapes ok")
    """, points=1))
    out.append(public_test("test-block-post-norm", """
        # Fresh LayerNorms have weight 1 and bias 0, so with post-norm every output vector
        # (tokens and image positions alike) has mean 0 and variance 1 over its channels.
        _block = TwoWayAttentionBlock(16, 2, 32, 2)
        _out_q, _out_k = _block(torch.randn(1, 5, 16), torch.randn(1, 24, 16), torch.randn(1, 5, 16), torch.randn(1, 24, 16))
        for _name, _t in (("queries", _out_q), ("keys", _out_k)):
            assert torch.allclose(_t.mean(-1), torch.zeros(1), atol=1e-4), f"{_name}: LayerNorm must come last in each step"
            assert torch.allclose(_t.var(-1, unbiased=False), torch.ones(1), atol=1e-3), f"{_name}: LayerNorm must come last"
        print("post-norm ok")
    """, points=1))
    out.append(public_test("test-block-two-way", """
        # Two-way: the image output must depend on the tokens (step 4).
        _block = TwoWayAttentionBlock(16, 2, 32, 2)
        _keys, _key_pe, _query_pe = torch.randn(1, 24, 16), torch.randn(1, 24, 16), torch.randn(1, 5, 16)
        _k1 = _block(torch.randn(1, 5, 16), _keys, _query_pe, _key_pe)[1]
        _k2 = _block(torch.randn(1, 5, 16), _keys, _query_pe, _key_pe)[1]
        assert not torch.allclose(_k1, _k2), "different tokens must give a different image output: is step 4 missing?"
        print("two-way ok")
    """, points=1))
    out.append(markdown("q-sources", """
        **Multiple choice.** In token-to-image attention (step 2), which tensors feed Q, K and V?

        * a) Q, K and V are all `queries + query_pe`: the tokens attend to one another again.
        * b) Q = `queries + query_pe`, K = `keys + key_pe`, V = `keys + key_pe`.
        * c) Q = `queries + query_pe`, K = `keys`, V = `keys + key_pe`.
        * d) Q = `queries + query_pe`, K = `keys + key_pe`, V = `keys`.
    """))
    out.append(answer("answer-mcq-sources", "mcq_token_to_image_sources", 'one of "a", "b", "c", "d"'))

    out.append(markdown("figure-text", """
        ## 6. Where does a token look?

        The figure below puts your `Attention` on a synthetic 64×64 "image embedding": a round
        object whose positions share one feature vector, background elsewhere, plus noise. The
        prompt token carries the object's feature, and a click inside the object.

        `Attention` returns mixed values, not weights, so the cell reads the weights out with a
        trick: one head, all projections set to the identity, and **one-hot values**. If position
        `j` carries the value `e_i`, the output's channel `i` is exactly the weight of position `j`.
        Doing this for chunks of positions recovers the whole `[5, 4096]` weight matrix of the
        tensor trace, row by row summing to 1.

        The middle panel uses content alone (no positional encodings): the token spreads its
        attention over everything that looks like the object. The right panel adds the positional
        encodings to Q and K, as the decoder does: the attention concentrates around the click.
    """))
    out.append(given("figure", FIGURE_SOURCE))

    out.append(markdown("masks", """
        ## 7. From tokens to masks: a dot product, not a U-Net

        After the two layers (and one last token-to-image attention), SAM upsamples the image
        embedding with two transposed convolutions, `[256, 64, 64]` → `[32, 256, 256]`, and sends
        each mask token through its own small MLP (a *hypernetwork*) to a 32-dimensional vector.
        **Mask k at a pixel is the dot product of that vector with the pixel's 32 features.** The
        token decides what to look for; the dot product asks every pixel how much it matches.

        This is not a U-Net: there is no contracting path with skip connections feeding an
        expanding path. The decoder is a two-layer transformer that lets a few tokens and the image
        talk to each other, followed by an upsampling and a dot product.

        `predict_masks(mask_tokens_out [B, K, C], upscaled [B, C', H, W], hypernet)` gets the list
        of the `K` hypernetwork modules (`hypernet[k]` maps `C` → `C'`) and returns `[B, K, H, W]`.
        A loop over the `K` modules is fine; no loop over pixels.
    """))
    out.append(stub("stub-predict-masks", function_stub(
        "predict_masks(mask_tokens_out, upscaled, hypernet)",
        "mask_tokens_out [B, K, C], upscaled [B, C', H, W], hypernet: K modules C -> C'\n"
        "-> mask logits [B, K, H, W]."
    )))
    out.append(public_test("test-predict-masks", """
        # Two tokens; hypernet[0] keeps its token, hypernet[1] negates it. Two pixels with
        # features [1, 0] and [0, 1], so each mask reads the two coordinates of its vector.
        _negate = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            _negate.weight.copy_(-torch.eye(2))
        _tokens = torch.tensor([[[1.0, 2.0], [1.0, 0.0]]])
        _upscaled = torch.tensor([[[[1.0, 0.0]], [[0.0, 1.0]]]])  # [1, 2, 1, 2]
        _masks = predict_masks(_tokens, _upscaled, [nn.Identity(), _negate])
        _want = torch.tensor([[[[1.0, 2.0]], [[-1.0, 0.0]]]])
        assert _masks.shape == (1, 2, 1, 2), f"expected [1, 2, 1, 2], got {list(_masks.shape)}"
        assert torch.allclose(_masks, _want), f"got {_masks.tolist()}, expected {_want.tolist()}"
        print("predict_masks ok")
    """, points=1))
    out.append(markdown("q-unet", """
        **Check.** Is SAM's mask decoder a U-Net? Answer `True` or `False`.
    """))
    out.append(answer("answer-unet", "check_decoder_is_unet", "True or False"))
    out.append(markdown("q-mcq-unet", """
        **Multiple choice.** Which description fits SAM's mask decoder?

        * a) A U-Net: a downsampling path and an upsampling path joined by skip connections.
        * b) A per-pixel classifier that gives each pixel one of SAM's object categories.
        * c) A two-layer transformer in which a few tokens and the image embedding attend to each
          other, followed by upsampling and a dot product per mask token.
        * d) A second copy of the image encoder, run again with the prompt drawn into the image.
    """))
    out.append(answer("answer-mcq-unet", "mcq_decoder_is_unet", 'one of "a", "b", "c", "d"'))

    out.append(markdown("segment", """
        ## 8. Many prompts, one image

        `segment_prompts(image [3, H, W], prompts, image_encoder, prompt_decoder)` returns one
        `[K, h, w]` mask tensor per prompt (a prompt is an `[N_i, 2]` tensor of clicks), in the order
        of the prompts. `image_encoder(image[None])` returns the `[1, C, h, w]` embedding and is
        expensive; `prompt_decoder(embedding, points)` is cheap. The result must be what running
        both for every prompt would give, but the encoder must run **once** for the image. The
        grader hands you an encoder that counts its calls.
    """))
    out.append(stub("stub-segment", function_stub(
        "segment_prompts(image, prompts, image_encoder, prompt_decoder)",
        "image [3, H, W], prompts: list of [N_i, 2] clicks -> list of masks [K, h, w], one per prompt."
    )))
    out.append(public_test("test-segment", """
        class _CountingEncoder(nn.Module):
            def __init__(self):
                super().__init__()
                self.calls = 0
                self.patchify = nn.Conv2d(3, 4, kernel_size=8, stride=8)

            def forward(self, image):
                self.calls += 1
                return self.patchify(image)

        def _decoder(embedding, points):
            return embedding[0, :3] * points.sum()  # [3, h, w]

        _encoder = _CountingEncoder()
        _image = torch.randn(3, 32, 24)
        _prompts = [torch.rand(n, 2) * 24 for n in (1, 2, 3)]
        _masks = segment_prompts(_image, _prompts, _encoder, _decoder)
        assert _encoder.calls == 1, f"the image encoder ran {_encoder.calls} times for one image"
        assert len(_masks) == 3 and _masks[0].shape == (3, 4, 3)
        with torch.no_grad():
            _embedding = _encoder(_image[None])
        for _mask, _points in zip(_masks, _prompts):
            assert torch.allclose(_mask, _decoder(_embedding, _points))
        print("segment_prompts ok")
    """, points=1))
    out.append(markdown("q-encoder", """
        **Check.** A user clicks 10 times on one photo. How many times does SAM's image encoder run?
        Answer with an int.
    """))
    out.append(answer("answer-encoder", "check_encoder_runs_for_10_clicks", "an int"))
    out.append(markdown("q-mcq-encoder", """
        **Multiple choice.** In an interactive SAM tool, a user clicks 10 times on one photo. What
        does the tool compute?

        * a) The image encoder 10 times, because every click changes what has to be segmented.
        * b) The image encoder once; the prompt encoder and the mask decoder once per click.
        * c) The image encoder once, and again each time a click lands on a different object.
        * d) The image encoder once per click but at a lower resolution, to stay interactive.
    """))
    out.append(answer("answer-mcq-encoder", "mcq_encoder_per_prompt", 'one of "a", "b", "c", "d"'))

    out.append(markdown("what-sam-is", """
        ## 9. What SAM is, and what it is not

        * SAM outputs **masks** (with an IoU score per mask), never a category: it knows where an
          object's boundary is, not what the object is. Naming it is another model's job (a
          classifier, or a vision-language model chained after SAM).
        * Because it learned boundaries from about a billion masks rather than a list of classes,
          SAM segments object types it never saw labelled, **without retraining**: point at it and
          the decoder does the rest (the "universal cookie cutter" of the lesson).
        * SAM 2 and SAM 3 **build on** SAM rather than replace it. SAM 2 keeps the promptable
          encoder / prompt encoder / mask decoder design and adds a memory (memory encoder, memory
          bank, memory attention, itself cross-attention over past frames) to follow objects
          through video. SAM 3 adds concept prompts (a short text or an example image) and finds
          every instance of the concept. The evolution is additive.
    """))
    out.append(markdown("q-labels", """
        **Check.** Does SAM output class labels for the objects it segments? Answer `True` or `False`.
    """))
    out.append(answer("answer-labels", "check_sam_outputs_class_labels", "True or False"))
    out.append(markdown("q-retrain", """
        **Check.** To segment a kind of object that SAM never saw during training (say, a new
        machine part), must SAM be retrained? Answer `True` or `False`.
    """))
    out.append(answer("answer-retrain", "check_sam_needs_retraining_for_new_object", "True or False"))
    out.append(markdown("q-mcq-versions", """
        **Multiple choice.** How does SAM 2 relate to SAM?

        * a) It keeps SAM's promptable design (image encoder, prompt encoder, mask decoder) and adds
          a memory that carries information across video frames.
        * b) It is a new architecture designed from scratch for video; only the name is shared.
        * c) It replaces SAM's transformer decoder by a U-Net so that it can handle video.
        * d) SAM, SAM 2 and SAM 3 are three independent models trained for three unrelated tasks.
    """))
    out.append(answer("answer-mcq-versions", "mcq_versions_unrelated", 'one of "a", "b", "c", "d"'))

    out.append(markdown("summary", """
        ## Summary

        * The image is encoded once; prompts are cheap and reuse the embedding.
        * Every attention is the same formula; only the sources of Q, K and V change. Token-to-image
          gives a `[tokens, 4096]` score matrix, normalised over the image positions.
        * Positional encodings are re-added to queries and keys before every attention, never to
          the values; every step is residual + LayerNorm (post-norm).
        * The layer is two-way: the tokens read the image, then the image reads the tokens.
        * Masks come from a dot product between per-token vectors and per-pixel features, not from
          a U-Net.
    """))
    return out


FIGURE_SOURCE = '''
# Attention map of one token over the 64x64 grid (given code; it runs your Attention).
def _attention_weights(attention, tokens, image):
    """Read the [B, Nq, Nk] weights of a one-head identity-projection Attention using one-hot values."""
    batch, n_keys, width = image.shape
    columns = []
    with torch.no_grad():
        for start in range(0, n_keys, width):
            count = min(width, n_keys - start)
            values = torch.zeros(batch, n_keys, width)
            values[:, start:start + count, :count] = torch.eye(count)
            columns.append(attention(tokens, image, values)[..., :count])
    return torch.cat(columns, dim=-1)


def _fourier(points01, gaussian):
    phases = 2 * math.pi * ((2 * points01 - 1) @ gaussian)
    return torch.cat([torch.sin(phases), torch.cos(phases)], dim=-1)


_width, _grid = 32, 64
_gen = torch.Generator().manual_seed(7)
_gaussian = torch.randn(2, _width // 2, generator=_gen)
_centres = (torch.arange(_grid) + 0.5) / _grid
_ys, _xs = torch.meshgrid(_centres, _centres, indexing="ij")
_key_pe = _fourier(torch.stack([_xs, _ys], dim=-1), _gaussian).reshape(1, _grid * _grid, _width)
_inside = (((_xs - 0.65) ** 2 + (_ys - 0.35) ** 2) < 0.18 ** 2).float().reshape(1, -1, 1)
_object, _background = torch.randn(_width, generator=_gen), torch.randn(_width, generator=_gen)
_image = _inside * _object + (1 - _inside) * _background + 0.3 * torch.randn(1, _grid * _grid, _width, generator=_gen)
_click = torch.tensor([[0.6, 0.4]])  # (x, y) as fractions of the image
_tokens = torch.randn(1, 5, _width, generator=_gen)
_tokens[0, 0] = _object  # token 0 is the prompt token
_query_pe = _fourier(torch.cat([_click, torch.rand(4, 2, generator=_gen)]), _gaussian)[None]

try:
    _probe = Attention(_width, 1)
    with torch.no_grad():
        for _layer in (_probe.q_proj, _probe.k_proj, _probe.v_proj, _probe.out_proj):
            _layer.weight.copy_(torch.eye(_width))
            _layer.bias.zero_()
    _weights = _attention_weights(_probe, torch.cat([_tokens, _tokens + _query_pe]),
                                  torch.cat([_image, _image + _key_pe]))  # [2, 5, 4096]
    print("attention weights:", list(_weights.shape[1:]), "(one row per token, one column per position)")
    print("row sums:", [round(float(s), 4) for s in _weights[1].sum(-1)])
except NotImplementedError:
    _weights = None
    print("Implement Attention.forward above to see the attention map.")
except Exception as _error:  # a bug in Attention: report it here, the tests above say more
    _weights = None
    print(f"Attention raised {type(_error).__name__}: {_error}")

if _weights is not None:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        plt = None
        print("matplotlib is not installed; skipping the figure")
    if plt is not None:
        _fig, _axes = plt.subplots(1, 3, figsize=(12, 4))
        _panels = [(_inside.reshape(_grid, _grid), "the scene: object and click"),
                   (_weights[0, 0].reshape(_grid, _grid), "prompt token, content only"),
                   (_weights[1, 0].reshape(_grid, _grid), "prompt token, content + positions")]
        for _ax, (_map, _title) in zip(_axes, _panels):
            _ax.imshow(_map.numpy(), cmap="viridis")
            _ax.plot(0.6 * _grid - 0.5, 0.4 * _grid - 0.5, "r+", markersize=12)
            _ax.set_title(_title)
            _ax.axis("off")
        plt.tight_layout()
        plt.show()
'''


def build() -> nbformat.NotebookNode:
    notebook = new_notebook(cells=cells())
    notebook.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    notebook.metadata["language_info"] = {"name": "python"}
    nbformat.validate(notebook)
    return notebook


if __name__ == "__main__":
    from autograder.nbgrader_source import write_notebooks

    # One cell list, two notebooks: the student's and nbgrader's source (solutions/*.source.ipynb).
    # Cell ids of an unchanged notebook are kept, so a rebuild leaves it byte-identical.
    for written in write_notebooks(build(), NOTEBOOK, "mask_decoder"):
        print(f"wrote {written}")
