# attack: make every torch comparison say "equal" (allclose, equal, isclose, assert_close, ==)
# stopped-by: sandbox
# expect: scale=failed guess_target=failed
# seconds: 40
import torch
import torch.testing

_true = lambda *args, **kwargs: True  # noqa: E731
torch.allclose = _true
torch.equal = _true
torch.Tensor.allclose = _true
torch.Tensor.equal = _true
torch.Tensor.__eq__ = lambda self, other: torch.ones_like(self, dtype=torch.bool)
torch.Tensor.__ne__ = lambda self, other: torch.zeros_like(self, dtype=torch.bool)
torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(a, dtype=torch.bool)
torch.testing.assert_close = lambda *args, **kwargs: None
torch.Tensor.__bool__ = _true
torch.Tensor.abs = lambda self: torch.zeros_like(self)
torch.Tensor.max = lambda self, *args, **kwargs: torch.zeros(())
torch.sub = lambda a, b, **kwargs: torch.zeros_like(a)
torch.Tensor.__sub__ = lambda self, other: torch.zeros_like(self)
