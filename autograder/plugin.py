"""The pytest plugin that lets hidden suites reach the sandboxed submission and records results."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from autograder.sandbox import (
    BadReturn,
    NotDefined,
    SandboxCrashed,
    SandboxTimeout,
    StudentError,
    StudentNotImplemented,
    Submission,
)

MAX_MESSAGE_CHARS = 1500


@dataclass
class RecordedTest:
    name: str
    target: str
    kind: str
    status: str
    message: str = ""
    flags: list[tuple[str, str]] = field(default_factory=list)
    timings: list[dict] = field(default_factory=list)
    duration_s: float = 0.0


@dataclass
class GradingContext:
    submission: Submission
    reference: ModuleType
    suite_dir: Path
    grading_seed: int
    devices: list[str]
    options: dict[str, Any] = field(default_factory=dict)


class GradingPlugin:
    def __init__(self, context: GradingContext):
        self.context = context
        self.records: dict[str, RecordedTest] = {}
        self.collection_errors: list[str] = []
        self._flags: dict[str, list[tuple[str, str]]] = {}
        self._timings: dict[str, list[dict]] = {}
        self._stored: dict[str, torch.Tensor] | None = None

    # ---- fixtures ------------------------------------------------------------------------
    @pytest.fixture(scope="session")
    def submission(self) -> Submission:
        return self.context.submission

    @pytest.fixture(scope="session")
    def reference(self) -> ModuleType:
        return self.context.reference

    @pytest.fixture(scope="session")
    def stored(self) -> dict[str, torch.Tensor]:
        if self._stored is None:
            path = self.context.suite_dir / "references.safetensors"
            self._stored = load_file(str(path)) if path.exists() else {}
        return self._stored

    @pytest.fixture(scope="session")
    def grading_seed(self) -> int:
        return self.context.grading_seed

    @pytest.fixture(scope="session")
    def devices(self) -> list[str]:
        return list(self.context.devices)

    @pytest.fixture(scope="session")
    def grading_options(self) -> dict[str, Any]:
        return self.context.options

    @pytest.fixture
    def rng(self, request) -> torch.Generator:
        digest = hashlib.sha256(f"{self.context.grading_seed}:{request.node.name}".encode()).digest()
        generator = torch.Generator()
        generator.manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))
        return generator

    @pytest.fixture
    def flag(self, request):
        flags = self._flags.setdefault(request.node.nodeid, [])

        def flag(misconception_id: str, evidence: str) -> None:
            flags.append((misconception_id, evidence))

        return flag

    @pytest.fixture
    def record_timing(self, request):
        timings = self._timings.setdefault(request.node.nodeid, [])

        def record(target: str, ratio: float, budget: float, device: str, size: str = "", passed: bool = True) -> None:
            timings.append({"target": target, "ratio": ratio, "budget": budget, "device": device, "size": size, "passed": passed})

        return record

    # ---- hooks ---------------------------------------------------------------------------
    def pytest_configure(self, config) -> None:
        config.addinivalue_line("markers", "grade(target, kind): what a hidden test grades and how")

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self.collection_errors.append(f"{report.nodeid or 'suite'}: {str(report.longrepr)[-800:]}")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self._record(item, call, report)

    def _record(self, item, call, report) -> None:
        if report.skipped:
            return
        marker = item.get_closest_marker("grade")
        target = marker.kwargs.get("target", item.name) if marker else item.name
        kind = marker.kwargs.get("kind", "correctness") if marker else "correctness"
        status, message = classify(call.excinfo) if report.failed else ("passed", "")
        self.records[item.nodeid] = RecordedTest(
            name=item.name, target=target, kind=kind, status=status, message=message,
            flags=self._flags.get(item.nodeid, []), timings=self._timings.get(item.nodeid, []),
            duration_s=getattr(call, "duration", 0.0),
        )


def classify(excinfo) -> tuple[str, str]:
    """Map the exception that ended a test to a report status and a student-facing message."""
    return classify_exception(excinfo.value)


def classify_exception(error: BaseException) -> tuple[str, str]:
    if isinstance(error, (NotDefined, StudentNotImplemented)):
        return "not_implemented", _clip(str(error))
    if isinstance(error, SandboxTimeout):
        return "timeout", _clip(str(error))
    if isinstance(error, StudentError):
        return "error", _clip(f"your code raised {error}\n{error.trace}")
    if isinstance(error, (SandboxCrashed, BadReturn)):
        return "error", _clip(str(error))
    if isinstance(error, AssertionError):
        return "failed", _clip(_first_lines(str(error), 12))
    return "error", _clip(f"the result could not be checked ({type(error).__name__}: {error}); "
                          "check the return type and shape against the contract")


def _first_lines(text: str, count: int) -> str:
    return "\n".join(text.strip().splitlines()[:count])


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 3] + "..."


def elapsed(start: float) -> float:
    return time.monotonic() - start
