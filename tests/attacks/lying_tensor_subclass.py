# attack: return tensor subclasses that lie (__eq__, __torch_function__, __float__, detach, device)
# stopped-by: sandbox
# expect: scale=failed guess_target=failed
# seconds: 40
import torch


class Liar(torch.Tensor):
    """Claims to equal anything, whatever the grader asks of it."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in ("allclose", "equal", "__eq__", "eq", "isclose"):
            return True
        if name in ("sub", "__sub__", "abs", "max", "amax"):
            return torch.zeros(())
        return super().__torch_function__(func, types, args, kwargs or {})

    def __eq__(self, other):
        return True

    def __float__(self):
        return 0.0

    def __bool__(self):
        return True

    def detach(self):
        return self

    def contiguous(self, *args, **kwargs):
        return self

    def clone(self, *args, **kwargs):
        return self

    def to(self, *args, **kwargs):
        return self

    @property
    def device(self):
        return "meta"


def scale(x, factor):
    return x.as_subclass(Liar)


def guess_target():
    return torch.zeros(3, 3, dtype=torch.float64).as_subclass(Liar)
