"""The prompt_encoder reference checked against facts it does not compute itself.

Facts: the lesson's worked click, hand-computed phases with exact sin/cos values, an explicit
per-element recomputation in Python floats, sin^2 + cos^2 = 1 per band, gradcheck.
"""

import math

import pytest
import torch

from solutions import prompt_encoder as pe


def loop_features(x01, y01, gaussian):
    """One point's features from Python floats: [sin(p_0..p_F-1), cos(p_0..p_F-1)]."""
    columns = gaussian.tolist()
    phases = [
        2 * math.pi * ((2 * x01 - 1) * gx + (2 * y01 - 1) * gy)
        for gx, gy in zip(columns[0], columns[1])
    ]
    return [math.sin(p) for p in phases] + [math.cos(p) for p in phases]


def random_gaussian(frequencies, seed, dtype=torch.float64):
    return torch.randn(2, frequencies, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def test_worked_click_normalises_to_the_lessons_numbers():
    click = torch.tensor([342.0, 517.0])
    x01, y01 = pe.normalize_coords(click, (1024, 1024)).tolist()
    assert (round(x01, 3), round(y01, 3)) == (0.334, 0.505)
    assert x01 == 342 / 1024 and y01 == 517 / 1024


def test_pixel_centre_shift_keeps_the_worked_click_at_three_decimals():
    shifted = pe.normalize_coords(torch.tensor([342.5, 517.5]), (1024, 1024))
    assert [round(v, 3) for v in shifted.tolist()] == [0.334, 0.505]


def test_normalize_divides_x_by_width_and_y_by_height():
    out = pe.normalize_coords(torch.tensor([[[64.0, 30.0]]], dtype=torch.float64), (60, 640))
    assert out.tolist() == [[[0.1, 0.5]]]


@pytest.mark.parametrize(
    "column, coords01, phase",
    [
        ((0.5, 3.0), (0.75, 0.5), math.pi / 2),   # 2pi * (0.5*0.5 + 0*3)
        ((1 / 3, 0.0), (0.75, 0.5), math.pi / 3),  # 2pi * (0.5/3)
        ((7.0, 1.0), (0.5, 0.625), math.pi / 2),  # 2pi * (0*7 + 0.25*1)
        ((0.0, 1.0), (0.9, 0.5), 0.0),
        ((1.0, 1.0), (0.0, 0.0), -4 * math.pi),  # 2pi * (-1 - 1)
    ],
)
def test_single_band_matches_hand_computed_phase(column, coords01, phase):
    gaussian = torch.tensor(column, dtype=torch.float64).reshape(2, 1)
    sin, cos = pe.fourier_features(torch.tensor(coords01, dtype=torch.float64), gaussian).tolist()
    assert sin == pytest.approx(math.sin(phase), abs=1e-12)
    assert cos == pytest.approx(math.cos(phase), abs=1e-12)


def test_exact_values_of_the_quarter_turn_band():
    gaussian = torch.tensor([[0.5, 1 / 3], [3.0, 0.0]], dtype=torch.float64)
    out = pe.fourier_features(torch.tensor([0.75, 0.5], dtype=torch.float64), gaussian)
    expected = [1.0, math.sqrt(3) / 2, 0.0, 0.5]  # sin block first, then cos
    assert out.tolist() == pytest.approx(expected, abs=1e-12)


def test_every_band_has_unit_sin_squared_plus_cos_squared():
    gaussian = random_gaussian(128, seed=0)
    coords = torch.rand(5, 7, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out = pe.fourier_features(coords, gaussian)
    assert out.shape == (5, 7, 256)
    sin, cos = out[..., :128], out[..., 128:]
    torch.testing.assert_close(sin**2 + cos**2, torch.ones_like(sin), rtol=0, atol=1e-12)


def test_fourier_features_match_a_per_point_loop():
    gaussian = random_gaussian(6, seed=2)
    coords = torch.rand(3, 4, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    out = pe.fourier_features(coords, gaussian)
    for i in range(3):
        for j in range(4):
            x01, y01 = coords[i, j].tolist()
            assert out[i, j].tolist() == pytest.approx(loop_features(x01, y01, gaussian), abs=1e-12)


@pytest.mark.parametrize("grid_hw", [(3, 5), (4, 2), (1, 1)])
def test_dense_encoding_is_the_cell_centre_encoding(grid_hw):
    height, width = grid_hw
    gaussian = random_gaussian(4, seed=4)
    out = pe.dense_positional_encoding(grid_hw, gaussian)
    assert out.shape == (8, height, width)
    for row in range(height):
        for col in range(width):
            expected = loop_features((col + 0.5) / width, (row + 0.5) / height, gaussian)
            assert out[:, row, col].tolist() == pytest.approx(expected, abs=1e-12)


def test_dense_grid_of_sam_has_256_channels_and_keeps_dtype():
    gaussian = random_gaussian(128, seed=5, dtype=torch.float32)
    out = pe.dense_positional_encoding((64, 64), gaussian)
    assert out.shape == (256, 64, 64) and out.dtype == torch.float32


def embeddings(channels, seed, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return (
        torch.randn(2, channels, generator=gen, dtype=dtype),
        torch.randn(channels, generator=gen, dtype=dtype),
    )


def expected_point_token(x, y, label, size, gaussian, point_embeds, not_a_point):
    if label == -1:
        return not_a_point.tolist()
    height, width = size
    features = loop_features((x + 0.5) / width, (y + 0.5) / height, gaussian)
    return [f + e for f, e in zip(features, point_embeds[label].tolist())]


@pytest.mark.parametrize("pad", [False, True])
def test_encode_points_matches_a_per_point_loop_on_a_non_square_image(pad):
    size = (480, 640)
    gaussian = random_gaussian(5, seed=6)
    point_embeds, not_a_point = embeddings(10, seed=7)
    points = torch.tensor([[[10.0, 400.0], [630.0, 5.0], [320.0, 240.0]],
                           [[0.0, 0.0], [639.0, 479.0], [100.0, 200.0]]], dtype=torch.float64)
    labels = torch.tensor([[1, 0, -1], [0, 1, 1]])
    out = pe.encode_points(points, labels, size, gaussian, point_embeds, not_a_point, pad)
    assert out.shape == (2, 4 if pad else 3, 10)
    for b in range(2):
        for n in range(3):
            x, y = points[b, n].tolist()
            expected = expected_point_token(x, y, int(labels[b, n]), size, gaussian, point_embeds, not_a_point)
            assert out[b, n].tolist() == pytest.approx(expected, abs=1e-12)
        if pad:
            assert out[b, 3].tolist() == not_a_point.tolist()


def test_encode_boxes_matches_corner_loop_on_a_non_square_image():
    size = (300, 500)
    gaussian = random_gaussian(3, seed=8)
    corner_embeds, _ = embeddings(6, seed=9)
    boxes = torch.tensor([[10.0, 20.0, 400.0, 250.0], [0.0, 0.0, 499.0, 299.0]], dtype=torch.float64)
    out = pe.encode_boxes(boxes, size, gaussian, corner_embeds)
    assert out.shape == (2, 2, 6)
    for b in range(2):
        x0, y0, x1, y1 = boxes[b].tolist()
        for corner, (x, y) in enumerate([(x0, y0), (x1, y1)]):
            features = loop_features((x + 0.5) / 500, (y + 0.5) / 300, gaussian)
            expected = [f + e for f, e in zip(features, corner_embeds[corner].tolist())]
            assert out[b, corner].tolist() == pytest.approx(expected, abs=1e-12)


def test_a_point_does_not_depend_on_the_other_points():
    size = (200, 300)
    gaussian = random_gaussian(4, seed=10)
    point_embeds, not_a_point = embeddings(8, seed=11)
    gen = torch.Generator().manual_seed(12)
    points = torch.rand(3, 5, 2, generator=gen, dtype=torch.float64) * torch.tensor([300.0, 200.0])
    labels = torch.randint(-1, 2, (3, 5), generator=gen)
    batch = pe.encode_points(points, labels, size, gaussian, point_embeds, not_a_point, False)
    for b in range(3):
        for n in range(5):
            alone = pe.encode_points(points[b:b + 1, n:n + 1], labels[b:b + 1, n:n + 1], size,
                                     gaussian, point_embeds, not_a_point, False)
            torch.testing.assert_close(batch[b, n], alone[0, 0], rtol=0, atol=1e-12)


def test_scaling_pixel_centres_and_image_together_changes_nothing():
    size, scale = (240, 320), 3
    gaussian = random_gaussian(4, seed=13)
    point_embeds, not_a_point = embeddings(8, seed=14)
    points = torch.tensor([[[12.0, 100.0], [300.0, 7.0]]], dtype=torch.float64)
    labels = torch.tensor([[1, 0]])
    scaled_points = scale * (points + 0.5) - 0.5  # the same physical pixel centres
    scaled_size = (size[0] * scale, size[1] * scale)
    small = pe.encode_points(points, labels, size, gaussian, point_embeds, not_a_point, True)
    large = pe.encode_points(scaled_points, labels, scaled_size, gaussian, point_embeds, not_a_point, True)
    torch.testing.assert_close(small, large, rtol=0, atol=1e-10)
    torch.testing.assert_close(pe.normalize_coords(points * scale, scaled_size),
                               pe.normalize_coords(points, size), rtol=0, atol=1e-15)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_every_function_keeps_the_input_dtype(dtype):
    gaussian = random_gaussian(4, seed=15, dtype=dtype)
    point_embeds, not_a_point = embeddings(8, seed=16, dtype=dtype)
    points = torch.tensor([[[1.0, 2.0]]], dtype=dtype)
    assert pe.normalize_coords(points, (4, 6)).dtype == dtype
    assert pe.fourier_features(points / 10, gaussian).dtype == dtype
    assert pe.dense_positional_encoding((2, 3), gaussian).dtype == dtype
    assert pe.encode_points(points, torch.tensor([[1]]), (4, 6), gaussian, point_embeds,
                            not_a_point, True).dtype == dtype
    assert pe.encode_boxes(torch.tensor([[0.0, 0.0, 3.0, 2.0]], dtype=dtype), (4, 6), gaussian,
                           point_embeds).dtype == dtype


def test_gradients_of_encode_points_pass_gradcheck():
    gaussian = random_gaussian(3, seed=17).requires_grad_()
    point_embeds, not_a_point = embeddings(6, seed=18)
    point_embeds.requires_grad_()
    not_a_point.requires_grad_()
    points = torch.tensor([[[5.0, 9.0], [2.0, 1.0], [7.0, 3.0]]], dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([[1, 0, -1]])

    def encode(points, gaussian, point_embeds, not_a_point):
        return pe.encode_points(points, labels, (12, 10), gaussian, point_embeds, not_a_point, True)

    assert torch.autograd.gradcheck(encode, (points, gaussian, point_embeds, not_a_point))


def test_each_label_sends_gradient_to_its_own_embedding():
    gaussian = random_gaussian(3, seed=19)
    point_embeds, not_a_point = embeddings(6, seed=20)
    point_embeds.requires_grad_()
    not_a_point.requires_grad_()
    points = torch.zeros(1, 4, 2, dtype=torch.float64)
    labels = torch.tensor([[1, 1, 1, 0]])
    pe.encode_points(points, labels, (8, 8), gaussian, point_embeds, not_a_point, True).sum().backward()
    assert point_embeds.grad[1].tolist() == [3.0] * 6  # three positive clicks
    assert point_embeds.grad[0].tolist() == [1.0] * 6  # one negative click
    assert not_a_point.grad.tolist() == [1.0] * 6      # the padding point


def test_gradients_of_encode_boxes_and_dense_pass_gradcheck():
    gaussian = random_gaussian(2, seed=21).requires_grad_()
    corner_embeds, _ = embeddings(4, seed=22)
    corner_embeds.requires_grad_()
    boxes = torch.tensor([[1.0, 2.0, 6.0, 4.0]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda b, g, c: pe.encode_boxes(b, (5, 9), g, c),
                                    (boxes, gaussian, corner_embeds))
    assert torch.autograd.gradcheck(lambda g: pe.dense_positional_encoding((3, 2), g), (gaussian,))
