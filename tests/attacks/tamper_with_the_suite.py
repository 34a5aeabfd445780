# attack: rewrite the hidden suite so it passes: zero the reference tensors, add a passing test file,
# replace the solution and loosen the rubric
# stopped-by: bwrap
# expect: guess_target=failed scale=failed check:rubric-token=failed
# seconds: 40
import os

import torch

COURSE = "@@COURSE@@"
try:
    from safetensors.torch import save_file

    save_file({"hidden.target": torch.zeros(3, 3, dtype=torch.float64)}, f"{COURSE}/suites/toy_attacks/references.safetensors")
    print("ATTACK-SUCCEEDED overwrote the references")
except Exception as exc:
    print("references:", type(exc).__name__)
for path, text in [
    (f"{COURSE}/suites/toy_attacks/test_zz_@@MARK@@.py", "def test_scale_free_points():\n    pass\n"),
    (f"{COURSE}/solutions/toy_attacks.py", "def scale(x, factor):\n    return x\n"),
    (f"{COURSE}/rubrics/toy_attacks.yaml", "slug: toy_attacks\n"),
]:
    try:
        with open(path, "a" if path.endswith(".yaml") else "w") as handle:
            handle.write(text)
        print("ATTACK-SUCCEEDED wrote", path)
    except OSError as exc:
        print(path, type(exc).__name__)
try:
    os.makedirs("/sandbox/../@@MARK@@", exist_ok=True)
except OSError:
    pass
