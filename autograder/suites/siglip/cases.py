"""Inputs for the siglip references and the hidden suite: the lesson's 4x4 batch and seeded
random batches built so that every anticipated mistake changes the result.

Trusted code shared by generate_references.py and the hidden suite (which passes its own
per-run generator, so the fresh inputs differ on every grading run).
"""

import math

import torch

# The lesson's worked similarity matrix (plans/002, Check 1): image i (row) against text j.
LESSON_SIMILARITY = (
    (0.9, 0.1, 0.2, 0.3),
    (0.2, 0.8, 0.1, 0.4),
    (0.1, 0.3, 0.7, 0.2),
    (0.3, 0.2, 0.1, 0.6),
)
LESSON_T_PRIME = math.log(10.0)   # the lesson traces cells with a scale of 10 and no bias
SIGLIP_T_PRIME_INIT = math.log(10.0)
SIGLIP_BIAS_INIT = -10.0
CLIP_T_PRIME_INIT = math.log(1 / 0.07)


def lesson_embeddings(dtype=torch.float64):
    """Unit embeddings [4, 5] whose cosine similarity matrix is exactly LESSON_SIMILARITY.

    Text j is the basis vector e_j; image i carries row i of the matrix in its first four
    coordinates and the rest of its unit length in the fifth, which no text touches.
    """
    sim = torch.tensor(LESSON_SIMILARITY, dtype=torch.float64)
    spare = (1 - (sim ** 2).sum(dim=1, keepdim=True)).sqrt()
    image_emb = torch.cat([sim, spare], dim=1)
    text_emb = torch.eye(4, 5, dtype=torch.float64)
    return image_emb.to(dtype), text_emb.to(dtype)


def scalar(value, dtype):
    return torch.tensor(float(value), dtype=dtype)


def uniform(generator, low, high):
    return low + (high - low) * float(torch.rand((), generator=generator, dtype=torch.float64))


def row_scales(generator, n, low=0.3, high=4.0):
    """Positive per-row factors [n, 1] spread over an order of magnitude (normalisation matters)."""
    log_scale = torch.rand(n, 1, generator=generator, dtype=torch.float64)
    return torch.exp(math.log(low) + (math.log(high) - math.log(low)) * log_scale)


def paired_batch(generator, n, d, dtype):
    """Image and text embeddings [n, d] where text i is a noisy copy of image i.

    The diagonal similarities are clearly higher than the rest but not saturated, and the rows
    have unequal lengths, so the matching pairs, the negatives and the normalisation all count.
    """
    image = torch.randn(n, d, generator=generator, dtype=torch.float64)
    text = image + 0.9 * torch.randn(n, d, generator=generator, dtype=torch.float64)
    image = image * row_scales(generator, n)
    text = text * row_scales(generator, n)
    return image.to(dtype), text.to(dtype)


def loss_parameters(generator, dtype):
    """t_prime and bias where the scale, the bias and the negatives all move the loss.

    At the training initialisation (scale 10, bias -10) the negatives' losses are ~1e-4 and
    several mistakes would hide inside float32 tolerance; these ranges keep them visible.
    """
    t_prime = uniform(generator, math.log(2.0), math.log(20.0))
    bias = uniform(generator, -4.0, -0.5)
    return scalar(t_prime, dtype), scalar(bias, dtype)


def appended_pairs(image_emb, text_emb, generator, extra):
    """The same batch with `extra` unrelated pairs appended after it."""
    more_image, more_text = paired_batch(generator, extra, image_emb.shape[1], image_emb.dtype)
    return torch.cat([image_emb, more_image]), torch.cat([text_emb, more_text])


def hard_negative_batches(n, d, cosine, dtype):
    """Two batches whose matching pairs are identical (image = text, similarity 1) and whose
    negatives differ: orthogonal in the first, pairwise cosine `cosine` in the second.

    Returns ((image_a, text_a), (image_b, text_b)), each [n, d] with d > n.
    """
    easy = torch.eye(n, d, dtype=torch.float64)
    shared = torch.zeros(1, d, dtype=torch.float64)
    shared[0, n] = 1.0
    # rows a*e_i + b*s with a^2 + b^2 = 1 have pairwise cosine b^2
    hard = math.sqrt(1 - cosine) * easy + math.sqrt(cosine) * shared
    return (easy.to(dtype), easy.clone().to(dtype)), (hard.to(dtype), hard.clone().to(dtype))


def chunk_sizes_for(n):
    """Chunk sizes to try, most informative first: one that does not divide n, one that
    does (when n has a proper divisor), n itself, one larger than n, and 1."""
    sizes = []
    non_divisors = [c for c in range(2, n) if n % c]
    divisors = [c for c in range(2, n) if n % c == 0]
    if non_divisors:
        sizes.append(non_divisors[len(non_divisors) // 2])
    if divisors:
        sizes.append(divisors[len(divisors) // 2])
    sizes += [n, n + 3, 1]
    return list(dict.fromkeys(sizes))


def prompt_ensemble(generator, n, k, p, d, dtype):
    """Images [n, d] and class prompts [k, p, d] with diverse prompt lengths and directions.

    Each class has a centre; its prompts are noisy copies (tight for some classes, scattered
    for others, so their averages have unequal lengths) with lengths from 0.1x to 10x, and
    each image is a noisy copy of one centre, so the ensembling rules (normalise each prompt,
    average, re-normalise) decide a good share of the predictions.
    """
    centres = torch.randn(k, d, generator=generator, dtype=torch.float64)
    spread = torch.exp(math.log(0.15) + math.log(30.0) * torch.rand(k, 1, 1, generator=generator, dtype=torch.float64))
    prompts = centres[:, None, :] + spread * torch.randn(k, p, d, generator=generator, dtype=torch.float64)
    lengths = torch.exp(4.6 * torch.rand(k, p, 1, generator=generator, dtype=torch.float64) - 2.3)
    prompts = prompts * lengths
    labels = torch.randint(0, k, (n,), generator=generator)
    images = centres[labels] + 1.3 * torch.randn(n, d, generator=generator, dtype=torch.float64)
    images = images * row_scales(generator, n)
    return images.to(dtype), prompts.to(dtype)


def tied_classes(generator, n, dtype):
    """Images [n, 6] and prompts [4, 3, 6] where classes 1 and 3 are exact copies.

    Every prompt is a positive multiple of a basis vector, so every class embedding is exactly
    that basis vector whatever the summation order, and classes 1 and 3 tie bit for bit.
    Images point mostly along e_1 (the tied direction) or e_0 / e_2.
    """
    basis = torch.eye(6, dtype=torch.float64)
    directions = [0, 1, 2, 1]
    lengths = torch.tensor([0.5, 2.0, 8.0], dtype=torch.float64)[:, None]
    prompts = torch.stack([basis[direction] * lengths for direction in directions])
    choice = torch.tensor([1, 0, 1, 2, 1, 1, 0, 2] * (n // 8 + 1))[:n]
    images = basis[choice] * 3 + 0.4 * torch.rand(n, 6, generator=generator, dtype=torch.float64)
    return images.to(dtype), prompts.to(dtype)
