"""The attack corpus (tests/attacks/): hostile submissions graded against the toy course.

Every attack is the honest-wrong baseline (tests/attacks/_honest_wrong.py) plus hostile cells, so
any test it passes beyond the baseline's is a leak. The target assignment `toy_attacks` only
rewards a correct `scale`, a correct `add_one`, or a secret the sandbox must keep: a tensor in the
hidden references, a token in the solution, in the hidden suite or in the rubric, a secret in the
grader's environment, or a token served on the grader's loopback.

For every attack and isolation mode: the grader returns a report that serialises and renders, the
score is no higher than the baseline's (and no test passes that the baseline fails), the outcome
named in the attack's header holds, no secret reaches the report, nothing outside the sandbox
changed, no process and no cgroup is left behind, and the grading ends within the header's bound.

Attack files carry a header:
    # attack: what it tries
    # stopped-by: sandbox | bwrap     (sandbox: both modes; bwrap: only the bubblewrap mode)
    # expect: TARGET=STATUS ... cellN=STATUS|ok
    # seconds: wall-clock bound of one grading
and are split into notebook cells at `# %%` lines. `@@NAME@@` placeholders are replaced by the
paths an insider would know (see `_render`).
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import os
import re
import secrets
import shutil
import signal
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from rich.console import Console
from safetensors.torch import load_file

from autograder.grading import grade
from autograder.notebook import CodeCell
from autograder.render import render
from autograder.sandbox import Limits, Submission, Timeouts, isolation
from autograder.sandbox.process import BWRAP_LABEL, WEAK_LABEL, directory_size

TESTS = Path(__file__).parent
REPO = TESTS.parent
ATTACKS = TESTS / "attacks"
COURSE = TESTS / "fixtures" / "toycourse"
SLUG = "toy_attacks"
COURSE_FILES = [COURSE / "rubrics" / "toy_attacks.yaml", COURSE / "solutions" / "toy_attacks.py",
                *sorted((COURSE / "suites" / "toy_attacks").glob("*"))]
SUCCESS_MARKER = "ATTACK-SUCCEEDED"

# Tighter than the defaults so that bombs stay small on a shared machine; the mechanisms are the same.
CORPUS_LIMITS = dict(address_space_bytes=3 * 1024**3, memory_bytes=1024**3, file_size_bytes=8 * 1024**2,
                     disk_bytes=64 * 1024**2, cpu_seconds=60, max_tasks=32, max_result_bytes=64 * 1024**2,
                     max_result_elements=8 * 1024**2)
MODES = ("bwrap", "subprocess")
LABELS = {"bwrap": BWRAP_LABEL, "subprocess": WEAK_LABEL}
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Attack:
    name: str
    description: str
    stopped_by: str  # "sandbox" (both modes) or "bwrap"
    expect: dict[str, str]
    seconds: float
    cells: tuple[str, ...]


def load_attack(path: Path) -> Attack:
    text = path.read_text(encoding="utf-8")
    header = dict(re.findall(r"^# (attack|stopped-by|expect|seconds): (.*)$", text, flags=re.M))
    expect = dict(item.split("=", 1) for item in header.get("expect", "").split())
    cells = tuple(cell.strip("\n") + "\n" for cell in re.split(r"^# %%.*$", text, flags=re.M))
    assert header.get("stopped-by") in ("sandbox", "bwrap"), f"{path.name}: stopped-by must be sandbox or bwrap"
    return Attack(path.stem, header["attack"], header["stopped-by"], expect, float(header["seconds"]), cells)


ATTACK_LIST = [load_attack(path) for path in sorted(ATTACKS.glob("[!_]*.py"))]
BASELINE = (ATTACKS / "_honest_wrong.py").read_text(encoding="utf-8")


def test_the_corpus_covers_the_issue():
    assert len(ATTACK_LIST) >= 25
    assert all(attack.expect for attack in ATTACK_LIST), "every attack states its expected outcome"


# ---- the environment an attack runs in --------------------------------------------------------
class TokenServer:
    """A TCP server on the grader's loopback that hands out a token to whoever connects."""

    def __init__(self, token: str):
        self.token = token
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.sendall(self.token.encode() + b"\n")

    def close(self) -> None:
        self.sock.close()


