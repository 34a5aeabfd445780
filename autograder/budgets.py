"""Timing and memory budgets, measured by the trusted grader against the reference.

The student's worker and a reference worker (the trusted solution, no student code in it) are
driven the same way: inputs are built inside each worker from a recipe and a fresh seed
(`prepare`, not timed), then the function runs (`run_prepared`), timed by the *grader's* clock
around the whole request. Repetitions alternate student and reference (A B B A ...), so drift on
a busy machine hits both; the ratio of medians is compared with the budget. Every repetition's
output is spot-checked against the reference on the same inputs, so caching, early returns and
unfinished asynchronous work fail instead of looking fast. Peak memory is read from outside the
process (/proc resident-set peak on CPU) or from the CUDA allocator's statistics.

Recipe vocabulary (`args` of a rubric budget): {randn: [dims], scale?}, {rand: [dims], scale?}
(uniform on [0, scale)), {binary: [dims], p?}, {randint: [low, high, [dims]]}, {scalar: x}
(0-d tensor), {int: n|symbol}, {value: json}, {tuple: [specs]}, {list: {count, item}} (count may
be a symbol; every item is drawn afresh), {helper: {file, factory, args}} (a grader helper from
the suite folder, built from recipe args, e.g. a module with given weights). Dims may be symbols
from the budget's `sizes` for the device. On CUDA, random tensors are drawn on the device itself.

The reference runs first in the first pair, so that the student's first call is already stopped
after SLOW_CUTOFF times the reference's time; once CLEAR_PAIRS timed pairs show every student call
more than CLEAR_MARGIN x the budget slower than every reference call, the measurement stops (a
slow submission costs a few repetitions, not all of them). Memory budgets run one forward call
under no_grad.
"""

from __future__ import annotations

import math
import secrets
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from autograder.plugin import RecordedTest
from autograder.rubric import Budget
from autograder.sandbox import SandboxError, SandboxTimeout, Submission
from autograder.sandbox.process import read_rss, reset_peak_rss

WARMUP_PAIRS = 2
SLOW_CUTOFF = 25.0  # a call this many times slower than the reference is stopped: the verdict is clear
CLEAR_PAIRS = 3  # after this many timed pairs, stop when even the student's fastest call is
CLEAR_MARGIN = 2.0  # over CLEAR_MARGIN x the budget x the reference's slowest call


@dataclass
class Measurement:
    student_s: list[float] = field(default_factory=list)
    reference_s: list[float] = field(default_factory=list)
    mismatch: str | None = None
    stopped_early: str | None = None

    @property
    def ratio(self) -> float:
        return statistics.median(self.student_s) / max(statistics.median(self.reference_s), 1e-9)


def expand_files(spec, root: Path):
    """Replace `helper.file` paths with the helper's source text (read by the trusted grader)."""
    if isinstance(spec, list):
        return [expand_files(item, root) for item in spec]
    if not isinstance(spec, dict):
        return spec
    if "helper" in spec and "file" in spec["helper"]:
        helper = dict(spec["helper"])
        helper["source"] = (root / helper.pop("file")).read_text(encoding="utf-8")
        helper["args"] = expand_files(helper.get("args", []), root)
        return {"helper": helper}
    return {key: expand_files(value, root) for key, value in spec.items()}


