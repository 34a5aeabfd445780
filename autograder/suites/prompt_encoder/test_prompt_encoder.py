"""Hidden suite, correctness: SAM's prompt encoder against stored and fresh references.

Every image here is non-square unless it is the lesson's 1024 x 1024 click, so dividing x by H
(or building the grid as (y, x)) cannot pass by accident.
"""


import pytest
import torch

from autograder.testing import expect_meta
from autograder.suites.prompt_encoder import diagnosis as support


cases = support.cases
DTYPES = [torch.float32, torch.float64]


def stored_check(submission, stored, flag, case, hint):
    function_name = cases.function_of(case)
    support.check(submission, flag, function_name, cases.call_args(stored, case), stored[f"case.{case}.out"],
                  what=f"{function_name} on stored case '{case}'", hint=hint)


# ---- normalize_coords ---------------------------------------------------------------------

@pytest.mark.grade(target="normalize_coords", kind="correctness")
def test_normalize_coords_worked_click(submission, stored, flag):
    stored_check(submission, stored, flag, "click_normalize",
                 hint="the lesson's click (342, 517) on a 1024 x 1024 image is (342/1024, 517/1024) = (0.334, 0.505);"
                      " normalize_coords divides only, the +0.5 shift belongs to encode_points and encode_boxes")


@pytest.mark.grade(target="normalize_coords", kind="correctness")
@pytest.mark.parametrize("case", ["normalize_nonsquare_f64", "normalize_tall_nd_f32"])
def test_normalize_coords_stored(submission, stored, flag, case):
    stored_check(submission, stored, flag, case,
                 hint="coords are (x, y) and image_size is (H, W): x goes with the width, y with the height")


@pytest.mark.grade(target="normalize_coords", kind="correctness")
def test_normalize_coords_fresh(submission, reference, rng, flag):
    size = support.non_square_size(rng)
    args = [support.pixels(rng, (3, 5), size), size]
    support.check(submission, flag, "normalize_coords", args, reference.normalize_coords(*args),
                  what=f"normalize_coords on random points of a {size[0]}x{size[1]} (H x W) image",
                  hint="x / W and y / H, nothing else")


@pytest.mark.grade(target="normalize_coords", kind="correctness")
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_normalize_coords_dtype_device(submission, reference, rng, devices, dtype):
    size = support.non_square_size(rng)
    coords = support.pixels(rng, (4,), size, dtype)
    for device in devices:
        out = submission.call("normalize_coords", coords.to(device), size)
        expect_meta(out, shape=coords.shape, dtype=dtype, device=device,
                    what=f"normalize_coords on {device} {dtype}")
        support.expect_matches(out.cpu(), reference.normalize_coords(coords, size),
                               what=f"normalize_coords values on {device} {dtype}")


# ---- fourier_features ---------------------------------------------------------------------

@pytest.mark.grade(target="fourier_features", kind="correctness")
@pytest.mark.parametrize("case", cases.case_names("fourier_features"))
def test_fourier_features_stored(submission, stored, flag, case):
    stored_check(submission, stored, flag, case,
                 hint="c = 2*coords01 - 1, p = 2*pi * (c @ gaussian), then cat([sin(p), cos(p)], -1)")


@pytest.mark.grade(target="fourier_features", kind="correctness")
def test_fourier_features_fresh(submission, reference, rng, flag):
    frequencies = support.randint(rng, 3, 20)
    args = [torch.rand(2, 3, 2, generator=rng, dtype=torch.float64), support.gaussian(rng, frequencies)]
    support.check(submission, flag, "fourier_features", args, reference.fourier_features(*args),
                  what=f"fourier_features on random [2, 3, 2] coordinates with F = {frequencies}",
                  hint=f"the result has 2F = {2 * frequencies} channels: F sines, then F cosines")


@pytest.mark.grade(target="fourier_features", kind="correctness")
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_fourier_features_dtype_device(submission, reference, rng, devices, dtype):
    coords01 = torch.rand(5, 2, generator=rng, dtype=torch.float64).to(dtype)
    gaussian = support.gaussian(rng, 8, dtype)
    for device in devices:
        out = submission.call("fourier_features", coords01.to(device), gaussian.to(device))
        expect_meta(out, shape=(5, 16), dtype=dtype, device=device, what=f"fourier_features on {device} {dtype}")
        support.expect_matches(out.cpu(), reference.fourier_features(coords01, gaussian),
                               what=f"fourier_features values on {device} {dtype}")


