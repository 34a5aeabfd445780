"""Starting, talking to, and killing one worker process."""

from __future__ import annotations

import logging
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from autograder.sandbox import isolation
from autograder.sandbox.child import wire
from autograder.sandbox.errors import SandboxCrashed, SandboxTimeout

log = logging.getLogger("tensorgrade.sandbox")

CHILD_DIR = Path(__file__).parent / "child"
CHILD_FILES = ("worker.py", "wire.py")


@dataclass
class Limits:
    """Resource limits and isolation applied to every worker."""

    address_space_bytes: int = 8 * 1024**3
    memory_bytes: int = 4 * 1024**3  # resident memory, where a memory cgroup is available
    file_size_bytes: int = 16 * 1024**2
    disk_bytes: int = 128 * 1024**2  # everything written to the private working directory
    cpu_seconds: int = 600
    open_files: int = 256
    max_tasks: int = 128  # processes and threads
    max_result_bytes: int = 512 * 1024**2
    max_result_elements: int = 64 * 1024**2
    threads: int = 1
    log_bytes: int = 64 * 1024
    isolation: str = "auto"  # "auto": bubblewrap when it works here; "bwrap": required; "subprocess": none
    extra_env: dict[str, str] = field(default_factory=dict)


BWRAP_LABEL = "bubblewrap (namespaces: user, pid, net, ipc, uts; read-only Python; private workdir)"
WEAK_LABEL = "subprocess only: WEAKER isolation (bubblewrap unavailable); resource limits still apply"


def resolve_isolation(limits: Limits) -> str | None:
    """The bwrap binary to use, or None for a plain subprocess (refused when bwrap is required)."""
    if limits.isolation == "subprocess":
        return None
    bwrap = isolation.bwrap_path()
    if bwrap is None and limits.isolation == "bwrap":
        raise SandboxCrashed("bubblewrap is required by the configuration but is not usable on this machine")
    if bwrap is None:
        log.warning("bubblewrap is not available: student code runs in a plain subprocess (weaker isolation)")
    return bwrap


def _apply_limits(limits: Limits, cap: isolation.ProcessGroupCap, nproc: int | None, *, plain: bool):
    import resource

    def preexec() -> None:
        if plain:
            # What bwrap does for its own children: no privilege gained through setuid programs
            # (sudo, pkexec, ...), and death with the grader instead of outliving it.
            isolation.no_new_privileges()
            isolation.die_with_parent()
        cap.join()
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_AS, (limits.address_space_bytes, limits.address_space_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size_bytes, limits.file_size_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        if nproc is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))

    return preexec