class BudgetRunner:
    def __init__(self, student: Submission, reference: Submission, device: str, suite_dir: Path):
        self.student = student
        self.reference = reference
        self.device = device
        self.suite_dir = suite_dir

    def _prepare(self, worker: Submission, budget: Budget, seed: int, slot: str) -> None:
        worker.request({"op": "prepare", "slot": slot, "seed": seed, "device": self.device, "dtype": budget.dtype,
                        "sizes": budget.sizes[self.device], "no_grad": budget.no_grad or budget.kind == "memory",
                        "args": expand_files(budget.args, self.suite_dir)})

    def _run(self, worker: Submission, budget: Budget, seed: int, slot: str, timeout: float | None = None) -> tuple[float, torch.Tensor, int | None]:
        header = {"op": "run_prepared", "slot": slot, "seed": seed, "device": self.device, "target": {"name": budget.target}}
        started = time.perf_counter()
        reply, tensors = worker.request(header, timeout=timeout)
        elapsed = time.perf_counter() - started
        return elapsed, tensors["samples"], reply.get("cuda_peak_bytes")

    def measure_time(self, budget: Budget) -> Measurement:
        measurement = Measurement()
        repeats = budget.repeats.get(self.device, 15)
        base_seed = secrets.randbits(40)
        last_reference_s = None
        for index in range(WARMUP_PAIRS + repeats):
            seed = base_seed + index
            # The reference goes first in the first pair, so the student's first call already
            # has a timeout derived from the reference's time (a far-too-slow call stops early).
            order = [(self.reference, "reference"), (self.student, "student")]
            if index % 2:
                order.reverse()
            samples, times = {}, {}
            for worker, role in order:
                self._prepare(worker, budget, seed, "timed")
                timeout = self._student_timeout(times.get("reference", last_reference_s)) if role == "student" else None
                try:
                    times[role], samples[role], _ = self._run(worker, budget, seed, "timed", timeout)
                except SandboxTimeout:
                    measurement.stopped_early = f"one call ran past {timeout:.1f} s, over {SLOW_CUTOFF:g}x the reference's time"
                    return measurement
            problem = compare_samples(samples["student"], samples["reference"], budget.dtype)
            if problem:
                measurement.mismatch = f"repetition {index}: {problem}"
                return measurement
            last_reference_s = times["reference"]
            if index >= WARMUP_PAIRS:
                measurement.student_s.append(times["student"])
                measurement.reference_s.append(times["reference"])
                if _clearly_over(measurement, budget.ratio):
                    measurement.stopped_early = f"clearly over budget after {len(measurement.student_s)} timed repetitions"
                    return measurement
            elif times["student"] > SLOW_CUTOFF * times["reference"] and times["student"] > 0.5:
                measurement.student_s.append(times["student"])
                measurement.reference_s.append(times["reference"])
                measurement.stopped_early = "the warm-up call was already far over budget"
                return measurement
        return measurement

    def _student_timeout(self, reference_s: float | None) -> float:
        budget_s = SLOW_CUTOFF * (reference_s if reference_s is not None else 1.0)
        return max(5.0, min(budget_s, self.student.timeouts.call_s))

    def measure_peak_bytes(self, worker: Submission, budget: Budget, seed: int) -> int:
        self._prepare(worker, budget, seed, "memory")
        if self.device == "cuda":
            _, _, peak = self._run(worker, budget, seed, "memory")
            return int(peak)
        group = worker.memory_cgroup()
        if group is not None and reset_group_peak(group):
            # The cgroup counts every process the worker starts: computing in a forked child is counted too.
            baseline = read_group_usage(group)
            self._run(worker, budget, seed, "memory")
            return max(0, read_group_peak(group) - baseline)
        pid = worker.worker_pid()
        if pid is None or not reset_peak_rss(pid):
            raise RuntimeError("peak memory cannot be read on this machine (no access to /proc/PID/clear_refs)")
        baseline, _ = read_rss(pid)
        self._run(worker, budget, seed, "memory")
        _, peak = read_rss(pid)
        return max(0, peak - baseline)


def reset_group_peak(group: Path) -> bool:
    """cgroup v1: writing 0 to memory.max_usage_in_bytes restarts the peak from current usage."""
    try:
        (group / "memory.max_usage_in_bytes").write_text("0")
        return True
    except OSError:
        return False


def read_group_usage(group: Path) -> int:
    return int((group / "memory.usage_in_bytes").read_text())


def read_group_peak(group: Path) -> int:
    return int((group / "memory.max_usage_in_bytes").read_text())


def _clearly_over(measurement: Measurement, budget_ratio: float) -> bool:
    """No need for more repetitions: every student call so far is far slower than every reference call."""
    if len(measurement.student_s) < CLEAR_PAIRS:
        return False
    return min(measurement.student_s) > CLEAR_MARGIN * budget_ratio * max(measurement.reference_s)


def compare_samples(student: torch.Tensor, reference: torch.Tensor, dtype: str) -> str | None:
    if student.shape != reference.shape:
        return "the output has a different shape or structure than the reference's on the same inputs"
    rtol, atol = (1e-3, 1e-4) if dtype == "float32" else (1e-6, 1e-8)
    if not torch.allclose(student, reference, rtol=rtol, atol=atol, equal_nan=True):
        return "the output differs from the reference on fresh inputs (caching or returning early does not pass)"
    return None


def symbol_product(expression: str, sizes: dict[str, int]) -> int:
    return math.prod(int(sizes[token.strip()]) if not token.strip().isdigit() else int(token) for token in expression.split("*"))


