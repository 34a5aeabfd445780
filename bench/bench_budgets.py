"""Benchmark of the timing and memory budgets of every assignment, in one process.

    .venv/bin/python bench/bench_budgets.py [--repeats 100] [--slow-repeats 10] [--allowed-repeats 5]
        [--round-size 10] [--assignment SLUG ...] [--budget NAME ...] [--device cpu|cuda]
        [--jsonl OUT] [--markdown OUT]
    .venv/bin/python bench/bench_budgets.py --summarise OUT.jsonl   # summary of a (partial) run
    .venv/bin/python bench/bench_budgets.py --grading-time 3       # seconds budgets add to a grading

For every budget of every rubric that has sizes for the device:
1. the reference against itself, `--repeats` gradings of the budget (one grading = the engine's
   full measurement: warm-up pairs, alternating repetitions, ratio of medians): a correct
   submission must never fail, so the false-fail count must be 0;
2. every known-slow (or memory-hungry) variant below, `--slow-repeats` gradings each, every one
   in a fresh student worker: each must fail every time;
3. variants the contract allows (a loop over the 3 hypotheses, a loop over chunks, another
   correct formula): `--allowed-repeats` gradings each; they must pass.
The variants run first; then the reference's gradings run in rounds over all budgets (a fresh
pair of workers per budget and round, reused within the round as `tensorgrade calibrate` does),
so a run cut short has the same count for every budget. Memory is measured in a fresh student
worker every time (the worst case: nothing warmed up).
Every grading is written as a JSON line as soon as it ends (`--jsonl`), so a partial run can be
summarised; the Markdown summary (for bench/RESULTS.md) is printed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

import torch  # noqa: E402

from autograder.budgets import BudgetRunner, run_budget  # noqa: E402
from autograder.notebook import CodeCell  # noqa: E402
from autograder.registry import get_rubric, list_assignments, resolve  # noqa: E402
from autograder.sandbox import Submission  # noqa: E402

# ---- known-slow variants, written as a student might; each is correct, only slow or hungry ----

DENSE_PIXEL_LOOP = '''
import math, torch
def dense_positional_encoding(grid_hw, gaussian):
    h, w = grid_hw
    out = torch.empty(2 * gaussian.shape[1], h, w, dtype=gaussian.dtype, device=gaussian.device)
    for row in range(h):
        for col in range(w):
            xy = torch.tensor([(col + 0.5) / w, (row + 0.5) / h], dtype=gaussian.dtype, device=gaussian.device)
            phase = 2 * math.pi * ((2 * xy - 1) @ gaussian)
            out[:, row, col] = torch.cat([torch.sin(phase), torch.cos(phase)])
    return out
'''

POINTS_POINT_LOOP = '''
import math, torch
def encode_points(points, labels, image_size, gaussian, point_embeds, not_a_point_embed, pad):
    height, width = image_size
    rows = []
    for b in range(points.shape[0]):
        clicks = [(points[b, n] + 0.5, int(labels[b, n])) for n in range(points.shape[1])]
        if pad:
            clicks.append((points.new_zeros(2), -1))
        tokens = []
        for xy, label in clicks:
            if label == -1:
                tokens.append(not_a_point_embed)
                continue
            phase = 2 * math.pi * ((2 * xy / xy.new_tensor([width, height]) - 1) @ gaussian)
            tokens.append(torch.cat([torch.sin(phase), torch.cos(phase)]) + point_embeds[label])
        rows.append(torch.stack(tokens))
    return torch.stack(rows)
'''

POINTS_BATCH_LOOP = '''
import math, torch
def encode_points(points, labels, image_size, gaussian, point_embeds, not_a_point_embed, pad):
    height, width = image_size
    rows = []
    for b in range(points.shape[0]):
        xy, lab = points[b] + 0.5, labels[b]
        if pad:
            xy = torch.cat([xy, xy.new_zeros(1, 2)])
            lab = torch.cat([lab, lab.new_full((1,), -1)])
        phase = 2 * math.pi * ((2 * xy / xy.new_tensor([width, height]) - 1) @ gaussian)
        enc = torch.cat([torch.sin(phase), torch.cos(phase)], -1)
        enc = enc + (lab == 0)[:, None] * point_embeds[0] + (lab == 1)[:, None] * point_embeds[1]
        rows.append(torch.where((lab == -1)[:, None], not_a_point_embed, enc))
    return torch.stack(rows)
'''

FOCAL_MASK_LOOP = '''
import torch
import torch.nn.functional as F
def sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2.0):
    flat_logits = logits.reshape(-1, *logits.shape[-2:])
    flat_targets = targets.reshape(-1, *targets.shape[-2:])
    losses = []
    for x, t in zip(flat_logits, flat_targets):
        p = torch.sigmoid(x)
        pt = p * t + (1 - p) * (1 - t)
        loss = F.binary_cross_entropy_with_logits(x, t, reduction="none") * (1 - pt) ** gamma
        if alpha is not None:
            loss = loss * (alpha * t + (1 - alpha) * (1 - t))
        losses.append(loss.mean())
    return torch.stack(losses).reshape(logits.shape[:-2])
'''

FOCAL_PIXEL_LOOP = '''
import math, torch
def sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2.0):
    flat_logits = logits.reshape(-1, logits.shape[-2] * logits.shape[-1])
    flat_targets = targets.reshape(flat_logits.shape)
    out = []
    for x_row, t_row in zip(flat_logits.tolist(), flat_targets.tolist()):
        total = 0.0
        for x, t in zip(x_row, t_row):
            p = 1 / (1 + math.exp(-x))
            ce = max(x, 0) - x * t + math.log1p(math.exp(-abs(x)))
            pt = p * t + (1 - p) * (1 - t)
            w = 1.0 if alpha is None else alpha * t + (1 - alpha) * (1 - t)
            total += ce * (1 - pt) ** gamma * w
        out.append(total / len(x_row))
    return torch.tensor(out, dtype=logits.dtype).reshape(logits.shape[:-2])
'''

MULTIMASK_BATCH_LOOP = '''
import torch
def multimask_loss(mask_logits, iou_pred, gt, focal_weight=20.0, dice_weight=1.0, iou_weight=1.0,
                   alpha=0.25, gamma=2.0):
    losses, best = [], []
    for b in range(mask_logits.shape[0]):
        target = gt[b].expand_as(mask_logits[b])
        combined = (focal_weight * sigmoid_focal_loss(mask_logits[b], target, alpha, gamma)
                    + dice_weight * dice_loss(mask_logits[b], target))
        k = int(torch.argmin(combined))
        achieved = mask_iou(mask_logits[b, k], gt[b]).detach()
        losses.append(combined[k] + iou_weight * (iou_pred[b, k] - achieved) ** 2)
        best.append(k)
    return torch.stack(losses).mean(), torch.tensor(best, device=mask_logits.device)
'''

SEGMENT_PER_PROMPT = '''
def segment_prompts(image, prompts, image_encoder, prompt_decoder):
    masks = []
    for points in prompts:
        embedding = image_encoder(image[None])
        masks.append(prompt_decoder(embedding, points))
    return masks
'''

PREDICT_PIXEL_LOOP = '''
import torch
def predict_masks(mask_tokens_out, upscaled, hypernet):
    vectors = torch.stack([mlp(mask_tokens_out[:, k]) for k, mlp in enumerate(hypernet)], dim=1)
    height, width = upscaled.shape[-2:]
    out = upscaled.new_empty(vectors.shape[0], vectors.shape[1], height, width)
    for i in range(height):
        for j in range(width):
            out[:, :, i, j] = (vectors * upscaled[:, None, :, i, j]).sum(-1)
    return out
'''

SIMILARITY_PAIR_LOOP = '''
import torch
def similarity_matrix(image_emb, text_emb):
    out = image_emb.new_empty(image_emb.shape[0], text_emb.shape[0])
    for i in range(image_emb.shape[0]):
        for j in range(text_emb.shape[0]):
            a, b = image_emb[i], text_emb[j]
            out[i, j] = (a @ b) / (a.norm().clamp_min(1e-12) * b.norm().clamp_min(1e-12))
    return out
'''

PAIR_LOSSES_PAIR_LOOP = '''
import torch
import torch.nn.functional as F
def siglip_pair_losses(image_emb, text_emb, t_prime, bias):
    sim = similarity_matrix(image_emb, text_emb)
    out = torch.empty_like(sim)
    for i in range(sim.shape[0]):
        for j in range(sim.shape[1]):
            z = 1.0 if i == j else -1.0
            out[i, j] = -F.logsigmoid(z * (torch.exp(t_prime) * sim[i, j] + bias))
    return out
'''

LOSS_PAIR_LOOP = '''
import torch
import torch.nn.functional as F
def siglip_loss(image_emb, text_emb, t_prime, bias):
    logits = torch.exp(t_prime) * similarity_matrix(image_emb, text_emb) + bias
    terms = []
    for i in range(logits.shape[0]):
        for j in range(logits.shape[1]):
            terms.append(-F.logsigmoid(logits[i, j] if i == j else -logits[i, j]))
    return torch.stack(terms).sum() / logits.shape[0]
'''

CHUNKED_PAIR_LOOP = '''
import torch
import torch.nn.functional as F
def siglip_loss_chunked(image_emb, text_emb, t_prime, bias, chunk_size):
    images, texts = F.normalize(image_emb, dim=-1), F.normalize(text_emb, dim=-1)
    terms = []
    for i in range(images.shape[0]):
        for j in range(texts.shape[0]):
            logit = torch.exp(t_prime) * (images[i] @ texts[j]) + bias
            terms.append(-F.logsigmoid(logit if i == j else -logit))
    return torch.stack(terms).sum() / images.shape[0]
'''

CHUNKED_FULL_MATRIX = '''
def siglip_loss_chunked(image_emb, text_emb, t_prime, bias, chunk_size):
    return siglip_loss(image_emb, text_emb, t_prime, bias)
'''

CHUNKED_EYE_LABELS = '''
import torch
import torch.nn.functional as F
def siglip_loss_chunked(image_emb, text_emb, t_prime, bias, chunk_size):
    n = image_emb.shape[0]
    labels = 2 * torch.eye(n, dtype=image_emb.dtype, device=image_emb.device) - 1
    total = image_emb.new_zeros(())
    for start in range(0, n, chunk_size):
        logits = torch.exp(t_prime) * similarity_matrix(image_emb, text_emb[start:start + chunk_size]) + bias
        total = total - F.logsigmoid(labels[:, start:start + chunk_size] * logits).sum()
    return total / n
'''

# ---- variants the contract allows: they must pass -------------------------------------------

MULTIMASK_HYPOTHESIS_LOOP = '''
import torch
def multimask_loss(mask_logits, iou_pred, gt, focal_weight=20.0, dice_weight=1.0, iou_weight=1.0,
                   alpha=0.25, gamma=2.0):
    per_mask = [focal_weight * sigmoid_focal_loss(mask_logits[:, k], gt, alpha, gamma)
                + dice_weight * dice_loss(mask_logits[:, k], gt) for k in range(mask_logits.shape[1])]
    combined = torch.stack(per_mask, dim=1)
    best = combined.detach().argmin(dim=1)
    rows = torch.arange(mask_logits.shape[0], device=mask_logits.device)
    chosen = mask_logits[rows, best]
    iou_error = (iou_pred[rows, best] - mask_iou(chosen, gt).detach()) ** 2
    return (combined[rows, best] + iou_weight * iou_error).mean(), best
'''

PAIR_LOSSES_SOFTPLUS = '''
import torch
import torch.nn.functional as F
def siglip_pair_losses(image_emb, text_emb, t_prime, bias):
    logits = similarity_matrix(image_emb, text_emb) * t_prime.exp() + bias
    signs = 2 * torch.eye(logits.shape[0], dtype=logits.dtype, device=logits.device) - 1
    return F.softplus(-signs * logits)
'''

CHUNKED_SOFTPLUS = '''
import torch
import torch.nn.functional as F
def siglip_loss_chunked(image_emb, text_emb, t_prime, bias, chunk_size):
    n = image_emb.shape[0]
    images = F.normalize(image_emb, dim=-1)
    texts = F.normalize(text_emb, dim=-1)
    total = 0.0
    for start in range(0, n, chunk_size):
        block = texts[start:start + chunk_size]
        logits = (images @ block.T) * t_prime.exp() + bias
        signs = -torch.ones_like(logits)
        idx = torch.arange(start, start + block.shape[0], device=logits.device)
        signs[idx, idx - start] = 1.0
        total = total + F.softplus(-signs * logits).sum()
    return total / n
'''

SLOW = {
    "dense_positional_encoding_time": {"pixel-loop": DENSE_PIXEL_LOOP},
    "encode_points_time": {"point-loop": POINTS_POINT_LOOP, "batch-loop": POINTS_BATCH_LOOP},
    "sigmoid_focal_loss_time": {"mask-loop": FOCAL_MASK_LOOP, "pixel-loop": FOCAL_PIXEL_LOOP},
    "multimask_loss_time": {"batch-loop": MULTIMASK_BATCH_LOOP},
    "segment_prompts_time": {"encoder-per-prompt": SEGMENT_PER_PROMPT},
    "predict_masks_time": {"pixel-loop": PREDICT_PIXEL_LOOP},
    "similarity_matrix_time": {"pair-loop": SIMILARITY_PAIR_LOOP},
    "siglip_pair_losses_time": {"pair-loop": PAIR_LOSSES_PAIR_LOOP},
    "siglip_loss_time": {"pair-loop": LOSS_PAIR_LOOP},
    "siglip_loss_chunked_time": {"pair-loop": CHUNKED_PAIR_LOOP},
    "siglip_loss_chunked_memory": {"full-matrix": CHUNKED_FULL_MATRIX, "eye-labels": CHUNKED_EYE_LABELS},
}

ALLOWED = {
    "multimask_loss_time": {"hypothesis-loop": MULTIMASK_HYPOTHESIS_LOOP},
    "siglip_pair_losses_time": {"softplus": PAIR_LOSSES_SOFTPLUS},
    "siglip_loss_chunked_time": {"softplus": CHUNKED_SOFTPLUS},
    "siglip_loss_chunked_memory": {"softplus": CHUNKED_SOFTPLUS},
}


# ---- measurement -------------------------------------------------------------------------------

class RecordingRunner(BudgetRunner):
    """The engine's runner, keeping the raw figures of its last measurement for the bench."""

    last_ms: tuple[float, float] | None = None
    last_peak_bytes: int | None = None

    def measure_time(self, budget):
        measurement = super().measure_time(budget)
        if measurement.student_s and measurement.reference_s:
            self.last_ms = (statistics.median(measurement.student_s) * 1e3, statistics.median(measurement.reference_s) * 1e3)
        return measurement

    def measure_peak_bytes(self, worker, budget, seed):
        peak = super().measure_peak_bytes(worker, budget, seed)
        self.last_peak_bytes = peak
        return peak


