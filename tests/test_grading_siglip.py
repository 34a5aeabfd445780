"""The siglip assignment graded end to end: the reference scores full marks and flags nothing,
the untouched stub scores zero, and wrong submissions (the reference plus cells redefining
some functions the way a student might get them wrong) fail the right targets with the right
misconception ids. Functions that do not call each other are broken together in one notebook
to keep the number of gradings small."""

from pathlib import Path

import pytest

from autograder.grading import grade
from notebook_tools import notebook_with_cells, solved_notebook, stub_notebook, write_notebook

pytestmark = pytest.mark.slow

ALL_CODE_TARGETS = {"similarity_matrix", "clip_loss", "siglip_pair_losses", "siglip_loss", "siglip_loss_chunked",
                    "zero_shot_classify"}


def _grade(tmp_path: Path, notebook):
    return grade(write_notebook(notebook, tmp_path / "submission.ipynb"), "siglip")



def test_reference_solution_scores_full_marks_and_flags_nothing(tmp_path):
    report = _grade(tmp_path, solved_notebook("siglip"))
    assert [test.name for test in report.tests if test.status != "passed"] == []
    assert report.score == report.max_score > 0
    assert report.misconceptions == []
    assert {test.target for test in report.tests} >= ALL_CODE_TARGETS
    assert {test.kind for test in report.tests} >= {"correctness", "gradient", "property", "check"}


def test_untouched_stub_notebook_scores_zero_without_crashing(tmp_path):
    report = _grade(tmp_path, stub_notebook("siglip"))
    assert report.score == 0 and report.max_score > 0
    assert {test.status for test in report.tests} == {"not_implemented"}
    assert report.misconceptions == []


PAIR_LOSSES_SOFTMAX = '''
def siglip_pair_losses(image_emb, text_emb, t_prime, bias):
    logits = torch.exp(t_prime) * similarity_matrix(image_emb, text_emb) + bias
    probs = torch.softmax(logits, dim=1)
    eye = torch.eye(logits.shape[0], dtype=torch.bool, device=logits.device)
    return torch.where(eye, -torch.log(probs), -torch.log(1 - probs))
'''

PAIR_LOSSES_DIAGONAL_ONLY = '''
def siglip_pair_losses(image_emb, text_emb, t_prime, bias):
    logits = torch.exp(t_prime) * similarity_matrix(image_emb, text_emb) + bias
    eye = torch.eye(logits.shape[0], dtype=logits.dtype, device=logits.device)
    return -F.logsigmoid(logits) * eye
'''

PAIR_LOSSES_ZERO_ONE = '''
def siglip_pair_losses(image_emb, text_emb, t_prime, bias):
    logits = torch.exp(t_prime) * similarity_matrix(image_emb, text_emb) + bias
    labels = torch.eye(logits.shape[0], dtype=logits.dtype, device=logits.device)
    return -F.logsigmoid(labels * logits)
'''

PAIR_LOSSES_RAW_T_PRIME = '''
def siglip_pair_losses(image_emb, text_emb, t_prime, bias):
    logits = t_prime * similarity_matrix(image_emb, text_emb) + bias
    labels = 2 * torch.eye(logits.shape[0], dtype=logits.dtype, device=logits.device) - 1
    return -F.logsigmoid(labels * logits)
'''

PAIR_LOSSES_LOG_OF_SIGMOID = '''
def siglip_pair_losses(image_emb, text_emb, t_prime, bias):
    logits = torch.exp(t_prime) * similarity_matrix(image_emb, text_emb) + bias
    labels = 2 * torch.eye(logits.shape[0], dtype=logits.dtype, device=logits.device) - 1
    return -torch.log(torch.sigmoid(labels * logits))
'''

SIMILARITY_UNNORMALISED = '''
def similarity_matrix(image_emb, text_emb):
    return image_emb @ text_emb.T
'''

LOSS_MEAN_AND_CHUNKED_MEAN = '''
def siglip_loss(image_emb, text_emb, t_prime, bias):
    return siglip_pair_losses(image_emb, text_emb, t_prime, bias).mean()

def siglip_loss_chunked(image_emb, text_emb, t_prime, bias, chunk_size):
    n = image_emb.shape[0]
    total = 0.0
    for start in range(0, n, chunk_size):
        block = text_emb[start:start + chunk_size]
        logits = torch.exp(t_prime) * similarity_matrix(image_emb, block) + bias
        z = -torch.ones_like(logits)
        cols = torch.arange(block.shape[0], device=logits.device)
        z[cols + start, cols] = 1.0
        total = total + (-F.logsigmoid(z * logits)).sum()
    return total / (n * n)
'''

