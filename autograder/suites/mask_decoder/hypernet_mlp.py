"""Grader helper, executed inside the sandbox: one hypernetwork MLP (C -> C') of `predict_masks`.

SAM turns each mask token into a vector with a small MLP of its own; the grader builds K of
them from given weights and hands the list to the student's `predict_masks`. Imports only torch.
"""

import torch


class HypernetMLP(torch.nn.Module):
    """Linear(C, C) -> ReLU -> Linear(C, C')."""

    def __init__(self, lin1_weight, lin1_bias, lin2_weight, lin2_bias):
        super().__init__()
        self.lin1 = torch.nn.Linear(lin1_weight.shape[1], lin1_weight.shape[0])
        self.lin2 = torch.nn.Linear(lin2_weight.shape[1], lin2_weight.shape[0])
        with torch.no_grad():
            for layer, weight, bias in ((self.lin1, lin1_weight, lin1_bias), (self.lin2, lin2_weight, lin2_bias)):
                layer.weight.data = weight.detach().clone()
                layer.bias.data = bias.detach().clone()

    def forward(self, tokens):
        """tokens [..., C] -> [..., C']."""
        return self.lin2(torch.relu(self.lin1(tokens)))


def make_hypernet_mlp(lin1_weight, lin1_bias, lin2_weight, lin2_bias):
    return HypernetMLP(lin1_weight, lin1_bias, lin2_weight, lin2_bias)