def run_budget(budget: Budget, runner: BudgetRunner) -> RecordedTest:
    record = RecordedTest(name=f"budget_{budget.name}", target=budget.target, kind=budget.kind, status="passed")
    size_label = ", ".join(f"{k}={v}" for k, v in budget.sizes[runner.device].items())
    try:
        if budget.kind == "timing":
            _judge_time(budget, runner, record, size_label)
        else:
            _judge_memory(budget, runner, record, size_label)
    except SandboxError as exc:
        from autograder.plugin import classify_exception

        record.status, record.message = classify_exception(exc)
    # A budget's misconceptions explain being over budget; wrong outputs and crashes are the
    # correctness tests' to diagnose (a wrong but fast segment_prompts re-encodes nothing).
    if any(timing["passed"] is False for timing in record.timings):
        record.flags = [(mid, record.message[:200]) for mid in budget.misconceptions]
    return record


def _judge_time(budget: Budget, runner: BudgetRunner, record: RecordedTest, size_label: str) -> None:
    measurement = runner.measure_time(budget)
    if measurement.stopped_early and not measurement.student_s:
        record.status = "failed"
        record.message = f"{budget.target} is far too slow at {size_label} on {runner.device}: {measurement.stopped_early}. {budget.hint}".strip()
        record.timings.append({"target": budget.target, "ratio": SLOW_CUTOFF, "budget": budget.ratio, "device": runner.device,
                               "size": size_label, "passed": False})
        return
    if measurement.mismatch:
        record.status = "failed"
        record.message = f"{budget.target} was not timed: {measurement.mismatch}"
        return
    ratio = measurement.ratio
    passed = ratio <= budget.ratio
    record.timings.append({"target": budget.target, "ratio": round(ratio, 3), "budget": budget.ratio, "device": runner.device,
                           "size": size_label, "passed": passed})
    if not passed:
        record.status = "failed"
        record.message = (f"{budget.target} took {ratio:.1f}x the reference's time (budget {budget.ratio:g}x) at {size_label} "
                          f"on {runner.device}: median {statistics.median(measurement.student_s) * 1e3:.1f} ms vs "
                          f"{statistics.median(measurement.reference_s) * 1e3:.1f} ms. {budget.hint}").strip()


def _judge_memory(budget: Budget, runner: BudgetRunner, record: RecordedTest, size_label: str) -> None:
    seed = secrets.randbits(40)
    student_peak = runner.measure_peak_bytes(runner.student, budget, seed)
    itemsize = torch.empty((), dtype=getattr(torch, budget.dtype)).element_size()
    if budget.max_elements:
        limit = budget.elements_factor * symbol_product(budget.max_elements, budget.sizes[runner.device]) * itemsize
        ratio = student_peak / max(symbol_product(budget.max_elements, budget.sizes[runner.device]) * itemsize, 1)
        allowed = budget.elements_factor
    else:
        reference_peak = runner.measure_peak_bytes(runner.reference, budget, seed)
        limit = budget.ratio * max(reference_peak, 1 << 20)
        ratio = student_peak / max(reference_peak, 1 << 20)
        allowed = budget.ratio
    passed = student_peak <= limit
    record.timings.append({"target": budget.target, "ratio": round(ratio, 3), "budget": allowed, "device": runner.device,
                           "size": f"{size_label} (peak memory)", "passed": passed})
    if not passed:
        record.status = "failed"
        record.message = (f"{budget.target} used {student_peak / 2**20:.1f} MiB at its peak at {size_label} on {runner.device}; "
                          f"the budget is {limit / 2**20:.1f} MiB. {budget.hint}").strip()


def calibrate(rubric, device: str, rounds: int = 3) -> list[dict]:
    """Reference against itself for every budget: the noise floor staff should set budgets above."""
    from autograder.notebook import CodeCell
    from autograder.registry import resolve

    source = resolve(rubric.solution).read_text(encoding="utf-8")
    rows = []
    with Submission([CodeCell(0, source)]) as first, Submission([CodeCell(0, source)]) as second:
        runner = BudgetRunner(first, second, device, resolve(rubric.suite))
        for budget in rubric.budgets:
            if device not in budget.sizes or budget.kind != "timing":
                continue
            ratios, medians = [], []
            for _ in range(rounds):
                measurement = runner.measure_time(budget)
                ratios.append(measurement.ratio)
                medians.append(statistics.median(measurement.reference_s))
            rows.append({"budget": budget.name, "target": budget.target, "device": device, "sizes": budget.sizes[device],
                         "reference_ms": round(statistics.median(medians) * 1e3, 3), "ratio_min": round(min(ratios), 3),
                         "ratio_max": round(max(ratios), 3), "budget_ratio": budget.ratio})
    return rows
