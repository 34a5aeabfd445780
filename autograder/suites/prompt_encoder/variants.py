"""Wrong implementations of the prompt_encoder contract, one per anticipated mistake.

Every variant is the correct pipeline with one `Mistake` switched on, so a mistake in an early
step (say `fourier_features`) shows up in every later function exactly as it would in a
student notebook whose later functions call the faulty one. Variant names are
`<misconception id>/<form>`; `misconception_id(name)` strips the form.
Trusted code: imported by the hidden suite, never sent to the sandbox.
"""

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Mistake:
    two_pi: bool = True            # multiply the projection by 2*pi
    sin_first: bool = True         # cat([sin, cos]) rather than cat([cos, sin])
    recentre: bool = True          # map [0, 1] to [-1, 1] before projecting
    swap_size: bool = False        # x / H and y / W
    swap_grid: bool = False        # dense grid stacked as (y, x)
    pixel_centre: str = "shift"    # "shift" (+0.5), "none" (corners), "linspace" (dense: 0..1 inclusive)
    fixed_size: int | None = None  # divide by this constant instead of the image size
    batch_max: bool = False        # divide by the largest coordinate present instead of the image size
    normalize_shift: bool = False  # +0.5 inside normalize_coords (on top of what the callers do)
    swap_labels: bool = False      # label 0 -> point_embeds[1], label 1 -> point_embeds[0]
    not_a_point: str = "replace"   # "replace", "add" (encoding + embed), "bare" (encoding), "zero"
    pad: str = "end"               # "end", "start", "ignored", "always"
    swap_corners: bool = False     # top-left gets corner_embeds[1]
    transformer: bool = False      # 1-D transformer frequencies, gaussian ignored


def normalize_coords(coords, image_size, m=Mistake()):
    height, width = image_size
    if m.fixed_size is not None:
        height = width = m.fixed_size
    if m.swap_size:
        height, width = width, height
    if m.normalize_shift:
        coords = coords + 0.5
    if m.batch_max:
        return coords / coords.reshape(-1, 2).amax(dim=0)
    return coords / coords.new_tensor([float(width), float(height)])


def _transformer_phases(coords01, frequencies):
    """x gets the first half of the bands, y the rest, at the transformer's geometric frequencies."""
    x_bands = frequencies // 2
    y_bands = frequencies - x_bands
    options = dict(dtype=coords01.dtype, device=coords01.device)
    x_freqs = 1.0 / 10000 ** (torch.arange(x_bands, **options) / max(x_bands, 1))
    y_freqs = 1.0 / 10000 ** (torch.arange(y_bands, **options) / max(y_bands, 1))
    return torch.cat([coords01[..., :1] * x_freqs, coords01[..., 1:] * y_freqs], dim=-1)


def fourier_features(coords01, gaussian, m=Mistake()):
    centred = 2 * coords01 - 1 if m.recentre else coords01
    if m.transformer:
        phases = _transformer_phases(centred, gaussian.shape[1])
    else:
        phases = centred @ gaussian
    if m.two_pi:
        phases = 2 * math.pi * phases
    blocks = [torch.sin(phases), torch.cos(phases)]
    return torch.cat(blocks if m.sin_first else blocks[::-1], dim=-1)


def _cell_positions(count, options, m):
    index = torch.arange(count, **options)
    if m.pixel_centre == "none":
        return index / count
    if m.pixel_centre == "linspace":
        return torch.linspace(0, 1, count, **options)
    return (index + 0.5) / count


def dense_positional_encoding(grid_hw, gaussian, m=Mistake()):
    height, width = grid_hw
    options = dict(dtype=gaussian.dtype, device=gaussian.device)
    grid_x, grid_y = torch.meshgrid(_cell_positions(width, options, m), _cell_positions(height, options, m),
                                    indexing="xy")
    pair = [grid_y, grid_x] if m.swap_grid else [grid_x, grid_y]
    return fourier_features(torch.stack(pair, dim=-1), gaussian, m).permute(2, 0, 1)


def _shift(coords, m):
    return coords + 0.5 if m.pixel_centre == "shift" else coords


def encode_points(points, labels, image_size, gaussian, point_embeds, not_a_point_embed, pad, m=Mistake()):
    centres = _shift(points, m)
    if (pad and m.pad != "ignored") or m.pad == "always":
        batch = points.shape[0]
        pad_points = [centres, centres.new_zeros(batch, 1, 2)]
        pad_labels = [labels, labels.new_full((batch, 1), -1)]
        order = slice(None, None, -1) if m.pad == "start" else slice(None)
        centres = torch.cat(pad_points[order], dim=1)
        labels = torch.cat(pad_labels[order], dim=1)
    encoding = fourier_features(normalize_coords(centres, image_size, m), gaussian, m)
    label = labels.unsqueeze(-1)
    negative, positive = (point_embeds[1], point_embeds[0]) if m.swap_labels else (point_embeds[0], point_embeds[1])
    typed = encoding + (label == 0) * negative + (label == 1) * positive
    not_a_point = {
        "replace": not_a_point_embed.expand_as(encoding),
        "add": encoding + not_a_point_embed,
        "bare": encoding,
        "zero": torch.zeros_like(encoding),
    }[m.not_a_point]
    return torch.where(label == -1, not_a_point, typed)


