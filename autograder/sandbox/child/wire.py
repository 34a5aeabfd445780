"""The data-only wire format between the grader and the sandboxed worker.

A frame is: 8-byte header length, 8-byte blob length (both big-endian), a JSON header, and a
blob holding every tensor of the message in safetensors format. Values are JSON trees in which
tensors, tuples, dicts, special floats and remote-object handles are tagged. No pickle, ever.

This file is copied into the sandbox next to worker.py, so it may import only the standard
library, torch and safetensors.
"""

from __future__ import annotations

import json
import math
import struct

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

FRAME_PREFIX = struct.Struct(">QQ")
MAX_HEADER_BYTES = 16 * 1024 * 1024

SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}
_ITEM_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


class WireError(ValueError):
    """A frame or value that does not follow the format, or exceeds a limit."""


class ObjectHandle:
    """A reference to an object that lives in the worker (a module instance, a helper)."""

    __slots__ = ("object_id",)

    def __init__(self, object_id: int):
        self.object_id = int(object_id)


def encode(value, *, max_depth: int = 32):
    """Turn a value into (json_tree, {key: cpu tensor}, {key: tensor meta})."""
    tensors: dict[str, torch.Tensor] = {}
    tree = _encode(value, tensors, max_depth)
    return tree, tensors


def _encode(value, tensors, depth):
    if depth < 0:
        raise WireError("value is nested too deeply")
    if value is None or type(value) in (bool, str, int):
        return value
    if type(value) is float:
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, torch.Tensor):
        return _encode_tensor(value, tensors)
    if isinstance(value, ObjectHandle):
        return {"__object__": value.object_id}
    if isinstance(value, torch.dtype):
        return {"__dtype__": str(value).removeprefix("torch.")}
    if type(value) is tuple or isinstance(value, torch.Size):
        return {"__tuple__": [_encode(item, tensors, depth - 1) for item in value]}
    if type(value) is list:
        return [_encode(item, tensors, depth - 1) for item in value]
    if type(value) is dict:
        if not all(type(key) is str for key in value):
            raise WireError("only dicts with str keys can cross the sandbox boundary")
        return {"__dict__": [[key, _encode(item, tensors, depth - 1)] for key, item in value.items()]}
    raise WireError(f"a value of type {type(value).__name__} cannot cross the sandbox boundary")


def _encode_tensor(value: torch.Tensor, tensors) -> dict:
    # Subclasses and their overrides do not travel: only the raw data does.
    with torch._C.DisableTorchFunctionSubclass():
        plain = value.detach()
        if type(plain) is not torch.Tensor:
            plain = plain.as_subclass(torch.Tensor)
    if plain.layout != torch.strided:
        raise WireError(f"tensors with layout {plain.layout} cannot cross the sandbox boundary")
    if plain.is_complex() or plain.dtype not in SAFETENSORS_DTYPES.values():
        raise WireError(f"tensors of dtype {plain.dtype} cannot cross the sandbox boundary")
    key = f"t{len(tensors)}"
    with torch._C.DisableTorchFunctionSubclass():
        tensors[key] = plain.to("cpu").contiguous().clone()
    return {"__tensor__": key, "device": str(value.device), "requires_grad": bool(value.requires_grad)}


def decode(tree, tensors, *, device_map=None, make_handle=ObjectHandle):
    """Inverse of `encode`. `device_map(device_str) -> torch.device` places tensors.

    The tree comes from the other process: anything that does not follow the format (a missing
    tensor, a tag with a value of the wrong type, a dtype that is not a dtype) raises WireError.
    """
    try:
        return _decode(tree, tensors, device_map, make_handle)
    except WireError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError, RuntimeError, RecursionError) as exc:
        raise WireError(f"malformed value ({type(exc).__name__})") from None