@dataclass
class Secrets:
    env_secret: str
    net_token: str
    server: TokenServer

    def all(self) -> dict[str, str]:
        suite_text = (COURSE / "suites" / SLUG / "test_toy_attacks.py").read_text()
        solution_text = (COURSE / "solutions" / "toy_attacks.py").read_text()
        rubric_text = (COURSE / "rubrics" / "toy_attacks.yaml").read_text()
        return {
            "env secret": self.env_secret,
            "network token": self.net_token,
            "suite token": re.search(r'SUITE_TOKEN = "([^"]+)"', suite_text).group(1),
            "solution token": re.search(r'SOLUTION_TOKEN = "([^"]+)"', solution_text).group(1),
            "rubric token": re.search(r'expected: "(rubric-canary-[^"]+)"', rubric_text).group(1),
        }


_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_CHILD_SUBREAPER = 36


@pytest.fixture(scope="module")
def grader_env():
    """Secrets in the grader's environment, a token server on loopback, and this process as the
    subreaper of everything the grading starts (so an escaped daemon is seen, not lost to init)."""
    secrets_ = Secrets(env_secret="tg-secret-" + secrets.token_hex(12), net_token="tg-net-" + secrets.token_hex(12),
                       server=TokenServer("tg-net-pending"))
    secrets_.server.token = secrets_.net_token
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TENSORGRADE_COURSE_DIR", str(COURSE))
        patch.setenv("TENSORGRADE_SECRET_KEY", secrets_.env_secret)
        patch.setenv("DATABASE_URL", f"postgresql://grader:{secrets_.env_secret}@127.0.0.1:5432/tensorgrade")
        patch.setenv("TOY_ATTACKS_NET_TOKEN", secrets_.net_token)
        _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        try:
            yield secrets_
        finally:
            _libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
            secrets_.server.close()


def _bwrap_usable() -> bool:
    return isolation.bwrap_path() is not None


def _limits(mode: str, mark: str) -> Limits:
    return Limits(isolation=mode, extra_env={"TENSORGRADE_ATTACK_RUN": mark}, **CORPUS_LIMITS)


def _skip_unless_mode_available(mode: str) -> None:
    if mode == "bwrap" and not _bwrap_usable():
        pytest.skip("bubblewrap is not usable on this machine (install the bubblewrap package)")


def _write_notebook(folder: Path, cells: list[str]) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    path = folder / f"{SLUG}.ipynb"
    nbformat.write(notebook, str(path))
    return path


# ---- what must not change -------------------------------------------------------------------
def _descendants(root_pid: int) -> dict[int, str]:
    """pid -> state of every process below `root_pid` (this process is their subreaper)."""
    parents: dict[int, list[int]] = {}
    states: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        states[int(entry)] = fields[0]
        parents.setdefault(int(fields[1]), []).append(int(entry))
    found, stack = {}, list(parents.get(root_pid, []))
    while stack:
        pid = stack.pop()
        found[pid] = states.get(pid, "?")
        stack.extend(parents.get(pid, []))
    return found


def _processes_with_marker(mark: str) -> list[int]:
    needle = f"TENSORGRADE_ATTACK_RUN={mark}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if needle in Path(f"/proc/{entry}/environ").read_bytes():
                    found.append(int(entry))
            except OSError:
                continue
    return found


def _leftover_processes(mark: str) -> list[str]:
    """Processes the grading left behind; zombies handed to us as subreaper are reaped, the living killed."""
    leftovers = []
    deadline = time.monotonic() + 2.0
    while True:
        alive = {pid: state for pid, state in _descendants(os.getpid()).items() if state != "Z"}
        for pid, state in _descendants(os.getpid()).items():
            if state == "Z":
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
        marked = set(_processes_with_marker(mark))
        if not alive and not marked:
            return []
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for pid in set(alive) | marked:
        try:
            leftovers.append(f"{pid}: {Path(f'/proc/{pid}/cmdline').read_bytes()[:120]!r}")
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return leftovers


def _hashes(paths) -> dict[str, str]:
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in paths if path.is_file()}


def _marked_paths(mark: str, folders: list[Path]) -> list[Path]:
    found = []
    for folder in folders:
        try:
            found += [path for path in folder.glob(f"*{mark}*")]
        except OSError:
            continue
    return found + list(COURSE.rglob(f"*{mark}*"))


@dataclass
class Snapshot:
    course: dict[str, bytes]
    submission: dict[str, str]

    @classmethod
    def take(cls, submission_dir: Path) -> "Snapshot":
        return cls({str(p): p.read_bytes() for p in COURSE_FILES if p.is_file()},
                   _hashes(sorted(submission_dir.iterdir())))

    def changes(self, submission_dir: Path) -> list[str]:
        changed = []
        for path, content in self.course.items():
            if not Path(path).is_file() or Path(path).read_bytes() != content:
                changed.append(path)
                Path(path).write_bytes(content)  # put the course back before failing
        if {str(p) for p in COURSE_FILES if p.is_file()} != set(self.course):
            changed.append("files were added to the toy_attacks course")
        if _hashes(sorted(submission_dir.iterdir())) != self.submission:
            changed.append(f"the notebook's folder {submission_dir}")
        return changed


