"""Build assignments/siglip/siglip.ipynb, the student notebook of the siglip assignment.

    python assignments/siglip/build_notebook.py

Every nbgrader-managed cell carries `metadata.nbgrader` (schema 3, unique grade_id): stub and
answer cells hold nbgrader's stub body, public test cells are locked grade cells, teaching
cells are locked. The graded answer variables must match rubrics/siglip.yaml.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_notebook

from autograder.authoring import answer, given, mcq, public_test, stub, teach

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "siglip.ipynb"


# ---- the cells, in order -------------------------------------------------------------------

INTRO = teach("intro", r"""
# SigLIP: contrastive pretraining with one sigmoid per pair

CLIP taught an image encoder and a text encoder to meet in one embedding space. SigLIP keeps all of
that and changes one thing: the loss. In this notebook you rebuild CLIP's loss, see why it ties
every pair in a batch to every other pair, then write SigLIP's sigmoid loss, a chunked version of it
that fits a batch of 32,768 in memory, and zero-shot classification with prompt ensembles.

**How this notebook works.** Cells marked with `# YOUR CODE HERE` are yours: replace the
`raise NotImplementedError()` with your code. The cells after each function are *public tests*:
quick checks on the lesson's numbers that you can run as often as you like. Grading runs a larger
hidden suite (other sizes, float32 and float64, CPU and GPU, gradients). Question cells ask you to
assign a variable; the comment in the cell says which values are allowed.

Conventions used everywhere below (they are the grading contract):

| name | shape | meaning |
|---|---|---|
| `image_emb` | `[N, D]` | one embedding per image of the batch |
| `text_emb` | `[N, D]` (or `[M, D]`) | one embedding per caption; text `i` belongs to image `i` |
| `t_prime` | `[]` | the *log* of the scale: logits are `exp(t_prime) * similarity` |
| `bias` | `[]` | SigLIP's learned bias, added to every logit |

Every function works for any batch size, keeps the input dtype and device, and lets gradients
reach every tensor input. No Python loops over pairs (a loop over a few chunks is fine).
""")

SETUP = given("setup", r'''
import math

import torch
import torch.nn.functional as F

torch.set_printoptions(precision=4, sci_mode=False)

# The lesson's worked 4x4 batch: row i = image i, column j = text j, entries = cosine similarities.
S_LESSON = torch.tensor([[0.9, 0.1, 0.2, 0.3],
                         [0.2, 0.8, 0.1, 0.4],
                         [0.1, 0.3, 0.7, 0.2],
                         [0.3, 0.2, 0.1, 0.6]], dtype=torch.float64)


def lesson_embeddings():
    """Unit embeddings [4, 5] whose cosine similarity matrix is exactly S_LESSON.

    Text j is the basis vector e_j; image i holds row i of S_LESSON in its first four
    coordinates and the rest of its unit length in the fifth, which no text uses.
    """
    spare = (1 - (S_LESSON ** 2).sum(dim=1, keepdim=True)).sqrt()
    return torch.cat([S_LESSON, spare], dim=1), torch.eye(4, 5, dtype=torch.float64)


LESSON_IMAGE_EMB, LESSON_TEXT_EMB = lesson_embeddings()

# Initial values used in training (and in the tests below).
SIGLIP_T_PRIME_INIT = torch.tensor(math.log(10.0), dtype=torch.float64)   # scale 10
SIGLIP_BIAS_INIT = torch.tensor(-10.0, dtype=torch.float64)
CLIP_T_PRIME_INIT = torch.tensor(math.log(1 / 0.07), dtype=torch.float64)  # CLIP's temperature 0.07
''')

RECAP = teach("recap-clip", r"""
## 1. Recap: two encoders, one shared space

**First, what does not change.** SigLIP is not a new kind of model. It has the same image encoder
(a ViT that turns patches into tokens), the same text encoder, the same shared embedding space and the
same cosine similarity as CLIP. The two papers differ in the single step that turns the similarity
matrix into a loss. Keep that in mind for the whole notebook: every function you write starts from
the same `similarity_matrix`.

Remember the conference: everyone wears a name tag, and the game is to pair each face with its tag.
A batch of N image-caption pairs gives an N x N table of cosine similarities, image `i` against
text `j`. The diagonal holds the true pairs; the other N² − N cells are the mismatches, and they come
for free from the batch itself. Here is the lesson's table:

|       | text 0 | text 1 | text 2 | text 3 |
|---|---|---|---|---|
| image 0 | **0.9** | 0.1 | 0.2 | 0.3 |
| image 1 | 0.2 | **0.8** | 0.1 | 0.4 |
| image 2 | 0.1 | 0.3 | **0.7** | 0.2 |
| image 3 | 0.3 | 0.2 | 0.1 | **0.6** |

A cosine only looks at directions: each embedding is divided by its length first, so a caption
encoded as a long vector does not outscore a short one.
""")

EX1 = teach("ex1-text", r"""
### Exercise 1: `similarity_matrix(image_emb, text_emb)`

`image_emb: [N, D]`, `text_emb: [M, D]` → `[N, M]` (N and M may differ: at test time you compare N
images with M class names). Divide every row by its L2 norm, clamped to at least `1e-12` so that an
all-zero row gives similarities of 0 instead of NaN (`F.normalize(x, dim=-1, eps=1e-12)` does exactly
this), then multiply: row `i`, column `j` is image `i` against text `j`.
""")

STUB_SIMILARITY = stub("similarity_matrix", r'''
def similarity_matrix(image_emb, text_emb):
    """Cosine similarity of every image with every text.

    image_emb: [N, D], text_emb: [M, D] -> [N, M]
    """
''')

TEST_SIMILARITY = public_test("test_similarity_matrix", r'''
sim = similarity_matrix(LESSON_IMAGE_EMB, LESSON_TEXT_EMB)
assert sim.shape == (4, 4), f"expected shape (4, 4), got {tuple(sim.shape)}"
assert torch.allclose(sim, S_LESSON, atol=1e-6), f"expected the lesson's matrix, got\n{sim}"

stretched = similarity_matrix(LESSON_IMAGE_EMB * torch.tensor([[0.25], [3.0], [7.5], [0.6]], dtype=torch.float64),
                              LESSON_TEXT_EMB * 4.0)
assert torch.allclose(stretched, S_LESSON, atol=1e-6), "longer or shorter rows must not change a cosine: normalise each row"

rect = similarity_matrix(torch.randn(5, 8), torch.randn(3, 8))
assert rect.shape == (5, 3), f"5 images against 3 texts should give shape (5, 3), got {tuple(rect.shape)}"
assert rect.dtype == torch.float32, "keep the input dtype"
print("similarity_matrix: public tests passed")
''')

MCQ_SAME = mcq("mcq_siglip_vs_clip", "mcq_siglip_vs_clip", "Compared with CLIP, what does SigLIP change?", [
    "The architecture: SigLIP replaces CLIP's two encoders with one joint encoder that reads the image and "
    "the caption together.",
    "The comparison: SigLIP drops the cosine similarity and learns a separate scoring network for every "
    "image-text pair.",
    "Only the loss: the same two encoders, the same shared space and the same cosine similarity matrix, "
    "scored with one sigmoid per pair instead of a softmax over each row and column.",
    "SigLIP adds a language model that answers questions about the image, where CLIP can only match "
    "images with captions.",
])

CLIP_LOSS = teach("clip-loss", r"""
## 2. CLIP's loss, and the denominator that ties the batch together

CLIP multiplies the similarities by a learned scale, `logits = exp(t_prime) * sim`, and then asks a
multiple-choice question per row: *which of the N texts belongs to image i?* The answer is scored
with a softmax over the row,

$$P(\text{text } j \mid \text{image } i) = \frac{e^{\ell_{ij}}}{\sum_{k=1}^{N} e^{\ell_{ik}}},
\qquad \mathcal{L}_{\text{img}\to\text{txt}} = -\frac{1}{N}\sum_i \log P(\text{text } i \mid \text{image } i),$$

and the same question is asked per column (*which image belongs to text j?*). The loss is the average
of the two directions: `(CE(logits, arange(N)) + CE(logits.T, arange(N))) / 2`, each a mean over N.