CHUNKED_FLOOR_DIVISION = '''
def siglip_loss_chunked(image_emb, text_emb, t_prime, bias, chunk_size):
    n = image_emb.shape[0]
    total = 0.0
    for c in range(n // chunk_size):
        start = c * chunk_size
        block = text_emb[start:start + chunk_size]
        logits = torch.exp(t_prime) * similarity_matrix(image_emb, block) + bias
        z = -torch.ones_like(logits)
        cols = torch.arange(block.shape[0], device=logits.device)
        z[cols + start, cols] = 1.0
        total = total + (-F.logsigmoid(z * logits)).sum()
    return total / n
'''

CHUNKED_LOCAL_DIAGONAL = '''
def siglip_loss_chunked(image_emb, text_emb, t_prime, bias, chunk_size):
    n = image_emb.shape[0]
    total = image_emb.new_zeros(())
    for start in range(0, n, chunk_size):
        block = text_emb[start:start + chunk_size]
        logits = torch.exp(t_prime) * similarity_matrix(image_emb, block) + bias
        z = 2 * torch.eye(n, block.shape[0], dtype=logits.dtype, device=logits.device) - 1
        total = total - F.logsigmoid(z * logits).sum()
    return total / n
'''

CHUNKED_DETACHED_T_PRIME = '''
def siglip_loss_chunked(image_emb, text_emb, t_prime, bias, chunk_size):
    n = image_emb.shape[0]
    scale = math.exp(t_prime.item())
    total = image_emb.new_zeros(())
    for start in range(0, n, chunk_size):
        block = text_emb[start:start + chunk_size]
        logits = scale * similarity_matrix(image_emb, block) + bias
        z = -torch.ones_like(logits)
        cols = torch.arange(block.shape[0], device=logits.device)
        z[cols + start, cols] = 1.0
        total = total - F.logsigmoid(z * logits).sum()
    return total / n
'''

CHUNKED_BIAS_SUBTRACTED = '''
def siglip_loss_chunked(image_emb, text_emb, t_prime, bias, chunk_size):
    n = image_emb.shape[0]
    total = image_emb.new_zeros(())
    for start in range(0, n, chunk_size):
        block = text_emb[start:start + chunk_size]
        logits = torch.exp(t_prime) * similarity_matrix(image_emb, block) - bias
        z = -torch.ones_like(logits)
        cols = torch.arange(block.shape[0], device=logits.device)
        z[cols + start, cols] = 1.0
        total = total - F.logsigmoid(z * logits).sum()
    return total / n
'''

CLIP_ROWS_ONLY = '''
def clip_loss(image_emb, text_emb, t_prime):
    logits = torch.exp(t_prime) * similarity_matrix(image_emb, text_emb)
    return F.cross_entropy(logits, torch.arange(logits.shape[0], device=logits.device))
'''

CLIP_NO_TEMPERATURE = '''
def clip_loss(image_emb, text_emb, t_prime):
    logits = similarity_matrix(image_emb, text_emb)
    targets = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2
'''

CLIP_NOT_HALVED = '''
def clip_loss(image_emb, text_emb, t_prime):
    logits = torch.exp(t_prime) * similarity_matrix(image_emb, text_emb)
    targets = torch.arange(logits.shape[0], device=logits.device)
    return F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)
'''

ZERO_SHOT_RAW_MEAN = '''
def zero_shot_classify(image_emb, class_prompt_emb):
    classes = F.normalize(class_prompt_emb.mean(dim=1), dim=-1)
    return (F.normalize(image_emb, dim=-1) @ classes.T).argmax(dim=1)
'''

ZERO_SHOT_LAST_ON_TIES = '''
def zero_shot_classify(image_emb, class_prompt_emb):
    classes = F.normalize(F.normalize(class_prompt_emb, dim=-1).mean(dim=1), dim=-1)
    scores = F.normalize(image_emb, dim=-1) @ classes.T
    return scores.shape[1] - 1 - scores.flip(1).argmax(dim=1)
'''

ZERO_SHOT_FIRST_PROMPT = '''
def zero_shot_classify(image_emb, class_prompt_emb):
    return similarity_matrix(image_emb, class_prompt_emb[:, 0, :]).argmax(dim=1)
'''

ZERO_SHOT_MEAN_OF_COSINES = '''
def zero_shot_classify(image_emb, class_prompt_emb):
    cosines = torch.einsum("nd,kpd->nkp", F.normalize(image_emb, dim=-1), F.normalize(class_prompt_emb, dim=-1))
    return cosines.mean(dim=2).argmax(dim=1)
'''

