"""The sandboxed worker: runs a student's notebook cells and answers the grader's requests.

Started by the grader as `python -I worker.py IN_FD OUT_FD` in a private working directory.
It imports only the standard library, torch and `wire` (copied beside it). Its stdout and
stderr go to a size-capped log file, so nothing the student prints can reach the protocol.
"""

from __future__ import annotations

import builtins
import os
import signal
import sys
import time
import traceback
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import wire  # noqa: E402

_perf_counter = time.perf_counter
_backward = torch.autograd.backward
_cuda_synchronize = torch.cuda.synchronize
# Bound before any student code runs, so replacing the torch.cuda attributes changes nothing here.
_cuda_reset_peak = torch.cuda.reset_peak_memory_stats
_cuda_allocated = torch.cuda.memory_allocated
_cuda_max_allocated = torch.cuda.max_memory_allocated
MAX_TRACEBACK_CHARS = 2000


class RequestError(Exception):
    def __init__(self, kind: str, message: str, trace: str = ""):
        super().__init__(message)
        self.kind, self.message, self.trace = kind, message, trace


class Worker:
    def __init__(self, in_fd: int, out_fd: int, namespace: dict):
        self.in_fd, self.out_fd = in_fd, out_fd
        self.namespace = namespace
        self.objects: dict[int, object] = {}
        self.next_object_id = 1
        self.prepared: dict[str, tuple] = {}

    # ---- framing -------------------------------------------------------------------------
    def read_exact(self, size: int) -> bytes:
        chunks, remaining = [], size
        while remaining:
            chunk = os.read(self.in_fd, min(remaining, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def receive(self):
        header_len, blob_len = wire.parse_prefix(self.read_exact(wire.FRAME_PREFIX.size), max_blob_bytes=1 << 34)
        header_bytes = self.read_exact(header_len)
        blob = self.read_exact(blob_len)
        return wire.unpack_body(header_bytes, blob, max_elements=1 << 34)

    def send(self, header: dict, tensors=None) -> None:
        frame = memoryview(wire.pack_frame(header, tensors or {}))
        while frame:
            written = os.write(self.out_fd, frame)
            frame = frame[written:]

    def reply_value(self, value, **extra) -> None:
        try:
            tree, tensors = wire.encode(value)
        except wire.WireError as exc:
            raise RequestError("BadReturn", str(exc)) from None
        self.send({"ok": True, "value": tree, **extra}, tensors)

    # ---- main loop -----------------------------------------------------------------------
    def serve(self) -> None:
        while True:
            try:
                header, tensors = self.receive()
            except EOFError:
                return
            op = header.get("op")
            if op == "shutdown":
                self.send({"ok": True})
                return
            try:
                getattr(self, f"op_{op}")(header, tensors)
            except RequestError as exc:
                self.send({"ok": False, "error": {"type": exc.kind, "message": exc.message, "traceback": exc.trace}})
            except AttributeError as exc:
                if not hasattr(self, f"op_{op}"):
                    self.send({"ok": False, "error": {"type": "BadRequest", "message": f"unknown op {op!r}"}})
                else:
                    self._send_student_error(exc)
            except BaseException as exc:  # anything the student's code raised, SystemExit included
                self._send_student_error(exc)

    def _send_student_error(self, exc: BaseException) -> None:
        kind = "NotImplemented" if isinstance(exc, NotImplementedError) else "StudentError"
        message = f"{type(exc).__name__}: {_safe_str(exc)}"
        self.send({"ok": False, "error": {"type": kind, "message": message[:500], "traceback": student_traceback(exc)}})

    # ---- values --------------------------------------------------------------------------
    def decode_args(self, tree, tensors):
        return wire.decode(tree, tensors, device_map=torch.device, make_handle=self.resolve_handle)

    def resolve_handle(self, object_id: int):
        try:
            return self.objects[object_id]
        except KeyError:
            raise RequestError("BadRequest", f"no object with handle {object_id}") from None

    def remember(self, obj) -> wire.ObjectHandle:
        handle = wire.ObjectHandle(self.next_object_id)
        self.objects[handle.object_id] = obj
        self.next_object_id += 1
        return handle

    def lookup(self, name: str):
        if name not in self.namespace:
            raise RequestError("NotDefined", f"the notebook does not define `{name}`")
        return self.namespace[name]

    def resolve_target(self, target: dict):
        if "name" in target:
            return self.lookup(target["name"])
        obj = self.resolve_handle(target["object"])
        method = target.get("method")
        if method is None:
            return obj
        if not hasattr(obj, method):
            raise RequestError("NotDefined", f"`{type(obj).__name__}` has no method `{method}`")
        return getattr(obj, method)

    # ---- operations ----------------------------------------------------------------------
    def op_ping(self, header, tensors):
        self.send({"ok": True, "pid": os.getpid(), "torch": torch.__version__, "cuda": torch.cuda.is_available()})

    def op_exec_cells(self, header, tensors):
        results = []
        for cell in header["cells"]:
            self.send({"event": "cell_start", "index": cell["index"]})
            results.append(self.run_cell(cell["index"], cell["source"]))
        self.send({"ok": True, "cells": results, "names": sorted(k for k in self.namespace if not k.startswith("__"))})

    def run_cell(self, index: int, source: str) -> dict:
        try:
            code = compile(source, f"<cell {index}>", "exec")
            exec(code, self.namespace)
        except BaseException as exc:  # a failing cell never stops the notebook
            return {"index": index, "status": "error", "message": f"{type(exc).__name__}: {_safe_str(exc)}"[:500],
                    "traceback": student_traceback(exc)}
        finally:
            _flush_student_streams()
        return {"index": index, "status": "ok"}

    def op_defines(self, header, tensors):
        self.send({"ok": True, "defined": {name: name in self.namespace for name in header["names"]}})

    def op_value(self, header, tensors):
        value = self.lookup(header["name"])
        try:
            self.reply_value(value)
        except RequestError:
            self.send({"ok": True, "value": None, "unencodable": type(value).__name__})

    def op_call(self, header, tensors):
        function = self.resolve_target(header["target"])
        args = self.decode_args(header.get("args", []), tensors)
        kwargs = self.decode_args({"__dict__": header.get("kwargs", [])}, tensors)
        grad = header.get("grad")
        if grad is None:
            self.reply_value(function(*args, **kwargs))
            return
        self.call_with_grad(header["target"], function, args, kwargs, grad, tensors)

    def call_with_grad(self, target, function, args, kwargs, grad, tensors):
        args = list(args)
        for position in grad["wrt"]:
            if not (isinstance(args[position], torch.Tensor) and args[position].is_floating_point()):
                raise RequestError("BadRequest", f"argument {position} is not a floating-point tensor")
            args[position] = args[position].detach().clone().requires_grad_(True)
        owner = self.resolve_handle(target["object"]) if grad.get("params") and "object" in target else None
        if owner is not None:
            owner.zero_grad(set_to_none=True)
        outputs = function(*args, **kwargs)
        differentiable = [t for t in _flatten_tensors(outputs) if t.is_floating_point()]
        cotangents = self.decode_args(grad.get("cotangents"), tensors)
        if cotangents is None:
            cotangents = [torch.ones_like(t) for t in differentiable]
        pairs = [(t, c) for t, c in zip(differentiable, cotangents) if t.requires_grad and c is not None]
        if pairs:
            _backward([t for t, _ in pairs], [c.to(t.device, t.dtype) for t, c in pairs])
        input_grads = tuple(args[position].grad for position in grad["wrt"])
        param_grads = {name: p.grad for name, p in owner.named_parameters()} if owner is not None else {}
        self.reply_value({"outputs": outputs, "grads": input_grads, "param_grads": param_grads})

    def op_new(self, header, tensors):
        cls = self.lookup(header["class"])
        args = self.decode_args(header.get("args", []), tensors)
        kwargs = self.decode_args({"__dict__": header.get("kwargs", [])}, tensors)
        self.reply_value(self.remember(cls(*args, **kwargs)))

    def op_helper(self, header, tensors):
        helper_namespace = {"__name__": "tensorgrade_helper", "__builtins__": builtins}
        exec(compile(header["source"], "<grader helper>", "exec"), helper_namespace)
        factory = helper_namespace[header["factory"]]
        args = self.decode_args(header.get("args", []), tensors)
        kwargs = self.decode_args({"__dict__": header.get("kwargs", [])}, tensors)
        self.reply_value(self.remember(factory(*args, **kwargs)))

    def op_get_attr(self, header, tensors):
        obj = self.resolve_handle(header["object"])
        self.reply_value(getattr(obj, header["attr"]))

    def op_state_dict_shapes(self, header, tensors):
        obj = self.resolve_handle(header["object"])
        shapes = {name: list(value.shape) for name, value in obj.state_dict().items()}
        self.send({"ok": True, "shapes": shapes})

    def op_load_state_dict(self, header, tensors):
        obj = self.resolve_handle(header["object"])
        state = self.decode_args({"__dict__": header["state"]}, tensors)
        obj.load_state_dict(state, strict=True)
        self.send({"ok": True})

    # ---- budgets: inputs built here from a recipe, so timed calls carry no tensor transfer --
    def op_prepare(self, header, tensors):
        generator = torch.Generator().manual_seed(int(header["seed"]))
        device = torch.device(header.get("device", "cpu"))
        dtype = getattr(torch, header.get("dtype", "float32"))
        args = [build_arg(spec, header.get("sizes", {}), generator, device, dtype, self) for spec in header["args"]]
        self.prepared[header["slot"]] = (args, header.get("no_grad", False))
        _synchronize(device)
        self.send({"ok": True})

    def op_run_prepared(self, header, tensors):
        args, no_grad = self.prepared.pop(header["slot"])
        function = self.resolve_target(header["target"])
        device = torch.device(header.get("device", "cpu"))
        if device.type == "cuda":
            _cuda_reset_peak(device)
            baseline = _cuda_allocated(device)
        with torch.no_grad() if no_grad else _nullcontext():
            outputs = function(*args)
        _synchronize(device)
        samples = sample_outputs(outputs, int(header["seed"]), int(header.get("samples", 16)))
        _synchronize(device)
        peak = _cuda_max_allocated(device) - baseline if device.type == "cuda" else None
        del args, outputs
        self.send({"ok": True, "cuda_peak_bytes": peak}, {"samples": samples})

    def op_release(self, header, tensors):
        self.objects.pop(header["object"], None)
        self.send({"ok": True})


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        _cuda_synchronize(device)


def _dim(value, sizes: dict) -> int:
    return int(sizes[value]) if isinstance(value, str) else int(value)


def build_arg(spec, sizes: dict, generator, device, dtype, worker: "Worker"):
    """One argument from a budget recipe (see autograder/budgets.py for the vocabulary)."""
    kind, value = next(iter(spec.items()))
    if kind in ("randn", "rand", "binary"):
        shape = [_dim(d, sizes) for d in value]
        if device.type != "cpu":
            return _random_on_device(kind, shape, spec, generator, device, dtype)
        if kind == "binary":
            return (torch.rand(shape, generator=generator) < spec.get("p", 0.5)).to(device, dtype)
        draw = torch.randn if kind == "randn" else torch.rand
        return (draw(shape, generator=generator, dtype=torch.float64) * spec.get("scale", 1.0)).to(device, dtype)
    if kind == "randint":
        low, high, shape = value
        return torch.randint(_dim(low, sizes), _dim(high, sizes), [_dim(d, sizes) for d in shape], generator=generator).to(device)
    if kind == "scalar":
        return torch.tensor(float(value), dtype=dtype, device=device)
    if kind == "int":
        return _dim(value, sizes)
    if kind == "value":
        return value
    if kind == "tuple":
        return tuple(build_arg(item, sizes, generator, device, dtype, worker) for item in value)
    if kind == "list":
        count = _dim(value["count"], sizes)
        return [build_arg(value["item"], sizes, generator, device, dtype, worker) for _ in range(count)]
    if kind == "helper":
        namespace = {"__name__": "tensorgrade_helper", "__builtins__": builtins}
        exec(compile(value["source"], "<grader helper>", "exec"), namespace)
        helper_args = [build_arg(item, sizes, generator, device, dtype, worker) for item in value.get("args", [])]
        built = namespace[value["factory"]](*helper_args)
        return built.to(device) if hasattr(built, "to") and callable(built.to) else built
    raise RequestError("BadRequest", f"unknown recipe kind {kind!r}")


def _random_on_device(kind: str, shape: list, spec: dict, generator, device, dtype) -> torch.Tensor:
    """Random values drawn on the accelerator itself (seeded from the CPU generator, so both
    workers still get the same inputs): drawing hundreds of millions of values on the CPU and
    copying them over would make preparing a repetition far slower than timing it."""
    local = torch.Generator(device=device)
    local.manual_seed(int(torch.randint(0, 1 << 62, (1,), generator=generator)))
    if kind == "binary":
        return (torch.rand(shape, generator=local, device=device) < spec.get("p", 0.5)).to(dtype)
    draw = torch.randn if kind == "randn" else torch.rand
    return draw(shape, generator=local, device=device, dtype=dtype) * spec.get("scale", 1.0)


def sample_outputs(outputs, seed: int, count: int) -> torch.Tensor:
    """A few values of every tensor output, at positions the student cannot predict."""
    generator = torch.Generator().manual_seed(seed ^ 0x5EED)
    picked = []
    for tensor in _flatten_tensors(outputs):
        flat = tensor.detach().reshape(-1)
        if flat.numel() == 0:
            continue
        positions = torch.randint(flat.numel(), (count,), generator=generator).to(flat.device)
        picked.append(flat[positions].to("cpu", torch.float64))
        picked.append(flat.to(torch.float64).sum().reshape(1).cpu())
    if not picked:
        raise RequestError("BadReturn", f"the function returned no tensor (got {type(outputs).__name__})")
    return torch.cat(picked)


def _flatten_tensors(value) -> list:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in _flatten_tensors(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _flatten_tensors(item)]
    return []


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except BaseException:
        return "<unprintable exception>"


def student_traceback(exc: BaseException) -> str:
    """The traceback restricted to frames of the student's cells, most recent last."""
    try:
        frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename.startswith("<cell")]
        lines = [f'  {frame.filename}, line {frame.lineno}, in {frame.name}\n    {frame.line or ""}'.rstrip() for frame in frames]
        text = "\n".join(lines[-8:] + [f"{type(exc).__name__}: {_safe_str(exc)}"])
    except BaseException:
        text = "<traceback unavailable>"
    return text[-MAX_TRACEBACK_CHARS:]


def _flush_student_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


def _redirect_output_to_log(log_path: str) -> None:
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False, errors="replace")
    sys.stderr = open(2, "w", buffering=1, closefd=False, errors="replace")


def main() -> None:
    in_fd, out_fd = int(sys.argv[1]), int(sys.argv[2])
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an over-long write fails instead of killing us
    _redirect_output_to_log(os.environ.get("TENSORGRADE_LOG", "output.log"))
    torch.set_num_threads(int(os.environ.get("TENSORGRADE_THREADS", "1")))
    student_module = types.ModuleType("__main__")  # dataclasses and friends look classes up here
    student_module.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = student_module
    Worker(in_fd, out_fd, student_module.__dict__).serve()


if __name__ == "__main__":
    main()