Look at the denominator: it sums over **every** text in the batch. The probability of cell (0, 1)
contains the similarities of cells (0, 0), (0, 2) and (0, 3). Change any of them, or add more texts
to the batch, and cell (0, 1)'s probability, loss and gradient move, even though image 0 and text 1
did not change at all. The cell below shows it with the lesson's row 0 at scale 10.
""")

CLIP_DEMO = given("clip-demo", r'''
scale = 10.0
row0 = scale * S_LESSON[0]                                    # image 0 against the lesson's 4 texts
extra = scale * 0.1 * torch.randn(1000, dtype=torch.float64,  # 1000 unrelated texts (cosines near 0)
                                  generator=torch.Generator().manual_seed(0))


def row_softmax(logits, j):
    return (logits[j].exp() / logits.exp().sum()).item()


for label, logits in (("batch of 4   ", row0), ("batch of 1004", torch.cat([row0, extra]))):
    print(f"{label}: {logits.numel():4d} terms in the denominator, "
          f"P(text 0 | image 0) = {row_softmax(logits, 0):.4f}, P(text 1 | image 0) = {row_softmax(logits, 1):.6f}")
''')

EX2 = teach("ex2-text", r"""
### Exercise 2: `clip_loss(image_emb, text_emb, t_prime)`

`image_emb, text_emb: [N, D]`, `t_prime: []` → a 0-d tensor. `logits = exp(t_prime) *
similarity_matrix(image_emb, text_emb)`, then the symmetric cross-entropy with the diagonal as the
right answers: `(F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2` with
`targets = arange(N)` on the logits' device. Keep `t_prime` a tensor (no `.item()`, no `math.exp`):
it is learned, so its gradient must flow.
""")

STUB_CLIP = stub("clip_loss", r'''
def clip_loss(image_emb, text_emb, t_prime):
    """CLIP's symmetric cross-entropy.

    image_emb, text_emb: [N, D]; t_prime: [] -> []
    """
''')

TEST_CLIP = public_test("test_clip_loss", r'''
loss = clip_loss(LESSON_IMAGE_EMB, LESSON_TEXT_EMB, CLIP_T_PRIME_INIT)
assert loss.shape == (), f"the loss is a 0-d tensor, got shape {tuple(loss.shape)}"
assert math.isclose(loss.item(), 0.012503, rel_tol=1e-3), f"lesson batch at temperature 0.07: expected about 0.012503, got {loss.item():.6f}"
at_scale_10 = clip_loss(LESSON_IMAGE_EMB, LESSON_TEXT_EMB, SIGLIP_T_PRIME_INIT)
assert math.isclose(at_scale_10.item(), 0.041892, rel_tol=1e-3), f"lesson batch at scale 10: expected about 0.041892, got {at_scale_10.item():.6f}"
swapped = clip_loss(LESSON_TEXT_EMB, LESSON_IMAGE_EMB, CLIP_T_PRIME_INIT)
assert torch.allclose(swapped, loss), "the loss is symmetric: swapping images and texts must give the same value"
print("clip_loss: public tests passed")
''')

ANALOGIES = teach("analogies", r"""
## 3. Multiple choice vs true/false; a bucket vs independent gauges

CLIP's batch size of 32,768 was not a whim. The softmax turns each row into a **multiple-choice
exam**: pick the right caption among N. The exam changes with N. With 4 options the softmax has
few terms to share probability among; with 32,768 it has to pick one caption out of tens of thousands,
and every other caption in the batch sits in the denominator of every answer. Train CLIP with a batch
of 256 and the exam is a different exam: the loss itself, not only the amount of data, depends on the
batch size.

SigLIP turns the same table into a **true/false exam**: for every cell, *is this image-caption pair a
match?* Each question is answered on its own; adding more questions to the exam changes none of the
existing answers.

A second picture: the softmax is a **bucket** holding exactly one unit of probability that all N
items of a row must share. Pour in more items and every share shrinks, whatever those items are. The
sigmoid is a row of **independent gauges**, one per cell, each reading a number between 0 and 1 from
its own logit; install a thousand more gauges and the ones already there keep their readings.
""")

BUCKET_DEMO = given("bucket-demo", r'''
for n in (4, 256, 32_768):
    equal_logits = torch.zeros(n, dtype=torch.float64)
    share = torch.softmax(equal_logits, dim=0)[0].item()     # the bucket: one unit shared by n items
    gauge = torch.sigmoid(equal_logits)[0].item()              # a gauge: reads its own logit only
    print(f"N = {n:6d}: softmax share of one item = {share:.6%}   sigmoid gauge = {gauge:.2f}")
''')

MCQ_BATCH = mcq("mcq_why_clip_needs_big_batches", "mcq_why_clip_needs_big_batches",
                "Why does CLIP's loss behave so differently at batch 256 than at batch 32,768?", [
    "A batch of 256 shows the model too few examples per step; with enough epochs it would catch up, "
    "because the issue is the amount of data.",
    "Each row's (and column's) softmax divides by a sum over the whole batch, so the batch size changes "
    "every probability and every gradient, even for pairs that did not change.",
    "Its temperature was tuned at 32,768; re-tune it and the loss behaves the same at any batch size.",
    "Large batches only make the GPU more efficient; the loss itself does not depend on the batch.",
])

SIGMOID = teach("sigmoid-loss", r"""
## 4. The sigmoid loss