# ---- dense_positional_encoding ------------------------------------------------------------

@pytest.mark.grade(target="dense_positional_encoding", kind="correctness")
@pytest.mark.parametrize("case", cases.case_names("dense_positional_encoding"))
def test_dense_positional_encoding_stored(submission, stored, flag, case):
    stored_check(submission, stored, flag, case,
                 hint="cell (row, col) sits at x = (col + 0.5) / w, y = (row + 0.5) / h; channels first")


@pytest.mark.grade(target="dense_positional_encoding", kind="correctness")
def test_dense_positional_encoding_shape(submission, rng):
    height, width = support.randint(rng, 2, 6), support.randint(rng, 7, 11)  # never square
    frequencies = support.randint(rng, 2, 9)
    out = submission.call("dense_positional_encoding", (height, width), support.gaussian(rng, frequencies))
    expect_meta(out, shape=(2 * frequencies, height, width),
                what=f"dense_positional_encoding for grid_hw = ({height}, {width}) and F = {frequencies}")


@pytest.mark.grade(target="dense_positional_encoding", kind="correctness")
def test_dense_positional_encoding_cell_centres(submission, reference, rng, flag):
    height, width = support.randint(rng, 7, 12), support.randint(rng, 2, 6)  # taller than wide
    gaussian = support.gaussian(rng, 4)
    out = submission.call("dense_positional_encoding", (height, width), gaussian)
    expect_meta(out, shape=(8, height, width), what="dense_positional_encoding")
    for row, col in [(0, 0), (height - 1, width - 1), (height - 1, 0), (1, width - 2)]:
        centre = torch.tensor([(col + 0.5) / width, (row + 0.5) / height], dtype=torch.float64)
        expected = reference.fourier_features(centre, gaussian)
        try:
            support.expect_matches(out[:, row, col], expected,
                                   what=f"channel vector of cell (row={row}, col={col}) in a {height}x{width} grid",
                                   hint=f"it is the encoding of the cell centre x = {centre[0]:.4f}, y = {centre[1]:.4f}")
        except AssertionError as failure:
            full = reference.dense_positional_encoding((height, width), gaussian)
            extra = support.diagnose(submission, flag, "dense_positional_encoding", [(height, width), gaussian],
                                     out, full, "dense_positional_encoding cell centres")
            raise AssertionError(f"{failure}{extra}") from None


@pytest.mark.grade(target="dense_positional_encoding", kind="correctness")
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_dense_positional_encoding_dtype_device(submission, reference, rng, devices, dtype):
    gaussian = support.gaussian(rng, 5, dtype)
    for device in devices:
        out = submission.call("dense_positional_encoding", (4, 3), gaussian.to(device))
        expect_meta(out, shape=(10, 4, 3), dtype=dtype, device=device,
                    what=f"dense_positional_encoding on {device} {dtype} (the grid follows gaussian's dtype and device)")
        support.expect_matches(out.cpu(), reference.dense_positional_encoding((4, 3), gaussian),
                               what=f"dense_positional_encoding values on {device} {dtype}")


# ---- encode_points ------------------------------------------------------------------------

POINTS_HINT = ("shift by +0.5, normalise, Fourier-encode; label 1 adds point_embeds[1], label 0 adds"
               " point_embeds[0], label -1 is replaced by not_a_point_embed")


@pytest.mark.grade(target="encode_points", kind="correctness")
@pytest.mark.parametrize("case", cases.case_names("encode_points"))
def test_encode_points_stored(submission, stored, flag, case):
    stored_check(submission, stored, flag, case, hint=POINTS_HINT)


@pytest.mark.grade(target="encode_points", kind="correctness")
@pytest.mark.parametrize("pad", [True, False], ids=["pad", "no_pad"])
def test_encode_points_fresh(submission, reference, rng, flag, pad):
    args = support.point_inputs(rng, 3, 4, pad=pad)
    support.check(submission, flag, "encode_points", args, reference.encode_points(*args),
                  what=f"encode_points on random clicks of a {args[2][0]}x{args[2][1]} (H x W) image, pad={pad}",
                  hint=POINTS_HINT)


