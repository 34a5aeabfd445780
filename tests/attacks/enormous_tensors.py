# attack: return enormous or lazily expanded tensors, huge strings and deeply nested values
# stopped-by: sandbox
# expect: scale=error guess_target=error|timeout guess_suite_token=error guess_solution_token=error add_one=passed
# seconds: 60
import torch


def scale(x, factor):
    return torch.zeros(1, dtype=torch.float64).expand(10**9)  # 8 GB once materialised


def guess_target():
    return torch.zeros(1).expand(40_000_000, 3)  # fits in memory; too big for the reply limits


def guess_suite_token():
    nested = "x"
    for _ in range(100_000):
        nested = [nested]
    return nested


def guess_solution_token():
    return "y" * (64 * 1024 * 1024)