SigLIP scores every cell as a binary question. With the label `z_ij = +1` on the diagonal (match) and
`-1` elsewhere (no match), and `logit_ij = exp(t_prime) * sim_ij + bias`, the loss of cell `(i, j)` is

$$\ell_{ij} = -\log \sigma\!\left(z_{ij}\cdot \text{logit}_{ij}\right).$$

For a match this is `-log p`, for a mismatch `-log(1 - p)` with `p = σ(logit)`, binary cross-entropy
with target 1 or 0 written in one line. (Some texts write the targets as 0/1 and use BCE; in the
product form above the labels must be ±1: with 0/1, every negative would cost a constant log 2.)
Nothing in this formula looks outside cell `(i, j)`.

Trace two cells of the lesson's table with scale 10 and no bias (the lesson's trace):

- the match (0, 0), similarity 0.9: logit 9, loss −log σ(9) ≈ **0.00012**: confident and right, almost free;
- the mismatch (0, 2), similarity 0.2: logit 2, label −1, loss −log σ(−2) ≈ **2.13**: the model half
  believes a wrong pair, and pays for it.

**Compute it stably.** Write `-F.logsigmoid(z * logits)`, not `-torch.log(torch.sigmoid(z * logits))`.
The scale is learned and logits of ±200 happen; in float32 `sigmoid(-200)` rounds to 0 and its log is
`-inf`, while `logsigmoid(-200)` is simply −200.

**Conventions.** The lesson's pseudocode ends with `.mean()` over all N² cells and the reading writes
the bias as `sim / τ − b`. This notebook follows the SigLIP paper and the grading contract: the bias is
*added* (`+ bias`, a learned number that starts at −10), and the loss is the **sum** of the N² cell
losses divided by **N**.
""")

TRACE_DEMO = given("trace-demo", r'''
for name, logit, z in (("match (0, 0), sim 0.9", 9.0, +1), ("mismatch (0, 2), sim 0.2", 2.0, -1)):
    cost = -F.logsigmoid(torch.tensor(z * logit, dtype=torch.float64)).item()
    print(f"{name}: loss = {cost:.5f}")

big = torch.tensor(-200.0)
print("float32, x = -200:  log(sigmoid(x)) =", torch.log(torch.sigmoid(big)).item(), "  logsigmoid(x) =", F.logsigmoid(big).item())
''')

EX3 = teach("ex3-text", r"""
### Exercise 3: `siglip_pair_losses(image_emb, text_emb, t_prime, bias)`