class CapRecorder:
    """Remembers every cgroup the sandbox creates, to check that each is gone afterwards."""

    def __init__(self, monkeypatch):
        self.caps: list[isolation.ProcessGroupCap] = []
        original = isolation.ProcessGroupCap.create.__func__

        def create(cls, *args, **kwargs):
            cap = original(cls, *args, **kwargs)
            self.caps.append(cap)
            return cap

        monkeypatch.setattr(isolation.ProcessGroupCap, "create", classmethod(create))

    def leftovers(self) -> list[str]:
        return [str(d) for cap in self.caps for d in (cap.pids_dir, cap.memory_dir) if d is not None and d.exists()]


# ---- grading ---------------------------------------------------------------------------------
@dataclass
class Outcome:
    report: object
    seconds: float
    leftover_processes: list[str]
    leftover_cgroups: list[str]
    changes: list[str]
    marked: list[Path]


def _render(source: str, *, mark: str, submission_dir: Path, sentinel: Path, port: int) -> str:
    for key, value in {"REPO": str(REPO), "COURSE": str(COURSE), "NOTEBOOK_DIR": str(submission_dir),
                       "SENTINEL": str(sentinel), "MARK": mark, "NET_PORT": str(port)}.items():
        source = source.replace(f"@@{key}@@", value)
    return source


def run_grading(cells: list[str], mode: str, tmp_path: Path, monkeypatch, grader_env: Secrets) -> Outcome:
    mark = "tg-attack-" + secrets.token_hex(6)
    submission_dir = tmp_path / "submission"
    submission_dir.mkdir()
    sentinel = submission_dir / "sentinel.txt"
    sentinel.write_text(secrets.token_hex(16))
    cells = [_render(cell, mark=mark, submission_dir=submission_dir, sentinel=sentinel, port=grader_env.server.port)
             for cell in cells]
    notebook = _write_notebook(submission_dir, cells)
    watched = [Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), Path("/root"), Path.home(), Path("/"), REPO,
               submission_dir]
    snapshot = Snapshot.take(submission_dir)
    caps = CapRecorder(monkeypatch)
    started = time.monotonic()
    try:
        report = grade(notebook, SLUG, seed=1234, limits=_limits(mode, mark), run_budgets=False)
    finally:
        seconds = time.monotonic() - started
        leftovers = _leftover_processes(mark)
    marked = _marked_paths(mark, watched)
    for path in marked:  # clean up before the assertions report them
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return Outcome(report, seconds, leftovers, caps.leftovers(), snapshot.changes(submission_dir), marked)


_BASELINES: dict[str, object] = {}


def baseline_report(mode: str, tmp_path: Path, monkeypatch, grader_env: Secrets):
    if mode not in _BASELINES:
        outcome = run_grading([BASELINE], mode, tmp_path / "baseline", monkeypatch, grader_env)
        _BASELINES[mode] = outcome.report
    return _BASELINES[mode]


def _passed(report) -> set[str]:
    return {test.name for test in report.tests if test.status == "passed"}


def _text_fields(report) -> list[str]:
    fields = [report.stdout_excerpt]
    fields += [test.message for test in report.tests]
    fields += [cell.message for cell in report.cells] + [cell.source_excerpt for cell in report.cells]
    return fields + [hit.feedback for hit in report.misconceptions]


