"""The mask_decoder assignment graded end to end: the reference scores full marks and flags
nothing, the stub scores zero, and each anticipated wrong version (written the way a student
would, appended after the reference) fails the right targets with the right ids.

The wrong versions are written independently of the suite's `variants.py`, so these tests also
check that diagnosis by output recognises code it has never seen. A fast in-process test covers
every wrong version against the diagnosis; the slow end-to-end gradings cover the issue's list.
"""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from autograder.grading import grade
from autograder.registry import get_rubric
from notebook_tools import notebook_with_cells, solved_notebook, stub_notebook, write_notebook

SLUG = "mask_decoder"
ID = "impl.mask_decoder."
ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "autograder" / "suites" / "mask_decoder"
CONTRACT = {"Attention", "MLPBlock", "TwoWayAttentionBlock", "predict_masks", "segment_prompts"}
MODULES = {"Attention", "TwoWayAttentionBlock"}

# ---- wrong versions, as a student would write them ---------------------------------------------

_HEADS = '''
import math
import torch

def _to_heads(x, h):
    b, n, c = x.shape
    return x.view(b, n, h, c // h).permute(0, 2, 1, 3)

def _from_heads(x):
    return x.permute(0, 2, 1, 3).flatten(2)
'''

SOFTMAX_OVER_QUERIES = _HEADS + '''
def _forward(self, q, k, v):
    q, k, v = (_to_heads(p(x), self.num_heads) for p, x in ((self.q_proj, q), (self.k_proj, k), (self.v_proj, v)))
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=2)
    return self.out_proj(_from_heads(weights @ v))
Attention.forward = _forward
'''

NO_SCALE = _HEADS + '''
def _forward(self, q, k, v):
    q, k, v = (_to_heads(p(x), self.num_heads) for p, x in ((self.q_proj, q), (self.k_proj, k), (self.v_proj, v)))
    return self.out_proj(_from_heads((q @ k.transpose(-1, -2)).softmax(-1) @ v))
Attention.forward = _forward
'''

FULL_WIDTH_SCALE = _HEADS + '''
def _forward(self, q, k, v):
    q, k, v = (_to_heads(p(x), self.num_heads) for p, x in ((self.q_proj, q), (self.k_proj, k), (self.v_proj, v)))
    scores = q @ k.transpose(-1, -2) / math.sqrt(self.internal_dim)
    return self.out_proj(_from_heads(scores.softmax(-1) @ v))
Attention.forward = _forward
'''

HEADS_BY_VIEW = '''
import math
import torch

def _forward(self, q, k, v):
    b, nq, _ = q.shape
    nk, h = k.shape[1], self.num_heads
    q = self.q_proj(q).reshape(b, h, nq, -1)
    k = self.k_proj(k).reshape(b, h, nk, -1)
    v = self.v_proj(v).reshape(b, h, nk, -1)
    out = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(q.shape[-1]), -1) @ v
    return self.out_proj(out.reshape(b, nq, -1))
Attention.forward = _forward
'''

ENCODER_PER_PROMPT = '''
def segment_prompts(image, prompts, image_encoder, prompt_decoder):
    masks = []
    for points in prompts:
        embedding = image_encoder(image[None])
        masks.append(prompt_decoder(embedding, points))
    return masks
'''


def _block(step2: str, step4: str, *, step1: str | None = None, norms_after: bool = True) -> str:
    """A student's forward with the given steps; the defaults are the right ones."""
    step1 = step1 or '''
    if self.skip_first_layer_pe:
        queries = self.self_attn(queries, queries, queries)
    else:
        q = queries + query_pe
        queries = queries + self.self_attn(q, q, queries)
    queries = self.norm1(queries)'''
    return f'''
def _block_forward(self, queries, keys, query_pe, key_pe):{step1}{step2}
    queries = self.norm3(queries + self.mlp(queries)){step4}
    return queries, keys
TwoWayAttentionBlock.forward = _block_forward
'''