`image_emb, text_emb: [N, D]`, `t_prime, bias: []` → `[N, N]`, the loss of every cell:
`logits = exp(t_prime) * sim + bias`, `z = 2 * eye(N) - 1` (built with the logits' dtype and device),
cell `(i, j) = -logsigmoid(z_ij * logits_ij)`.
""")

STUB_PAIRS = stub("siglip_pair_losses", r'''
def siglip_pair_losses(image_emb, text_emb, t_prime, bias):
    """The sigmoid loss of every image-text cell.

    image_emb, text_emb: [N, D]; t_prime, bias: [] -> [N, N]
    """
''')

TEST_PAIRS = public_test("test_siglip_pair_losses", r'''
no_bias = torch.tensor(0.0, dtype=torch.float64)
cells = siglip_pair_losses(LESSON_IMAGE_EMB, LESSON_TEXT_EMB, SIGLIP_T_PRIME_INIT, no_bias)
assert cells.shape == (4, 4), f"one loss per cell: expected shape (4, 4), got {tuple(cells.shape)}"
assert abs(cells[0, 0].item() - 0.00012) < 5e-6, f"cell (0, 0) should be -log sigmoid(9) = 0.00012, got {cells[0, 0].item():.6f}"
assert abs(cells[0, 2].item() - 2.1269) < 1e-3, f"cell (0, 2) should be -log sigmoid(-2) = 2.13, got {cells[0, 2].item():.4f}"
assert torch.isfinite(siglip_pair_losses(torch.eye(2), -torch.eye(2), torch.tensor(5.3), torch.tensor(0.0))).all(), \
    "logits of +-200 gave inf or NaN: use F.logsigmoid"
print("siglip_pair_losses: public tests passed")
''')

EX4 = teach("ex4-text", r"""
### Exercise 4: `siglip_loss(image_emb, text_emb, t_prime, bias)`

→ a 0-d tensor: `siglip_pair_losses(...).sum() / N`. Every image contributes the sum of its N
true/false answers; dividing by N (not by N²) is the paper's normalisation.
""")

STUB_LOSS = stub("siglip_loss", r'''
def siglip_loss(image_emb, text_emb, t_prime, bias):
    """SigLIP's loss: all N*N pair losses summed, divided by the batch size N.

    image_emb, text_emb: [N, D]; t_prime, bias: [] -> []
    """
''')

TEST_LOSS = public_test("test_siglip_loss", r'''
no_bias = torch.tensor(0.0, dtype=torch.float64)
loss = siglip_loss(LESSON_IMAGE_EMB, LESSON_TEXT_EMB, SIGLIP_T_PRIME_INIT, no_bias)
assert loss.shape == (), f"the loss is a 0-d tensor, got shape {tuple(loss.shape)}"
assert math.isclose(loss.item(), 6.732129, rel_tol=1e-4), f"lesson batch, scale 10, no bias: expected 6.732129, got {loss.item():.6f}"
at_init = siglip_loss(LESSON_IMAGE_EMB, LESSON_TEXT_EMB, SIGLIP_T_PRIME_INIT, SIGLIP_BIAS_INIT)
assert math.isclose(at_init.item(), 2.628493, rel_tol=1e-4), f"lesson batch, scale 10, bias -10: expected 2.628493, got {at_init.item():.6f}"
print("siglip_loss: public tests passed")
''')

N_SQUARED = teach("n-squared", r"""
## 5. Why N² terms: the negatives are all still there

It is tempting to think that judging each pair alone throws the negatives away. Count instead. CLIP
computes one cross-entropy per row and one per column: **2N** terms, each a single multiple-choice
answer in which the negatives only appear inside a denominator. SigLIP computes one term per cell:
**N²** terms, and N² − N of them are negatives, each with its own loss pushing that pair apart. For the
lesson's batch: 8 terms for CLIP, 16 for SigLIP, 12 of which are "no match" questions. The negatives
are not wasted; they stop competing with each other.
""")

MCQ_NEGATIVES = mcq("mcq_sigmoid_and_negatives", "mcq_sigmoid_and_negatives",
                    "In a batch of N pairs, what does the sigmoid loss do with the N² − N non-matching pairs?", [
    "It ignores them: only the N matching pairs on the diagonal are scored.",
    "It samples one non-matching pair per image, so it sees far fewer negatives than CLIP.",
    "It uses them, but it gets fewer loss terms out of a batch than CLIP's 2N.",
    "It scores each of them as its own 'no match' question: 12 negative terms for N = 4, 16 terms in "
    "all against CLIP's 8.",
])

CHECK1 = teach("check1", r"""
## Check 1: the 4x4 table again

Use the lesson's table from section 1 (rows are images, columns are texts). Answer each question in
the cell below it.
""")

CHECK1_QUESTIONS = [
    ("check_clip_grad_01_depends_on_03",
     "**1.** In **CLIP's** loss, does the gradient for cell (0, 1) depend on the value of cell (0, 3)?",
     "True or False"),
    ("check_siglip_grad_01_depends_on_03",
     "**2.** In **SigLIP's** loss, does the gradient for cell (0, 1) depend on the value of cell (0, 3)?",
     "True or False"),
    ("check_cell_01_changes_with_1000_pairs",
     "**3.** We add 1000 more pairs to the batch (N = 1004). Whose computation for cell (0, 1) changes?",
     '"clip", "siglip", "both" or "neither" (a string)'),
    ("check_clip_loss_terms_n4",
     "**4.** How many loss terms does CLIP compute for N = 4?",
     "an int"),
    ("check_siglip_loss_terms_n4",
     "**5.** How many loss terms does SigLIP compute for N = 4?",
     "an int"),
]


def check1_cells():
    cells = []
    for variable, question, allowed in CHECK1_QUESTIONS:
        cells.append(teach(f"{variable}-question", question))
        cells.append(answer(variable, variable, allowed))
    return cells


BIAS = teach("bias", r"""
## 6. The learned bias: one match against N − 1 mismatches

Each row of the table has one "yes" and N − 1 "no" answers. At the start of training the embeddings
are random, so every cosine sits near 0 and every logit near the bias. With a bias of 0 every gauge
reads 0.5 and every cell costs log 2 ≈ 0.69; at N = 32,768 an image's loss is then about 22,700, of
which all but 0.69 comes from the negatives. The first steps would be spent shoving everything apart.

SigLIP therefore learns a bias and starts it at **−10** (with `t_prime = log 10`): every gauge starts
near "no", which is right for N − 1 of the N cells, so a negative costs only about 0.00005 and the one
positive costs about 10. Training then moves the bias and the scale like any other parameter, which
is why both must receive gradients.
""")

BIAS_DEMO = given("bias-demo", r'''
for bias in (0.0, -10.0):
    b = torch.tensor(bias, dtype=torch.float64)
    positive = -F.logsigmoid(b).item()          # the match: logit = bias at initialisation
    one_negative = -F.logsigmoid(-b).item()     # a mismatch: label -1
    for n in (4, 256, 32_768):
        print(f"bias {bias:6.1f}, N = {n:6d}: positive {positive:8.4f}   all {n - 1} negatives {(n - 1) * one_negative:10.4f}")
''')

MCQ_BATCH_SIZE = mcq("mcq_siglip_and_batch_size", "mcq_siglip_and_batch_size",
                     "What does the sigmoid loss mean for the batch size?", [
    "It removes the need for huge batches: SigLIP already trains well at 256, where CLIP struggles, and it "
    "still improves, gradually, as the batch grows to 32,768.",
    "SigLIP is a small-batch method: past a few hundred pairs, larger batches stop helping or even hurt.",
    "The batch size stops mattering at all: 256 and 32,768 give the same model.",
    "It needs even bigger batches than CLIP, because a pair judged on its own carries less information.",
])

CHUNKED = teach("chunked", r"""
## 7. The chunked loss: batch 32k without a 32k x 32k matrix

Large batches still help SigLIP (more pairs, more negatives), so it is trained at 32,768 too. The full
logits matrix then has 32,768² ≈ 1.07 billion entries, 4 GiB in float32, and autograd keeps several
tensors of that size (the logits, the signed logits, the cell losses). Because SigLIP's cells are
independent, the sum can be computed block by block: take `chunk_size` texts at a time, compute the
`[N, chunk_size]` block of logits against all images, add up its losses, move on. The paper does this
across devices (each device keeps its images and the text blocks travel from device to device); here
you write the single-device form. With softmax this would be awkward, because every row's
denominator needs all columns at once.

Two details: in the block that starts at column `start`, the match of text `start + j` is image
`start + j` (not image `j`), and `chunk_size` need not divide N (the last block is shorter).
""")

MEMORY_DEMO = given("memory-demo", r'''
n = 32_768
for chunk_size in (n, 4096, 1024):
    gib = n * chunk_size * 4 / 2**30
    print(f"logits held at once with chunk_size {chunk_size:6d}: {n} x {chunk_size} = {gib:7.3f} GiB in float32")
''')

EX5 = teach("ex5-text", r"""
### Exercise 5: `siglip_loss_chunked(image_emb, text_emb, t_prime, bias, chunk_size)`

→ a 0-d tensor equal to `siglip_loss(...)` (value and gradients), never holding more than
`N * chunk_size` logits at once: loop over `start` in `range(0, N, chunk_size)` (a loop over chunks is
allowed), use `text_emb[start:start + chunk_size]`, put the +1 labels where row `i == start + j`, sum
the blocks, divide by N once.
""")

STUB_CHUNKED = stub("siglip_loss_chunked", r'''
def siglip_loss_chunked(image_emb, text_emb, t_prime, bias, chunk_size):
    """siglip_loss computed over blocks of chunk_size texts.

    image_emb, text_emb: [N, D]; t_prime, bias: []; chunk_size: int -> []
    """
''')

TEST_CHUNKED = public_test("test_siglip_loss_chunked", r'''
full = 2.628493   # siglip_loss on the lesson batch at the initial values (Exercise 4)
for chunk_size in (1, 2, 3, 4, 10):
    chunked = siglip_loss_chunked(LESSON_IMAGE_EMB, LESSON_TEXT_EMB, SIGLIP_T_PRIME_INIT, SIGLIP_BIAS_INIT, chunk_size)
    assert chunked.shape == (), f"the loss is a 0-d tensor, got shape {tuple(chunked.shape)}"
    assert math.isclose(chunked.item(), full, rel_tol=1e-4), f"chunk_size {chunk_size}: expected {full}, got {chunked.item():.6f}"
print("siglip_loss_chunked: public tests passed")
''')

SIGLIP2 = teach("siglip2", r"""
## 8. What SigLIP 2 adds: a training recipe, not a new loss

The sigmoid loss is the contribution of the first SigLIP paper (2023). SigLIP 2 (2025) keeps that loss
unchanged and improves *how* the encoders are trained:

- **stages**: contrastive pretraining first, then further stages that reuse what the first learned;
- **self-distillation**: the model from an earlier stage acts as the teacher of the next. For a photo
  of a golden retriever on a beach, the hard labels over four captions say `[0, 0, 1, 0]`; the earlier
  model's soft predictions say something like `[0.05, 0.10, 0.70, 0.15]`, admitting that "a dog
  playing in sand" is nearly right. There is no bigger teacher network anywhere; the model learns from
  its own earlier, softer judgement;
- **several resolutions** in the later stages, so the features hold up across image sizes and aspect
  ratios; **multilingual** captions; and decoder-based pretraining tasks.
""")

MCQ_V2 = mcq("mcq_siglip2_contribution", "mcq_siglip2_contribution",
             "What is SigLIP 2's main contribution over SigLIP?", [
    "A new loss function that replaces the sigmoid loss.",
    "A training recipe around the same sigmoid loss: several stages with self-distillation, several input "
    "resolutions, multilingual data.",
    "A small adjustment of the sigmoid loss's bias and temperature; everything else is as before.",
    "It turns the encoders into a chat assistant that answers questions about images.",
])

MCQ_TEACHER = mcq("mcq_self_distillation_teacher", "mcq_self_distillation_teacher",
                  "In SigLIP 2's self-distillation, who is the teacher?", [
    "A larger, separately trained model whose knowledge is compressed into SigLIP 2.",
    "An ensemble of bigger CLIP models.",
    "The same model as it stood after an earlier training stage; its soft predictions become the targets "
    "of the next stage.",
    "The largest SigLIP 2 model, which teaches each of the smaller sizes.",
])

ZERO_SHOT = teach("zero-shot", r"""
## 9. Zero-shot classification with prompt ensembles

The shared space lets you classify images into classes nobody trained for: write each class as text
("a photo of a cat"), encode it, and pick the class whose text embedding is closest (by cosine) to the
image's. It is a nearest-neighbour lookup among captions; no labels, no fine-tuning.

One template is noisy, so CLIP and SigLIP average several: "a photo of a cat", "a blurry photo of a
cat", "a sketch of a cat", ... In the reading's example the single prompts score between 0.69 and
0.85 against a cat photo and the averaged embedding scores 0.84, steadier than almost any single
template. The average is an average of **directions**: normalise each prompt embedding first (so a
long vector gets no more say than a short one), average the P unit vectors of a class, and normalise
the average again before comparing cosines.

The same pretrained encoders do more than classify: retrieval (find the images that match a query),
and serving as the vision backbone of larger systems. PaliGemma, a vision-language model that answers
questions, plugs a SigLIP image encoder in as its eyes and lets a language model produce the text. The
"hire experienced, train specific" idea from transfer learning again.
""")

EX6 = teach("ex6-text", r"""
### Exercise 6: `zero_shot_classify(image_emb, class_prompt_emb)`

`image_emb: [N, D]`, `class_prompt_emb: [K, P, D]` (K classes, P prompts each) → a LongTensor `[N]` of
class indices. Normalise each prompt, average over P, normalise again, take the class of highest
cosine similarity with each image. On an exact tie, return the lowest class index (`torch.argmax`
already does).
""")

STUB_ZERO_SHOT = stub("zero_shot_classify", r'''
def zero_shot_classify(image_emb, class_prompt_emb):
    """Predict one class per image from an ensemble of prompt embeddings per class.

    image_emb: [N, D]; class_prompt_emb: [K, P, D] -> LongTensor [N]
    """
''')

TEST_ZERO_SHOT = public_test("test_zero_shot_classify", r'''
prompts = torch.tensor([[[2.0, 0.0], [0.5, 0.5]],      # class 0: two prompts near the x axis
                        [[0.0, 1.0], [0.0, 3.0]]])     # class 1: two prompts along the y axis
images = torch.tensor([[1.0, 0.2], [0.1, 1.0], [5.0, 4.0]])
predicted = zero_shot_classify(images, prompts)
assert predicted.dtype == torch.int64 and predicted.shape == (3,), f"expected a LongTensor of shape (3,), got {predicted.dtype} {tuple(predicted.shape)}"
assert predicted.tolist() == [0, 1, 0], f"expected [0, 1, 0], got {predicted.tolist()}"
tied = zero_shot_classify(images, torch.stack([prompts[1], prompts[1]]))
assert tied.tolist() == [0, 0, 0], f"two identical classes: ties go to the lowest index, expected [0, 0, 0], got {tied.tolist()}"
print("zero_shot_classify: public tests passed")
''')

MCQ_PRODUCES = mcq("mcq_what_siglip_produces", "mcq_what_siglip_produces", "What does SigLIP pretraining produce?", [
    "A chat model that answers questions about an image.",
    "A captioning model that writes a sentence for each image.",
    "A classifier with a fixed list of labels learnt from annotated images, unlike CLIP's open vocabulary.",
    "An image encoder and a text encoder whose embeddings share one space; PaliGemma, for one, reuses the "
    "image encoder as its vision backbone.",
])

SUMMARY = teach("summary", r"""
## Summary

- SigLIP is CLIP with a different loss: same encoders, same shared space, same similarity matrix.
- CLIP's softmax is a multiple-choice exam per row and column: the denominator (the bucket) spans the
  whole batch, so the batch size is built into every probability and gradient.
- SigLIP's sigmoid is a true/false exam per cell: N² independent gauges, N² − N of them negatives, a
  learned bias for the 1:N imbalance, and a loss of `sum / N`.
- Because the cells are independent, the loss can be computed in chunks, which is how a batch of 32k
  fits in memory, and SigLIP still gains from such batches.
- SigLIP 2 keeps the loss and improves the recipe (stages, self-distillation, resolutions, languages).
- Zero-shot classification compares an image with class prompts, averaged as unit directions.
""")


def build():
    cells = [
        INTRO, SETUP, RECAP, EX1, STUB_SIMILARITY, TEST_SIMILARITY, *MCQ_SAME,
        CLIP_LOSS, CLIP_DEMO, EX2, STUB_CLIP, TEST_CLIP,
        ANALOGIES, BUCKET_DEMO, *MCQ_BATCH,
        SIGMOID, TRACE_DEMO, EX3, STUB_PAIRS, TEST_PAIRS, EX4, STUB_LOSS, TEST_LOSS,
        N_SQUARED, *MCQ_NEGATIVES, CHECK1, *check1_cells(),
        BIAS, BIAS_DEMO, *MCQ_BATCH_SIZE,
        CHUNKED, MEMORY_DEMO, EX5, STUB_CHUNKED, TEST_CHUNKED,
        SIGLIP2, *MCQ_V2, *MCQ_TEACHER,
        ZERO_SHOT, EX6, STUB_ZERO_SHOT, TEST_ZERO_SHOT, *MCQ_PRODUCES,
        SUMMARY,
    ]
    notebook = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(notebook)
    return notebook


if __name__ == "__main__":
    from autograder.nbgrader_source import write_notebooks

    # One cell list, two notebooks: the student's and nbgrader's source (solutions/*.source.ipynb).
    # Cell ids of an unchanged notebook are kept, so a rebuild leaves it byte-identical.
    for written in write_notebooks(build(), OUTPUT, "siglip"):
        print(f"wrote {written}")
