"""Grader helper, executed inside the sandbox: move a student's module to a dtype and device
before reference weights are loaded into it. Imports only torch."""

import torch


def to_dtype_device(module, dtype_name, device):
    """Convert `module` in place (nn.Module.to) and return it."""
    return module.to(device=torch.device(device), dtype=getattr(torch, dtype_name))
