"""The grader's view of a sandboxed submission: call functions, build modules, read answers.

Only data crosses the boundary (see child/wire.py). A worker that dies or hangs is replaced by a
fresh one that re-runs the notebook's cells (leaving out any cell that hung), so one crash fails
only the tests that were talking to it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from autograder.notebook import CodeCell
from autograder.sandbox.child import wire
from autograder.sandbox.errors import (
    BadReturn,
    NotDefined,
    SandboxCrashed,
    SandboxError,
    SandboxTimeout,
    StudentError,
    StudentNotImplemented,
)
from autograder.sandbox.process import Limits, WorkerProcess

MAX_RESTARTS = 8


@dataclass
class CellOutcome:
    index: int
    status: str  # "ok" | "error" | "timeout"
    message: str = ""
    traceback: str = ""


@dataclass
class Timeouts:
    notebook_s: float = 120.0
    cell_s: float = 60.0
    call_s: float = 30.0


class StateDictMismatch(AssertionError):
    """The student's module does not have the parameter names/shapes the contract fixes."""


def _device_for(name: str) -> torch.device:
    """Where a returned tensor goes: its device when this machine has it, else the CPU (a device
    string is the student's to choose, so nothing but cpu and cuda is honoured)."""
    device = torch.device(name)
    if device.type != "cuda" or not torch.cuda.is_available():
        return torch.device("cpu")
    return device


