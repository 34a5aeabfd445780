"""Generate prompt_encoder.ipynb, the student notebook for SAM's prompt encoder (lesson sam-3).

Run from anywhere: `python assignments/prompt_encoder/build_notebook.py`. The output is
deterministic, so re-running it on an unchanged script leaves the notebook unchanged.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "prompt_encoder.ipynb"
STUB = "    # YOUR CODE HERE\n    raise NotImplementedError()"
ANSWER_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


def meta(grade_id, **flags):
    return {"nbgrader": {"schema_version": 3, "grade_id": grade_id, **flags}}


def markdown(grade_id, text):
    return new_markdown_cell(text.strip(), metadata=meta(grade_id, solution=False, grade=False, locked=True))


def given(grade_id, source):
    return new_code_cell(source.strip(), metadata=meta(grade_id, solution=False, grade=False, locked=True))


def stub(grade_id, comments, signature):
    """A function the student writes: explanatory comments, the signature, nbgrader's stub body."""
    source = f"{comments.strip()}\n{signature}\n{STUB}"
    return new_code_cell(source, metadata=meta(grade_id, solution=True, grade=False, locked=False, task=False))


def public_test(grade_id, source, points=1):
    return new_code_cell(source.strip(), metadata=meta(grade_id, solution=False, grade=True, locked=True,
                                                       points=points, task=False))


def answer(grade_id, instruction):
    source = f"{instruction.strip()}\n{ANSWER_STUB}"
    return new_code_cell(source, metadata=meta(grade_id, solution=True, grade=False, locked=False))


INTRO = r"""
# SAM's prompt encoder: from a click to a token

*Lesson sam-3, promptable segmentation.* In this notebook you write the part of the Segment
Anything Model (SAM) that turns what a user does (a click, a box) into vectors the mask decoder
can read: the **prompt encoder**. It is only a few lines of tensor code, and every line has a reason.

**The universal cookie cutter.** A classic segmentation network is a drawer of cookie cutters,
one per shape it was trained on: a "cat" cutter, a "car" cutter, and nothing for a shape that
is not in the drawer. SAM is a single cutter that reshapes itself around whatever you point at.
The pointing is the prompt, and the prompt encoder is how the cutter hears where you pointed.

SAM has three parts:

| part | cost | runs |
|---|---|---|
| image encoder (a ViT-H, about 632M parameters): image `[3, 1024, 1024]` to embedding `[256, 64, 64]` | heavy, about 150 ms on a GPU | once per image |
| prompt encoder (this notebook): clicks and boxes to tokens of width 256 | a matrix product, sin and cos, additions | once per prompt |
| mask decoder (two light transformer layers) | about 10 ms | once per prompt |

The split is a design decision: SAM assumes that you will ask many questions about the same
image, so the expensive work is done once and every new click only pays for the light parts.
That is why the prompt encoder has to be tiny.

What SAM returns for a prompt is masks (three candidate masks at different granularities, each
with a predicted IoU score), never a class name: it knows where an outline runs, not what the
object is called.

**Conventions used in the code** (the contract of this assignment):

* a point is `(x, y)` in pixels: `x` is the column, `y` is the row;
* an image size is `(H, W)`: height first, then width;
* `gaussian` is a fixed random matrix `[2, F]` with entries drawn from N(0, 1) (SAM: `F = 128`);
* every encoding has `C = 2F` channels.

Run the next cell, then work through the sections in order. Each function comes with a small
public test; the grader runs many more (other image sizes, float32 and float64, gradients).
"""

IMPORTS = r"""
import math

import torch

torch.manual_seed(0)
"""

MCQ_WHAT_SAM_RETURNS = r"""
### Question: what comes back from one click?

You click once on a dog in a photograph and run SAM. What does it give you?

* **a)** the word "dog" with a probability
* **b)** a bounding box around the dog, labelled "dog"
* **c)** a few binary masks of the region around the click (for example part, whole object,
  larger group), each with a predicted quality score, and no class name
* **d)** a sentence describing the dog
"""