# ---- the checks themselves notice what they look for ----------------------------------------
def test_the_trace_checks_notice_leftovers(tmp_path, monkeypatch, grader_env):
    """An orphaned daemon, a marked file, a changed notebook folder and a cgroup left in place
    are all reported (so that the corpus' 'nothing left behind' assertions can fail)."""
    import subprocess

    mark = "tg-attack-" + secrets.token_hex(6)
    env = {"PATH": os.environ["PATH"], "TENSORGRADE_ATTACK_RUN": mark}
    subprocess.run(["/bin/sh", "-c", "sleep 30 & exit 0"], env=env, check=True)  # the sleep is orphaned
    leftovers = _leftover_processes(mark)
    assert len(leftovers) == 1 and "sleep" in leftovers[0]
    assert _leftover_processes(mark) == []  # and it was killed

    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "sentinel.txt").write_text("x")
    snapshot = Snapshot.take(folder)
    (folder / "sentinel.txt").write_text("y")
    assert snapshot.changes(folder) == [f"the notebook's folder {folder}"]
    marked = Path("/tmp") / f"written-{mark}"
    marked.write_text("x")
    try:
        assert _marked_paths(mark, [Path("/tmp")]) == [marked]
    finally:
        marked.unlink()

    recorder = CapRecorder(monkeypatch)
    cap = isolation.ProcessGroupCap.create(4, 64 * 1024**2)
    try:
        assert recorder.leftovers() == [str(d) for d in (cap.pids_dir, cap.memory_dir) if d is not None]
    finally:
        cap.remove()
    assert recorder.leftovers() == []


BACKGROUND_WRITER = """
import threading, time
def _fill():
    chunk = b"x" * (4 << 20)
    for index in range(200):  # 800 MiB at about 80 MiB/s unless the quota stops it
        with open(f"bg-{index}", "wb") as handle:
            handle.write(chunk)
        time.sleep(0.05)
threading.Thread(target=_fill, daemon=True).start()
def one():
    return 1
"""


@pytest.mark.parametrize("mode", MODES)
def test_the_disk_quota_holds_while_no_request_waits(mode, grader_env):
    """A thread of the student's keeps writing while the grader is busy elsewhere (no request in
    flight): the quota is still enforced (the worker is killed within about 0.5 s of passing it,
    and the next request is served by a fresh worker)."""
    _skip_unless_mode_available(mode)
    limits = _limits(mode, "tg-attack-" + secrets.token_hex(6))
    with Submission([CodeCell(0, BACKGROUND_WRITER)], timeouts=Timeouts(20, 5, 5), limits=limits) as submission:
        workdir, peak = submission._worker.workdir, 0
        deadline = time.monotonic() + 20.0  # generous: CI machines are busy
        while time.monotonic() < deadline and submission._worker.alive:  # the grader "computes"
            peak = max(peak, directory_size(workdir, stop_above=1 << 40))
            time.sleep(0.05)
        assert not submission._worker.alive
        assert submission.call("one") == 1 and submission.restarts == 1
    # Stopped far below the 800 MiB the writer would reach; the margin allows for a loaded machine.
    # The writer did write (the sampler may miss the last half second before the kill), and was
    # stopped far below the 800 MiB it would reach; the margin allows for a loaded machine.
    assert limits.disk_bytes // 2 < peak < limits.disk_bytes + 256 * 1024**2


# ---- the baseline and the oracle: the corpus can tell a leak from a miss ----------------------
@pytest.mark.parametrize("mode", MODES)
def test_honest_wrong_baseline_earns_only_add_one(mode, tmp_path, monkeypatch, grader_env):
    _skip_unless_mode_available(mode)
    (tmp_path / "baseline").mkdir()
    report = baseline_report(mode, tmp_path, monkeypatch, grader_env)
    statuses = {test.target: test.status for test in report.tests}
    assert statuses == {"scale": "failed", "add_one": "passed", "guess_target": "failed",
                        "guess_solution_token": "failed", "guess_suite_token": "failed", "guess_env_secret": "failed",
                        "guess_network_token": "failed", "check:rubric-token": "failed", "check:count": "failed"}
    assert report.score == 1 and report.max_score == 10
    assert report.environment.isolation == LABELS[mode]


@pytest.mark.parametrize("mode", MODES)
def test_a_submission_that_knows_every_secret_gets_full_marks(mode, tmp_path, monkeypatch, grader_env):
    """The oracle: if any secret leaked, the `guess_*` tests and the check would notice."""
    _skip_unless_mode_available(mode)
    known = grader_env.all()
    target = load_file(str(COURSE / "suites" / SLUG / "references.safetensors"))["hidden.target"]
    values = ", ".join(f"float.fromhex({value.hex()!r})" for value in target.flatten().tolist())
    oracle = (f"import torch\ndef scale(x, factor):\n    return x * factor\n"
              f"def guess_target():\n    return torch.tensor([{values}], dtype=torch.float64).reshape(3, 3)\n"
              + "".join(f"def {name}():\n    return {known[key]!r}\n" for name, key in [
                  ("guess_solution_token", "solution token"), ("guess_suite_token", "suite token"),
                  ("guess_env_secret", "env secret"), ("guess_network_token", "network token")])
              + f"check_token = {known['rubric token']!r}\ncheck_count = 3\n")
    outcome = run_grading([BASELINE, oracle], mode, tmp_path, monkeypatch, grader_env)
    assert {test.target: test.status for test in outcome.report.tests if test.status != "passed"} == {}
    assert outcome.report.score == outcome.report.max_score == 10


