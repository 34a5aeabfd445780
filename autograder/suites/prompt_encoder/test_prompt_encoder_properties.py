"""Hidden suite, gradients and properties of the prompt encoder.

Gradients: the learned type embeddings (point_embeds, not_a_point_embed, corner_embeds) are what
training updates, so they must receive exactly the reference's gradient.
Properties: each band is a point on the unit circle driven by one column of `gaussian`; a
point's token depends on that point only; the same physical position in a scaled image
encodes the same.
"""


import pytest
import torch

from autograder.testing import expect_meta
from autograder.suites.prompt_encoder import diagnosis as support


WRONG_NORMALISER = support.variants.PREFIX + "wrong-normaliser"
TRANSFORMER = support.variants.PREFIX + "transformer-frequencies"


def explain_property_failure(submission, flag, function_name, args, reference_out, evidence, fallback_id):
    """Diagnose a broken property by the output on `args`; flag `fallback_id` when no variant matches."""
    actual = submission.call(function_name, *args)
    extra = support.diagnose(submission, flag, function_name, args, actual, reference_out, evidence)
    if not extra and fallback_id:
        flag(fallback_id, evidence)
    return extra


# ---- gradients ----------------------------------------------------------------------------

def reference_grads(function, args, wrt, cotangent):
    leaves = {i: args[i].detach().clone().requires_grad_(True) for i in wrt}
    out = function(*[leaves.get(i, a) for i, a in enumerate(args)])
    out.backward(cotangent)
    return [leaves[i].grad for i in wrt]


def expect_gradients(submission, flag, function_name, reference_function, args, wrt, names):
    expected_out = reference_function(*args)
    forward = submission.call(function_name, *args)
    try:
        support.expect_matches(forward, expected_out, what=f"{function_name} forward pass (before the gradient check)",
                               hint="the gradients can only match once the encoding itself is right")
    except AssertionError as failure:
        extra = support.diagnose(submission, flag, function_name, args, forward, expected_out,
                                 f"{function_name} forward pass of the gradient test")
        raise AssertionError(f"{failure}{extra}") from None
    cotangent = torch.randn(expected_out.shape, generator=torch.Generator().manual_seed(7), dtype=expected_out.dtype)
    _, grads = submission.call_with_grad(function_name, args, wrt=wrt, cotangents=[cotangent])
    for name, got, expected in zip(names, grads, reference_grads(reference_function, args, wrt, cotangent)):
        if got is None:
            raise AssertionError(
                f"no gradient reached {name}: training could never update it. This usually means the"
                f" embedding was copied out of the graph (.detach(), .data, .item(), torch.tensor(...) or a"
                f" NumPy round trip) instead of being added with tensor operations")
        support.expect_matches(got, expected, what=f"gradient of {function_name} with respect to {name}",
                               hint="each token should receive its type embedding exactly once")


@pytest.mark.grade(target="encode_points", kind="gradient")
def test_encode_points_gradients_reach_embeddings(submission, reference, rng, flag):
    labels = torch.tensor([[1, 0, -1, 1], [0, 0, 1, -1]])
    args = support.point_inputs(rng, 2, 4, labels=labels, pad=True)
    expect_gradients(submission, flag, "encode_points", reference.encode_points, args, wrt=(4, 5),
                     names=["point_embeds", "not_a_point_embed"])


@pytest.mark.grade(target="encode_boxes", kind="gradient")
def test_encode_boxes_gradients_reach_corner_embeds(submission, reference, rng, flag):
    args = support.box_inputs(rng, 3)
    expect_gradients(submission, flag, "encode_boxes", reference.encode_boxes, args, wrt=(3,),
                     names=["corner_embeds"])


# ---- properties of the Fourier features ---------------------------------------------------

@pytest.mark.grade(target="fourier_features", kind="property")
def test_fourier_features_bands_lie_on_the_unit_circle(submission, reference, rng, flag):
    frequencies = 16
    args = [torch.rand(6, 2, generator=rng, dtype=torch.float64), support.gaussian(rng, frequencies)]
    out = submission.call("fourier_features", *args)
    expect_meta(out, shape=(6, 2 * frequencies), what="fourier_features with F = 16")
    radius = out[:, :frequencies] ** 2 + out[:, frequencies:] ** 2
    try:
        support.expect_matches(radius, torch.ones_like(radius),
                               what="sin(p_k)^2 + cos(p_k)^2 for each band k (channel k paired with channel F + k)",
                               hint="channel k must be sin(p_k) and channel F + k must be cos(p_k) of the same phase")
    except AssertionError as failure:
        extra = explain_property_failure(submission, flag, "fourier_features", args, reference.fourier_features(*args),
                                         "fourier_features bands off the unit circle", None)
        raise AssertionError(f"{failure}{extra}") from None


