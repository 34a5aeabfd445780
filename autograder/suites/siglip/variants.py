"""Wrong implementations of the siglip contract, one per anticipated mistake.

`VARIANTS[target]` maps a variant name `<misconception id>/<form>` to a function with the
contract's signature for `target`; `misconception_id(name)` strips the form. The suite runs
them on a failing test's inputs and flags the id whose output the student's matches.
The loss variants are built from one pair-loss recipe with a single knob turned, so a mistake
in `siglip_pair_losses` shows up in `siglip_loss` and `siglip_loss_chunked` exactly as in a
notebook whose later functions reuse the faulty one.
Trusted code: imported by the hidden suite, never sent to the sandbox.
"""

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

EPS = 1e-12


def misconception_id(variant_name: str) -> str:
    return variant_name.split("/", 1)[0]


def _unit(x):
    return F.normalize(x, dim=-1, eps=EPS)


def _cosine(image_emb, text_emb):
    return _unit(image_emb) @ _unit(text_emb).T


def _signs(n_rows, n_cols, offset, like):
    """+1 where row i meets column offset + j == i, else -1: [n_rows, n_cols]."""
    rows = torch.arange(n_rows, device=like.device)[:, None]
    cols = torch.arange(n_cols, device=like.device)[None, :] + offset
    return torch.where(rows == cols, 1.0, -1.0).to(like.dtype)


# ---- similarity_matrix -----------------------------------------------------------------

def similarity_unnormalised(image_emb, text_emb):
    return image_emb @ text_emb.T


def similarity_normalised_over_batch(image_emb, text_emb):
    return F.normalize(image_emb, dim=0) @ F.normalize(text_emb, dim=0).T


def similarity_transposed(image_emb, text_emb):
    return _cosine(text_emb, image_emb)


# ---- clip_loss -------------------------------------------------------------------------

@dataclass(frozen=True)
class ClipRecipe:
    similarity: str = "cosine"   # "cosine" or "dot" (embeddings not normalised)
    scale: str = "exp"           # "exp" (exp(t')), "raw" (t'), "none" (1)
    directions: str = "both"     # "both" (average), "sum" (no /2), "image" or "text" only


def clip_loss_with(recipe: ClipRecipe):
    def clip_loss(image_emb, text_emb, t_prime):
        sim = _cosine(image_emb, text_emb) if recipe.similarity == "cosine" else image_emb @ text_emb.T
        scale = {"exp": torch.exp(t_prime), "raw": t_prime, "none": 1.0}[recipe.scale]
        logits = scale * sim
        targets = torch.arange(logits.shape[0], device=logits.device)
        image_to_text = F.cross_entropy(logits, targets)
        text_to_image = F.cross_entropy(logits.T, targets)
        return {"both": (image_to_text + text_to_image) / 2, "sum": image_to_text + text_to_image,
                "image": image_to_text, "text": text_to_image}[recipe.directions]
    return clip_loss


# ---- siglip pair losses, loss and chunked loss -----------------------------------------

@dataclass(frozen=True)
class PairRecipe:
    similarity: str = "cosine"   # "cosine" or "dot"
    scale: str = "exp"           # "exp" (exp(t') * sim), "raw" (t' * sim), "divide" (sim / exp(t')), "none"
    bias: str = "add"            # "add", "subtract", "inside" (exp(t')*(sim+b)), "after-label" (z*l + b), "none"
    labels: str = "signed"       # "signed" (+1/-1), "zero-one" (1/0 in z*logit), "flipped" (-1 diag, +1 off)
    cell: str = "sigmoid"        # "sigmoid", "diagonal-only" (negatives dropped), "softmax" (BCE on row softmax)
    stable: bool = True          # logsigmoid, or log(sigmoid()) which underflows


def _scaled(sim, t_prime, how):
    return {"exp": torch.exp(t_prime) * sim, "raw": t_prime * sim,
            "divide": sim / torch.exp(t_prime), "none": sim}[how]


