# attack: return objects whose __reduce__ / __setstate__ run code if the grader ever unpickles them
# stopped-by: sandbox
# expect: scale=error guess_target=error guess_suite_token=error check:rubric-token=failed
# seconds: 40
import os

import numpy
import torch

MARK = "@@NOTEBOOK_DIR@@/pickle-ran-@@MARK@@"


class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {MARK}",))


class TensorPayload(torch.Tensor):
    def __reduce_ex__(self, protocol):
        return (os.system, (f"touch {MARK}",))


class DictPayload(dict):
    def __reduce__(self):
        return (os.system, (f"touch {MARK}",))


def scale(x, factor):
    return Payload()


def guess_target():
    return numpy.zeros((3, 3), dtype=object)


def guess_suite_token():
    return DictPayload(token="x")


def add_one(x):
    return (x + 1).as_subclass(TensorPayload)


check_token = Payload()