def grade_once(budget, student: Submission, reference: Submission, device: str, suite_dir: Path) -> dict:
    started = time.perf_counter()
    runner = RecordingRunner(student, reference, device, suite_dir)
    record = run_budget(budget, runner)
    timing = record.timings[0] if record.timings else {}
    student_ms, reference_ms = runner.last_ms or (None, None)
    return {"status": record.status, "ratio": timing.get("ratio"), "message": record.message,
            "student_ms": student_ms and round(student_ms, 2), "reference_ms": reference_ms and round(reference_ms, 2),
            "peak_mib": runner.last_peak_bytes and round(runner.last_peak_bytes / 2**20, 2),
            "wall_s": round(time.perf_counter() - started, 2)}


def bench_variants(rubric, budget, device: str, args, emit) -> None:
    """Known-slow variants (must fail) and allowed variants (must pass), each in a fresh worker."""
    suite_dir = resolve(rubric.suite)
    solution = resolve(rubric.solution).read_text(encoding="utf-8")
    groups = [("failed", SLOW.get(budget.name, {}), args.slow_repeats),
              ("passed", ALLOWED.get(budget.name, {}), args.allowed_repeats)]
    with Submission([CodeCell(0, solution)]) as reference:
        for expect, variants, repeats in groups:
            for variant, source in variants.items():
                for index in range(repeats):
                    with Submission([CodeCell(0, solution), CodeCell(1, source)]) as student:
                        row = grade_once(budget, student, reference, device, suite_dir)
                    emit({"slug": rubric.slug, "budget": budget.name, "variant": variant, "expect": expect,
                          "repetition": index, **row})


