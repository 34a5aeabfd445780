# The honest-wrong baseline: what a student who tries but gets it wrong submits. Every attack
# notebook starts with this cell, so an attack's cells only add hostile code on top of it, and
# any test an attack passes beyond these is a leak. `add_one` is right on purpose: the baseline
# earns one point, and attacks that break the sandbox's bookkeeping would show up as a lower score.
import torch


def scale(x, factor):
    return x  # forgets the factor


def add_one(x):
    return x + 1


def guess_target():
    return torch.zeros(3, 3, dtype=torch.float64)


def guess_solution_token():
    return "unknown"


def guess_suite_token():
    return "unknown"


def guess_env_secret():
    return "unknown"


def guess_network_token():
    return "unknown"


check_token = "unknown"
check_count = 2