@pytest.mark.grade(target="fourier_features", kind="property")
def test_fourier_features_one_band_per_gaussian_column(submission, reference, rng, flag):
    frequencies = 6
    coords01 = torch.rand(4, 2, generator=rng, dtype=torch.float64)
    gaussian = support.gaussian(rng, frequencies)
    column = support.randint(rng, 0, frequencies)
    changed = gaussian.clone()
    changed[:, column] = changed[:, column] * 2.5 + 0.7
    before = submission.call("fourier_features", coords01, gaussian)
    after = submission.call("fourier_features", coords01, changed)
    expect_meta(before, shape=(4, 2 * frequencies), what="fourier_features with F = 6")
    expect_meta(after, shape=(4, 2 * frequencies), what="fourier_features with F = 6 and one column changed")
    moved = ((after - before).abs() > 1e-9).any(dim=0)
    expected_moved = torch.zeros(2 * frequencies, dtype=torch.bool)
    expected_moved[[column, frequencies + column]] = True
    if torch.equal(moved, expected_moved):
        return
    if not moved.any():
        flag(TRANSFORMER, "fourier_features ignores a change of the gaussian matrix")
        raise AssertionError(
            f"changing column {column} of gaussian changed none of the output channels: the encoding must be"
            f" built from the projection coords @ gaussian, not from fixed (transformer-style) frequencies")
    extra = explain_property_failure(submission, flag, "fourier_features", [coords01, gaussian],
                                     reference.fourier_features(coords01, gaussian),
                                     "fourier_features bands not tied to gaussian columns", None)
    raise AssertionError(
        f"changing column {column} of gaussian should change exactly channels {column} (its sine) and"
        f" {frequencies + column} (its cosine); it changed channels {moved.nonzero().flatten().tolist()}.{extra}")


@pytest.mark.grade(target="normalize_coords", kind="property")
def test_normalize_coords_scaling_image_and_coords_together(submission, reference, rng, flag):
    size = support.non_square_size(rng)
    scale = support.randint(rng, 2, 5)
    coords = support.pixels(rng, (2, 3), size)
    small = submission.call("normalize_coords", coords, size)
    large = submission.call("normalize_coords", coords * scale, (size[0] * scale, size[1] * scale))
    try:
        support.expect_matches(large, small, what=f"normalize_coords after scaling both the image and the points by {scale}",
                               hint="a position's fraction of the image does not depend on the resolution")
    except AssertionError as failure:
        args = [coords, size]
        extra = explain_property_failure(submission, flag, "normalize_coords", args, reference.normalize_coords(*args),
                                         "normalize_coords not scale-invariant", WRONG_NORMALISER)
        raise AssertionError(f"{failure}{extra}") from None


# ---- properties of the point tokens -------------------------------------------------------

@pytest.mark.grade(target="encode_points", kind="property")
def test_encode_points_token_depends_only_on_its_point(submission, reference, rng, flag):
    args = support.point_inputs(rng, 2, 4, pad=False)
    points, labels = args[0], args[1]
    batch_out = submission.call("encode_points", *args)
    expect_meta(batch_out, shape=(2, 4, args[4].shape[1]), what="encode_points with pad=False")
    for b, n in [(0, 0), (1, 3), (0, 2)]:
        single = [points[b:b + 1, n:n + 1], labels[b:b + 1, n:n + 1], *args[2:]]
        alone = submission.call("encode_points", *single)
        expect_meta(alone, shape=(1, 1, args[4].shape[1]), what="encode_points on a single point, pad=False")
        try:
            support.expect_matches(alone[0, 0], batch_out[b, n],
                                   what=f"token of point ({b}, {n}) encoded alone vs inside its batch",
                                   hint="a click's token must not depend on the other clicks (or on the batch)")
        except AssertionError as failure:
            extra = explain_property_failure(submission, flag, "encode_points", args, reference.encode_points(*args),
                                             "encode_points token depends on the other points", WRONG_NORMALISER)
            raise AssertionError(f"{failure}{extra}") from None


@pytest.mark.grade(target="encode_points", kind="property")
def test_encode_points_same_place_in_a_scaled_image(submission, reference, rng, flag):
    args = support.point_inputs(rng, 1, 3, labels=torch.tensor([[1, 0, 1]]), pad=True)
    scale = support.randint(rng, 2, 5)
    size = args[2]
    scaled = list(args)
    scaled[0] = scale * (args[0] + 0.5) - 0.5  # the same pixel centres, measured in the larger image
    scaled[2] = (size[0] * scale, size[1] * scale)
    small = submission.call("encode_points", *args)
    large = submission.call("encode_points", *scaled)
    try:
        support.expect_matches(large, small,
                               what=f"encode_points on the same pixel centres in an image {scale}x larger",
                               hint="the encoding depends on where the point is as a fraction of the image")
    except AssertionError as failure:
        extra = explain_property_failure(submission, flag, "encode_points", args, reference.encode_points(*args),
                                         "encode_points not scale-invariant", WRONG_NORMALISER)
        raise AssertionError(f"{failure}{extra}") from None