def _decode(tree, tensors, device_map, make_handle):
    if isinstance(tree, list):
        return [_decode(item, tensors, device_map, make_handle) for item in tree]
    if not isinstance(tree, dict):
        return tree
    if "__tensor__" in tree:
        tensor = tensors[tree["__tensor__"]]
        if device_map is not None:
            tensor = tensor.to(device_map(str(tree.get("device", "cpu"))))
        if tree.get("requires_grad") is True and tensor.is_floating_point():
            tensor = tensor.requires_grad_(True)
        return tensor
    if "__tuple__" in tree:
        return tuple(_decode(item, tensors, device_map, make_handle) for item in _as_list(tree["__tuple__"]))
    if "__dict__" in tree:
        pairs = [_as_list(pair) for pair in _as_list(tree["__dict__"])]
        if not all(len(pair) == 2 and type(pair[0]) is str for pair in pairs):
            raise WireError("malformed dict value")
        return {key: _decode(item, tensors, device_map, make_handle) for key, item in pairs}
    if "__float__" in tree:
        return float(str(tree["__float__"]))
    if "__object__" in tree:
        if type(tree["__object__"]) is not int:
            raise WireError("malformed object handle")
        return make_handle(tree["__object__"])
    if "__dtype__" in tree:
        dtype = getattr(torch, str(tree["__dtype__"]), None)
        if not isinstance(dtype, torch.dtype):
            raise WireError(f"{str(tree['__dtype__'])[:40]!r} is not a dtype")
        return dtype
    raise WireError(f"unknown tagged value with keys {sorted(map(str, tree))[:5]}")


def _as_list(value) -> list:
    if not isinstance(value, list):
        raise WireError("malformed value: expected a list")
    return value


def pack_frame(header: dict, tensors: dict[str, torch.Tensor]) -> bytes:
    header_bytes = json.dumps(header, allow_nan=False).encode("utf-8")
    blob = save_safetensors(tensors) if tensors else b""
    return FRAME_PREFIX.pack(len(header_bytes), len(blob)) + header_bytes + blob


def parse_prefix(prefix: bytes, *, max_blob_bytes: int) -> tuple[int, int]:
    header_len, blob_len = FRAME_PREFIX.unpack(prefix)
    if header_len > MAX_HEADER_BYTES:
        raise WireError(f"frame header of {header_len} bytes exceeds {MAX_HEADER_BYTES}")
    if blob_len > max_blob_bytes:
        raise WireError(f"frame carries {blob_len} bytes of tensors; the limit is {max_blob_bytes}")
    return header_len, blob_len


def unpack_body(header_bytes: bytes, blob: bytes, *, max_elements: int) -> tuple[dict, dict[str, torch.Tensor]]:
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except ValueError as exc:  # not UTF-8, not JSON, or an integer too long to convert
        raise WireError(f"frame header is not JSON: {str(exc)[:200]}") from None
    except RecursionError:
        raise WireError("frame header is nested too deeply") from None
    if not isinstance(header, dict):
        raise WireError("frame header is not a JSON object")
    tensors = load_checked_safetensors(blob, max_elements=max_elements) if blob else {}
    return header, tensors


def load_checked_safetensors(blob: bytes, *, max_elements: int) -> dict[str, torch.Tensor]:
    """Check every declared dtype, shape and offset before letting safetensors allocate anything."""
    if len(blob) < 8:
        raise WireError("tensor blob is truncated")
    (meta_len,) = struct.unpack("<Q", blob[:8])
    if meta_len > len(blob) - 8 or meta_len > MAX_HEADER_BYTES:
        raise WireError("tensor blob header is larger than the blob")
    try:
        meta = json.loads(blob[8 : 8 + meta_len])
    except (ValueError, RecursionError):
        raise WireError("tensor blob header is not JSON") from None
    if not isinstance(meta, dict):
        raise WireError("tensor blob header is not a JSON object")
    data_len = len(blob) - 8 - meta_len
    total_elements = 0
    for key, info in meta.items():
        if key == "__metadata__":
            continue
        if not isinstance(info, dict):
            raise WireError(f"tensor {key!r} is not described by an object")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if not isinstance(dtype, str) or dtype not in _ITEM_BYTES:
            raise WireError(f"tensor {key!r} has unsupported dtype {dtype!r}")
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise WireError(f"tensor {key!r} has an invalid shape")
        elements = math.prod(shape)
        total_elements += elements
        if total_elements > max_elements:
            raise WireError(f"tensors declare {total_elements} elements; the limit is {max_elements}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)):
            raise WireError(f"tensor {key!r} has invalid data offsets")
        start, end = offsets
        if not (0 <= start <= end <= data_len) or end - start != elements * _ITEM_BYTES[dtype]:
            raise WireError(f"tensor {key!r} declares a shape that does not match its bytes")
    try:
        return load_safetensors(blob)
    except Exception as exc:  # safetensors' own checks (overlapping or unused bytes, ...)
        raise WireError(f"tensor blob is malformed: {type(exc).__name__}") from None