RIGHT_STEP2 = '''
    queries = self.norm2(queries + self.cross_attn_token_to_image(queries + query_pe, keys + key_pe, keys))'''
RIGHT_STEP4 = '''
    keys = self.norm4(keys + self.cross_attn_image_to_token(keys + key_pe, queries + query_pe, queries))'''

KV_OWN_STREAM = _block('''
    t = queries + query_pe
    queries = self.norm2(queries + self.cross_attn_token_to_image(t, t, queries))''', '''
    i = keys + key_pe
    keys = self.norm4(keys + self.cross_attn_image_to_token(i, i, keys))''')

PE_IN_VALUES = _block('''
    k = keys + key_pe
    queries = self.norm2(queries + self.cross_attn_token_to_image(queries + query_pe, k, k))''', '''
    t = queries + query_pe
    keys = self.norm4(keys + self.cross_attn_image_to_token(keys + key_pe, t, t))''')

PE_ONLY_FIRST = _block('''
    queries = self.norm2(queries + self.cross_attn_token_to_image(queries, keys, keys))''', '''
    keys = self.norm4(keys + self.cross_attn_image_to_token(keys, queries, queries))''')

PE_STALE = '''
def _block_forward(self, queries, keys, query_pe, key_pe):
    q_pos, k_pos = queries + query_pe, keys + key_pe
    if self.skip_first_layer_pe:
        queries = self.norm1(self.self_attn(queries, queries, queries))
    else:
        queries = self.norm1(queries + self.self_attn(q_pos, q_pos, queries))
    queries = self.norm2(queries + self.cross_attn_token_to_image(q_pos, k_pos, keys))
    queries = self.norm3(queries + self.mlp(queries))
    keys = self.norm4(keys + self.cross_attn_image_to_token(k_pos, q_pos, queries))
    return queries, keys
TwoWayAttentionBlock.forward = _block_forward
'''

PRE_NORM = '''
def _block_forward(self, queries, keys, query_pe, key_pe):
    x = self.norm1(queries)
    if self.skip_first_layer_pe:
        queries = self.self_attn(x, x, x)
    else:
        queries = queries + self.self_attn(x + query_pe, x + query_pe, x)
    x = self.norm2(queries)
    queries = queries + self.cross_attn_token_to_image(x + query_pe, keys + key_pe, keys)
    queries = queries + self.mlp(self.norm3(queries))
    y = self.norm4(keys)
    keys = keys + self.cross_attn_image_to_token(y + key_pe, queries + query_pe, queries)
    return queries, keys
TwoWayAttentionBlock.forward = _block_forward
'''

NO_IMAGE_TO_TOKEN = _block(RIGHT_STEP2, "")

SKIP_PE_WITH_RESIDUAL = _block(RIGHT_STEP2, RIGHT_STEP4, step1='''
    if self.skip_first_layer_pe:
        queries = queries + self.self_attn(queries, queries, queries)
    else:
        q = queries + query_pe
        queries = queries + self.self_attn(q, q, queries)
    queries = self.norm1(queries)''')

SKIP_PE_IGNORED = _block(RIGHT_STEP2, RIGHT_STEP4, step1='''
    q = queries + query_pe
    queries = self.norm1(queries + self.self_attn(q, q, queries))''')

