"""Helpers for the service tests: a real uvicorn server in a subprocess on a free loopback port
with a real SQLite file, plus a small fake course and a fake grader that the server imports
through its settings (TENSORGRADE_COURSE, TENSORGRADE_GRADE_FN).

The fakes give the service tests fast, fully controlled reports; the end-to-end tests
(test_service_e2e.py) run the real engine on the bundled assignments.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import nbformat
import pytest

from autograder.catalogue import Catalogue, Misconception, Observation
from autograder.notebook import NotebookError
from autograder.report import Environment, GradeReport, MisconceptionHit, TestResult
from autograder.rubric import Rubric, TestRule

REPO = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent

# --- the fake course -----------------------------------------------------------------------

PLANNED_ID = "siglip.wastes-negatives"
OTHER_PLANNED_ID = "sam.mean-over-masks"
IMPL_ID = "impl.alpha.sign-flip"
RELEASED_AT = datetime(2020, 1, 1, tzinfo=timezone.utc)

# name, target, kind, points, visible
FAKE_TESTS = [
    ("test_visible_shape", "scale", "correctness", 1.0, True),
    ("test_visible_value", "scale", "correctness", 2.0, True),
    ("test_hidden_gradient", "scale", "gradient", 2.0, False),
    ("test_hidden_property", "combine", "property", 1.0, False),
    ("check:answer", "check:answer", "check", 1.0, True),
]
FAKE_MAX_SCORE = sum(points for *_, points, _ in FAKE_TESTS)


def _rubric(slug: str, release: datetime | None) -> Rubric:
    return Rubric(
        slug=slug,
        title=f"Fake assignment {slug}",
        lesson="fake",
        notebook=f"{slug}.ipynb",
        suite=f"suites/{slug}",
        solution=f"solutions/{slug}.py",
        tests=[TestRule(pattern="test_*", points=1, visible=False)],
        release_details_at=release,
    )


def _entry(misconception_id: str, statement: str) -> Misconception:
    return Misconception(
        id=misconception_id,
        lesson="fake",
        source="service tests",
        statement=statement,
        remedy=f"revisit {misconception_id}",
        observed_by=[Observation(kind="property", detail="fake")],
    )


class FakeCourse:
    """`alpha` (hidden details never released), `beta` (released in 2020), and `gamma`, `delta`
    whose dates and counting the tests change."""

    def __init__(self) -> None:
        self._rubrics = {
            "alpha": _rubric("alpha", None),
            "beta": _rubric("beta", RELEASED_AT),
            "gamma": _rubric("gamma", None),
            "delta": _rubric("delta", None),
        }
        entries = [
            _entry(PLANNED_ID, "the sigmoid loss ignores the negatives"),
            _entry(OTHER_PLANNED_ID, "average over the mask hypotheses"),
            _entry(IMPL_ID, "label sign flipped"),
            _entry("module.vlm-is-chat-llm", "never hit in the tests"),
        ]
        self._catalogue = Catalogue(entries={entry.id: entry for entry in entries})

    def assignments(self) -> list[Rubric]:
        return list(self._rubrics.values())

    def rubric(self, slug: str) -> Rubric:
        return self._rubrics[slug]

    def catalogue(self) -> Catalogue:
        return self._catalogue


# --- the fake grader -----------------------------------------------------------------------


def fake_notebook(
    *,
    failing: list[str] = (),
    flags: dict[str, list[str]] | None = None,
    sleep_s: float = 0.0,
    block_file: str | None = None,
    raise_error: str | None = None,
    salt: str | None = None,
) -> bytes:
    """A valid notebook whose metadata tells `fake_grade` what to report. `salt` (random by
    default) makes every notebook distinct so that duplicate detection stays out of the way."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_code_cell(f"# {salt or uuid.uuid4().hex}\nx = 1"))
    notebook.metadata["tensorgrade_fake"] = {
        "failing": list(failing),
        "flags": flags or {},
        "sleep_s": sleep_s,
        "block_file": block_file,
        "raise": raise_error,
    }
    return nbformat.writes(notebook).encode("utf-8")


