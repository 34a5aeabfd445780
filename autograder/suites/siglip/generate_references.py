"""Build references.safetensors for the siglip hidden suite from the reference solution.

Keys: `case.<name>.<field>`. Loss cases hold the inputs `image_emb, text_emb, t_prime, bias,
clip_t_prime, chunk_sizes` and the outputs `similarity, clip_loss, pair_losses, siglip_loss,
chunked_losses` (one per chunk size); similarity cases hold `image_emb, text_emb, similarity`;
zero-shot cases hold `image_emb, class_prompt_emb, predictions`. `golden.*` are the lesson's
traced cells. Scalars are 0-d tensors.

    python -m autograder.suites.siglip.generate_references   # or run this file directly
"""

import importlib.util
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
OUTPUT = HERE / "references.safetensors"


def _load(name, path):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


cases = _load("tensorgrade_siglip_cases", HERE / "cases.py")
solution = _load("tensorgrade_siglip_solution", ROOT / "solutions" / "siglip.py")


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def loss_case(image_emb, text_emb, t_prime, bias, clip_t_prime):
    """Inputs and every loss output of one batch."""
    sizes = cases.chunk_sizes_for(image_emb.shape[0])
    with torch.no_grad():
        return {
            "image_emb": image_emb, "text_emb": text_emb, "t_prime": t_prime, "bias": bias,
            "clip_t_prime": clip_t_prime,
            "chunk_sizes": torch.tensor(sizes, dtype=torch.int64),
            "similarity": solution.similarity_matrix(image_emb, text_emb),
            "clip_loss": solution.clip_loss(image_emb, text_emb, clip_t_prime),
            "pair_losses": solution.siglip_pair_losses(image_emb, text_emb, t_prime, bias),
            "siglip_loss": solution.siglip_loss(image_emb, text_emb, t_prime, bias),
            "chunked_losses": torch.stack([
                solution.siglip_loss_chunked(image_emb, text_emb, t_prime, bias, size) for size in sizes
            ]),
        }


def lesson_cases():
    s = cases.scalar
    image64, text64 = cases.lesson_embeddings(torch.float64)
    image32, text32 = cases.lesson_embeddings(torch.float32)
    lengths = torch.tensor([[0.25], [3.0], [7.5], [0.6]])
    clip32, clip64 = s(cases.CLIP_T_PRIME_INIT, torch.float32), s(cases.CLIP_T_PRIME_INIT, torch.float64)
    return {
        # the lesson's traced cells: scale 10, no bias
        "lesson": loss_case(image64, text64, s(cases.LESSON_T_PRIME, torch.float64), s(0.0, torch.float64), clip64),
        # the notebook's initial values: scale 10, bias -10
        "lesson_init": loss_case(image32, text32, s(cases.SIGLIP_T_PRIME_INIT, torch.float32),
                                 s(cases.SIGLIP_BIAS_INIT, torch.float32), clip32),
        # same directions, rows of very different lengths: the similarities must not change
        "lesson_scaled": loss_case(image32 * lengths, text32 * lengths.flip(0), s(cases.LESSON_T_PRIME, torch.float32),
                                   s(0.0, torch.float32), clip32),
    }


RANDOM_LOSS_CASES = {  # name: (n, d, dtype, seed)
    "rand_n1_f64": (1, 3, torch.float64, 101),
    "rand_n2_f32": (2, 8, torch.float32, 102),
    "rand_n7_f64": (7, 16, torch.float64, 103),
    "rand_n13_f64": (13, 4, torch.float64, 104),
    "rand_n16_f32": (16, 32, torch.float32, 105),
}


def random_loss_cases():
    built = {}
    for name, (n, d, dtype, seed) in RANDOM_LOSS_CASES.items():
        generator = _gen(seed)
        image_emb, text_emb = cases.paired_batch(generator, n, d, dtype)
        t_prime, bias = cases.loss_parameters(generator, dtype)
        clip_t_prime = cases.scalar(cases.uniform(generator, 0.5, 3.0), dtype)
        built[name] = loss_case(image_emb, text_emb, t_prime, bias, clip_t_prime)
    return built


def edge_loss_cases():
    s = cases.scalar
    image_emb, text_emb = cases.paired_batch(_gen(201), 3, 4, torch.float64)
    image_emb[1] = 0.0
    text_emb[2] = 0.0
    # logits of +-200: log(sigmoid(-200)) underflows to -inf in float32, logsigmoid does not
    opposite = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    return {
        "zero_rows_f64": loss_case(image_emb, text_emb, s(1.5, torch.float64), s(-1.0, torch.float64),
                                   s(1.0, torch.float64)),
        "extreme_f32": loss_case(opposite, -opposite, s(5.3, torch.float32), s(0.0, torch.float32),
                                 s(5.3, torch.float32)),
    }


RECTANGULAR_CASES = {  # name: (n, m, d, dtype, seed)
    "sim_5x3_f32": (5, 3, 8, torch.float32, 301),
    "sim_2x9_f64": (2, 9, 4, torch.float64, 302),
    "sim_1x4_f32": (1, 4, 6, torch.float32, 303),
}


def rectangular_cases():
    built = {}
    for name, (n, m, d, dtype, seed) in RECTANGULAR_CASES.items():
        generator = _gen(seed)
        image_emb = (torch.randn(n, d, generator=generator, dtype=torch.float64) * cases.row_scales(generator, n)).to(dtype)
        text_emb = (torch.randn(m, d, generator=generator, dtype=torch.float64) * cases.row_scales(generator, m)).to(dtype)
        built[name] = {"image_emb": image_emb, "text_emb": text_emb,
                       "similarity": solution.similarity_matrix(image_emb, text_emb)}
    return built


ZERO_SHOT_CASES = {  # name: (n, k, p, d, dtype, seed)
    "zs_rand_f32": (48, 5, 4, 16, torch.float32, 401),
    "zs_rand_f64": (32, 3, 7, 8, torch.float64, 402),
    "zs_one_prompt_f32": (16, 6, 1, 12, torch.float32, 403),
}


def zero_shot_cases():
    built = {}
    for name, (n, k, p, d, dtype, seed) in ZERO_SHOT_CASES.items():
        image_emb, prompts = cases.prompt_ensemble(_gen(seed), n, k, p, d, dtype)
        built[name] = {"image_emb": image_emb, "class_prompt_emb": prompts}
    image_emb, prompts = cases.tied_classes(_gen(404), 16, torch.float64)
    built["zs_ties_f64"] = {"image_emb": image_emb, "class_prompt_emb": prompts}
    for fields in built.values():
        fields["predictions"] = solution.zero_shot_classify(fields["image_emb"], fields["class_prompt_emb"])
    return built


def build_references() -> dict[str, torch.Tensor]:
    groups = {**lesson_cases(), **random_loss_cases(), **edge_loss_cases(), **rectangular_cases(), **zero_shot_cases()}
    flat = {f"case.{name}.{field}": tensor.detach().clone().contiguous()
            for name, fields in groups.items() for field, tensor in fields.items()}
    lesson_pairs = flat["case.lesson.pair_losses"]
    flat["golden.neg_log_sigmoid_9"] = lesson_pairs[0, 0].clone()         # matching pair, sim 0.9
    flat["golden.neg_log_sigmoid_minus_2"] = lesson_pairs[0, 2].clone()    # non-matching pair, sim 0.2
    return flat


if __name__ == "__main__":
    references = build_references()
    save_file(references, str(OUTPUT))
    print(f"wrote {len(references)} tensors to {OUTPUT}")