@dataclass
class Submission:
    """A student's notebook running in a sandboxed worker."""

    cells: list[CodeCell]
    timeouts: Timeouts = field(default_factory=Timeouts)
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        self._worker: WorkerProcess | None = None
        self._generation = 0  # bumps on every restart; handles from older workers are stale
        self._hung_cells: set[int] = set()
        self.cell_outcomes: dict[int, CellOutcome] = {}
        self.restarts = 0
        self.worker_info: dict = {}
        self.isolation = ""
        self._output_tails: list[str] = []

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        self._ensure_worker()

    def close(self) -> None:
        if self._worker is not None:
            self._output_tails.append(self._worker.output_tail())
            self._worker.close()
            self._worker = None

    def __enter__(self) -> "Submission":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def output_excerpt(self, limit: int = 4000) -> str:
        current = self._worker.output_tail() if self._worker is not None else ""
        text = "".join(self._output_tails) + current
        return text[-limit:]

    def _ensure_worker(self) -> WorkerProcess:
        if self._worker is not None and self._worker.alive:
            return self._worker
        if self._worker is not None:
            self._output_tails.append(self._worker.output_tail())
            self._worker.close()
            self._worker = None
        if self.restarts >= MAX_RESTARTS:
            raise SandboxCrashed("the worker crashed too many times; giving up on this submission")
        if self._generation > 0:
            self.restarts += 1
        self._generation += 1
        self._worker = self._boot_worker()
        return self._worker

    def _boot_worker(self) -> WorkerProcess:
        """Start a worker and run every cell; a cell that hangs is dropped and we start again."""
        notebook_deadline = time.monotonic() + self.timeouts.notebook_s
        while True:
            worker = WorkerProcess(self.limits)
            self.isolation = worker.isolation
            try:
                worker.send({"op": "ping"}, {}, time.monotonic() + 60)
                self.worker_info, _ = worker.receive(time.monotonic() + 60)
                hung = self._run_cells(worker, notebook_deadline)
            except SandboxError as exc:  # crashed, or too slow to answer: never leave it behind
                worker.close()
                raise SandboxCrashed(f"the worker could not start: {exc}") from None
            if hung is None:
                return worker
            self._output_tails.append(worker.output_tail())
            worker.close()
            self._hung_cells.add(hung)
            if time.monotonic() >= notebook_deadline:
                self._mark_remaining_cells_timed_out()
                return self._boot_empty_worker()

    def _run_cells(self, worker: WorkerProcess, notebook_deadline: float) -> int | None:
        """Run the cells; returns the index of a cell that hung (worker killed), else None."""
        runnable = [cell for cell in self.cells if cell.index not in self._hung_cells]
        worker.send({"op": "exec_cells", "cells": [{"index": c.index, "source": c.source} for c in runnable]}, {}, time.monotonic() + 30)
        current: int | None = None
        while True:
            deadline = min(notebook_deadline, time.monotonic() + self.timeouts.cell_s)
            try:
                header, _ = worker.receive(deadline)
                event = _cell_event(header, {cell.index for cell in runnable})
            except SandboxTimeout:
                if current is None:
                    return runnable[0].index if runnable else None
                self.cell_outcomes[current] = CellOutcome(current, "timeout", f"cell {current} ran past its time limit and was stopped")
                return current
            except SandboxCrashed as exc:
                if current is None:
                    raise
                self.cell_outcomes[current] = CellOutcome(current, "error", f"cell {current} crashed the Python process: {exc}")
                return current
            except wire.WireError as exc:  # a frame that is well-formed but not a cell event: forged
                worker.kill()
                if current is None:
                    raise SandboxCrashed(f"the worker broke the protocol: {exc}") from None
                self.cell_outcomes[current] = CellOutcome(current, "error", f"cell {current} broke the grader's protocol ({exc}); it was stopped")
                return current
            if event[0] == "start":
                current = event[1]
                continue
            for result in event[1]:
                if result["status"] != "ok":
                    self.cell_outcomes[result["index"]] = CellOutcome(result["index"], "error", result["message"], result["traceback"])
            return None

    def _mark_remaining_cells_timed_out(self) -> None:
        for cell in self.cells:
            if cell.index not in self._hung_cells and cell.index not in self.cell_outcomes:
                self.cell_outcomes[cell.index] = CellOutcome(cell.index, "timeout", "not run: the notebook's total time limit was reached")
                self._hung_cells.add(cell.index)

    def _boot_empty_worker(self) -> WorkerProcess:
        worker = WorkerProcess(self.limits)
        try:
            worker.send({"op": "ping"}, {}, time.monotonic() + 60)
            self.worker_info, _ = worker.receive(time.monotonic() + 60)
        except SandboxError as exc:
            worker.close()
            raise SandboxCrashed(f"the worker could not start: {exc}") from None
        return worker

    # ---- requests ------------------------------------------------------------------------
    def request(self, header: dict, tensors: dict[str, torch.Tensor] | None = None, timeout: float | None = None) -> tuple[dict, dict]:
        worker = self._ensure_worker()
        deadline = time.monotonic() + (timeout or self.timeouts.call_s)
        try:
            worker.send(header, tensors or {}, deadline)
            reply, reply_tensors = worker.receive(deadline)
        except SandboxTimeout:
            raise SandboxTimeout(f"{_describe(header)} ran past its {timeout or self.timeouts.call_s:.0f} s limit and was stopped") from None
        except SandboxCrashed as exc:
            raise SandboxCrashed(f"{_describe(header)} crashed the student's Python process: {exc}") from None
        if reply.get("ok") is True:
            return reply, reply_tensors
        if reply.get("ok") is False and isinstance(reply.get("error"), dict):
            raise _error_from_reply(reply["error"])
        raise self._broken(worker, header, "a reply that is neither a result nor an error")

    def _broken(self, worker: WorkerProcess, header: dict, detail: str) -> SandboxCrashed:
        """The worker answered with something the protocol does not allow (the student's code can
        write to the reply pipe): stop it, so that the next request starts from a clean worker."""
        worker.kill()
        return SandboxCrashed(f"{_describe(header)} got a malformed reply from the student's Python process "
                              f"({detail[:200]}); it was stopped")

    def _value_request(self, header: dict, tensors: dict, timeout: float | None = None) -> Any:
        reply, reply_tensors = self.request(header, tensors, timeout)
        try:
            return wire.decode(reply.get("value"), reply_tensors, device_map=_device_for, make_handle=self._make_handle)
        except wire.WireError as exc:
            raise self._broken(self._worker, header, str(exc)) from None

    def _make_handle(self, object_id: int) -> "RemoteObject":
        return RemoteObject(self, object_id, self._generation)

    def _encode_call(self, args: Sequence, kwargs: dict | None) -> tuple[list, list, dict]:
        tree, tensors = wire.encode({"args": list(args), "kwargs": dict(kwargs or {})})
        pairs = dict(tree["__dict__"])
        return pairs["args"], pairs["kwargs"]["__dict__"], tensors

    # ---- public API ----------------------------------------------------------------------
    def defines(self, name: str) -> bool:
        header = {"op": "defines", "names": [name]}
        reply, _ = self.request(header)
        if not isinstance(reply.get("defined"), dict):
            raise self._broken(self._worker, header, "no `defined` map")
        return reply["defined"].get(name) is True

    def value(self, name: str) -> Any:
        return self._value_request({"op": "value", "name": name}, {})

    def call(self, name: str, *args, **kwargs) -> Any:
        encoded_args, encoded_kwargs, tensors = self._encode_call(args, kwargs)
        return self._value_request({"op": "call", "target": {"name": name}, "args": encoded_args, "kwargs": encoded_kwargs}, tensors)

    def call_with_grad(self, name: str, args: Sequence, kwargs: dict | None = None, *, wrt: Sequence[int] = (0,), cotangents=None):
        result = self._grad_request({"name": name}, args, kwargs, wrt, cotangents, params=False)
        return result["outputs"], result["grads"]

    def _grad_request(self, target: dict, args, kwargs, wrt, cotangents, params: bool) -> dict:
        encoded_args, encoded_kwargs, tensors = self._encode_call(args, kwargs)
        cotangent_tree, cotangent_tensors = wire.encode(list(cotangents) if cotangents is not None else None)
        cotangent_tree = _rekey(cotangent_tree, cotangent_tensors, tensors)
        header = {"op": "call", "target": target, "args": encoded_args, "kwargs": encoded_kwargs,
                  "grad": {"wrt": list(wrt), "cotangents": cotangent_tree, "params": params}}
        return self._value_request(header, tensors)

    def new(self, class_name: str, *args, **kwargs) -> "RemoteObject":
        encoded_args, encoded_kwargs, tensors = self._encode_call(args, kwargs)
        return self._value_request({"op": "new", "class": class_name, "args": encoded_args, "kwargs": encoded_kwargs}, tensors)

    def helper(self, source: str, factory: str, *args, **kwargs) -> "RemoteObject":
        encoded_args, encoded_kwargs, tensors = self._encode_call(args, kwargs)
        return self._value_request({"op": "helper", "source": source, "factory": factory, "args": encoded_args, "kwargs": encoded_kwargs}, tensors)

    def worker_pid(self) -> int | None:
        return self._ensure_worker().host_worker_pid()

    def memory_cgroup(self):
        """The memory cgroup holding the worker and everything it started, where there is one."""
        return self._ensure_worker().cap.memory_dir

    def cell_issues(self) -> list[CellOutcome]:
        return [self.cell_outcomes[index] for index in sorted(self.cell_outcomes)]


