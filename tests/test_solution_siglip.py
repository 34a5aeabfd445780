"""solutions/siglip.py against independent facts: the lesson's traced numbers, float64
recomputation with explicit loops and math (a different formula from the vectorised one),
finite-difference gradients, and the answers the lesson's Check 1 expects."""

import importlib.util
import math
from pathlib import Path

import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sol = _load("siglip_solution_under_test", REPO / "solutions" / "siglip.py")

LESSON = [[0.9, 0.1, 0.2, 0.3],
          [0.2, 0.8, 0.1, 0.4],
          [0.1, 0.3, 0.7, 0.2],
          [0.3, 0.2, 0.1, 0.6]]


def lesson_embeddings(dtype=torch.float64):
    sim = torch.tensor(LESSON, dtype=torch.float64)
    spare = (1 - (sim ** 2).sum(1, keepdim=True)).sqrt()
    return torch.cat([sim, spare], 1).to(dtype), torch.eye(4, 5, dtype=dtype)


def t64(value):
    return torch.tensor(float(value), dtype=torch.float64)


def batch(seed, n, d, dtype=torch.float64, m=None):
    g = torch.Generator().manual_seed(seed)
    image = torch.randn(n, d, generator=g, dtype=torch.float64) * 3
    text = torch.randn(n if m is None else m, d, generator=g, dtype=torch.float64) * 0.5
    return image.to(dtype), text.to(dtype)


# ---- explicit-loop recomputations (plain Python floats) --------------------------------------

def loop_cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    norm_a = max(math.sqrt(sum(x * x for x in a)), 1e-12)
    norm_b = max(math.sqrt(sum(y * y for y in b)), 1e-12)
    return dot / (norm_a * norm_b)


def loop_similarity(image, text):
    return [[loop_cosine(i, t) for t in text.tolist()] for i in image.tolist()]


def softplus(x):
    """log(1 + e^x), without overflow."""
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def loop_pair_losses(image, text, t_prime, bias):
    sim = loop_similarity(image, text)
    scale = math.exp(float(t_prime))
    return [[softplus(-(1.0 if i == j else -1.0) * (scale * s + float(bias))) for j, s in enumerate(row)]
            for i, row in enumerate(sim)]


def loop_clip(image, text, t_prime):
    logits = [[math.exp(float(t_prime)) * s for s in row] for row in loop_similarity(image, text)]
    n = len(logits)

    def cross_entropy(rows):
        total = 0.0
        for i, row in enumerate(rows):
            top = max(row)
            total += top + math.log(sum(math.exp(v - top) for v in row)) - row[i]
        return total / n

    columns = [[logits[i][j] for i in range(n)] for j in range(n)]
    return (cross_entropy(logits) + cross_entropy(columns)) / 2


# ---- the lesson's numbers ------------------------------------------------------------------

def test_lesson_embeddings_give_the_lesson_matrix():
    image, text = lesson_embeddings()
    assert torch.allclose(sol.similarity_matrix(image, text), torch.tensor(LESSON, dtype=torch.float64), atol=1e-12)


def test_golden_cells_of_the_lesson():
    image, text = lesson_embeddings()
    cells = sol.siglip_pair_losses(image, text, t64(math.log(10)), t64(0.0))
    assert abs(cells[0, 0].item() - 0.00012) < 5e-6        # -log sigmoid(9), the match with similarity 0.9
    assert abs(cells[0, 2].item() - 2.13) < 5e-3           # -log sigmoid(-2), the mismatch with similarity 0.2
    assert math.isclose(cells[0, 0].item(), math.log1p(math.exp(-9.0)), rel_tol=1e-9)
    assert math.isclose(cells[0, 2].item(), math.log1p(math.exp(2.0)), rel_tol=1e-9)


def test_initial_bias_makes_negatives_nearly_free():
    """Scale 10, bias -10: an orthogonal (cosine 0) negative costs log(1 + e^-10); a perfect match has logit 0."""
    image, text = torch.eye(3, dtype=torch.float64), torch.eye(3, dtype=torch.float64)
    cells = sol.siglip_pair_losses(image, text, t64(math.log(10)), t64(-10.0))
    assert math.isclose(cells[0, 1].item(), math.log1p(math.exp(-10.0)), rel_tol=1e-9)   # ~4.5e-5
    assert math.isclose(cells[0, 0].item(), math.log1p(math.exp(0.0)), rel_tol=1e-9)     # logit 10 - 10 = 0


# ---- float64 recomputation by explicit loops ------------------------------------------------

@pytest.mark.parametrize("n, m, d", [(1, 1, 3), (3, 5, 4), (6, 2, 7)])
def test_similarity_matrix_matches_loops(n, m, d):
    image, text = batch(n * 10 + m, n, d, m=m)
    out = sol.similarity_matrix(image, text)
    assert out.shape == (n, m)
    assert torch.allclose(out, torch.tensor(loop_similarity(image, text), dtype=torch.float64), atol=1e-12)