def fake_grade(notebook: Path, slug: str) -> GradeReport:
    """Grades by the instructions in the notebook's metadata (see `fake_notebook`)."""
    spec = json.loads(Path(notebook).read_text(encoding="utf-8"))["metadata"]["tensorgrade_fake"]
    if spec.get("raise") == "notebook":
        raise NotebookError("fake: the notebook cannot be read")
    if spec.get("raise") == "crash":
        raise RuntimeError("fake grader crashed")
    time.sleep(spec.get("sleep_s") or 0.0)
    block = spec.get("block_file")
    while block and Path(block).exists():
        time.sleep(0.05)
    flags: dict[str, list[str]] = spec.get("flags", {})
    tests = []
    for name, target, kind, points, visible in FAKE_TESTS:
        passed = name not in spec.get("failing", [])
        tests.append(
            TestResult(
                name=name,
                target=target,
                kind=kind,
                status="passed" if passed else "failed",
                score=points if passed else 0.0,
                max_score=points,
                visible=visible,
                message="" if passed else f"{name} failed: expected 1.0, got -1.0",
                misconceptions=flags.get(name, []) if not passed else [],
            )
        )
    evidence: dict[str, list[str]] = {}
    for test in tests:
        for misconception_id in test.misconceptions:
            evidence.setdefault(misconception_id, []).append(test.name)
    hits = [
        MisconceptionHit(
            id=mid,
            planned=not mid.startswith("impl."),
            evidence=names,
            feedback=f"feedback for {mid}",
            remedy=f"remedy for {mid}",
        )
        for mid, names in evidence.items()
    ]
    return GradeReport(
        assignment=slug,
        score=sum(test.score for test in tests),
        max_score=FAKE_MAX_SCORE,
        grader_version="fake-1",
        environment=Environment(device="cpu", torch="none", python=sys.version.split()[0]),
        tests=tests,
        misconceptions=hits,
        stdout_excerpt="printed by the student",
        grading_seed=7,
    )


# --- the server process --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(extra: dict[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TENSORGRADE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if _bwrap_unusable():
        env["TENSORGRADE_ALLOW_WEAK_SANDBOX"] = "1"  # a machine without bubblewrap can still run these tests
    env.update(extra)
    return env


def _bwrap_unusable() -> bool:
    from autograder.sandbox.isolation import bwrap_path

    return bwrap_path() is None


FAKE_ENV = {
    "TENSORGRADE_COURSE": "service_fixtures:FakeCourse",
    "TENSORGRADE_GRADE_FN": "service_fixtures:fake_grade",
    "TENSORGRADE_GRADE_ISOLATION": "thread",
    "TENSORGRADE_RATE_LIMIT_COUNT": "1000",
}


@dataclass
class Server:
    """`python -m service.cli serve` on a free loopback port; stdout/stderr go to a log file."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def start(self, timeout_s: float = 60.0) -> "Server":
        self.port = self.port or free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "service.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
            ],
            cwd=REPO,
            env=_environment(self.env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/api/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not answer within {timeout_s} s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-5000:] if self.log_path.exists() else ""

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run `python -m service.cli ARGS` against this server's data directory and settings."""
        result = subprocess.run(
            [sys.executable, "-m", "service.cli", *args],
            cwd=REPO,
            env=_environment(self.env),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"cli {args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def add_user(self, name: str, role: str) -> str:
        """`users add` through the CLI; the token is the last line of its output."""
        out = self.cli("users", "add", name, "--role", role, "--data-dir", str(self.data_dir)).stdout
        return out.strip().splitlines()[-1]

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0)


def upload(client: httpx.Client, assignment: str, data: bytes, filename: str = "work.ipynb") -> httpx.Response:
    return client.post(
        "/api/submissions",
        data={"assignment": assignment},
        files={"file": (filename, data, "application/x-ipynb+json")},
    )


def wait_for(client: httpx.Client, submission_id: int, statuses=("graded", "error"), timeout_s: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        body = client.get(f"/api/submissions/{submission_id}").json()
        if body["status"] in statuses:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"submission {submission_id} still {body['status']} after {timeout_s} s")
        time.sleep(0.05)


def now_plus(**delta: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(**delta)).isoformat()


# --- pytest fixtures (import them by name in the test modules) ------------------------------


@dataclass
class Classroom:
    """A running server with an instructor (created through the CLI) who creates the others."""

    server: Server
    instructor: httpx.Client

    def user(self, role: str, name: str | None = None) -> tuple[str, httpx.Client]:
        name = name or f"{role}-{uuid.uuid4().hex[:8]}"
        response = self.instructor.post("/api/users", json={"name": name, "role": role})
        assert response.status_code == 201, response.text
        return name, self.server.client(response.json()["token"])

    def graded(self, client: httpx.Client, assignment: str, **spec) -> dict:
        """Submit a fake notebook and wait until it is graded."""
        response = upload(client, assignment, fake_notebook(**spec))
        assert response.status_code == 202, response.text
        return wait_for(client, response.json()["id"])


@pytest.fixture(scope="module")
def fake_server(tmp_path_factory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("service"), env=dict(FAKE_ENV)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def classroom(fake_server: Server) -> Iterator[Classroom]:
    instructor = fake_server.client(fake_server.add_user("prof", "instructor"))
    yield Classroom(fake_server, instructor)
    instructor.close()