def bench_reference(rubric, budget, device: str, first: int, count: int, emit) -> None:
    """`count` gradings of the reference against itself, in a pair of workers started for them."""
    suite_dir = resolve(rubric.suite)
    solution = resolve(rubric.solution).read_text(encoding="utf-8")
    with Submission([CodeCell(0, solution)]) as reference, Submission([CodeCell(0, solution)]) as student:
        for index in range(first, first + count):
            if budget.kind == "memory":  # nothing warmed up: the worst case for a peak over a baseline
                with Submission([CodeCell(0, solution)]) as one_off:
                    row = grade_once(budget, one_off, reference, device, suite_dir)
            else:
                row = grade_once(budget, student, reference, device, suite_dir)
            emit({"slug": rubric.slug, "budget": budget.name, "variant": "reference", "expect": "passed",
                  "repetition": index, **row})


def grading_time(rubrics, device: str, rounds: int) -> str:
    """Seconds the budgets add to one grading of a correct submission: `run_budgets_for` as the
    grader calls it (a fresh reference worker included; the student's worker is already up)."""
    from autograder.grading import run_budgets_for
    from autograder.sandbox import Limits

    lines = ["| assignment | budgets | added seconds per grading (min..max of %d) |" % rounds, "|---|---|---|"]
    for rubric in rubrics:
        solution = resolve(rubric.solution).read_text(encoding="utf-8")
        seconds = []
        for _ in range(rounds):
            with Submission([CodeCell(0, solution)]) as student:
                started = time.perf_counter()
                records = run_budgets_for(rubric, student, [device], Limits())
                seconds.append(time.perf_counter() - started)
            assert all(record.status == "passed" for record in records), [r.message for r in records]
        lines.append(f"| {rubric.slug} | {len(records)} | {min(seconds):.1f}..{max(seconds):.1f} |")
    return "\n".join(lines) + "\n"


