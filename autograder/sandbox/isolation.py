"""How the worker process is walled off: bubblewrap namespaces, cgroup and rlimit caps.

With bubblewrap (`bwrap`) the worker sees an empty, read-only root with, read-only, only the
system libraries and the Python environment; its private working directory (also reachable as
/tmp) is the one writable place; it has no network, its own PID/IPC/UTS namespaces, no
capabilities, and no view of the project (hidden suites, solutions, rubrics, the service's data). Without bwrap the worker is a plain
subprocess with the same resource limits: isolation is weaker, and we say so loudly.
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import glob
import logging
import os
import shutil
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("tensorgrade.sandbox")

SANDBOX_HOME = "/sandbox"
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/nsswitch.conf")
NOBODY = 65534


@functools.lru_cache(maxsize=1)
def bwrap_path() -> str | None:
    """The bwrap binary if it is installed *and* can create namespaces here (containers may forbid it)."""
    if os.environ.get("TENSORGRADE_DISABLE_BWRAP") == "1":
        return None
    path = shutil.which("bwrap")
    if path is None:
        return None
    probe = [path, *_namespace_options(path), "--die-with-parent", *_system_binds(), "--proc", "/proc", "--dev", "/dev",
             "--remount-ro", "/", "true"]
    try:
        ok = subprocess.run(probe, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if not ok:
        log.warning("bwrap is installed but cannot create a sandbox here; falling back to a plain subprocess")
    return path if ok else None


def _system_binds() -> list[str]:
    args: list[str] = []
    for directory in SYSTEM_DIRS:
        if os.path.islink(directory):
            args += ["--symlink", os.readlink(directory), directory]
        elif os.path.isdir(directory):
            args += ["--ro-bind", directory, directory]
    for path in SYSTEM_FILES:
        args += ["--ro-bind-try", path, path]
    return args


def python_roots() -> list[str]:
    """Directories the worker's interpreter needs: the installation and the virtual environment."""
    roots = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    return sorted(root for root in roots if not any(root != other and root.startswith(other + os.sep) for other in roots))


def gpu_device_binds() -> list[str]:
    args: list[str] = []
    for device in sorted(glob.glob("/dev/nvidia*")):
        args += ["--dev-bind-try", device, device]
    return args


@functools.lru_cache(maxsize=4)
def _supports(bwrap: str, option: str) -> bool:
    try:
        return option in subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False


def _namespace_options(bwrap: str) -> list[str]:
    options = ["--unshare-all", "--uid", str(NOBODY), "--gid", str(NOBODY), "--cap-drop", "ALL"]
    if _supports(bwrap, "--disable-userns"):
        options += ["--unshare-user", "--disable-userns"]  # no nested user namespaces: a large kernel attack surface
    return options


def bwrap_command(bwrap: str, workdir: Path, inner_command: list[str], env: dict[str, str]) -> list[str]:
    command = [bwrap, *_namespace_options(bwrap), "--die-with-parent", "--new-session", "--clearenv", *_system_binds()]
    for root in python_roots():
        command += ["--ro-bind", root, root]
    command += ["--proc", "/proc", "--dev", "/dev", *gpu_device_binds(),
                "--bind", str(workdir), SANDBOX_HOME, "--symlink", SANDBOX_HOME, "/tmp", "--chdir", SANDBOX_HOME,
                # The root and /dev are memory-backed: read-only, so the private workdir (under the
                # disk quota) is the only place a write can land.
                "--remount-ro", "/dev", "--remount-ro", "/"]
    for key, value in env.items():
        command += ["--setenv", key, value]
    return command + inner_command


@dataclass
class ProcessGroupCap:
    """A pids (and memory) cgroup that bounds how many tasks and how much memory a worker may use.

    Needs a writable cgroup hierarchy (root on most machines); where there is none, RLIMIT_NPROC
    (effective for non-root users) is the only process cap.
    """

    pids_dir: Path | None
    memory_dir: Path | None

    @classmethod
    def create(cls, max_tasks: int, memory_bytes: int) -> "ProcessGroupCap":
        name = f"tensorgrade-{uuid.uuid4().hex[:12]}"
        cap = cls(_make_cgroup("pids", name, {"pids.max": str(max_tasks)}),
                  _make_cgroup("memory", name, {"memory.limit_in_bytes": str(memory_bytes)}, {"memory.max": str(memory_bytes)}))
        _LIVE_CAPS.add(cap)
        return cap

    @property
    def active(self) -> bool:
        return self.pids_dir is not None

    def join(self) -> None:
        """Called in the child before exec: move this process into the cgroups."""
        for directory in (self.pids_dir, self.memory_dir):
            if directory is not None:
                with open(directory / "cgroup.procs", "w") as handle:
                    handle.write(str(os.getpid()))

    def kill_all(self) -> None:
        import signal

        for directory in (self.pids_dir, self.memory_dir):
            if directory is None:
                continue
            for _ in range(20):
                pids = _read_pids(directory)
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass

    def remove(self) -> None:
        """Kill what is left and delete the cgroups (a cgroup with dying tasks needs a moment)."""
        import time

        self.kill_all()
        for directory in (self.pids_dir, self.memory_dir):
            for _ in range(40):
                if directory is None or not directory.exists():
                    break
                try:
                    directory.rmdir()
                except OSError:
                    time.sleep(0.05)
        _LIVE_CAPS.discard(self)

    def __hash__(self) -> int:
        return id(self)


_LIVE_CAPS: set[ProcessGroupCap] = set()


@atexit.register
def _remove_leftover_caps() -> None:
    for cap in list(_LIVE_CAPS):
        cap.remove()


def _read_pids(directory: Path) -> list[int]:
    try:
        return [int(line) for line in (directory / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def _make_cgroup(controller: str, name: str, v1_settings: dict[str, str], v2_settings: dict[str, str] | None = None) -> Path | None:
    """Create a cgroup under the v1 controller hierarchy, or under the v2 unified one."""
    v1_root = Path("/sys/fs/cgroup") / controller
    v2_root = Path("/sys/fs/cgroup")
    candidates = []
    if (v1_root / "cgroup.procs").exists():
        candidates.append((v1_root, v1_settings))
    elif (v2_root / "cgroup.controllers").exists() and controller in (v2_root / "cgroup.controllers").read_text().split():
        candidates.append((v2_root, v2_settings or v1_settings))
    for root, settings in candidates:
        directory = root / name
        try:
            directory.mkdir()
            for key, value in settings.items():
                (directory / key).write_text(value)
            return directory
        except OSError:
            try:
                directory.rmdir()
            except OSError:
                pass
    return None


_PR_SET_PDEATHSIG = 1
_PR_SET_NO_NEW_PRIVS = 38
# Loaded here, not in the forked child: dlopen between fork and exec is not safe.
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _prctl(option: int, value: int) -> None:
    if _libc is not None:
        _libc.prctl(option, value, 0, 0, 0)


def no_new_privileges() -> None:
    """In a child before exec: setuid binaries no longer raise privileges (Linux only; else no-op)."""
    _prctl(_PR_SET_NO_NEW_PRIVS, 1)


def die_with_parent() -> None:
    """In a child before exec: SIGKILL when the grader's thread that started it goes away."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def count_user_processes(uid: int) -> int:
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count
