import os
import time

import pytest
import torch

from autograder.notebook import CodeCell
from autograder.sandbox import (
    BadReturn,
    NotDefined,
    SandboxCrashed,
    SandboxTimeout,
    StateDictMismatch,
    StudentError,
    StudentNotImplemented,
    Submission,
    Timeouts,
)
from autograder.sandbox.child import wire

MODULE_CELL = """
import torch
class Affine(torch.nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.lin = torch.nn.Linear(dim, dim)
    def forward(self, x):
        return self.lin(x)
"""


def _submission(*sources: str, **timeouts) -> Submission:
    cells = [CodeCell(index, source) for index, source in enumerate(sources)]
    return Submission(cells, timeouts=Timeouts(**{"notebook_s": 30, "cell_s": 5, "call_s": 5, **timeouts}))


@pytest.fixture(scope="module")
def sandbox():
    submission = _submission(
        "import torch, os\ndef mul(x, y):\n    return x * y\n",
        "raise ValueError('broken cell')",
        MODULE_CELL,
        "def todo(x):\n    raise NotImplementedError()\n"
        "def oops(x):\n    return x[100]\n"
        "def weird():\n    return object()\n"
        "def pid():\n    return os.getpid()\n"
        "def env():\n    return dict(os.environ)\n"
        "def pair(x):\n    return x.sum(), (x * 2, {'k': x.mean()})\n"
        "answer = 'b'\n",
    )
    with submission:
        yield submission


def test_calls_return_equal_tensors_with_dtype(sandbox):
    x = torch.randn(3, 4, dtype=torch.float64)
    y = torch.randn(3, 4, dtype=torch.float64)
    out = sandbox.call("mul", x, y)
    assert out.dtype == torch.float64 and torch.equal(out, x * y)


def test_nested_results_keep_structure(sandbox):
    x = torch.arange(4.0)
    total, (doubled, extra) = sandbox.call("pair", x)
    assert total.item() == 6.0 and torch.equal(doubled, x * 2) and extra["k"].item() == 1.5


def test_gradients_come_back_for_requested_arguments(sandbox):
    x = torch.randn(5, dtype=torch.float64)
    y = torch.randn(5, dtype=torch.float64)
    cotangent = torch.randn(5, dtype=torch.float64)
    _, (grad_x, grad_y) = sandbox.call_with_grad("mul", (x, y), wrt=(0, 1), cotangents=[cotangent])
    assert torch.allclose(grad_x, cotangent * y) and torch.allclose(grad_y, cotangent * x)


def test_a_failing_cell_is_recorded_and_later_cells_still_run(sandbox):
    issues = sandbox.cell_issues()
    assert [(i.index, i.status) for i in issues] == [(1, "error")]
    assert "broken cell" in issues[0].message
    assert sandbox.defines("todo")


def test_status_exceptions(sandbox):
    with pytest.raises(NotDefined):
        sandbox.call("missing")
    with pytest.raises(StudentNotImplemented):
        sandbox.call("todo", torch.ones(1))
    with pytest.raises(StudentError) as info:
        sandbox.call("oops", torch.ones(1))
    assert "IndexError" in str(info.value) and "<cell 3>" in info.value.trace
    with pytest.raises(BadReturn):
        sandbox.call("weird")


def test_worker_is_a_different_process_with_a_clean_environment(sandbox, monkeypatch):
    assert sandbox.call("pid") != os.getpid()
    env = sandbox.call("env")
    assert "TENSORGRADE_DATABASE_URL" not in env and "DATABASE_URL" not in env
    assert env["HOME"] == env["TMPDIR"]


def test_answer_values(sandbox):
    assert sandbox.value("answer") == "b"


def test_modules_load_reference_weights_and_return_parameter_grads(sandbox):
    torch.manual_seed(0)
    reference = torch.nn.Linear(3, 3)
    module = sandbox.new("Affine", 3)
    module.load_state_dict({"lin.weight": reference.weight.detach(), "lin.bias": reference.bias.detach()})
    x = torch.randn(2, 3)
    out, (grad_x,), param_grads = module.call_with_grad((x,), wrt=(0,), params=True)
    reference(x).sum().backward()
    assert torch.allclose(out, reference(x))
    assert torch.allclose(param_grads["lin.weight"], reference.weight.grad)
    assert torch.allclose(grad_x, reference.weight.sum(0).detach().expand(2, 3))