# name: (source, the module it breaks, the id its outputs must be diagnosed as)
WRONG = {
    "softmax-over-queries": (SOFTMAX_OVER_QUERIES, "Attention", ID + "softmax-wrong-axis"),
    "no-scale": (NO_SCALE, "Attention", ID + "missing-scale"),
    "full-width-scale": (FULL_WIDTH_SCALE, "Attention", ID + "missing-scale"),
    "heads-by-view": (HEADS_BY_VIEW, "Attention", ID + "head-split-wrong"),
    "kv-own-stream": (KV_OWN_STREAM, "TwoWayAttentionBlock", ID + "kv-wrong-source"),
    "pe-in-values": (PE_IN_VALUES, "TwoWayAttentionBlock", ID + "kv-wrong-source"),
    "pe-only-first": (PE_ONLY_FIRST, "TwoWayAttentionBlock", ID + "pe-not-readded"),
    "pe-stale": (PE_STALE, "TwoWayAttentionBlock", ID + "pe-not-readded"),
    "pre-norm": (PRE_NORM, "TwoWayAttentionBlock", ID + "pre-norm"),
    "no-image-to-token": (NO_IMAGE_TO_TOKEN, "TwoWayAttentionBlock", ID + "image-to-token-skipped"),
    "skip-pe-residual": (SKIP_PE_WITH_RESIDUAL, "TwoWayAttentionBlock", ID + "skip-pe-residual"),
    "skip-pe-ignored": (SKIP_PE_IGNORED, "TwoWayAttentionBlock", ID + "skip-pe-ignored"),
}


# ---- fast: the diagnosis recognises every wrong version, in process ------------------------------