MCQ_UNSEEN_OBJECT = r"""
### Question: an object SAM never saw

A marine biologist wants masks of a deep-sea creature that appears nowhere in SAM's training
data (SA-1B). What does she have to do before SAM can segment it?

* **a)** fine-tune SAM on a few hundred labelled masks of the creature
* **b)** add a new output class for the creature to the mask decoder and train that class
* **c)** nothing: click on the creature (or draw a box around it); SAM learned what object
  boundaries look like, not a list of categories
* **d)** retrain the image encoder so that it recognises the creature, keeping the prompt
  encoder as it is
"""

MCQ_LIGHT_PROMPT_ENCODER = r"""
### Question: why so light?

The prompt encoder you are about to write is a matrix product, a sine, a cosine and an
addition, next to a 632M-parameter image encoder. Why is that enough?

* **a)** the image embedding is computed once and reused for every prompt; a click only has to
  become one cheap token (its position code plus a learned type embedding), and the light
  decoder combines that token with the stored image embedding
* **b)** both encoders run for every click, but a GPU makes the ViT fast enough not to matter
* **c)** for each click, the prompt encoder runs the image encoder again on a crop around the
  click, so it does not need parameters of its own
* **d)** the prompt encoder only has to output the class of the object under the click, and a
  class fits in a small vector
"""

NORMALIZE_TEXT = r"""
## 1. From pixels to fractions of the image

A click arrives as pixel coordinates, but a 1024-pixel-wide image and a 640-pixel-wide one
should describe "the middle of the image" the same way. So the first step divides by the image
size: `x / W` and `y / H`, giving numbers in `[0, 1]`.

The lesson's worked click is at `(342, 517)` on a `1024 x 1024` image:
`342 / 1024 = 0.334` and `517 / 1024 = 0.505`.

**Which convention does the code use?** `normalize_coords` divides and nothing else, exactly as
in that calculation. The pixel-centre shift comes later, in `encode_points` and `encode_boxes`:
pixel `342` covers the interval from 342 to 343, so its centre is `342.5`, and those functions
add `0.5` to every coordinate *before* calling `normalize_coords`. For the worked click this
gives `342.5 / 1024 = 0.3345` and `517.5 / 1024 = 0.5054`, the same numbers to three decimals.

Careful with the axes: `x` goes with the width `W` and `y` with the height `H`. On a square
image a swap goes unnoticed; the grader uses images such as `480 x 640`, where it does not.
"""

NORMALIZE_STUB = r"""
# normalize_coords(coords, image_size) -> [..., 2]
#   coords: [..., 2] pixel coordinates (x, y), any number of leading dimensions
#   image_size: (H, W)
#   returns (x / W, y / H) in the same shape, dtype and device as coords. No +0.5 shift here.
"""

NORMALIZE_TEST = r"""
click = torch.tensor([342.0, 517.0])
print("worked click:", normalize_coords(click, (1024, 1024)))
assert torch.allclose(normalize_coords(click, (1024, 1024)), torch.tensor([342 / 1024, 517 / 1024]))

# A wide image, 480 rows by 640 columns: x is divided by 640, y by 480.
corner = torch.tensor([[[640.0, 480.0], [320.0, 120.0]]], dtype=torch.float64)
out = normalize_coords(corner, (480, 640))
assert out.shape == (1, 2, 2) and out.dtype == torch.float64
assert torch.allclose(out, torch.tensor([[[1.0, 1.0], [0.5, 0.25]]], dtype=torch.float64)), out
print("normalize_coords: public tests passed")
"""

CHECK_CLICK_TEXT = r"""
### Check: the worked click

Write down the normalised coordinates of the lesson's click `(342, 517)` on the `1024 x 1024`
image, as floats (three decimals are enough; with or without the pixel-centre shift both round
to the same values).
"""