def test_state_dict_mismatch_names_the_keys(sandbox):
    module = sandbox.new("Affine", 3)
    with pytest.raises(StateDictMismatch) as info:
        module.load_state_dict({"linear.weight": torch.zeros(3, 3), "lin.bias": torch.zeros(4)})
    message = str(info.value)
    assert "missing parameters: linear.weight" in message
    assert "unexpected parameters: lin.weight" in message
    assert "lin.bias is [3], expected [4]" in message


def test_grader_helpers_run_in_their_own_namespace(sandbox):
    source = "class Counter:\n    def __init__(self):\n        self.calls = 0\n    def __call__(self, x):\n        self.calls += 1\n        return x + 1\n"
    counter = sandbox.helper(source, "Counter")
    counter(torch.zeros(1))
    counter(torch.zeros(1))
    assert counter.get("calls") == 2
    assert not sandbox.defines("Counter")


def test_a_hanging_cell_is_dropped_and_the_rest_still_loads():
    started = time.monotonic()
    with _submission("def f():\n    return 1", "while True:\n    pass", "def g():\n    return 2", cell_s=2) as submission:
        assert submission.call("f") == 1 and submission.call("g") == 2
        assert [(i.index, i.status) for i in submission.cell_issues()] == [(1, "timeout")]
    assert time.monotonic() - started < 25


def test_hanging_call_times_out_and_the_worker_restarts():
    with _submission("import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                     "def spin():\n    while True:\n        pass\ndef one():\n    return 1", call_s=2) as submission:
        with pytest.raises(SandboxTimeout):
            submission.call("spin")
        assert submission.call("one") == 1
        assert submission.restarts == 1


def test_a_segfault_fails_only_that_call():
    with _submission("import ctypes\ndef crash():\n    ctypes.string_at(0)\ndef one():\n    return 1") as submission:
        with pytest.raises(SandboxCrashed, match="SIGSEGV"):
            submission.call("crash")
        assert submission.call("one") == 1


def test_exit_during_a_call_is_an_error_not_a_crash_of_the_grader():
    with _submission("import os\ndef leave():\n    os._exit(3)\ndef one():\n    return 1") as submission:
        with pytest.raises(SandboxCrashed, match="exit status 3"):
            submission.call("leave")
        assert submission.call("one") == 1


def test_printing_does_not_disturb_the_protocol():
    with _submission("print('x' * 100000)\ndef loud():\n    print('noise ' * 1000)\n    return 7") as submission:
        assert submission.call("loud") == 7
        assert "noise" in submission.output_excerpt()
        assert len(submission.output_excerpt()) <= 4000


def test_tensor_subclasses_come_back_as_plain_tensors():
    cell = ("import torch\nclass Liar(torch.Tensor):\n    def __eq__(self, other):\n        return True\n"
            "def lie():\n    return torch.zeros(3).as_subclass(Liar)\n")
    with _submission(cell) as submission:
        out = submission.call("lie")
        assert type(out) is torch.Tensor and torch.equal(out, torch.zeros(3))


def test_oversized_declared_tensors_are_refused_before_allocation():
    blob = wire.pack_frame({"ok": True}, {"t0": torch.zeros(10)})
    header_len, blob_len = wire.FRAME_PREFIX.unpack(blob[: wire.FRAME_PREFIX.size])
    body = blob[wire.FRAME_PREFIX.size:]
    with pytest.raises(wire.WireError, match="limit"):
        wire.unpack_body(body[:header_len], body[header_len:], max_elements=5)
    forged = body[header_len:].replace(b"[10]", b"[99999999999]")
    with pytest.raises(wire.WireError):
        wire.unpack_body(body[:header_len], forged, max_elements=1 << 40)