def _load(path: Path, name: str):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _student_namespace(wrong_source: str) -> dict:
    """The reference's source followed by the wrong cell, as a notebook would run them."""
    namespace = {"__name__": "student_notebook"}
    exec(compile((ROOT / "solutions" / "mask_decoder.py").read_text(encoding="utf-8"), "solution", "exec"), namespace)
    exec(compile(wrong_source, "wrong", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("name", sorted(WRONG))
def test_diagnosis_names_each_wrong_version(name):
    support = _load(SUITE / "_support.py", "tensorgrade_mask_decoder__support")
    cases, variants = support.cases, support.variants
    source, module_name, expected_id = WRONG[name]
    student = _student_namespace(source)
    reference = cases.load_solution()
    flags = []
    flag = lambda mid, evidence: flags.append(mid)  # noqa: E731
    for case in cases.BLOCK_CASES[1:3]:  # one with skip_first_layer_pe, one without
        ref, state = cases.block_module(reference, case)
        mine = student["TwoWayAttentionBlock"](case.embedding_dim, case.num_heads, case.mlp_dim,
                                               case.downsample_rate, case.skip_first_layer_pe)
        mine.load_state_dict(state)
        inputs = cases.block_inputs(case, torch.Generator().manual_seed(0))
        with torch.no_grad():
            out = mine(*inputs)
        want = ref(*inputs)
        if not torch.allclose(variants.flatten_pair(*out), variants.flatten_pair(*want), atol=1e-5):
            support.diagnose_block(flag, out, ref, inputs, what=case.name)
    if module_name == "Attention":
        case = cases.ATTENTION_CASES[0]
        ref, state = cases.attention_module(reference, case)
        mine = student["Attention"](case.embedding_dim, case.num_heads, case.downsample_rate)
        mine.load_state_dict(state)
        gen = torch.Generator().manual_seed(1)
        q, k, v = (torch.randn(2, n, case.embedding_dim, generator=gen) for n in (5, 9, 9))
        with torch.no_grad():
            support.diagnose_attention(flag, mine(q, k, v), ref, q, k, v, what=case.name)
    assert flags and set(flags) == {expected_id}, f"{name}: diagnosed as {flags}"


def test_correct_outputs_match_no_variant():
    support = _load(SUITE / "_support.py", "tensorgrade_mask_decoder__support")
    cases, variants = support.cases, support.variants
    reference = cases.load_solution()
    for case in cases.BLOCK_CASES[1:]:  # the 64x64 case is not diagnosed (too large)
        ref, _ = cases.block_module(reference, case)
        inputs = cases.block_inputs(case, torch.Generator().manual_seed(3))
        with torch.no_grad():
            correct = variants.flatten_pair(*ref(*inputs))
        for name, output in variants.block_outputs(ref, *inputs).items():
            assert output is not None, f"{name} changes nothing on {case.name}"
            assert not torch.allclose(output, correct, rtol=1e-4, atol=1e-5), f"{name} is indistinguishable on {case.name}"


# ---- slow: end-to-end gradings ---------------------------------------------------------------------

def _grade(tmp_path, notebook, name="submission"):
    return grade(write_notebook(notebook, tmp_path / f"{name}.ipynb"), SLUG, seed=7)


def _ids(report) -> set[str]:
    return {hit.id for hit in report.misconceptions}


def _failing(report) -> set[str]:
    return {test.target for test in report.tests if test.status != "passed" and not test.target.startswith("check:")}


@pytest.mark.slow
def test_reference_scores_full_marks_and_flags_nothing(tmp_path):
    report = _grade(tmp_path, solved_notebook(SLUG))
    failures = [(test.name, test.status, test.message[:200]) for test in report.tests if test.status != "passed"]
    assert failures == []
    assert report.score == report.max_score > 0
    assert report.misconceptions == []
    assert {test.target for test in report.tests} >= CONTRACT
    assert all(cell.source_excerpt.startswith("# Assign") for cell in report.cells), "only the unanswered stubs may raise"


@pytest.mark.slow
def test_stub_scores_zero_without_crashing(tmp_path):
    report = _grade(tmp_path, stub_notebook(SLUG))
    assert report.score == 0 and report.max_score > 0
    assert {test.status for test in report.tests} == {"not_implemented"}
    assert report.misconceptions == []


def _assert_only_broken(report, broken_targets: set[str]):
    assert _failing(report) == broken_targets, [(t.name, t.message[:160]) for t in report.tests
                                                if t.status != "passed" and t.target not in broken_targets]


@pytest.mark.slow
def test_softmax_axis_and_encoder_per_prompt(tmp_path):
    report = _grade(tmp_path, notebook_with_cells(SLUG, [SOFTMAX_OVER_QUERIES, ENCODER_PER_PROMPT]))
    _assert_only_broken(report, {"Attention", "TwoWayAttentionBlock", "segment_prompts"})
    assert _ids(report) == {ID + "softmax-wrong-axis", "sam.encoder-per-prompt"}
    segment = {test.name: test.status for test in report.results_for("segment_prompts")}
    assert segment["test_segment_prompts_stored"] == "passed", "the masks themselves are right"
    assert segment["test_segment_prompts_encoder_runs_once[10]"] == "failed"


@pytest.mark.slow
def test_missing_scale_and_wrong_answers(tmp_path):
    answers = 'check_encoder_runs_for_10_clicks = 10\nmcq_decoder_is_unet = "a"\nmcq_versions_unrelated = "d"\n'
    report = _grade(tmp_path, notebook_with_cells(SLUG, [NO_SCALE, answers]))
    _assert_only_broken(report, {"Attention", "TwoWayAttentionBlock"})
    assert _ids(report) == {ID + "missing-scale", "sam.encoder-per-prompt", "sam.decoder-is-unet",
                            "sam.versions-unrelated"}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["kv-own-stream", "pe-only-first", "pre-norm", "no-image-to-token"])
def test_block_mistakes_fail_only_the_block(tmp_path, name):
    source, _, expected_id = WRONG[name]
    report = _grade(tmp_path, notebook_with_cells(SLUG, [source]), name)
    _assert_only_broken(report, {"TwoWayAttentionBlock"})
    assert _ids(report) == {expected_id}


@pytest.mark.slow
def test_skip_pe_residual_fails_only_first_layer_cases(tmp_path):
    report = _grade(tmp_path, notebook_with_cells(SLUG, [SKIP_PE_WITH_RESIDUAL]))
    _assert_only_broken(report, {"TwoWayAttentionBlock"})
    failed = {test.name for test in report.tests if test.status != "passed"}
    assert failed and all("skip" in name for name in failed), failed
    assert _ids(report) == {ID + "skip-pe-residual"}


RENAMED_MLP = '''
class MLPBlock(nn.Module):
    def __init__(self, embedding_dim, mlp_dim):
        super().__init__()
        self.fc1 = nn.Linear(embedding_dim, mlp_dim)
        self.fc2 = nn.Linear(mlp_dim, embedding_dim)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))
'''


@pytest.mark.slow
def test_renamed_parameters_fail_with_the_offending_keys_and_no_diagnosis(tmp_path):
    report = _grade(tmp_path, notebook_with_cells(SLUG, [RENAMED_MLP]))
    _assert_only_broken(report, {"MLPBlock", "TwoWayAttentionBlock"})
    for test in report.results_for("MLPBlock") + report.results_for("TwoWayAttentionBlock"):
        assert test.status == "failed" and "lin1.weight" in test.message and "fc1.weight" in test.message, test.message
    assert report.misconceptions == []


ALTERNATIVE_CORRECT = '''
import torch.nn.functional as F

def _attention_forward(self, q, k, v):
    h = self.num_heads
    def heads(x):
        return x.unflatten(-1, (h, -1)).transpose(1, 2)
    mixed = F.scaled_dot_product_attention(heads(self.q_proj(q)), heads(self.k_proj(k)), heads(self.v_proj(v)))
    return self.out_proj(mixed.transpose(1, 2).flatten(2))
Attention.forward = _attention_forward

def _mlp_forward(self, x):
    return self.lin2(F.relu(self.lin1(x)))
MLPBlock.forward = _mlp_forward

def _block_forward(self, queries, keys, query_pe, key_pe):
    if self.skip_first_layer_pe:
        queries = self.norm1(self.self_attn(q=queries, k=queries, v=queries))
    else:
        positioned = queries + query_pe
        queries = self.norm1(queries + self.self_attn(q=positioned, k=positioned, v=queries))
    queries = self.norm2(queries + self.cross_attn_token_to_image(q=queries + query_pe, k=keys + key_pe, v=keys))
    queries = self.norm3(queries + self.mlp(queries))
    keys = self.norm4(keys + self.cross_attn_image_to_token(q=keys + key_pe, k=queries + query_pe, v=queries))
    return queries, keys
TwoWayAttentionBlock.forward = _block_forward

def predict_masks(mask_tokens_out, upscaled, hypernet):
    b, c, h, w = upscaled.shape
    vectors = torch.stack([mlp(mask_tokens_out[:, i, :]) for i, mlp in enumerate(hypernet)], dim=1)
    return (vectors @ upscaled.reshape(b, c, h * w)).reshape(b, -1, h, w)

def segment_prompts(image, prompts, image_encoder, prompt_decoder):
    embedding = image_encoder(image.unsqueeze(0))
    out = []
    for points in prompts:
        out.append(prompt_decoder(embedding, points))
    return out
'''


def _filled_in_place(extra_source: str):
    """The stub notebook as a student hands it in: the first stub cell holds the reference followed
    by `extra_source`, the other stub cells are emptied, the answer cells hold the right answers;
    the given cells (the attention-map figure included) then run on the student's code."""
    expected = {check.variable: check.expected for check in get_rubric(SLUG).checks}
    notebook = stub_notebook(SLUG)
    first = True
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("solution"):
            continue
        if cell.source.startswith("# Assign"):
            variable = cell.source.split("`")[1].split(" = ")[0]
            cell.source = f"{variable} = {expected[variable]!r}"
        else:
            cell.source = (ROOT / "solutions" / "mask_decoder.py").read_text() + extra_source if first else "pass"
            first = False
    return notebook


@pytest.mark.slow
def test_an_independently_written_submission_filled_in_place_scores_full_marks(tmp_path):
    report = _grade(tmp_path, _filled_in_place(ALTERNATIVE_CORRECT))
    failures = [(test.name, test.message[:200]) for test in report.tests if test.status != "passed"]
    assert failures == [] and report.misconceptions == [] and report.cells == []
    assert report.score == report.max_score
    assert "attention weights: [5, 4096]" in report.stdout_excerpt, "the figure cell ran on the student's Attention"
