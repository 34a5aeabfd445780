"""The timing and memory budgets of the four assignments, measured by the engine on CPU.

Submissions are notebooks (the stub, the reference, then a student's cell), run in the sandbox
and measured against a reference worker exactly as a grading run does. The slow and cheating
versions below are written here, independently of bench/bench_budgets.py, so together they
form a held-out set: a solved notebook meets every budget; a Python loop over points or pairs,
re-encoding the image per prompt, a "chunked" loss over the full matrix, patched clocks,
caching, early returns and unfinished background work all fail, with a message that says how
much slower, at what size, on what device and why.
"""

import time

import nbformat
import pytest
import torch

from autograder.budgets import SLOW_CUTOFF, BudgetRunner, run_budget
from autograder.grading import run_budgets_for, score_test
from autograder.notebook import CodeCell, load_submission
from autograder.registry import get_rubric, resolve
from autograder.sandbox import Limits, Submission
from notebook_tools import notebook_with_cells

pytestmark = pytest.mark.slow

# ---- slow versions, as a student might write them ----------------------------------------------

POINT_LOOP = '''
import math, torch
def encode_points(points, labels, image_size, gaussian, point_embeds, not_a_point_embed, pad):
    H, W = image_size
    out = []
    for b in range(points.shape[0]):
        row = []
        for n in range(points.shape[1] + (1 if pad else 0)):
            if n == points.shape[1]:
                row.append(not_a_point_embed)
                continue
            label = labels[b, n].item()
            if label == -1:
                row.append(not_a_point_embed)
                continue
            x = (points[b, n, 0] + 0.5) / W
            y = (points[b, n, 1] + 0.5) / H
            phase = 2 * math.pi * ((2 * torch.stack([x, y]) - 1) @ gaussian)
            row.append(torch.cat([phase.sin(), phase.cos()]) + point_embeds[int(label)])
        out.append(torch.stack(row))
    return torch.stack(out)
'''

HYPOTHESIS_PER_BATCH_ITEM = '''
import torch
def multimask_loss(mask_logits, iou_pred, gt, focal_weight=20.0, dice_weight=1.0, iou_weight=1.0, alpha=0.25, gamma=2.0):
    total = 0
    chosen = []
    for b in range(mask_logits.shape[0]):
        scores = torch.stack([focal_weight * sigmoid_focal_loss(m, gt[b], alpha, gamma) + dice_weight * dice_loss(m, gt[b])
                              for m in mask_logits[b]])
        k = scores.argmin().item()
        iou = mask_iou(mask_logits[b, k], gt[b]).detach()
        total = total + scores[k] + iou_weight * (iou_pred[b, k] - iou) ** 2
        chosen.append(k)
    return total / mask_logits.shape[0], torch.tensor(chosen)
'''

REENCODE_PER_PROMPT = '''
def segment_prompts(image, prompts, image_encoder, prompt_decoder):
    out = []
    for clicks in prompts:
        out.append(prompt_decoder(image_encoder(image[None]), clicks))
    return out
'''

PAIR_LOOP = '''
import torch
import torch.nn.functional as F
def siglip_pair_losses(image_emb, text_emb, t_prime, bias):
    n = image_emb.shape[0]
    img = F.normalize(image_emb, dim=-1)
    txt = F.normalize(text_emb, dim=-1)
    rows = []
    for i in range(n):
        row = []
        for j in range(n):
            logit = t_prime.exp() * torch.dot(img[i], txt[j]) + bias
            row.append(-F.logsigmoid(logit if i == j else -logit))
        rows.append(torch.stack(row))
    return torch.stack(rows)
'''

FULL_MATRIX_CHUNKED = '''
import torch
import torch.nn.functional as F
def siglip_loss_chunked(image_emb, text_emb, t_prime, bias, chunk_size):
    logits = t_prime.exp() * similarity_matrix(image_emb, text_emb) + bias
    labels = 2 * torch.eye(logits.shape[0], dtype=logits.dtype, device=logits.device) - 1
    total = 0
    for start in range(0, logits.shape[1], chunk_size):
        block = slice(start, start + chunk_size)
        total = total - F.logsigmoid(labels[:, block] * logits[:, block]).sum()
    return total / logits.shape[0]
'''