# ---- the corpus ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def process_cap_works():
    """Whether a runaway process count is capped here (pids cgroup or RLIMIT_NPROC), measured with a
    bounded probe: 100 sleeping children, of which a capped worker can start only about 32."""
    probe = ("import os, time\ndef spawn(count):\n    started = 0\n    for _ in range(count):\n        try:\n"
             "            if os.fork() == 0:\n                time.sleep(30)\n                os._exit(0)\n"
             "            started += 1\n        except OSError:\n            break\n    return started\n")
    results = {}
    for mode in MODES:
        if mode == "bwrap" and not _bwrap_usable():
            continue
        with Submission([CodeCell(0, probe)], timeouts=Timeouts(20, 10, 10), limits=_limits(mode, "probe")) as submission:
            results[mode] = submission.call("spawn", 100) < 100
    return results


def _attack_params():
    params = []
    for mode in MODES:
        for attack in ATTACK_LIST:
            marks = [pytest.mark.timeout(int(attack.seconds * 3) + 60)]
            if attack.seconds >= 60:
                marks.append(pytest.mark.slow)
            if mode == "subprocess" and attack.stopped_by == "bwrap":
                marks.append(pytest.mark.skip(reason="only bubblewrap stops this attack (docs/security.md)"))
            params.append(pytest.param(attack, mode, marks=marks, id=f"{mode}-{attack.name}"))
    return params


@pytest.mark.parametrize("attack,mode", _attack_params())
def test_attack_gains_nothing_and_leaves_no_trace(attack, mode, tmp_path, monkeypatch, grader_env, request):
    _skip_unless_mode_available(mode)
    if attack.name == "fork_bomb" and not request.getfixturevalue("process_cap_works").get(mode):
        pytest.skip("no process cap is effective on this machine: a fork bomb would not be bounded")
    (tmp_path / "baseline").mkdir()
    baseline = baseline_report(mode, tmp_path, monkeypatch, grader_env)
    (tmp_path / "attack").mkdir()
    outcome = run_grading([BASELINE, *attack.cells], mode, tmp_path / "attack", monkeypatch, grader_env)
    report = outcome.report

    # The grader wrote a report, and it serialises and renders.
    assert report.assignment == SLUG and report.environment.isolation == LABELS[mode]
    document = report.model_dump_json()
    render(report, Console(file=io.StringIO(), width=120))

    # The attack gained nothing over an honest wrong submission.
    assert report.score <= baseline.score
    assert _passed(report) <= _passed(baseline), f"passed beyond the baseline: {_passed(report) - _passed(baseline)}"
    statuses = {test.target: {t.status for t in report.results_for(test.target)} for test in report.tests}
    cells = {f"cell{cell.cell_index}": cell.status for cell in report.cells}
    for key, expected in attack.expect.items():  # "a|b": either outcome is right (machine speed decides)
        allowed = expected.split("|")
        if key.startswith("cell"):
            assert cells.get(key, "ok") in allowed, f"{key}: {cells.get(key, 'ok')}, expected {expected}; cells: {cells}"
        else:
            got = statuses.get(key, set())
            assert len(got) == 1 and got <= set(allowed), f"{key}: {got}, expected {expected}; all: {statuses}"

    # No secret reached the report; what did reach it is bounded and free of control characters.
    for what, value in grader_env.all().items():
        assert value not in document, f"the {what} reached the report"
    assert SUCCESS_MARKER not in report.stdout_excerpt, report.stdout_excerpt[-600:]
    assert len(report.stdout_excerpt) <= 4000
    assert all(len(test.message) <= 1500 for test in report.tests)
    for text in _text_fields(report):
        assert not CONTROL_CHARACTERS.search(text), f"control characters reached the report: {text[:200]!r}"

    # Nothing outside the sandbox changed, nothing was left running, and the time stayed bounded.
    assert outcome.changes == [], outcome.changes
    assert outcome.marked == [], f"files written outside the sandbox: {outcome.marked}"
    assert outcome.leftover_processes == [], outcome.leftover_processes
    assert outcome.leftover_cgroups == [], outcome.leftover_cgroups
    assert outcome.seconds < attack.seconds, f"grading took {outcome.seconds:.1f} s (bound {attack.seconds} s)"