FOURIER_TEXT = r"""
## 2. Why not feed `(x, y)` to the network as they are?

Two numbers in `[0, 1]` are a poor description of a position for a neural network. Clicks two
pixels apart differ by about 0.002, and networks fed a few slowly varying numbers are good at
smooth functions of them and bad at functions that change sharply with position. Yet a mask
boundary is exactly such a function: a few pixels decide between "inside" and "outside".

The fix is to describe a position by many waves at once. SAM does it in three steps:

1. **centre** the coordinates: `c = 2 * coords01 - 1`, so the image becomes the square
   `[-1, 1] x [-1, 1]` with its centre at the origin;
2. **project** onto `F` random directions: `c @ gaussian`, where column `k` of the fixed
   `[2, F]` matrix `gaussian` is a 2-D vector drawn from N(0, 1). Its direction says along which
   way across the image the wave travels, its length how many times it oscillates;
3. **wrap** each projection into a phase and take both sine and cosine:

$$p_k = 2\pi\,(c_x\,g_{0k} + c_y\,g_{1k}), \qquad
\text{features} = [\sin p_0, \dots, \sin p_{F-1},\ \cos p_0, \dots, \cos p_{F-1}]$$

The sine block comes first, then the cosine block. The `2*pi` makes a gaussian entry of 1
mean one full turn of the wave per unit of `c`. Because `sin^2 + cos^2 = 1`, each band places
the point on a circle; bands with short columns turn slowly and describe the coarse position,
bands with long columns turn fast and tell neighbouring pixels apart. The dot product of two
such feature vectors is large when the points are close and small when they are far apart,
which is what attention in the decoder uses.

**Same idea as the transformer's sinusoidal encoding, applied to 2-D space.** A transformer
encodes a token's index with sines and cosines at a fixed ladder of frequencies along one
axis. SAM keeps the sin/cos trick but draws its frequencies at random in two dimensions, so
each band mixes x and y along its own direction. The matrix is drawn once and then kept fixed
(it is not trained), so the same click always gets the same code.

**A traced example.** Take the click at `(0.334, 0.505)`, so `c = (-0.332, 0.010)`, and two
hand-picked columns:

| column `(g0, g1)` | projection | phase `p` | `sin p` | `cos p` |
|---|---|---|---|---|
| `(1.0, 0.0)` | `-0.332` | `-2.086` | `-0.870` | `-0.493` |
| `(0.5, 2.0)` | `-0.146` | `-0.917` | `-0.794` | `0.608` |

The first band only looks at x: the click is a third of the way left of the centre, more than
a quarter turn of that wave away, hence the negative cosine. The second band mixes both axes.
With SAM's 128 random columns the click becomes 128 such sine/cosine pairs.
"""

FOURIER_STUB = r"""
# fourier_features(coords01, gaussian) -> [..., 2F]
#   coords01: [..., 2] coordinates in [0, 1] as (x, y)
#   gaussian: [2, F] fixed random projection
#   c = 2 * coords01 - 1;  p = 2 * pi * (c @ gaussian);  return cat([sin(p), cos(p)], -1)
"""

FOURIER_TEST = r"""
# One band, computed by hand: coords01 = (0.75, 0.5) gives c = (0.5, 0.0);
# column (0.5, 3.0) gives p = 2*pi*0.25 = pi/2, so sin = 1 and cos = 0.
one_band = fourier_features(torch.tensor([0.75, 0.5], dtype=torch.float64),
                            torch.tensor([[0.5], [3.0]], dtype=torch.float64))
assert one_band.shape == (2,), one_band.shape
assert torch.allclose(one_band, torch.tensor([1.0, 0.0], dtype=torch.float64), atol=1e-12), \
    f"expected [sin, cos] = [1, 0], got {one_band.tolist()} (sin block first, then cos)"

# The traced click of the table above.
trace = fourier_features(torch.tensor([0.334, 0.505], dtype=torch.float64),
                         torch.tensor([[1.0, 0.5], [0.0, 2.0]], dtype=torch.float64))
print("traced click:", [round(v, 3) for v in trace.tolist()])
assert torch.allclose(trace, torch.tensor([-0.870, -0.794, -0.493, 0.608], dtype=torch.float64), atol=1e-3)

# Shapes: any leading dimensions, 2F channels.
features = fourier_features(torch.rand(4, 3, 2), torch.randn(2, 16))
assert features.shape == (4, 3, 32), features.shape
print("fourier_features: public tests passed")
"""

CHECK_CHANNELS_TEXT = r"""
### Check: how wide is a prompt token?

SAM uses `F = 128` random columns. How many channels does `fourier_features` return for one
point, that is, what is `C`? (It has to match the width of the decoder's tokens.)
"""

