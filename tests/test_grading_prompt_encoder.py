"""The prompt_encoder assignment graded end to end: the reference scores full marks and flags
nothing, the stub scores zero, and each anticipated wrong version (written the way a student
would, appended after the reference) fails the right functions with the right ids."""

import pytest

from autograder.grading import grade
from notebook_tools import notebook_with_cells, solved_notebook, stub_notebook, write_notebook

SLUG = "prompt_encoder"
ID = "impl.prompt_encoder."
CONTRACT = {"normalize_coords", "fourier_features", "dense_positional_encoding", "encode_points", "encode_boxes"}
DOWNSTREAM_OF_FOURIER = {"fourier_features", "dense_positional_encoding", "encode_points", "encode_boxes"}

NO_2PI = '''
def fourier_features(coords01, gaussian):
    projected = (2 * coords01 - 1) @ gaussian
    return torch.cat([torch.sin(projected), torch.cos(projected)], dim=-1)
'''

COS_FIRST = '''
def fourier_features(coords01, gaussian):
    phase = 2 * math.pi * ((2 * coords01 - 1) @ gaussian)
    return torch.cat([torch.cos(phase), torch.sin(phase)], dim=-1)
'''

NO_RECENTRE = '''
def fourier_features(coords01, gaussian):
    phase = 2 * math.pi * (coords01 @ gaussian)
    return torch.cat([torch.sin(phase), torch.cos(phase)], dim=-1)
'''

TRANSFORMER = '''
def fourier_features(coords01, gaussian):
    half = gaussian.shape[1] // 2
    ladder = 1.0 / 10000 ** (torch.arange(half, dtype=coords01.dtype, device=coords01.device) * 2 / gaussian.shape[1])
    phase = torch.cat([coords01[..., :1] * ladder, coords01[..., 1:] * ladder], dim=-1)
    return torch.cat([torch.sin(phase), torch.cos(phase)], dim=-1)
'''

XY_SWAPPED = '''
def normalize_coords(coords, image_size):
    height, width = image_size
    return torch.stack([coords[..., 0] / height, coords[..., 1] / width], dim=-1)
'''

NO_PIXEL_CENTRE = '''
def dense_positional_encoding(grid_hw, gaussian):
    h, w = grid_hw
    rows = torch.arange(h, dtype=gaussian.dtype, device=gaussian.device) / h
    cols = torch.arange(w, dtype=gaussian.dtype, device=gaussian.device) / w
    ys, xs = torch.meshgrid(rows, cols, indexing="ij")
    return fourier_features(torch.stack([xs, ys], dim=-1), gaussian).permute(2, 0, 1)

def encode_points(points, labels, image_size, gaussian, point_embeds, not_a_point_embed, pad):
    if pad:
        points = torch.cat([points, torch.zeros_like(points[:, :1])], dim=1)
        labels = torch.cat([labels, torch.full_like(labels[:, :1], -1)], dim=1)
    tokens = fourier_features(normalize_coords(points, image_size), gaussian).clone()
    tokens[labels == -1] = not_a_point_embed
    tokens[labels == 0] += point_embeds[0]
    tokens[labels == 1] += point_embeds[1]
    return tokens

def encode_boxes(boxes, image_size, gaussian, corner_embeds):
    corners = boxes.reshape(-1, 2, 2)
    return fourier_features(normalize_coords(corners, image_size), gaussian) + corner_embeds
'''

SWAPS = '''
_correct_encode_points = encode_points
def encode_points(points, labels, image_size, gaussian, point_embeds, not_a_point_embed, pad):
    return _correct_encode_points(points, labels, image_size, gaussian, point_embeds.flip(0), not_a_point_embed, pad)

def encode_boxes(boxes, image_size, gaussian, corner_embeds):
    corners = (boxes + 0.5).reshape(-1, 2, 2)
    return fourier_features(normalize_coords(corners, image_size), gaussian) + corner_embeds.flip(0)

def dense_positional_encoding(grid_hw, gaussian):
    h, w = grid_hw
    rows = (torch.arange(h, dtype=gaussian.dtype) + 0.5) / h
    cols = (torch.arange(w, dtype=gaussian.dtype) + 0.5) / w
    ys, xs = torch.meshgrid(rows, cols, indexing="ij")
    return fourier_features(torch.stack([ys, xs], dim=-1), gaussian).permute(2, 0, 1)
'''

PADDING_ADDED = '''
def encode_points(points, labels, image_size, gaussian, point_embeds, not_a_point_embed, pad):
    points = points + 0.5
    if pad:
        points = torch.cat([points, torch.zeros_like(points[:, :1])], dim=1)
        labels = torch.cat([labels, torch.full_like(labels[:, :1], -1)], dim=1)
    tokens = fourier_features(normalize_coords(points, image_size), gaussian)
    kind = labels.unsqueeze(-1)
    return tokens + (kind == -1) * not_a_point_embed + (kind == 0) * point_embeds[0] + (kind == 1) * point_embeds[1]
'''

WRONG_ANSWERS = '''
mcq_what_sam_returns = "a"
mcq_unseen_object = "b"
mcq_light_prompt_encoder = "c"
mcq_why_random_projection = "a"
check_channel_count = 128
'''