class WorkerProcess:
    """One live worker. Every request is a frame out and frames back, each under a deadline."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.workdir = Path(tempfile.mkdtemp(prefix="tensorgrade-sandbox-"))
        for name in CHILD_FILES:
            shutil.copy2(CHILD_DIR / name, self.workdir / name)
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        self.log_path = self.workdir / "output.log"
        bwrap = resolve_isolation(limits)
        self.isolation = BWRAP_LABEL if bwrap else WEAK_LABEL
        home = isolation.SANDBOX_HOME if bwrap else str(self.workdir)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": home,
            "TMPDIR": home,
            "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": str(limits.threads),
            "MKL_NUM_THREADS": str(limits.threads),
            "TENSORGRADE_THREADS": str(limits.threads),
            "TENSORGRADE_LOG": f"{home}/output.log",
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": f"{home}/.matplotlib",
            "PYTHONDONTWRITEBYTECODE": "1",
            # Large tensors get their own mappings, returned on free: resident memory then tracks
            # live tensors, which the memory budgets read from outside the process.
            "MALLOC_MMAP_THRESHOLD_": "65536",
            "MALLOC_TRIM_THRESHOLD_": "131072",
            **limits.extra_env,
        }
        inner = [sys.executable, "-I", f"{home}/worker.py", str(to_child_r), str(from_child_w)]
        command = isolation.bwrap_command(bwrap, self.workdir, inner, env) if bwrap else inner
        self.cap = isolation.ProcessGroupCap.create(limits.max_tasks, limits.memory_bytes)
        nproc = None if os.geteuid() == 0 else isolation.count_user_processes(os.geteuid()) + limits.max_tasks
        self._quota_exceeded = threading.Event()
        self._closed = threading.Event()
        self.process = subprocess.Popen(
            command,
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(to_child_r, from_child_w),
            start_new_session=True,
            preexec_fn=_apply_limits(limits, self.cap, nproc, plain=bwrap is None),
        )
        os.close(to_child_r)
        os.close(from_child_w)
        os.set_blocking(self._to_child, False)
        self._watchdog = threading.Thread(target=self._watch_disk, name="tensorgrade-disk-quota", daemon=True)
        self._watchdog.start()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, header: dict, tensors: dict[str, torch.Tensor], deadline: float) -> None:
        frame = memoryview(wire.pack_frame(header, tensors))
        while frame:
            self._wait(self._to_child, deadline, writable=True)
            try:
                written = os.write(self._to_child, frame)
            except (BrokenPipeError, OSError):
                raise self._crashed("the worker stopped reading requests") from None
            frame = frame[written:]

    def receive(self, deadline: float) -> tuple[dict, dict[str, torch.Tensor]]:
        prefix = self._read_exact(wire.FRAME_PREFIX.size, deadline)
        try:
            header_len, blob_len = wire.parse_prefix(prefix, max_blob_bytes=self.limits.max_result_bytes)
            header_bytes = self._read_exact(header_len, deadline)
            blob = self._read_exact(blob_len, deadline)
            return wire.unpack_body(header_bytes, blob, max_elements=self.limits.max_result_elements)
        except wire.WireError as exc:
            self.kill()
            raise SandboxCrashed(f"the worker sent a malformed or oversized reply: {exc}") from None

    def _read_exact(self, size: int, deadline: float) -> bytes:
        chunks, remaining = [], size
        while remaining:
            self._wait(self._from_child, deadline, writable=False)
            chunk = os.read(self._from_child, min(remaining, 1 << 20))
            if not chunk:
                raise self._crashed("the worker exited")
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _wait(self, fd: int, deadline: float, *, writable: bool) -> None:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise SandboxTimeout("the student's code ran past its time limit and was stopped")
            # poll, not select: select() fails on descriptors above 1023, which a busy service reaches
            poller = select.poll()
            poller.register(fd, select.POLLOUT if writable else select.POLLIN)
            ready = poller.poll(min(remaining, 0.5) * 1000)
            self._check_disk_quota()
            if ready:
                return
            if not self.alive:
                raise self._crashed("the worker exited")

    def _watch_disk(self) -> None:
        """The disk quota, checked every 0.5 s for the worker's whole life: not only while a request
        waits, since a thread of the student's can keep writing while the grader computes."""
        while not self._closed.wait(0.5):
            if directory_size(self.workdir, stop_above=self.limits.disk_bytes) > self.limits.disk_bytes:
                self._quota_exceeded.set()
                self.kill()
                shutil.rmtree(self.workdir, ignore_errors=True)
                return

    def _quota_error(self) -> SandboxCrashed:
        return SandboxCrashed(f"the student's code wrote more than {self.limits.disk_bytes // 2**20} MiB to disk and was stopped")

    def _check_disk_quota(self) -> None:
        if self._quota_exceeded.is_set():
            raise self._quota_error()

    def _crashed(self, what: str) -> SandboxCrashed:
        if self._quota_exceeded.is_set():
            return self._quota_error()
        try:
            self.process.wait(timeout=1.0)  # let bwrap pass on how the worker ended
        except subprocess.TimeoutExpired:
            pass
        self.kill()
        code = self.process.returncode
        if code is not None and code > 128 and self.isolation == BWRAP_LABEL:
            code = 128 - code  # bwrap reports a child killed by signal N as exit status 128 + N
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            detail = f"{what} (killed by {name}"
            detail += ": likely out of memory or a crash in native code)" if name in ("SIGKILL", "SIGSEGV", "SIGBUS", "SIGABRT") else ")"
        else:
            detail = f"{what} (exit status {code})"
        return SandboxCrashed(detail)

    def host_worker_pid(self) -> int | None:
        """The worker's pid as the grader sees it (inside bwrap it is a grandchild)."""
        if self.isolation != BWRAP_LABEL:
            return self.process.pid
        stack = [self.process.pid]
        while stack:
            pid = stack.pop()
            for child in _children(pid):
                try:
                    cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
                except OSError:
                    continue
                if b"worker.py" in cmdline and b"bwrap" not in cmdline.split(b"\0")[0]:
                    return child
                stack.append(child)
        return None

    def output_tail(self) -> str:
        """The end of the student's output. The student owns the folder the log lives in, so the log
        may have been swapped for a symbolic link (to a file only the grader can read) or a FIFO (to
        block the grader): only a regular file is read, without following links or blocking."""
        try:
            fd = os.open(self.log_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError:
            return ""
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return ""
            size = os.lseek(fd, 0, os.SEEK_END)
            os.lseek(fd, max(0, size - self.limits.log_bytes), os.SEEK_SET)
            return os.read(fd, self.limits.log_bytes).decode("utf-8", "replace")
        except OSError:
            return ""
        finally:
            os.close(fd)

    def kill(self) -> None:
        """End everything the worker started, at once: a student ignoring SIGTERM gains nothing."""
        if self.process.returncode is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.cap.kill_all()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        self._closed.set()
        if self.alive:
            try:
                self.send({"op": "shutdown"}, {}, time.monotonic() + 1.0)
                self.receive(time.monotonic() + 1.0)
            except Exception:
                pass
        self.kill()
        self._watchdog.join(timeout=5)
        self.cap.remove()
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.workdir, ignore_errors=True)


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            found += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    except OSError:
        pass
    return found


def reset_peak_rss(pid: int) -> bool:
    """Make VmHWM equal the current resident size (Linux clear_refs); False if not permitted."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def read_rss(pid: int) -> tuple[int, int]:
    """(current, peak) resident bytes of a process, read by the grader from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024
    return fields["VmRSS"], fields["VmHWM"]


MIN_ENTRY_BYTES = 4096  # what an empty file or folder is charged: a million of them is not free


def directory_size(root: Path, *, stop_above: int) -> int:
    """Bytes used under `root` (allocated blocks, so sparse files count for what they use; every
    entry at least MIN_ENTRY_BYTES, so that floods of empty files hit the quota too)."""
    total = 0
    stack = [str(root)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                    total += MIN_ENTRY_BYTES
                else:
                    total += max(entry.stat(follow_symlinks=False).st_blocks * 512, MIN_ENTRY_BYTES)
            except OSError:
                continue
            if total > stop_above:
                return total
    return total