MCQ_WHY_RANDOM_TEXT = r"""
### Question: why a random Gaussian projection?

Why does SAM encode a click with sines and cosines of random projections instead of feeding the
two numbers `(x, y)` to its layers directly?

* **a)** it does not really matter: raw `(x, y)` in `[0, 1]` carry the same information, and the
  projection is only there to make the vector as long as the other 256-wide tokens
* **b)** sines and cosines at many frequencies and directions turn a small change of position
  into a clear change of the vector, which a network fed two smooth numbers struggles to
  learn, and the dot product of two codes reflects how close the points are
* **c)** it is the transformer's 1-D sinusoidal encoding unchanged: x and y each get the fixed
  frequency ladder, and `gaussian` only rescales it
"""

DENSE_TEXT = r"""
## 3. The dense grid: a code for every cell of the image embedding

The image encoder turns the image into an embedding of `64 x 64` cells with 256 channels. The
decoder needs to know where each cell is, so SAM adds to the image embedding a positional code
for every cell, built with the **same** `gaussian` as the prompts. A click and the cell it falls
in therefore get (nearly) the same code, and attention can match them.

Each cell is encoded at its centre: cell `(row, col)` of an `h x w` grid sits at
`x = (col + 0.5) / w`, `y = (row + 0.5) / h`. The result is channels-first, `[2F, h, w]`, like
the image embedding it is added to (`[256, 64, 64]` for SAM).
"""

DENSE_STUB = r"""
# dense_positional_encoding(grid_hw, gaussian) -> [2F, h, w]
#   grid_hw: (h, w), the grid size
#   gaussian: [2, F]; the result has gaussian's dtype and device
#   cell (row, col) is encoded at x = (col + 0.5) / w, y = (row + 0.5) / h
"""

DENSE_TEST = r"""
g = torch.randn(2, 4, dtype=torch.float64)
grid = dense_positional_encoding((3, 5), g)
assert grid.shape == (8, 3, 5), f"expected [2F, h, w] = [8, 3, 5], got {list(grid.shape)}"
assert grid.dtype == torch.float64
# Cell (row 2, col 1) is the encoding of its centre x = 1.5 / 5, y = 2.5 / 3.
centre = torch.tensor([1.5 / 5, 2.5 / 3], dtype=torch.float64)
assert torch.allclose(grid[:, 2, 1], fourier_features(centre, g)), "cell (2, 1) should encode its centre"
print("dense_positional_encoding: public tests passed")
"""

PICTURE_TEXT = r"""
### Look at it

The next cell draws channels of SAM's `64 x 64` dense encoding with `F = 128` random columns:
the sine channels of the first four bands (channels 0 to 3) and their cosine channels
(channels 128 to 131). Each is a wave across the image; its direction and spacing come from its
column of `gaussian`. Short columns give broad stripes (coarse position), long ones narrow
stripes (fine position). The cell does nothing until `dense_positional_encoding` works.
"""

PICTURE = r"""
def show_dense_encoding(frequencies=128, grid=64, seed=0):
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed; skipping the picture")
        return
    gaussian = torch.randn(2, frequencies, generator=torch.Generator().manual_seed(seed))
    try:
        encoding = dense_positional_encoding((grid, grid), gaussian)
    except NotImplementedError:
        print("dense_positional_encoding is not written yet: come back after section 3")
        return
    channels = [0, 1, 2, 3, frequencies, frequencies + 1, frequencies + 2, frequencies + 3]
    figure, axes = plt.subplots(2, 4, figsize=(12, 6))
    for axis, channel in zip(axes.flat, channels):
        band = channel % frequencies
        kind = "sin" if channel < frequencies else "cos"
        length = gaussian[:, band].norm().item()
        axis.imshow(encoding[channel].detach().cpu(), cmap="RdBu", vmin=-1, vmax=1)
        axis.set_title(f"channel {channel}: {kind} of band {band}\n|g| = {length:.2f}", fontsize=10)
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle("SAM dense positional encoding, 64 x 64 cells")
    plt.tight_layout()
    plt.show()


show_dense_encoding()
"""