WRONG_SUBMISSIONS = {
    # name: (cells appended after the reference, targets that must fail, targets that must pass, exact ids)
    "softmax-coupled, one-direction CLIP, raw prompt mean, dropped last chunk": (
        [PAIR_LOSSES_SOFTMAX, CLIP_ROWS_ONLY, ZERO_SHOT_RAW_MEAN, CHUNKED_FLOOR_DIVISION,
         'check_siglip_grad_01_depends_on_03 = True\nmcq_siglip_vs_clip = "a"\nmcq_what_siglip_produces = "b"'],
        {"siglip_pair_losses", "siglip_loss", "clip_loss", "zero_shot_classify", "siglip_loss_chunked",
         "check:siglip-grad-01-depends-on-03", "check:mcq-siglip-vs-clip", "check:mcq-what-siglip-produces"},
        {"similarity_matrix"},
        {"siglip.batch-dependency-is-data", "impl.siglip.clip-directions", "impl.siglip.prompt-ensemble-normalisation",
         "impl.siglip.chunk-remainder-dropped", "siglip.different-from-clip", "module.vlm-is-chat-llm"},
    ),
    "diagonal-only, CLIP without temperature, ties to the last class, chunk labels on the local diagonal": (
        [PAIR_LOSSES_DIAGONAL_ONLY, CLIP_NO_TEMPERATURE, ZERO_SHOT_LAST_ON_TIES, CHUNKED_LOCAL_DIAGONAL,
         'check_siglip_loss_terms_n4 = 4\nmcq_sigmoid_and_negatives = "a"'],
        {"siglip_pair_losses", "siglip_loss", "clip_loss", "zero_shot_classify", "siglip_loss_chunked",
         "check:siglip-loss-terms-n4", "check:mcq-sigmoid-and-negatives"},
        {"similarity_matrix"},
        {"siglip.wastes-negatives", "impl.siglip.temperature-misuse", "impl.siglip.zero-shot-tie-break",
         "impl.siglip.chunk-label-offset"},
    ),
    "un-normalised similarity, and wrong answers about batches and SigLIP 2": (
        [SIMILARITY_UNNORMALISED,
         'mcq_why_clip_needs_big_batches = "a"\nmcq_siglip_and_batch_size = "b"\n'
         'mcq_siglip2_contribution = "a"\nmcq_self_distillation_teacher = "a"'],
        {"similarity_matrix", "clip_loss", "siglip_pair_losses", "siglip_loss", "siglip_loss_chunked"},
        {"zero_shot_classify"},  # a positive scale per image row cannot change an argmax over classes
        {"impl.siglip.unnormalised-embeddings", "siglip.batch-dependency-is-data", "siglip.small-batch-only",
         "siglip.v2-is-just-the-loss", "siglip.self-distillation-is-kd"},
    ),
    "0/1 labels, un-halved CLIP, first prompt only": (
        [PAIR_LOSSES_ZERO_ONE, CLIP_NOT_HALVED, ZERO_SHOT_FIRST_PROMPT],
        {"siglip_pair_losses", "siglip_loss", "clip_loss", "zero_shot_classify"},
        {"similarity_matrix"},
        {"impl.siglip.zero-one-labels", "impl.siglip.clip-directions", "impl.siglip.no-prompt-ensemble"},
    ),
    "mean over N^2 cells, mean of prompt cosines": (
        [LOSS_MEAN_AND_CHUNKED_MEAN, ZERO_SHOT_MEAN_OF_COSINES],
        {"siglip_loss", "siglip_loss_chunked", "zero_shot_classify"},
        {"similarity_matrix", "clip_loss", "siglip_pair_losses"},
        {"impl.siglip.n2-normalisation", "impl.siglip.prompt-ensemble-normalisation"},
    ),
    "t_prime not exponentiated, chunked loss detached from t_prime": (
        [PAIR_LOSSES_RAW_T_PRIME, CHUNKED_DETACHED_T_PRIME],
        {"siglip_pair_losses", "siglip_loss", "siglip_loss_chunked"},
        {"similarity_matrix", "clip_loss", "zero_shot_classify"},
        {"impl.siglip.temperature-misuse", "impl.siglip.breaks-autograd"},
    ),
    "log(sigmoid()), chunked loss with the bias subtracted": (
        [PAIR_LOSSES_LOG_OF_SIGMOID, CHUNKED_BIAS_SUBTRACTED],
        {"siglip_pair_losses", "siglip_loss_chunked"},
        {"similarity_matrix", "clip_loss", "siglip_loss", "zero_shot_classify"},
        {"impl.siglip.unstable-log-sigmoid", "impl.siglip.bias-misuse"},
    ),
}


@pytest.mark.parametrize("name", list(WRONG_SUBMISSIONS))
def test_wrong_submission_fails_the_right_targets_with_the_right_ids(tmp_path, name):
    cells, must_fail, must_pass, ids = WRONG_SUBMISSIONS[name]
    report = _grade(tmp_path, notebook_with_cells("siglip", cells))
    failing = report.failing_targets()
    assert must_fail <= failing, f"expected to fail: {sorted(must_fail - failing)}"
    assert not (must_pass & failing), f"expected to pass: {sorted(must_pass & failing)}"
    assert report.misconception_ids() == ids
    for hit in report.misconceptions:
        assert hit.planned == (not hit.id.startswith("impl.")) and hit.remedy and hit.evidence
