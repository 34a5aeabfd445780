"""The fixed cases behind references.safetensors: seeded inputs, argument order, stored-field codec.

Keys in the file are `case.<name>.<field>`; `field` is a contract argument name or `out`.
Image and grid sizes are stored as int64 [2] tensors, `pad` as a 0-d bool tensor.
Trusted code shared by generate_references.py and the hidden suite.
"""

import torch

# Contract argument order per function (EXERCISES.md section 2).
SIGNATURES = {
    "normalize_coords": ("coords", "image_size"),
    "fourier_features": ("coords01", "gaussian"),
    "dense_positional_encoding": ("grid_hw", "gaussian"),
    "encode_points": ("points", "labels", "image_size", "gaussian", "point_embeds", "not_a_point_embed", "pad"),
    "encode_boxes": ("boxes", "image_size", "gaussian", "corner_embeds"),
}
SIZE_FIELDS = {"image_size", "grid_hw"}
FLAG_FIELDS = {"pad"}

THE_CLICK = (342.0, 517.0)  # the lesson's click, on a 1024 x 1024 image
SAM_FREQUENCIES = 128


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _gaussian(frequencies, seed, dtype):
    return torch.randn(2, frequencies, generator=_gen(seed), dtype=torch.float64).to(dtype)


def _pixels(shape, image_size, seed, dtype):
    """Random pixel coordinates (x, y) inside an (H, W) image, shape [..., 2]."""
    height, width = image_size
    unit = torch.rand(*shape, 2, generator=_gen(seed), dtype=torch.float64)
    return (unit * torch.tensor([width - 1.0, height - 1.0])).round().to(dtype)


def _labels(rows, seed):
    """Labels [B, N] holding every value -1, 0, 1 in each row (N >= 3), shuffled per row."""
    batch, count = rows
    base = torch.tensor([-1, 0, 1] + [1] * (count - 3))
    order = torch.stack([torch.randperm(count, generator=_gen(seed + b)) for b in range(batch)])
    return base[order]


def _embeds(rows, channels, seed, dtype):
    return torch.randn(rows, channels, generator=_gen(seed), dtype=torch.float64).to(dtype)


def _size(hw):
    return torch.tensor(hw, dtype=torch.int64)


def _boxes(batch, image_size, seed, dtype):
    """Boxes [B, 4] as (x0, y0, x1, y1) with x0 < x1, y0 < y1."""
    a = _pixels((batch,), image_size, seed, torch.float64)
    b = _pixels((batch,), image_size, seed + 1, torch.float64)
    top_left, bottom_right = torch.minimum(a, b), torch.maximum(a, b) + 1
    return torch.cat([top_left, bottom_right], dim=-1).to(dtype)


def case_inputs():
    """{case name: (function name, {argument name: tensor})}, deterministic."""
    f32, f64 = torch.float32, torch.float64
    lesson = (1024, 1024)
    return {
        "click_normalize": ("normalize_coords", {
            "coords": torch.tensor([THE_CLICK], dtype=f64), "image_size": _size(lesson)}),
        "normalize_nonsquare_f64": ("normalize_coords", {
            "coords": _pixels((2, 3), (480, 640), 1, f64), "image_size": _size((480, 640))}),
        "normalize_tall_nd_f32": ("normalize_coords", {
            "coords": _pixels((2, 2, 3), (900, 300), 2, f32), "image_size": _size((900, 300))}),
        "fourier_f32": ("fourier_features", {
            "coords01": torch.rand(3, 4, 2, generator=_gen(3)), "gaussian": _gaussian(8, 4, f32)}),
        "fourier_f64": ("fourier_features", {
            "coords01": torch.rand(5, 2, generator=_gen(5), dtype=f64), "gaussian": _gaussian(16, 6, f64)}),
        "fourier_sam_f32": ("fourier_features", {
            "coords01": torch.rand(2, 2, generator=_gen(7)), "gaussian": _gaussian(SAM_FREQUENCIES, 8, f32)}),
        "dense_3x5_f64": ("dense_positional_encoding", {"grid_hw": _size((3, 5)), "gaussian": _gaussian(4, 9, f64)}),
        "dense_6x4_f32": ("dense_positional_encoding", {"grid_hw": _size((6, 4)), "gaussian": _gaussian(8, 10, f32)}),
        "click_points_sam_f32": ("encode_points", {
            "points": torch.tensor([[THE_CLICK]], dtype=f32), "labels": torch.tensor([[1]]),
            "image_size": _size(lesson), "gaussian": _gaussian(SAM_FREQUENCIES, 11, f32),
            "point_embeds": _embeds(2, 2 * SAM_FREQUENCIES, 12, f32),
            "not_a_point_embed": _embeds(1, 2 * SAM_FREQUENCIES, 13, f32)[0], "pad": torch.tensor(True)}),
        "points_pad_f32": ("encode_points", {
            "points": _pixels((2, 3), (480, 640), 14, f32), "labels": _labels((2, 3), 15),
            "image_size": _size((480, 640)), "gaussian": _gaussian(6, 16, f32),
            "point_embeds": _embeds(2, 12, 17, f32), "not_a_point_embed": _embeds(1, 12, 18, f32)[0],
            "pad": torch.tensor(True)}),
        "points_nopad_f64": ("encode_points", {
            "points": _pixels((3, 4), (600, 400), 19, f64), "labels": _labels((3, 4), 20),
            "image_size": _size((600, 400)), "gaussian": _gaussian(5, 21, f64),
            "point_embeds": _embeds(2, 10, 22, f64), "not_a_point_embed": _embeds(1, 10, 23, f64)[0],
            "pad": torch.tensor(False)}),
        "boxes_f32": ("encode_boxes", {
            "boxes": _boxes(3, (480, 640), 24, f32), "image_size": _size((480, 640)),
            "gaussian": _gaussian(6, 26, f32), "corner_embeds": _embeds(2, 12, 27, f32)}),
        "boxes_wide_f64": ("encode_boxes", {
            "boxes": _boxes(2, (720, 1280), 28, f64), "image_size": _size((720, 1280)),
            "gaussian": _gaussian(4, 30, f64), "corner_embeds": _embeds(2, 8, 31, f64)}),
    }


def case_names(function_name):
    """Names of the stored cases of one function, in file order (for parametrising tests)."""
    return [name for name, (function, _) in case_inputs().items() if function == function_name]


def function_of(case):
    return case_inputs()[case][0]


def decode(field, tensor):
    """A stored tensor -> the Python value the contract expects for that argument."""
    if field in SIZE_FIELDS:
        return tuple(int(v) for v in tensor.tolist())
    if field in FLAG_FIELDS:
        return bool(tensor)
    return tensor


def call_args(stored, case):
    """Positional arguments of a stored case, in contract order."""
    fields = SIGNATURES[function_of(case)]
    return [decode(field, stored[f"case.{case}.{field}"]) for field in fields]