POINTS_TEXT = r"""
## 4. Clicks become tokens: labels as learned type embeddings

The Fourier code says *where* a click is. The decoder also needs to know *what kind* of
prompt it is, and SAM tells it by adding a learned vector of the same width `C`:

| label | meaning | token |
|---|---|---|
| `1` | positive click: "this object" | `fourier(point) + point_embeds[1]` |
| `0` | negative click: "not this part" | `fourier(point) + point_embeds[0]` |
| `-1` | not a point (padding) | `not_a_point_embed`, replacing the Fourier code entirely |

`point_embeds` (`[2, C]`) and `not_a_point_embed` (`[C]`) are trained with the rest of SAM, so
gradients must reach them: build the tokens with tensor operations (`torch.where`, masks,
additions), never by copying values out.

**Padding.** When a prompt has clicks but no box, SAM appends one extra point to each row of
clicks: `(0, 0)` with label `-1`. It carries no position (its token is just `not_a_point_embed`);
it keeps the decoder's token layout the same whether or not a box is present. The contract:
with `pad=True`, append it at the *end* of each row, after the `+0.5` shift (so the appended
point is exactly `(0, 0)`); with `pad=False`, append nothing.

Steps of `encode_points`: shift by `+0.5` to the pixel centre, pad if asked, normalise with
`normalize_coords`, encode with `fourier_features`, then apply the labels.
"""

POINTS_STUB = r"""
# encode_points(points, labels, image_size, gaussian, point_embeds, not_a_point_embed, pad)
#   points: [B, N, 2] pixel coordinates (x, y); labels: [B, N] with values -1, 0, 1
#   image_size: (H, W); gaussian: [2, F]; point_embeds: [2, C]; not_a_point_embed: [C]; pad: bool
#   returns [B, N + 1, C] if pad else [B, N, C]
#   shift +0.5, (pad), normalise, Fourier-encode; label 1: + point_embeds[1];
#   label 0: + point_embeds[0]; label -1: replaced by not_a_point_embed
"""

POINTS_TEST = r"""
F, C = 4, 8
g = torch.randn(2, F, dtype=torch.float64)
point_embeds = torch.randn(2, C, dtype=torch.float64)
not_a_point = torch.randn(C, dtype=torch.float64)
clicks = torch.tensor([[[100.0, 50.0], [10.0, 300.0]]], dtype=torch.float64)  # one prompt, two clicks
labels = torch.tensor([[1, 0]])
size = (480, 640)

padded = encode_points(clicks, labels, size, g, point_embeds, not_a_point, True)
assert padded.shape == (1, 3, C), f"pad=True appends one token: expected [1, 3, {C}], got {list(padded.shape)}"
assert torch.equal(padded[0, 2], not_a_point), "the padding token is exactly not_a_point_embed"
plain = encode_points(clicks, labels, size, g, point_embeds, not_a_point, False)
assert plain.shape == (1, 2, C), "pad=False adds nothing"

centre = torch.tensor([100.5 / 640, 50.5 / 480], dtype=torch.float64)  # the first click's pixel centre
assert torch.allclose(plain[0, 0], fourier_features(centre, g) + point_embeds[1]), \
    "a positive click is its Fourier code plus point_embeds[1]"
print("encode_points: public tests passed")
"""

BOXES_TEXT = r"""
## 5. Boxes become two corner tokens

A box `(x0, y0, x1, y1)` is encoded as two points, its top-left and bottom-right corners, each
shifted to its pixel centre, normalised and Fourier-encoded like a click. As with labels, a
learned vector tells the decoder which corner is which: `corner_embeds[0]` is added to the
top-left token and `corner_embeds[1]` to the bottom-right one. The result for `B` boxes is
`[B, 2, C]`.
"""

BOXES_STUB = r"""
# encode_boxes(boxes, image_size, gaussian, corner_embeds) -> [B, 2, C]
#   boxes: [B, 4] as (x0, y0, x1, y1) in pixels; image_size: (H, W); gaussian: [2, F]
#   corner_embeds: [2, C]; token 0 = top-left + corner_embeds[0], token 1 = bottom-right + corner_embeds[1]
"""

BOXES_TEST = r"""
g = torch.randn(2, 3, dtype=torch.float64)
corner_embeds = torch.randn(2, 6, dtype=torch.float64)
box = torch.tensor([[20.0, 40.0, 300.0, 200.0]], dtype=torch.float64)
tokens = encode_boxes(box, (240, 320), g, corner_embeds)
assert tokens.shape == (1, 2, 6), f"expected [B, 2, C] = [1, 2, 6], got {list(tokens.shape)}"
top_left = torch.tensor([20.5 / 320, 40.5 / 240], dtype=torch.float64)
bottom_right = torch.tensor([300.5 / 320, 200.5 / 240], dtype=torch.float64)
assert torch.allclose(tokens[0, 0], fourier_features(top_left, g) + corner_embeds[0]), "top-left token"
assert torch.allclose(tokens[0, 1], fourier_features(bottom_right, g) + corner_embeds[1]), "bottom-right token"
print("encode_boxes: public tests passed")
"""

