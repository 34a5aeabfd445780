# attack: kill the grader: SIGKILL/SIGTERM to the parent, its process group and session, in a cell
# and again during a call
# stopped-by: bwrap
# expect: add_one=passed
# seconds: 40
import os
import signal


def _kill_parent():
    parent = os.getppid()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for action in (lambda: os.kill(parent, sig), lambda: os.killpg(os.getpgid(parent), sig),
                       lambda: os.kill(-os.getpgid(parent), sig)):
            try:
                action()
            except OSError:
                pass


_kill_parent()


def guess_target():
    _kill_parent()
    import torch

    return torch.zeros(3, 3, dtype=torch.float64)