def _pair_block(image_emb, text_block, t_prime, bias, offset, recipe):
    """Pair losses of every image with a block of texts that starts at column `offset`."""
    sim = _cosine(image_emb, text_block) if recipe.similarity == "cosine" else image_emb @ text_block.T
    scaled = _scaled(sim, t_prime, recipe.scale)
    logits = {"add": scaled + bias, "subtract": scaled - bias, "inside": _scaled(sim + bias, t_prime, recipe.scale),
              "after-label": scaled, "none": scaled}[recipe.bias]
    signs = _signs(logits.shape[0], logits.shape[1], offset, logits)
    if recipe.cell == "softmax":
        prob = torch.softmax(logits, dim=1)
        return torch.where(signs > 0, -torch.log(prob), -torch.log1p(-prob))
    z = {"signed": signs, "zero-one": (signs > 0).to(logits.dtype), "flipped": -signs}[recipe.labels]
    signed = z * logits + (bias if recipe.bias == "after-label" else 0.0)
    losses = -F.logsigmoid(signed) if recipe.stable else -torch.log(torch.sigmoid(signed))
    if recipe.cell == "diagonal-only":
        losses = losses * (signs > 0).to(losses.dtype)
    return losses


def pair_losses_with(recipe: PairRecipe):
    def siglip_pair_losses(image_emb, text_emb, t_prime, bias):
        return _pair_block(image_emb, text_emb, t_prime, bias, 0, recipe)
    return siglip_pair_losses


@dataclass(frozen=True)
class LossRecipe:
    pair: PairRecipe = PairRecipe()
    reduction: str = "sum/N"     # "sum/N", "mean" (over N^2), "sum" (no division)


def _reduce(total, n, how):
    return {"sum/N": total / n, "mean": total / (n * n), "sum": total}[how]


def loss_with(recipe: LossRecipe):
    def siglip_loss(image_emb, text_emb, t_prime, bias):
        losses = _pair_block(image_emb, text_emb, t_prime, bias, 0, recipe.pair)
        return _reduce(losses.sum(), image_emb.shape[0], recipe.reduction)
    return siglip_loss


@dataclass(frozen=True)
class ChunkRecipe:
    loss: LossRecipe = LossRecipe()
    offset: bool = True          # positives of block b sit at column start + j; False: at j
    remainder: bool = True       # False: the last, shorter block is dropped
    combine: str = "sum"         # "sum" of block totals, or "mean" over blocks


def chunked_with(recipe: ChunkRecipe):
    def siglip_loss_chunked(image_emb, text_emb, t_prime, bias, chunk_size):
        n = image_emb.shape[0]
        last = n if recipe.remainder else n - n % chunk_size
        totals = [
            _pair_block(image_emb, text_emb[start:start + chunk_size], t_prime, bias,
                        start if recipe.offset else 0, recipe.loss.pair).sum()
            for start in range(0, last, chunk_size)
        ]
        if not totals:
            return image_emb.new_zeros(())
        total = torch.stack(totals).sum() if recipe.combine == "sum" else torch.stack(totals).mean()
        return _reduce(total, n, recipe.loss.reduction)
    return siglip_loss_chunked


# ---- zero_shot_classify ----------------------------------------------------------------

def zero_shot_mean_of_raw_prompts(image_emb, class_prompt_emb):
    """Averages the prompts before normalising them: long prompts dominate."""
    return (_unit(image_emb) @ _unit(class_prompt_emb.mean(dim=1)).T).argmax(dim=1)


def zero_shot_not_renormalised(image_emb, class_prompt_emb):
    """Normalises each prompt but not their average (= the mean of the prompt cosines)."""
    class_emb = _unit(class_prompt_emb).mean(dim=1)
    return (_unit(image_emb) @ class_emb.T).argmax(dim=1)


