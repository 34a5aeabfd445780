"""Timing and memory budgets on the synthetic toy course: honest code passes, slow, memory-hungry
and cheating code fails, and nothing the student patches changes the grader's clock."""

from pathlib import Path

import pytest

from autograder.budgets import BudgetRunner, compare_samples, run_budget, symbol_product
from autograder.notebook import CodeCell
from autograder.registry import get_rubric, resolve
from autograder.sandbox import Submission

SLOW_ROW_NORMS = "import torch\ndef row_norms(x):\n    return torch.stack([(row * row).sum().sqrt() for row in x])\n"
FULL_OUTER = "def outer_sum(v):\n    return (v[:, None] * v[None, :]).sum()\n"
PATCHED_CLOCKS = ("import time, torch\ntime.perf_counter = lambda: 0.0\ntime.monotonic = lambda: 0.0\n"
                  "torch.cuda.synchronize = lambda *a: None\n" + SLOW_ROW_NORMS)
CACHING = ("import torch\n_cache = {}\ndef row_norms(x):\n    key = x.shape\n"
           "    if key not in _cache:\n        _cache[key] = (x * x).sum(dim=1).sqrt()\n    return _cache[key]\n")
EARLY_RETURN = "import torch\ndef row_norms(x):\n    return torch.zeros(x.shape[0], dtype=x.dtype)\n"


def _run(extra: str) -> dict:
    rubric = get_rubric("toy")
    solution = resolve(rubric.solution).read_text()
    with Submission([CodeCell(0, solution), CodeCell(1, extra)]) as student, Submission([CodeCell(0, solution)]) as reference:
        runner = BudgetRunner(student, reference, "cpu", resolve(rubric.suite))
        return {budget.name: run_budget(budget, runner) for budget in rubric.budgets}


def test_reference_code_meets_its_budgets(toy_course):
    results = _run("")
    assert {name: r.status for name, r in results.items()} == {"row_norms_time": "passed", "outer_memory": "passed"}
    timing = results["row_norms_time"].timings[0]
    assert timing["device"] == "cpu" and timing["budget"] == 3.0 and timing["ratio"] < 3.0


def test_python_loop_fails_the_time_budget_with_an_explanation(toy_course):
    record = _run(SLOW_ROW_NORMS)["row_norms_time"]
    assert record.status == "failed"
    assert "x the reference's time" in record.message and "N=2000" in record.message and "looping over rows" in record.message
    assert record.timings[0]["passed"] is False


def test_patching_the_clocks_in_the_sandbox_gains_nothing(toy_course):
    assert _run(PATCHED_CLOCKS)["row_norms_time"].status == "failed"


@pytest.mark.parametrize("source", [CACHING, EARLY_RETURN], ids=["caching", "early-return"])
def test_caching_and_early_returns_are_caught_by_output_checks(toy_course, source):
    record = _run(source)["row_norms_time"]
    assert record.status == "failed" and "differs from the reference on fresh inputs" in record.message


def test_materialising_the_full_matrix_fails_the_memory_budget(toy_course):
    record = _run(FULL_OUTER)["outer_memory"]
    assert record.status == "failed" and "MiB" in record.message
    honest = _run("")["outer_memory"]
    assert honest.timings[0]["ratio"] * 4 < record.timings[0]["ratio"]


def test_missing_function_is_not_implemented(toy_course):
    record = _run("del row_norms\n")["row_norms_time"]
    assert record.status == "not_implemented"


def test_sample_comparison_and_symbols():
    import torch

    assert compare_samples(torch.ones(3), torch.ones(3), "float32") is None
    assert "different shape" in compare_samples(torch.ones(3), torch.ones(4), "float32")
    assert symbol_product("N * chunk", {"N": 8, "chunk": 3}) == 24


FORKED_OUTER = ("import os, struct\n"
                "def outer_sum(v):\n"
                "    read, write = os.pipe()\n"
                "    pid = os.fork()\n"
                "    if pid == 0:\n"
                "        total = float((v[:, None] * v[None, :]).sum())\n"
                "        os.write(write, struct.pack('d', total))\n"
                "        os._exit(0)\n"
                "    os.waitpid(pid, 0)\n"
                "    return v.new_tensor(struct.unpack('d', os.read(read, 8))[0])\n")


def test_memory_used_in_a_forked_child_is_counted(toy_course):
    from autograder.sandbox.isolation import ProcessGroupCap

    probe = ProcessGroupCap.create(8, 1 << 30)
    available = probe.memory_dir is not None
    probe.remove()
    if not available:
        pytest.skip("no writable memory cgroup on this machine: only the worker's own peak RSS is measured")
    record = _run(FORKED_OUTER)["outer_memory"]
    assert record.status == "failed" and "MiB" in record.message