class RemoteObject(wire.ObjectHandle):
    """An object living in the worker; calls go over the wire, and it travels as a handle."""

    def __init__(self, submission: Submission, object_id: int, generation: int):
        super().__init__(object_id)
        self._submission = submission
        self._generation = generation

    def _target(self, method: str | None = None) -> dict:
        if self._generation != self._submission._generation:
            raise SandboxCrashed("this object was lost when the student's Python process was restarted")
        return {"object": self.object_id, "method": method}

    def __call__(self, *args, **kwargs) -> Any:
        return self.method("__call__", *args, **kwargs)

    def method(self, name: str, *args, **kwargs) -> Any:
        target = self._target(name)
        encoded_args, encoded_kwargs, tensors = self._submission._encode_call(args, kwargs)
        return self._submission._value_request({"op": "call", "target": target, "args": encoded_args, "kwargs": encoded_kwargs}, tensors)

    def call_with_grad(self, args: Sequence, kwargs: dict | None = None, *, wrt: Sequence[int] = (), cotangents=None, params: bool = True):
        result = self._submission._grad_request(self._target("__call__"), args, kwargs, wrt, cotangents, params)
        return result["outputs"], result["grads"], result["param_grads"]

    def get(self, attr: str) -> Any:
        self._target()
        return self._submission._value_request({"op": "get_attr", "object": self.object_id, "attr": attr}, {})

    def state_dict_shapes(self) -> dict[str, list[int]]:
        self._target()
        header = {"op": "state_dict_shapes", "object": self.object_id}
        reply, _ = self._submission.request(header)
        shapes = reply.get("shapes")
        if not (isinstance(shapes, dict) and all(isinstance(shape, list) and all(type(d) is int for d in shape)
                                                 for shape in shapes.values())):
            raise self._submission._broken(self._submission._worker, header, "no parameter shapes")
        return shapes

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Strict load; a mismatch is reported by key before anything is sent."""
        actual = self.state_dict_shapes()
        expected = {name: list(tensor.shape) for name, tensor in state.items()}
        problems = describe_state_dict_mismatch(expected, actual)
        if problems:
            raise StateDictMismatch(problems)
        tree, tensors = wire.encode(dict(state))
        self._submission.request({"op": "load_state_dict", "object": self.object_id, "state": tree["__dict__"]}, tensors)

    # Encoded as a handle when passed to another call.
    def __getstate__(self):  # pragma: no cover - never pickled; guard against accidental use
        raise TypeError("RemoteObject cannot be pickled")


def describe_state_dict_mismatch(expected: dict[str, list[int]], actual: dict[str, list[int]]) -> str:
    missing = sorted(set(expected) - set(actual))
    unexpected = sorted(set(actual) - set(expected))
    misshaped = sorted(name for name in set(expected) & set(actual) if expected[name] != actual[name])
    parts = []
    if missing:
        parts.append("missing parameters: " + ", ".join(missing[:10]))
    if unexpected:
        parts.append("unexpected parameters: " + ", ".join(unexpected[:10]))
    if misshaped:
        parts.append("wrong shapes: " + ", ".join(f"{n} is {actual[n]}, expected {expected[n]}" for n in misshaped[:10]))
    if parts:
        parts.append("keep the given __init__ unchanged: the grader loads reference weights by these names")
    return "; ".join(parts)


def _rekey(tree, extra_tensors: dict, into: dict):
    """Move `extra_tensors` into `into` under fresh keys, rewriting the references in `tree`."""
    mapping = {}
    for key, tensor in extra_tensors.items():
        new_key = f"t{len(into)}"
        into[new_key] = tensor
        mapping[key] = new_key

    def rewrite(node):
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        if isinstance(node, dict):
            if "__tensor__" in node:
                return {**node, "__tensor__": mapping[node["__tensor__"]]}
            return {key: rewrite(value) for key, value in node.items()}
        return node

    return rewrite(tree)


def _describe(header: dict) -> str:
    target = header.get("target") or {}
    if "name" in target:
        return f"`{target['name']}(...)`"
    if "method" in target and target.get("method"):
        return f"method `{target['method']}`"
    return f"the `{header.get('op')}` request"


def _cell_event(header: dict, indices: set[int]) -> tuple[str, Any]:
    """("start", index) or ("done", results) from a frame sent while cells run; WireError if the
    frame is neither (the student's code may write to the reply pipe)."""
    if header.get("event") == "cell_start":
        if type(header.get("index")) is not int or header["index"] not in indices:
            raise wire.WireError("a cell-start event without a valid cell index")
        return "start", header["index"]
    results = header.get("cells")
    if header.get("ok") is not True or not isinstance(results, list):
        raise wire.WireError("a frame that is neither a cell event nor the cells' results")
    checked = []
    for result in results:
        if not (isinstance(result, dict) and type(result.get("index")) is int and result["index"] in indices
                and result.get("status") in ("ok", "error")):
            raise wire.WireError("a malformed cell result")
        checked.append({"index": result["index"], "status": result["status"],
                        "message": str(result.get("message", ""))[:2000], "traceback": str(result.get("traceback", ""))[:4000]})
    return "done", checked


def _error_from_reply(error: dict) -> SandboxError:
    kind = error.get("type")
    message = str(error.get("message", "unknown error"))[:2000]
    if kind == "NotDefined":
        return NotDefined(message)
    if kind == "NotImplemented":
        return StudentNotImplemented(message)
    if kind == "BadReturn":
        return BadReturn(message)
    if kind == "BadRequest":
        return SandboxError(f"grader request rejected: {message}")
    return StudentError(message, str(error.get("traceback", ""))[:4000])
