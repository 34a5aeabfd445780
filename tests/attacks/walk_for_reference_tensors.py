# attack: walk the whole filesystem for *.safetensors and return the hidden reference tensor
# stopped-by: bwrap
# expect: guess_target=failed
# seconds: 40
import os
import time

import torch
from safetensors.torch import load_file


def _find_reference():
    deadline = time.monotonic() + 1.5
    for root, dirs, files in os.walk("/"):
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
        if time.monotonic() > deadline:
            return None
        for name in files:
            if name.endswith(".safetensors"):
                try:
                    tensors = load_file(os.path.join(root, name))
                except Exception:
                    continue
                if "hidden.target" in tensors:
                    print("ATTACK-SUCCEEDED found", os.path.join(root, name))
                    return tensors["hidden.target"]
    return None


def guess_target():
    for known in ("@@COURSE@@/suites/toy_attacks/references.safetensors",):
        if os.path.exists(known):
            print("ATTACK-SUCCEEDED the suite folder is visible")
            return load_file(known)["hidden.target"]
    found = _find_reference()
    return found if found is not None else torch.zeros(3, 3, dtype=torch.float64)
