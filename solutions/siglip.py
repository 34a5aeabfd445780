"""Reference solution: the sigmoid loss for contrastive pretraining (lesson siglip-2).

Implements section 1 of EXERCISES.md. Self-contained (torch and math only) so that its
source can be appended to the student notebook as a full-marks submission.
"""

import torch
import torch.nn.functional as F

NORM_EPS = 1e-12


def similarity_matrix(image_emb, text_emb):
    """Cosine similarity of every image with every text.

    image_emb: [N, D], text_emb: [M, D] -> [N, M].
    Each row is divided by max(its L2 norm, 1e-12), so a zero row gives similarity 0.
    """
    image_unit = F.normalize(image_emb, dim=-1, eps=NORM_EPS)
    text_unit = F.normalize(text_emb, dim=-1, eps=NORM_EPS)
    return image_unit @ text_unit.T


def clip_loss(image_emb, text_emb, t_prime):
    """CLIP's symmetric cross-entropy (InfoNCE).

    image_emb, text_emb: [N, D]; t_prime: [] (log of the inverse temperature) -> [].
    Row i of the logits asks "which text belongs to image i?", column j asks the
    reverse; the right answer is always the diagonal.
    """
    logits = torch.exp(t_prime) * similarity_matrix(image_emb, text_emb)
    targets = torch.arange(logits.shape[0], device=logits.device)
    image_to_text = F.cross_entropy(logits, targets)
    text_to_image = F.cross_entropy(logits.T, targets)
    return (image_to_text + text_to_image) / 2


def _pair_labels(n_rows, n_cols, col_offset, like):
    """+1 where image i meets its own text (column col_offset + j == i), -1 elsewhere.

    -> [n_rows, n_cols] in like's dtype and device.
    """
    rows = torch.arange(n_rows, device=like.device)[:, None]
    cols = torch.arange(n_cols, device=like.device)[None, :] + col_offset
    return torch.where(rows == cols, 1.0, -1.0).to(like.dtype)


def siglip_pair_losses(image_emb, text_emb, t_prime, bias):
    """One binary "is this pair a match?" loss per cell.

    image_emb, text_emb: [N, D]; t_prime, bias: [] -> [N, N].
    Cell (i, j) is -log sigmoid(z_ij * logit_ij) with z = +1 on the diagonal, -1 off it.
    """
    logits = torch.exp(t_prime) * similarity_matrix(image_emb, text_emb) + bias
    labels = _pair_labels(logits.shape[0], logits.shape[1], 0, logits)
    return -F.logsigmoid(labels * logits)


def siglip_loss(image_emb, text_emb, t_prime, bias):
    """SigLIP loss: the N^2 pair losses summed, divided by the batch size N -> []."""
    batch_size = image_emb.shape[0]
    return siglip_pair_losses(image_emb, text_emb, t_prime, bias).sum() / batch_size


def siglip_loss_chunked(image_emb, text_emb, t_prime, bias, chunk_size):
    """siglip_loss computed one block of chunk_size texts at a time.

    At most [N, chunk_size] logits exist at once; the last block may be shorter.
    """
    batch_size = image_emb.shape[0]
    scale = torch.exp(t_prime)
    total = image_emb.new_zeros(())
    for start in range(0, text_emb.shape[0], chunk_size):
        text_block = text_emb[start:start + chunk_size]
        logits = scale * similarity_matrix(image_emb, text_block) + bias
        labels = _pair_labels(logits.shape[0], logits.shape[1], start, logits)
        total = total - F.logsigmoid(labels * logits).sum()
    return total / batch_size


def zero_shot_classify(image_emb, class_prompt_emb):
    """Predict a class per image from an ensemble of prompt embeddings per class.

    image_emb: [N, D]; class_prompt_emb: [K, P, D] -> LongTensor [N].
    Each prompt is normalised before averaging so that no prompt outweighs the others
    by its length; the average is normalised again so that every class is compared by
    cosine. torch.argmax returns the first maximum, i.e. the lowest class index on ties.
    """
    prompt_unit = F.normalize(class_prompt_emb, dim=-1, eps=NORM_EPS)
    class_emb = F.normalize(prompt_unit.mean(dim=1), dim=-1, eps=NORM_EPS)
    scores = similarity_matrix(image_emb, class_emb)
    return scores.argmax(dim=1)