PAD_IGNORED = '''
_reference_encode_points = encode_points
def encode_points(points, labels, image_size, gaussian, point_embeds, not_a_point_embed, pad):
    return _reference_encode_points(points, labels, image_size, gaussian, point_embeds, not_a_point_embed, False)
'''

FIXED_1024 = '''
def normalize_coords(coords, image_size):
    return coords / 1024.0
'''

SHIFT_INSIDE_NORMALIZE = '''
def normalize_coords(coords, image_size):
    height, width = image_size
    return (coords + 0.5) / torch.tensor([width, height], dtype=coords.dtype, device=coords.device)
'''

DETACHED_EMBEDDINGS = '''
_reference_encode_points = encode_points
def encode_points(points, labels, image_size, gaussian, point_embeds, not_a_point_embed, pad):
    return _reference_encode_points(points, labels, image_size, gaussian, point_embeds.detach(),
                                    not_a_point_embed.detach(), pad)
'''

WRONG_VERSIONS = {
    # name: (cells, failing code targets, misconception ids)
    "missing-2pi": ([NO_2PI], DOWNSTREAM_OF_FOURIER, {ID + "missing-2pi"}),
    "cos-first": ([COS_FIRST], DOWNSTREAM_OF_FOURIER, {ID + "cos-first"}),
    "no-recentre": ([NO_RECENTRE], DOWNSTREAM_OF_FOURIER, {ID + "no-recentre"}),
    "transformer-frequencies": ([TRANSFORMER], DOWNSTREAM_OF_FOURIER, {ID + "transformer-frequencies"}),
    "xy-swapped": ([XY_SWAPPED], {"normalize_coords", "encode_points", "encode_boxes"}, {ID + "xy-swapped"}),
    "no-pixel-centre": ([NO_PIXEL_CENTRE], {"dense_positional_encoding", "encode_points", "encode_boxes"},
                        {ID + "no-pixel-centre"}),
    "labels-corners-grid-swapped": ([SWAPS], {"dense_positional_encoding", "encode_points", "encode_boxes"},
                                    {ID + "labels-swapped", ID + "corners-swapped", ID + "xy-swapped"}),
    "padding-not-replaced-and-wrong-answers": (
        [PADDING_ADDED, WRONG_ANSWERS], {"encode_points"},
        {ID + "padding-not-replaced", ID + "raw-coordinates-enough", "sam.is-classifier",
         "sam.retrain-per-object", "sam.encoder-per-prompt"}),
    "padding-ignored": ([PAD_IGNORED], {"encode_points"}, {ID + "padding-misplaced"}),
    "fixed-1024": ([FIXED_1024], {"normalize_coords", "encode_points", "encode_boxes"}, {ID + "wrong-normaliser"}),
    "shift-in-normalize": ([SHIFT_INSIDE_NORMALIZE], {"normalize_coords", "encode_points", "encode_boxes"},
                           {ID + "shift-in-normalize"}),
}


def graded(notebook, tmp_path):
    return grade(write_notebook(notebook, tmp_path / f"{SLUG}.ipynb"), SLUG)


def code_tests(report):
    return [t for t in report.tests if t.kind != "check"]


@pytest.mark.slow
def test_reference_scores_full_marks_and_flags_nothing(tmp_path):
    report = graded(solved_notebook(SLUG), tmp_path)
    failing = [(t.name, t.status, t.message[:200]) for t in report.tests if t.status != "passed"]
    assert failing == []
    assert report.score == report.max_score > 0
    assert report.misconceptions == []
    assert {t.target for t in code_tests(report)} == CONTRACT
    assert {t.kind for t in code_tests(report)} >= {"correctness", "gradient", "property"}


@pytest.mark.slow
def test_stub_notebook_scores_zero_cleanly(tmp_path):
    report = graded(stub_notebook(SLUG), tmp_path)
    assert report.score == 0 and report.max_score > 0
    assert {t.status for t in report.tests} == {"not_implemented"}
    assert report.misconceptions == []


@pytest.mark.slow
@pytest.mark.parametrize("name", list(WRONG_VERSIONS))
def test_wrong_version_fails_its_functions_with_its_ids(name, tmp_path):
    cells, failing_targets, ids = WRONG_VERSIONS[name]
    report = graded(notebook_with_cells(SLUG, cells), tmp_path)
    failing_code = {t.target for t in code_tests(report) if t.status != "passed"}
    assert failing_code == failing_targets
    assert report.misconception_ids() == ids
    assert all(hit.remedy for hit in report.misconceptions), "every id needs a catalogue remedy"
    assert 0 < report.score < report.max_score


@pytest.mark.slow
def test_detached_embeddings_fail_only_the_gradient_test(tmp_path):
    report = graded(notebook_with_cells(SLUG, [DETACHED_EMBEDDINGS]), tmp_path)
    failing = [t for t in report.tests if t.status != "passed"]
    assert [(t.target, t.kind) for t in failing] == [("encode_points", "gradient")]
    assert "no gradient reached point_embeds" in failing[0].message
    assert report.misconceptions == []
