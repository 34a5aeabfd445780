# attack: answer the grader's calls with forged frames: unknown tags, missing tensors, a dtype that
# names a torch function, a huge declared length, a truncated blob, a reply that is not an object
# stopped-by: sandbox
# expect: scale=error guess_target=error guess_suite_token=error guess_solution_token=error guess_env_secret=error guess_network_token=error check:rubric-token=error add_one=passed
# seconds: 120
import gc
import json
import os
import struct
import sys

OUT = int(sys.argv[2])


def _send_raw(header_bytes: bytes, blob: bytes = b"") -> None:
    os.write(OUT, struct.pack(">QQ", len(header_bytes), len(blob)) + header_bytes + blob)
    os._exit(0)  # the real reply never comes


def _send(header: dict, blob: bytes = b"") -> None:
    _send_raw(json.dumps(header).encode(), blob)


def scale(x, factor):
    _send({"ok": True, "value": {"__tensor__": "t9"}})


def guess_target():
    _send({"ok": True, "value": {"__dtype__": "load"}})


def guess_suite_token():
    _send({"ok": True, "value": {"__evil__": 1}})


def guess_solution_token():
    _send({"ok": "yes", "error": "nope"})


def guess_env_secret():
    _send_raw(b"[1, 2, 3]")


def guess_network_token():
    os.write(OUT, struct.pack(">QQ", 2, 1 << 60) + b"{}")
    os._exit(0)


_worker = next((obj for obj in gc.get_objects() if type(obj).__name__ == "Worker" and hasattr(obj, "send")), None)
if _worker is not None:
    # answer the grader's request for `check_token` with a value nested far past the recursion limit
    _worker.op_value = lambda header, tensors: os.write(
        OUT, struct.pack(">QQ", 23 + 2 * 50_000, 0) + b'{"ok": true, "value": ' + b"[" * 50_000 + b"]" * 50_000 + b"}")