def test_similarity_of_a_zero_row_is_zero():
    image, text = batch(7, 3, 4)
    image[1] = 0.0
    out = sol.similarity_matrix(image, text)
    assert torch.isfinite(out).all() and (out[1] == 0).all()


@pytest.mark.parametrize("n, d, t_prime", [(1, 3, 1.0), (4, 5, math.log(1 / 0.07)), (7, 3, 0.3)])
def test_clip_loss_matches_loops(n, d, t_prime):
    image, text = batch(n + 100, n, d)
    assert math.isclose(sol.clip_loss(image, text, t64(t_prime)).item(), loop_clip(image, text, t_prime),
                        rel_tol=1e-10, abs_tol=1e-12)


@pytest.mark.parametrize("n, d, t_prime, bias", [(1, 2, 0.5, -1.0), (4, 6, math.log(10), -10.0), (9, 3, 2.0, 0.7)])
def test_pair_losses_and_loss_match_loops(n, d, t_prime, bias):
    image, text = batch(n + 200, n, d)
    expected = loop_pair_losses(image, text, t_prime, bias)
    cells = sol.siglip_pair_losses(image, text, t64(t_prime), t64(bias))
    assert torch.allclose(cells, torch.tensor(expected, dtype=torch.float64), rtol=1e-10, atol=1e-14)
    total = sum(sum(row) for row in expected) / n    # the paper's normalisation: sum over N^2 cells, / N
    assert math.isclose(sol.siglip_loss(image, text, t64(t_prime), t64(bias)).item(), total, rel_tol=1e-10)


def test_pair_losses_are_stable_for_huge_logits():
    image = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    cells = sol.siglip_pair_losses(image, -image, torch.tensor(math.log(200.0)), torch.tensor(0.0))
    assert torch.isfinite(cells).all()
    assert torch.allclose(cells, torch.full((2, 2), 200.0), rtol=1e-5)


# ---- chunking --------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 5, 8])
def test_chunked_equals_full_for_every_chunk_size(n):
    image, text = batch(n + 300, n, 4)
    full = sol.siglip_loss(image, text, t64(1.2), t64(-2.0))
    for chunk_size in range(1, n + 3):
        chunked = sol.siglip_loss_chunked(image, text, t64(1.2), t64(-2.0), chunk_size)
        assert math.isclose(chunked.item(), full.item(), rel_tol=1e-12), chunk_size


@pytest.mark.parametrize("chunk_size", [2, 3, 7])
def test_chunked_gradients_equal_full_gradients(chunk_size):
    image, text = batch(400, 7, 4)

    def grads(fn, *extra):
        leaves = [image.clone().requires_grad_(), text.clone().requires_grad_(), t64(0.8).requires_grad_(),
                  t64(-1.5).requires_grad_()]
        fn(*leaves, *extra).backward()
        return [leaf.grad for leaf in leaves]

    for full, chunked in zip(grads(sol.siglip_loss), grads(sol.siglip_loss_chunked, chunk_size)):
        assert torch.allclose(full, chunked, rtol=1e-10, atol=1e-12)


# ---- finite-difference gradients --------------------------------------------------------------

def _leaves(n, d, m=None):
    image, text = batch(n * 7 + d, n, d, m=m)
    return image.requires_grad_(), text.requires_grad_()


def test_gradcheck_similarity_matrix():
    assert torch.autograd.gradcheck(sol.similarity_matrix, _leaves(3, 4, m=2))


def test_gradcheck_clip_loss():
    image, text = _leaves(4, 3)
    assert torch.autograd.gradcheck(sol.clip_loss, (image, text, t64(0.7).requires_grad_()))


@pytest.mark.parametrize("name", ["siglip_pair_losses", "siglip_loss"])
def test_gradcheck_siglip(name):
    image, text = _leaves(4, 3)
    args = (image, text, t64(0.9).requires_grad_(), t64(-1.3).requires_grad_())
    assert torch.autograd.gradcheck(getattr(sol, name), args)


def test_gradcheck_chunked_with_a_ragged_last_chunk():
    image, text = _leaves(5, 3)
    args = (image, text, t64(0.9).requires_grad_(), t64(-1.3).requires_grad_())
    assert torch.autograd.gradcheck(lambda *a: sol.siglip_loss_chunked(*a, 2), args)


# ---- dtype and device ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_outputs_keep_dtype(dtype):
    image, text = batch(500, 4, 3, dtype)
    t_prime, bias = torch.tensor(1.0, dtype=dtype), torch.tensor(-1.0, dtype=dtype)
    outputs = [sol.similarity_matrix(image, text), sol.clip_loss(image, text, t_prime),
               sol.siglip_pair_losses(image, text, t_prime, bias), sol.siglip_loss(image, text, t_prime, bias),
               sol.siglip_loss_chunked(image, text, t_prime, bias, 3)]
    assert all(out.dtype == dtype and out.device == image.device for out in outputs)
    predictions = sol.zero_shot_classify(image, text.reshape(2, 2, 3))
    assert predictions.dtype == torch.int64 and predictions.shape == (4,)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_outputs_stay_on_cuda():
    image, text = (x.cuda() for x in batch(501, 4, 3))
    out = sol.siglip_loss_chunked(image, text, t64(1.0).cuda(), t64(-1.0).cuda(), 3)
    assert out.is_cuda and sol.zero_shot_classify(image, text.reshape(2, 2, 3)).is_cuda