def zero_shot_no_normalisation(image_emb, class_prompt_emb):
    return (image_emb @ class_prompt_emb.mean(dim=1).T).argmax(dim=1)


def zero_shot_first_prompt(image_emb, class_prompt_emb):
    return _cosine(image_emb, class_prompt_emb[:, 0]).argmax(dim=1)


def zero_shot_best_prompt(image_emb, class_prompt_emb):
    """Scores a class by its single most similar prompt instead of the ensemble."""
    cosines = torch.einsum("nd,kpd->nkp", _unit(image_emb), _unit(class_prompt_emb))
    return cosines.amax(dim=2).argmax(dim=1)


def zero_shot_last_on_ties(image_emb, class_prompt_emb):
    class_emb = _unit(_unit(class_prompt_emb).mean(dim=1))
    scores = _cosine(image_emb, class_emb)
    return scores.shape[1] - 1 - scores.flip(dims=[1]).argmax(dim=1)


# ---- the catalogue of variants per target ----------------------------------------------

P = PairRecipe()
PAIR_MISTAKES = {
    "siglip.batch-dependency-is-data/softmax-coupled": replace(P, cell="softmax"),
    "siglip.wastes-negatives/diagonal-only": replace(P, cell="diagonal-only"),
    "impl.siglip.unnormalised-embeddings/dot-product": replace(P, similarity="dot"),
    "impl.siglip.zero-one-labels/z-is-eye": replace(P, labels="zero-one"),
    "impl.siglip.label-sign/flipped": replace(P, labels="flipped"),
    "impl.siglip.temperature-misuse/not-exponentiated": replace(P, scale="raw"),
    "impl.siglip.temperature-misuse/divides": replace(P, scale="divide"),
    "impl.siglip.temperature-misuse/no-scale": replace(P, scale="none"),
    "impl.siglip.bias-misuse/subtracted": replace(P, bias="subtract"),
    "impl.siglip.bias-misuse/inside-temperature": replace(P, bias="inside"),
    "impl.siglip.bias-misuse/after-label": replace(P, bias="after-label"),
    "impl.siglip.bias-misuse/no-bias": replace(P, bias="none"),
    "impl.siglip.unstable-log-sigmoid/log-of-sigmoid": replace(P, stable=False),
}

L = LossRecipe()
LOSS_MISTAKES = {name: LossRecipe(pair=pair) for name, pair in PAIR_MISTAKES.items()}
LOSS_MISTAKES.update({
    "impl.siglip.n2-normalisation/mean-over-cells": replace(L, reduction="mean"),
    "impl.siglip.missing-batch-division/sum": replace(L, reduction="sum"),
})

C = ChunkRecipe()
CHUNK_MISTAKES = {name: ChunkRecipe(loss=loss) for name, loss in LOSS_MISTAKES.items()}
CHUNK_MISTAKES.update({
    "impl.siglip.chunk-label-offset/local-diagonal": replace(C, offset=False),
    "impl.siglip.chunk-remainder-dropped/floor-division": replace(C, remainder=False),
    "impl.siglip.chunk-normalisation/mean-over-chunks": replace(C, combine="mean"),
})

K = ClipRecipe()
CLIP_MISTAKES = {
    "impl.siglip.clip-directions/image-to-text-only": replace(K, directions="image"),
    "impl.siglip.clip-directions/text-to-image-only": replace(K, directions="text"),
    "impl.siglip.clip-directions/summed": replace(K, directions="sum"),
    "impl.siglip.temperature-misuse/not-exponentiated": replace(K, scale="raw"),
    "impl.siglip.temperature-misuse/no-scale": replace(K, scale="none"),
    "impl.siglip.unnormalised-embeddings/dot-product": replace(K, similarity="dot"),
}