def encode_boxes(boxes, image_size, gaussian, corner_embeds, m=Mistake()):
    corners = _shift(boxes, m).reshape(-1, 2, 2)
    encoding = fourier_features(normalize_coords(corners, image_size, m), gaussian, m)
    return encoding + (corner_embeds.flip(0) if m.swap_corners else corner_embeds)


FUNCTIONS = {
    "normalize_coords": normalize_coords,
    "fourier_features": fourier_features,
    "dense_positional_encoding": dense_positional_encoding,
    "encode_points": encode_points,
    "encode_boxes": encode_boxes,
}

PREFIX = "impl.prompt_encoder."
# name -> (the mistake, what that version does, in words a student recognises)
VARIANTS = {
    PREFIX + "missing-2pi/no-2pi": (Mistake(two_pi=False), "leaves out the 2*pi factor"),
    PREFIX + "cos-first/cos-sin": (Mistake(sin_first=False), "puts the cos block before the sin block"),
    PREFIX + "no-recentre/raw-01": (Mistake(recentre=False), "projects coords01 without mapping [0, 1] to [-1, 1]"),
    PREFIX + "xy-swapped/size": (Mistake(swap_size=True), "divides x by H and y by W"),
    PREFIX + "xy-swapped/grid": (Mistake(swap_grid=True), "builds the grid as (y, x) pairs instead of (x, y)"),
    PREFIX + "no-pixel-centre/corner": (Mistake(pixel_centre="none"),
                                        "uses pixel corners (no +0.5 shift, or col / w for grid cells)"),
    PREFIX + "no-pixel-centre/linspace": (Mistake(pixel_centre="linspace"),
                                          "spreads grid cells from 0 to 1 inclusive (linspace) instead of at cell centres"),
    PREFIX + "shift-in-normalize/moved": (Mistake(normalize_shift=True, pixel_centre="none"),
                                          "adds the +0.5 shift inside normalize_coords instead of in the encoders"),
    PREFIX + "shift-in-normalize/twice": (Mistake(normalize_shift=True),
                                          "adds +0.5 inside normalize_coords as well as in the encoders (shifted twice)"),
    PREFIX + "wrong-normaliser/fixed-1024": (Mistake(fixed_size=1024), "divides by 1024 whatever the image size"),
    PREFIX + "wrong-normaliser/batch-max": (Mistake(batch_max=True),
                                            "divides by the largest coordinate in the batch instead of the image size"),
    PREFIX + "labels-swapped/swap": (Mistake(swap_labels=True),
                                     "adds point_embeds[1] to negative clicks and point_embeds[0] to positive ones"),
    PREFIX + "padding-not-replaced/added": (Mistake(not_a_point="add"),
                                            "adds not_a_point_embed to the encoding of label -1 points instead of replacing it"),
    PREFIX + "padding-not-replaced/bare": (Mistake(not_a_point="bare"),
                                           "leaves the positional encoding of label -1 points as it is"),
    PREFIX + "padding-not-replaced/zero": (Mistake(not_a_point="zero"),
                                           "zeroes label -1 points without putting not_a_point_embed in"),
    PREFIX + "padding-misplaced/start": (Mistake(pad="start"), "puts the padding point at the start of each row"),
    PREFIX + "padding-misplaced/ignored": (Mistake(pad="ignored"), "ignores pad=True (no extra point)"),
    PREFIX + "padding-misplaced/always": (Mistake(pad="always"), "appends the padding point even when pad=False"),
    PREFIX + "corners-swapped/swap": (Mistake(swap_corners=True),
                                      "adds corner_embeds[1] to the top-left corner and corner_embeds[0] to the bottom-right"),
    PREFIX + "transformer-frequencies/1d": (Mistake(transformer=True),
                                            "uses the transformer's fixed 1-D frequencies and ignores the gaussian matrix"),
}

def misconception_id(variant_name):
    return variant_name.split("/", 1)[0]


def description(variant_name):
    return VARIANTS[variant_name][1]


def outputs(function_name, args, kwargs=None):
    """{variant name: that variant's output} on `args`; variants that raise are left out."""
    function = FUNCTIONS[function_name]
    results = {}
    for name, (mistake, _) in VARIANTS.items():
        try:
            with torch.no_grad():
                results[name] = function(*args, **(kwargs or {}), m=mistake)
        except Exception:  # a variant that cannot run on these inputs cannot be the match
            continue
    return results