SUMMARY = r"""
## Summary

* The prompt encoder is light because SAM encodes the image once and answers many prompts
  from the same embedding.
* A position becomes `2F` numbers: centre to `[-1, 1]`, project on `F` fixed random 2-D
  directions, `2*pi`, then sines followed by cosines: the transformer's sinusoid idea, in 2-D
  and with random frequencies.
* The same code describes every cell of the `64 x 64` image embedding (at cell centres) and
  every click (at pixel centres), so the decoder can match them.
* What a prompt *is* (positive, negative, padding, top-left or bottom-right corner) is a
  learned vector added to (or, for padding, replacing) the positional code.

None of these pieces is new; composing them is what makes SAM promptable. Next assignment:
the mask decoder that reads these tokens.
"""


def cells():
    return [
        markdown("intro", INTRO),
        given("imports", IMPORTS),
        markdown("mcq-what-sam-returns-text", MCQ_WHAT_SAM_RETURNS),
        answer("mcq-what-sam-returns", '# Set mcq_what_sam_returns to one letter: "a", "b", "c" or "d".'),
        markdown("mcq-unseen-object-text", MCQ_UNSEEN_OBJECT),
        answer("mcq-unseen-object", '# Set mcq_unseen_object to one letter: "a", "b", "c" or "d".'),
        markdown("mcq-light-prompt-encoder-text", MCQ_LIGHT_PROMPT_ENCODER),
        answer("mcq-light-prompt-encoder", '# Set mcq_light_prompt_encoder to one letter: "a", "b", "c" or "d".'),
        markdown("normalize-text", NORMALIZE_TEXT),
        stub("normalize_coords", NORMALIZE_STUB, "def normalize_coords(coords, image_size):"),
        public_test("test-normalize_coords", NORMALIZE_TEST),
        markdown("check-click-text", CHECK_CLICK_TEXT),
        answer("check-click",
               "# Set check_click_x01 and check_click_y01 to floats: the normalised x and y of the click."),
        markdown("fourier-text", FOURIER_TEXT),
        stub("fourier_features", FOURIER_STUB, "def fourier_features(coords01, gaussian):"),
        public_test("test-fourier_features", FOURIER_TEST),
        markdown("check-channel-count-text", CHECK_CHANNELS_TEXT),
        answer("check-channel-count", "# Set check_channel_count to an int: the number of channels C for F = 128."),
        markdown("mcq-why-random-projection-text", MCQ_WHY_RANDOM_TEXT),
        answer("mcq-why-random-projection", '# Set mcq_why_random_projection to one letter: "a", "b" or "c".'),
        markdown("dense-text", DENSE_TEXT),
        stub("dense_positional_encoding", DENSE_STUB, "def dense_positional_encoding(grid_hw, gaussian):"),
        public_test("test-dense_positional_encoding", DENSE_TEST),
        markdown("picture-text", PICTURE_TEXT),
        given("picture", PICTURE),
        markdown("points-text", POINTS_TEXT),
        stub("encode_points", POINTS_STUB,
             "def encode_points(points, labels, image_size, gaussian, point_embeds, not_a_point_embed, pad):"),
        public_test("test-encode_points", POINTS_TEST),
        markdown("boxes-text", BOXES_TEXT),
        stub("encode_boxes", BOXES_STUB, "def encode_boxes(boxes, image_size, gaussian, corner_embeds):"),
        public_test("test-encode_boxes", BOXES_TEST),
        markdown("summary", SUMMARY),
    ]


def build():
    notebook = new_notebook(cells=cells(), metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index:02d}-{cell.metadata['nbgrader']['grade_id']}"[:64]
    nbformat.validate(notebook)
    return notebook


if __name__ == "__main__":
    from autograder.nbgrader_source import write_notebooks

    # One cell list, two notebooks: the student's and nbgrader's source (solutions/*.source.ipynb).
    for written in write_notebooks(build(), OUTPUT, "prompt_encoder"):
        print(f"wrote {written}")