# ---- summary -------------------------------------------------------------------------------------

def summarise(rows: list[dict], device: str, started: str, args) -> str:
    budgets = {}
    for slug in dict.fromkeys(row["slug"] for row in rows):
        for budget in get_rubric(slug).budgets:
            budgets[budget.name] = (slug, budget)
    lines = [
        "## Budgets",
        "",
        f"`bench/bench_budgets.py --repeats {args.repeats} --slow-repeats {args.slow_repeats} "
        f"--allowed-repeats {args.allowed_repeats}`, {_span(rows, started)} (UTC); device: {device}, "
        f"{_cpu_name()}, {os.cpu_count()} cores shared with other work (load average at the end "
        f"{os.getloadavg()[0]:.1f}); torch {torch.__version__}, Python {platform.python_version()}, "
        f"workers on 1 thread. Ratio = student median / reference median (timing) or peak bytes / "
        f"(max_elements x itemsize) (memory).",
        "",
        "| assignment | budget | size | limit | reference ms (median) | ref/ref gradings | false fails | ref/ref ratio min..max |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, (slug, budget) in budgets.items():
        own = [r for r in rows if r["budget"] == name and r["variant"] == "reference"]
        if not own:
            continue
        ratios = [r["ratio"] for r in own if r["ratio"] is not None]
        false_fails = sum(r["status"] != "passed" for r in own)
        limit = f"{budget.ratio:g}x" if budget.kind == "timing" else f"{budget.elements_factor:g} x {budget.max_elements}"
        ref_ms = _reference_ms(own)
        size = ", ".join(f"{k}={v}" for k, v in budget.sizes[device].items())
        lines.append(f"| {slug} | {name} | {size} | {limit} | {ref_ms} | {len(own)} | {false_fails} | "
                     f"{min(ratios):.2f}..{max(ratios):.2f} |")
    lines += ["", "| budget | variant | expected | gradings | as expected | ratio min..max | verdicts |",
              "|---|---|---|---|---|---|---|"]
    for name in budgets:
        variants = dict.fromkeys(r["variant"] for r in rows if r["budget"] == name and r["variant"] != "reference")
        for variant in variants:
            own = [r for r in rows if r["budget"] == name and r["variant"] == variant]
            ratios = [r["ratio"] for r in own if r["ratio"] is not None]
            good = sum(r["status"] == r["expect"] for r in own)
            early = sum("far too slow" in (r["message"] or "") for r in own)
            verdict = f"{early} stopped during the first call" if early else ""
            span = f"{min(ratios):.1f}..{max(ratios):.1f}" if ratios else "n/a"
            lines.append(f"| {name} | {variant} | {own[0]['expect']} | {len(own)} | {good} | {span} | {verdict} |")
    return "\n".join(lines) + "\n"


def _span(rows: list[dict], started: str) -> str:
    stamps = [row["at"] for row in rows if row.get("at")]
    if not stamps:
        return started
    return f"{stamps[0][:16].replace('T', ' ')} to {stamps[-1][11:16]}"


def _reference_ms(rows: list[dict]) -> str:
    values = [r["reference_ms"] for r in rows if r.get("reference_ms")]
    if values:
        return f"{statistics.median(values):.1f}"
    peaks = [r["peak_mib"] for r in rows if r.get("peak_mib") is not None]
    return f"peak {statistics.median(peaks):.1f} MiB" if peaks else "-"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=100, help="reference-vs-reference gradings per budget")
    parser.add_argument("--slow-repeats", type=int, default=10, help="gradings per known-slow variant")
    parser.add_argument("--allowed-repeats", type=int, default=5, help="gradings per allowed variant")
    parser.add_argument("--round-size", type=int, default=10, help="reference gradings per budget per round")
    parser.add_argument("--assignment", action="append", help="only these assignments (repeatable)")
    parser.add_argument("--budget", action="append", help="only these budgets (repeatable)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--jsonl", type=Path, help="append one JSON line per grading here")
    parser.add_argument("--summarise", type=Path, help="only print the summary of an earlier --jsonl file")
    parser.add_argument("--markdown", type=Path, help="also write the summary here")
    parser.add_argument("--grading-time", type=int, metavar="ROUNDS",
                        help="only measure the seconds the budgets add to a grading, ROUNDS times per assignment")
    args = parser.parse_args()
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M")
    if args.grading_time:
        rubrics = [get_rubric(slug) for slug in args.assignment] if args.assignment else list_assignments()
        print(grading_time(rubrics, args.device, args.grading_time))
        return 0
    if args.summarise:
        rows = [json.loads(line) for line in args.summarise.read_text().splitlines() if line.strip()]
    else:
        rows = run(args, started)
    summary = summarise(rows, args.device, started, args)
    print(summary)
    if args.markdown:
        args.markdown.write_text(summary, encoding="utf-8")
    unexpected = [r for r in rows if r["status"] != r["expect"]]
    return 1 if unexpected else 0


def run(args, started: str) -> list[dict]:
    rows: list[dict] = []
    sink = args.jsonl.open("a", encoding="utf-8") if args.jsonl else None

    def emit(row: dict) -> None:
        row["at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        rows.append(row)
        mark = "ok " if row["status"] == row["expect"] else "BAD"
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
        print(f"{mark} {row['budget']:32} {row['variant']:18} #{row['repetition']:<3} {row['status']:7} ratio {ratio:>7} "
              f"({row['wall_s']:.1f} s)", flush=True)
        if sink:
            sink.write(json.dumps(row) + "\n")
            sink.flush()

    rubrics = [get_rubric(slug) for slug in args.assignment] if args.assignment else list_assignments()
    selected = [(rubric, budget) for rubric in rubrics for budget in rubric.budgets
                if args.device in budget.sizes and (not args.budget or budget.name in args.budget)]
    try:
        for rubric, budget in selected:
            bench_variants(rubric, budget, args.device, args, emit)
        # Rounds over all budgets, so that a run cut short still has the same count for each.
        for first in range(0, args.repeats, args.round_size):
            for rubric, budget in selected:
                bench_reference(rubric, budget, args.device, first, min(args.round_size, args.repeats - first), emit)
    finally:
        if sink:
            sink.close()
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
