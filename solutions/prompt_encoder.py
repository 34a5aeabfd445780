"""Reference solution: SAM's prompt encoder, the Fourier positional encoding of clicks and boxes.

Contract: section 2 of EXERCISES.md. Coordinates are (x, y) in pixels, image sizes are (H, W),
`gaussian` is the fixed random matrix [2, F] and every encoding has C = 2F channels.
Self-contained (torch and math only) so that it can be pasted into the student notebook.
"""

import math

import torch


def normalize_coords(coords, image_size):
    """Pixel coordinates [..., 2] as (x, y) -> fractions of the image [..., 2]: x / W, y / H.

    `image_size` is (H, W). No pixel-centre shift here: the callers add 0.5 first.
    """
    height, width = image_size
    return coords / coords.new_tensor([float(width), float(height)])


def fourier_features(coords01, gaussian):
    """Coordinates in [0, 1] [..., 2] -> random Fourier features [..., 2F] (sin block, then cos).

    Each of the F columns of `gaussian` [2, F] is one random 2-D direction and frequency.
    """
    centred = 2 * coords01 - 1
    phases = 2 * math.pi * (centred @ gaussian)
    return torch.cat([torch.sin(phases), torch.cos(phases)], dim=-1)


def dense_positional_encoding(grid_hw, gaussian):
    """Encoding of every cell centre of an h x w grid -> [2F, h, w] (channels first).

    Cell (row, col) sits at x = (col + 0.5) / w, y = (row + 0.5) / h.
    """
    height, width = grid_hw
    options = dict(dtype=gaussian.dtype, device=gaussian.device)
    xs = (torch.arange(width, **options) + 0.5) / width
    ys = (torch.arange(height, **options) + 0.5) / height
    grid_x, grid_y = torch.meshgrid(xs, ys, indexing="xy")  # both [h, w]
    features = fourier_features(torch.stack([grid_x, grid_y], dim=-1), gaussian)  # [h, w, 2F]
    return features.permute(2, 0, 1)


def encode_points(points, labels, image_size, gaussian, point_embeds, not_a_point_embed, pad):
    """Click prompts [B, N, 2] with labels [B, N] -> tokens [B, N(+1), C].

    Labels: 1 positive click (+ point_embeds[1]), 0 negative click (+ point_embeds[0]),
    -1 not a point (the encoding is replaced by not_a_point_embed). With `pad`, one point
    (0, 0) labelled -1 is appended to every row after the pixel-centre shift.
    """
    centres = points + 0.5
    if pad:
        batch = points.shape[0]
        centres = torch.cat([centres, centres.new_zeros(batch, 1, 2)], dim=1)
        labels = torch.cat([labels, labels.new_full((batch, 1), -1)], dim=1)
    encoding = fourier_features(normalize_coords(centres, image_size), gaussian)  # [B, N', C]
    label = labels.unsqueeze(-1)  # [B, N', 1], broadcasts over channels
    typed = encoding + (label == 0) * point_embeds[0] + (label == 1) * point_embeds[1]
    return torch.where(label == -1, not_a_point_embed, typed)


def encode_boxes(boxes, image_size, gaussian, corner_embeds):
    """Boxes [B, 4] as (x0, y0, x1, y1) -> two corner tokens [B, 2, C].

    Token 0 is the top-left corner (+ corner_embeds[0]), token 1 the bottom-right (+ corner_embeds[1]).
    """
    corners = (boxes + 0.5).reshape(-1, 2, 2)  # [B, corner, (x, y)]
    encoding = fourier_features(normalize_coords(corners, image_size), gaussian)  # [B, 2, C]
    return encoding + corner_embeds
