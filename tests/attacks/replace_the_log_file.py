# attack: replace the sandbox's output log, which the grader reads back for the report, with a
# symbolic link to the reference solution, then with a FIFO that would block the grader's open()
# stopped-by: sandbox
# expect: guess_target=failed add_one=passed
# seconds: 60
import os

LOG = os.environ.get("TENSORGRADE_LOG", "output.log")
for target in ("@@COURSE@@/solutions/toy_attacks.py", "@@COURSE@@/suites/toy_attacks/test_toy_attacks.py"):
    try:
        os.remove(LOG)
    except OSError:
        pass
    os.symlink(target, LOG)
# %%
import os

import torch

LOG = os.environ.get("TENSORGRADE_LOG", "output.log")


def guess_target():
    os.remove(LOG)
    os.mkfifo(LOG)
    return torch.zeros(3, 3, dtype=torch.float64)