@pytest.mark.grade(target="encode_points", kind="correctness")
def test_encode_points_padding_present(submission, reference, rng, flag):
    batch, count = 2, 3
    args = support.point_inputs(rng, batch, count, labels=torch.tensor([[1, 0, 1], [0, 0, 1]]), pad=True)
    out = submission.call("encode_points", *args)
    try:
        expect_meta(out, shape=(batch, count + 1, args[4].shape[1]),
                    what="encode_points with pad=True (one padding token is appended to each row)")
        support.expect_matches(out[:, -1], args[5].expand(batch, -1),
                               what="the appended padding token (last position of each row)",
                               hint="the padding point has label -1, so its token is exactly not_a_point_embed")
        support.expect_matches(out, reference.encode_points(*args), what="encode_points with pad=True",
                               hint=POINTS_HINT)
    except AssertionError as failure:
        extra = support.diagnose(submission, flag, "encode_points", args, out, reference.encode_points(*args),
                                 "encode_points with pad=True")
        raise AssertionError(f"{failure}{extra}") from None


@pytest.mark.grade(target="encode_points", kind="correctness")
def test_encode_points_padding_absent(submission, reference, rng, flag):
    args = support.point_inputs(rng, 2, 3, labels=torch.tensor([[1, 1, 0], [0, 1, 1]]), pad=False)
    support.check(submission, flag, "encode_points", args, reference.encode_points(*args),
                  what="encode_points with pad=False (no token is added)", hint=POINTS_HINT)


@pytest.mark.grade(target="encode_points", kind="correctness")
@pytest.mark.parametrize("label", [-1, 0, 1], ids=["not_a_point", "negative", "positive"])
def test_encode_points_label(submission, reference, rng, flag, label):
    labels = torch.full((2, 3), label)
    args = support.point_inputs(rng, 2, 3, labels=labels, pad=False)
    meaning = {-1: "is replaced by not_a_point_embed", 0: "gets point_embeds[0] added",
               1: "gets point_embeds[1] added"}[label]
    support.check(submission, flag, "encode_points", args, reference.encode_points(*args),
                  what=f"encode_points when every label is {label}",
                  hint=f"a point with label {label} {meaning}")


@pytest.mark.grade(target="encode_points", kind="correctness")
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_encode_points_dtype_device(submission, reference, rng, devices, dtype):
    args = support.point_inputs(rng, 2, 3, pad=True, dtype=dtype)
    expected = reference.encode_points(*args)
    for device in devices:
        out = submission.call("encode_points", *support.moved(args, device))
        expect_meta(out, shape=expected.shape, dtype=dtype, device=device, what=f"encode_points on {device} {dtype}")
        support.expect_matches(out.cpu(), expected, what=f"encode_points values on {device} {dtype}")


# ---- encode_boxes -------------------------------------------------------------------------

BOXES_HINT = ("shift by +0.5, split into corners (x0, y0) and (x1, y1), normalise, Fourier-encode; "
              "corner_embeds[0] goes to the top-left token, corner_embeds[1] to the bottom-right")


@pytest.mark.grade(target="encode_boxes", kind="correctness")
@pytest.mark.parametrize("case", cases.case_names("encode_boxes"))
def test_encode_boxes_stored(submission, stored, flag, case):
    stored_check(submission, stored, flag, case, hint=BOXES_HINT)


@pytest.mark.grade(target="encode_boxes", kind="correctness")
def test_encode_boxes_fresh(submission, reference, rng, flag):
    args = support.box_inputs(rng, 4)
    support.check(submission, flag, "encode_boxes", args, reference.encode_boxes(*args),
                  what=f"encode_boxes on random boxes of a {args[1][0]}x{args[1][1]} (H x W) image", hint=BOXES_HINT)


@pytest.mark.grade(target="encode_boxes", kind="correctness")
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_encode_boxes_dtype_device(submission, reference, rng, devices, dtype):
    args = support.box_inputs(rng, 2, dtype=dtype)
    expected = reference.encode_boxes(*args)
    for device in devices:
        out = submission.call("encode_boxes", *support.moved(args, device))
        expect_meta(out, shape=expected.shape, dtype=dtype, device=device, what=f"encode_boxes on {device} {dtype}")
        support.expect_matches(out.cpu(), expected, what=f"encode_boxes values on {device} {dtype}")