# ---- cheating versions ------------------------------------------------------------------------

PATCHED_CLOCKS = '''
import time, torch
_frozen = time.perf_counter()
time.perf_counter = lambda: _frozen
time.monotonic = lambda: _frozen
time.time = lambda: _frozen
time.perf_counter_ns = lambda: 0
time.monotonic_ns = lambda: 0
torch.cuda.synchronize = lambda *args, **kwargs: None
class _InstantEvent:
    def __init__(self, *args, **kwargs): pass
    def record(self, *args, **kwargs): pass
    def synchronize(self): pass
    def elapsed_time(self, other): return 0.0
torch.cuda.Event = _InstantEvent
'''

CACHE_BY_SHAPE = '''
import torch
_answers = {}
def similarity_matrix(image_emb, text_emb):
    key = (tuple(image_emb.shape), tuple(text_emb.shape))
    if key not in _answers:
        a = image_emb / image_emb.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        b = text_emb / text_emb.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        _answers[key] = a @ b.T
    return _answers[key]
'''

CACHE_BY_GRID = '''
import torch
_grids = {}
def dense_positional_encoding(grid_hw, gaussian):
    if tuple(grid_hw) not in _grids:
        h, w = grid_hw
        xs = (torch.arange(w, dtype=gaussian.dtype) + 0.5) / w
        ys = (torch.arange(h, dtype=gaussian.dtype) + 0.5) / h
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        phase = 2 * torch.pi * ((2 * torch.stack([gx, gy], -1) - 1) @ gaussian)
        _grids[tuple(grid_hw)] = torch.cat([phase.sin(), phase.cos()], -1).permute(2, 0, 1)
    return _grids[tuple(grid_hw)]
'''

EARLY_RETURN = '''
import torch
def sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2.0):
    return logits.new_zeros(logits.shape[:-2])
'''

BACKGROUND_THREAD = '''
import threading, torch
_reference_similarity = similarity_matrix
def similarity_matrix(image_emb, text_emb):
    out = image_emb.new_empty(image_emb.shape[0], text_emb.shape[0])
    def finish():
        out.copy_(_reference_similarity(image_emb, text_emb))
    threading.Thread(target=finish, daemon=True).start()
    return out
'''


# ---- helpers ----------------------------------------------------------------------------------

def _notebook_cells(slug: str, extra: list[str]) -> list[CodeCell]:
    """The cells a grading run executes: the stub notebook, the reference, the answers, `extra`."""
    notebook = notebook_with_cells(slug, extra)
    return load_submission(nbformat.writes(notebook).encode()).cells


def _budget(slug: str, name: str):
    return next(budget for budget in get_rubric(slug).budgets if budget.name == name)


_REFERENCES: dict[str, Submission] = {}


@pytest.fixture(scope="module", autouse=True)
def _close_reference_workers():
    yield
    while _REFERENCES:
        _REFERENCES.popitem()[1].close()


def _reference(slug: str) -> Submission:
    """One reference worker per assignment for the whole module (grading starts a fresh one)."""
    if slug not in _REFERENCES:
        solution = resolve(get_rubric(slug).solution).read_text(encoding="utf-8")
        _REFERENCES[slug] = Submission([CodeCell(0, solution)]).__enter__()
    return _REFERENCES[slug]


def _measure(slug: str, names: list[str], extra: list[str], device: str = "cpu") -> dict:
    """Run the named budgets of `slug` on a notebook with `extra` cells against the reference."""
    with Submission(_notebook_cells(slug, extra)) as student:
        runner = BudgetRunner(student, _reference(slug), device, resolve(get_rubric(slug).suite))
        return {name: run_budget(_budget(slug, name), runner) for name in names}


def _ratio(record) -> float:
    return record.timings[0]["ratio"]


# ---- the reference meets every budget -----------------------------------------------------------

