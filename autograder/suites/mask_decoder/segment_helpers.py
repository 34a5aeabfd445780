"""Grader helpers, executed inside the sandbox: the image encoder and prompt decoder handed to
the student's `segment_prompts`. Imports only torch.

The encoder stands in for SAM's ViT: deliberately the expensive part (a patchifying convolution
followed by `depth` mixing layers over the whole grid) and it counts its calls in `calls`, so the
grader can see how often it ran. The decoder stands in for the prompt encoder plus mask decoder:
cheap, and its masks depend on both the embedding and the clicks.
"""

import torch


class CountingImageEncoder(torch.nn.Module):
    """image [1, 3, H, W] -> embedding [1, C, H/p, W/p]; `calls` counts forward passes."""

    def __init__(self, patch_weight, patch_bias, mix_weight, depth):
        super().__init__()
        self.calls = 0
        self.depth = int(depth)
        self.patch_weight = torch.nn.Parameter(patch_weight.detach().clone())  # [C, 3, p, p]
        self.patch_bias = torch.nn.Parameter(patch_bias.detach().clone())  # [C]
        self.mix_weight = torch.nn.Parameter(mix_weight.detach().clone())  # [C, C]

    def forward(self, image):
        self.calls += 1
        batched = image if image.dim() == 4 else image[None]
        patch = self.patch_weight.shape[-1]
        features = torch.nn.functional.conv2d(batched, self.patch_weight, self.patch_bias, stride=patch)
        for _ in range(self.depth):
            mixed = torch.einsum("dc,bchw->bdhw", self.mix_weight, features)
            features = features + torch.tanh(mixed)
        return features if image.dim() == 4 else features[0]


class PointPromptDecoder(torch.nn.Module):
    """(embedding [1, C, h, w] or [C, h, w], points [N, 2]) -> masks [K, h, w]."""

    def __init__(self, point_weight, mask_queries):
        super().__init__()
        self.point_weight = torch.nn.Parameter(point_weight.detach().clone())  # [2, C]
        self.mask_queries = torch.nn.Parameter(mask_queries.detach().clone())  # [K, C]

    def forward(self, embedding, points):
        features = embedding[0] if embedding.dim() == 4 else embedding  # [C, h, w]
        prompt = torch.sin(points.to(self.point_weight.dtype) @ self.point_weight).mean(0)  # [C]
        tokens = self.mask_queries + prompt  # [K, C]
        return torch.einsum("kc,chw->khw", tokens, features)


def make_image_encoder(patch_weight, patch_bias, mix_weight, depth):
    return CountingImageEncoder(patch_weight, patch_bias, mix_weight, depth)


def make_prompt_decoder(point_weight, mask_queries):
    return PointPromptDecoder(point_weight, mask_queries)
