# attack: find the sandbox's own worker in memory and rewrite its replies (forge "correct" answers)
# stopped-by: sandbox
# expect: scale=failed guess_target=failed guess_suite_token=failed
# seconds: 40
import gc

import torch

_worker = next((obj for obj in gc.get_objects() if type(obj).__name__ == "Worker" and hasattr(obj, "reply_value")), None)

if _worker is not None:
    _original_send = _worker.send

    def _lying_send(header, tensors=None):
        # Every failure becomes a success, every value the one we like.
        if isinstance(header, dict) and header.get("ok") is False:
            header = {"ok": True, "value": "suite-canary-guess"}
        return _original_send(header, tensors)

    _worker.send = _lying_send


def scale(x, factor):
    raise RuntimeError("forged into a success by the patched worker")


def guess_target():
    return torch.ones(3, 3, dtype=torch.float64)