@pytest.mark.parametrize("slug", ["siglip", "prompt_encoder", "mask_decoder", "mask_losses"])
def test_solved_notebook_meets_every_budget(slug):
    rubric = get_rubric(slug)
    assert rubric.budgets, f"{slug} declares no budgets"
    cpu_budgets = [budget.name for budget in rubric.budgets if "cpu" in budget.sizes]
    assert cpu_budgets == [budget.name for budget in rubric.budgets]
    records = _measure(slug, cpu_budgets, [])
    assert {name: record.status for name, record in records.items()} == dict.fromkeys(cpu_budgets, "passed")
    for budget in rubric.budgets:
        timing = records[budget.name].timings[0]
        assert timing["device"] == "cpu" and timing["passed"] is True
        limit = budget.ratio if budget.kind == "timing" else budget.elements_factor
        assert timing["budget"] == limit and 0 < timing["ratio"] <= limit


# ---- slow versions fail their timing budget, saying how much slower and why -------------------

def test_loop_over_points_fails_encode_points_budget():
    record = _measure("prompt_encoder", ["encode_points_time"], [POINT_LOOP])["encode_points_time"]
    assert record.status == "failed" and record.kind == "timing" and record.target == "encode_points"
    assert _ratio(record) > 3 * _budget("prompt_encoder", "encode_points_time").ratio
    assert "B=4096, N=4" in record.message and "on cpu" in record.message
    assert "Python loop over points" in record.message


def test_loop_over_batch_items_fails_multimask_budget():
    budget = _budget("mask_losses", "multimask_loss_time")
    record = _measure("mask_losses", [budget.name], [HYPOTHESIS_PER_BATCH_ITEM])[budget.name]
    assert record.status == "failed" and record.target == "multimask_loss"
    assert _ratio(record) > 1.5 * budget.ratio
    assert "x the reference's time (budget 3x)" in record.message and "B=4096, K=3, H=4, W=4" in record.message
    assert "loop over batch items" in record.message


def test_reencoding_the_image_per_prompt_fails_with_the_misconception():
    """The grading entry point: the failed budget carries sam.encoder-per-prompt into the report."""
    rubric = get_rubric("mask_decoder")
    with Submission(_notebook_cells("mask_decoder", [REENCODE_PER_PROMPT])) as student:
        records = {record.name: record for record in run_budgets_for(rubric, student, ["cpu"], Limits())}
    segment = score_test(rubric, records["budget_segment_prompts_time"])
    assert segment.status == "failed" and segment.kind == "timing" and segment.score == 0 and segment.max_score == 1
    assert segment.misconceptions == ["sam.encoder-per-prompt"]
    assert "re-running the heavy image encoder" in segment.message and "P=16" in segment.message
    assert records["budget_segment_prompts_time"].timings[0]["ratio"] > 2 * 3.0
    predict = score_test(rubric, records["budget_predict_masks_time"])
    assert predict.status == "passed" and predict.misconceptions == []


def test_wrong_but_fast_segmentation_fails_without_blaming_the_encoder():
    reversed_prompts = REENCODE_PER_PROMPT.replace(
        "    out = []\n    for clicks in prompts:\n        out.append(prompt_decoder(image_encoder(image[None]), clicks))\n",
        "    embedding = image_encoder(image[None])\n    out = [prompt_decoder(embedding, clicks) for clicks in prompts[::-1]]\n")
    assert reversed_prompts != REENCODE_PER_PROMPT
    record = _measure("mask_decoder", ["segment_prompts_time"], [reversed_prompts])["segment_prompts_time"]
    result = score_test(get_rubric("mask_decoder"), record)
    assert result.status == "failed" and "differs from the reference" in result.message
    assert result.misconceptions == []