VARIANTS = {
    "similarity_matrix": {
        "impl.siglip.unnormalised-embeddings/dot-product": similarity_unnormalised,
        "impl.siglip.normalise-wrong-dim/over-batch": similarity_normalised_over_batch,
        "impl.siglip.similarity-transposed/text-by-image": similarity_transposed,
    },
    "clip_loss": {name: clip_loss_with(recipe) for name, recipe in CLIP_MISTAKES.items()},
    "siglip_pair_losses": {name: pair_losses_with(recipe) for name, recipe in PAIR_MISTAKES.items()},
    "siglip_loss": {name: loss_with(recipe) for name, recipe in LOSS_MISTAKES.items()},
    "siglip_loss_chunked": {name: chunked_with(recipe) for name, recipe in CHUNK_MISTAKES.items()},
    "zero_shot_classify": {
        "impl.siglip.prompt-ensemble-normalisation/mean-of-raw-prompts": zero_shot_mean_of_raw_prompts,
        "impl.siglip.prompt-ensemble-normalisation/not-renormalised": zero_shot_not_renormalised,
        "impl.siglip.prompt-ensemble-normalisation/no-normalisation": zero_shot_no_normalisation,
        "impl.siglip.no-prompt-ensemble/first-prompt": zero_shot_first_prompt,
        "impl.siglip.no-prompt-ensemble/best-prompt": zero_shot_best_prompt,
        "impl.siglip.zero-shot-tie-break/last-index": zero_shot_last_on_ties,
    },
}

# What each form of mistake looks like, in words a student recognises.
DESCRIPTIONS = {
    "softmax-coupled": "each cell scored with a softmax over its row (CLIP-style coupling) instead of its own sigmoid",
    "diagonal-only": "only the matching pairs on the diagonal contribute; the negatives are dropped",
    "dot-product": "raw dot products of the embeddings, without L2-normalising each row",
    "z-is-eye": "labels z = eye(N) (1/0) instead of 2*eye(N) - 1 (+1/-1)",
    "flipped": "labels with the wrong sign: -1 on the diagonal, +1 off it",
    "not-exponentiated": "t_prime used as the scale directly instead of exp(t_prime)",
    "divides": "similarities divided by exp(t_prime) instead of multiplied",
    "no-scale": "no temperature scale: the logits are the bare cosine similarities",
    "no-bias": "the learned bias left out of the logits",
    "subtracted": "the bias subtracted instead of added",
    "inside-temperature": "the bias added before the temperature scale: exp(t')*(sim + b)",
    "after-label": "the bias added after the label sign: z*exp(t')*sim + b",
    "log-of-sigmoid": "log(sigmoid(x)), which underflows to -inf for large |x|, instead of logsigmoid",
    "mean-over-cells": "the mean over all N^2 cells instead of the sum divided by N",
    "sum": "the sum of the pair losses without dividing by N",
    "local-diagonal": "each chunk's positives placed on the chunk's own diagonal instead of at column start + j",
    "floor-division": "the last, shorter chunk is skipped when chunk_size does not divide N",
    "mean-over-chunks": "the chunk totals averaged instead of summed",
    "image-to-text-only": "only the image-to-text cross-entropy (rows), not the average of both directions",
    "text-to-image-only": "only the text-to-image cross-entropy (columns), not the average of both directions",
    "summed": "the two cross-entropies added without dividing by 2",
    "over-batch": "each column (over the batch) normalised instead of each embedding row",
    "text-by-image": "the transposed matrix: texts as rows, images as columns",
    "mean-of-raw-prompts": "prompt embeddings averaged before each is normalised",
    "not-renormalised": "the average of the normalised prompts not normalised again",
    "no-normalisation": "raw prompt and image embeddings compared by dot product",
    "first-prompt": "only the first prompt of each class used",
    "best-prompt": "each class scored by its best single prompt instead of the ensemble average",
    "last-index": "ties resolved to the highest class index instead of the lowest",
}


def describe(variant_name: str) -> str:
    return DESCRIPTIONS.get(variant_name.split("/", 1)[-1], variant_name)