# ---- zero-shot classification -----------------------------------------------------------------

def loop_zero_shot(image, prompts):
    predictions = []
    for img in image.tolist():
        scores = []
        for class_prompts in prompts.tolist():
            units = [[x / max(math.sqrt(sum(v * v for v in p)), 1e-12) for x in p] for p in class_prompts]
            mean = [sum(column) / len(units) for column in zip(*units)]
            scores.append(loop_cosine(img, mean))
        predictions.append(max(range(len(scores)), key=lambda k: (scores[k], -k)))
    return predictions


def test_zero_shot_matches_loops():
    g = torch.Generator().manual_seed(600)
    image = torch.randn(20, 5, generator=g, dtype=torch.float64)
    prompts = torch.randn(4, 3, 5, generator=g, dtype=torch.float64) * torch.rand(4, 3, 1, generator=g, dtype=torch.float64) * 9
    assert sol.zero_shot_classify(image, prompts).tolist() == loop_zero_shot(image, prompts)


def test_zero_shot_ties_go_to_the_lowest_index():
    prompts = torch.tensor([[[0.0, 1.0]], [[1.0, 0.0]], [[1.0, 0.0]]])
    assert sol.zero_shot_classify(torch.tensor([[2.0, 0.1], [0.1, 2.0]]), prompts).tolist() == [1, 0]


def test_zero_shot_ignores_prompt_lengths():
    g = torch.Generator().manual_seed(601)
    image = torch.randn(30, 6, generator=g, dtype=torch.float64)
    prompts = torch.randn(5, 4, 6, generator=g, dtype=torch.float64)
    stretched = prompts * torch.exp(4 * torch.rand(5, 4, 1, generator=g, dtype=torch.float64) - 2)
    assert torch.equal(sol.zero_shot_classify(image, prompts), sol.zero_shot_classify(image, stretched))


# ---- Check 1: the rubric's expected answers follow from the computations -------------------------

def _check_answers():
    rubric = yaml.safe_load((REPO / "rubrics" / "siglip.yaml").read_text())
    return {check["variable"]: check["expected"] for check in rubric["checks"]}


def _grad_of_text1(loss_fn, text, *params):
    image, _ = lesson_embeddings()
    text = text.clone().requires_grad_()
    loss_fn(image, text, *params).backward()
    return text.grad[1]


def _does_grad_01_depend_on_03(loss_fn, *params):
    image, text = lesson_embeddings()
    moved = text.clone()
    moved[3] = image[0]
    return not torch.allclose(_grad_of_text1(loss_fn, text, *params), _grad_of_text1(loss_fn, moved, *params))


def test_check1_gradient_dependence_answers():
    answers = _check_answers()
    assert _does_grad_01_depend_on_03(sol.clip_loss, t64(math.log(1 / 0.07))) is answers["check_clip_grad_01_depends_on_03"]
    assert _does_grad_01_depend_on_03(sol.siglip_loss, t64(math.log(10)), t64(0.0)) is answers["check_siglip_grad_01_depends_on_03"]


def test_check1_which_cell_changes_when_1000_pairs_join():
    image, text = lesson_embeddings()
    g = torch.Generator().manual_seed(700)
    big_image = torch.cat([image, torch.randn(1000, 5, generator=g, dtype=torch.float64)])
    big_text = torch.cat([text, torch.randn(1000, 5, generator=g, dtype=torch.float64)])

    def clip_probability(img, txt):
        return torch.softmax(10 * sol.similarity_matrix(img, txt)[0], dim=0)[1].item()

    def siglip_cell(img, txt):
        return sol.siglip_pair_losses(img, txt, t64(math.log(10)), t64(0.0))[0, 1].item()

    clip_changes = not math.isclose(clip_probability(image, text), clip_probability(big_image, big_text), rel_tol=1e-9)
    siglip_changes = not math.isclose(siglip_cell(image, text), siglip_cell(big_image, big_text), rel_tol=1e-12)
    assert (clip_changes, siglip_changes) == (True, False)
    assert _check_answers()["check_cell_01_changes_with_1000_pairs"] == "clip"


def test_check1_loss_term_counts():
    answers = _check_answers()
    image, text = lesson_embeddings()
    assert sol.siglip_pair_losses(image, text, t64(1.0), t64(0.0)).numel() == answers["check_siglip_loss_terms_n4"] == 16
    logits = sol.similarity_matrix(image, text)
    row_terms = torch.nn.functional.cross_entropy(logits, torch.arange(4), reduction="none").numel()
    column_terms = torch.nn.functional.cross_entropy(logits.T, torch.arange(4), reduction="none").numel()
    assert row_terms + column_terms == answers["check_clip_loss_terms_n4"] == 8