def test_loop_over_pairs_is_stopped_early_as_far_too_slow():
    budget = _budget("siglip", "siglip_pair_losses_time")
    with Submission(_notebook_cells("siglip", [PAIR_LOOP])) as student:
        runner = BudgetRunner(student, _reference("siglip"), "cpu", resolve(get_rubric("siglip").suite))
        started = time.monotonic()
        record = run_budget(budget, runner)
        elapsed = time.monotonic() - started
    # The reference runs first, so the student's first call (about 15 s here) is cut at
    # max(5 s, 25x the reference's time) instead of running to completion.
    assert elapsed < 10
    assert record.status == "failed" and record.target == "siglip_pair_losses"
    assert "far too slow at N=1024, D=256 on cpu" in record.message
    assert "loop over image-text pairs" in record.message
    assert record.timings[0]["ratio"] >= SLOW_CUTOFF and record.timings[0]["passed"] is False


# ---- the memory budget of the chunked loss --------------------------------------------------

def test_full_matrix_chunked_loss_fails_the_memory_budget():
    budget = _budget("siglip", "siglip_loss_chunked_memory")
    records = _measure("siglip", [budget.name, "siglip_loss_chunked_time"], [FULL_MATRIX_CHUNKED])
    memory = records[budget.name]
    assert memory.status == "failed" and memory.kind == "memory"
    assert memory.timings[0]["ratio"] > 2 * budget.elements_factor  # N / chunk = 16 times the allowed block
    assert "MiB at its peak at N=4096, D=64, chunk=256 on cpu" in memory.message
    assert "full N x N matrix" in memory.message
    # same arithmetic as a block loop, so only memory gives it away
    assert records["siglip_loss_chunked_time"].status == "passed"


# ---- cheating cannot pass ---------------------------------------------------------------------

def test_patched_clocks_and_cuda_events_gain_nothing():
    record = _measure("prompt_encoder", ["encode_points_time"], [PATCHED_CLOCKS, POINT_LOOP])["encode_points_time"]
    assert record.status == "failed" and _ratio(record) > 3 * 3.0


def test_patched_clocks_leave_an_honest_submission_honest():
    record = _measure("prompt_encoder", ["encode_points_time"], [PATCHED_CLOCKS])["encode_points_time"]
    assert record.status == "passed"


@pytest.mark.parametrize("slug, name, source", [
    ("siglip", "similarity_matrix_time", CACHE_BY_SHAPE),
    ("prompt_encoder", "dense_positional_encoding_time", CACHE_BY_GRID),
    ("mask_losses", "sigmoid_focal_loss_time", EARLY_RETURN),
    ("siglip", "similarity_matrix_time", BACKGROUND_THREAD),
], ids=["cache-by-shape", "cache-by-grid-size", "early-return", "background-thread"])
def test_caching_early_returns_and_unfinished_work_fail(slug, name, source):
    record = _measure(slug, [name], [source])[name]
    assert record.status == "failed"
    assert "differs from the reference on fresh inputs" in record.message
    assert record.timings == []  # never reported as a (fast) ratio


# ---- the same on CUDA, where a GPU is present (CI has none) -----------------------------------

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: the CPU tests above carry the same guarantees")


@needs_cuda
@pytest.mark.parametrize("slug", ["siglip", "prompt_encoder", "mask_decoder", "mask_losses"])
def test_solved_notebook_meets_every_cuda_budget(slug):
    names = [budget.name for budget in get_rubric(slug).budgets if "cuda" in budget.sizes]
    records = _measure(slug, names, [], device="cuda")
    assert {name: record.status for name, record in records.items()} == dict.fromkeys(names, "passed")
    assert all(record.timings[0]["device"] == "cuda" for record in records.values())


@needs_cuda
@pytest.mark.parametrize("slug, name, source", [
    ("mask_decoder", "segment_prompts_time", REENCODE_PER_PROMPT),
    ("siglip", "siglip_loss_chunked_memory", FULL_MATRIX_CHUNKED),
    ("siglip", "similarity_matrix_time", CACHE_BY_SHAPE),
], ids=["encoder-per-prompt", "full-matrix", "cache-by-shape"])
def test_slow_hungry_and_caching_versions_fail_on_cuda(slug, name, source):
    record = _measure(slug, [name], [source], device="cuda")[name]
    assert record.status == "failed"
    assert all(timing["device"] == "cuda" and timing["passed"] is False for timing in record.timings)
