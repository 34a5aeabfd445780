"""The grade report of EXERCISES.md ("The grade report"), as pydantic models."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, Field

TestKind = Literal["correctness", "gradient", "property", "timing", "memory", "check"]
TestStatus = Literal["passed", "failed", "error", "timeout", "not_implemented"]


class Environment(BaseModel):
    device: str
    torch: str
    python: str
    isolation: str = "subprocess"
    worker_host: str | None = None


class TestResult(BaseModel):
    name: str
    target: str
    kind: TestKind
    status: TestStatus
    score: float
    max_score: float
    message: str = ""
    misconceptions: list[str] = Field(default_factory=list)
    visible: bool = False
    duration_s: float = 0.0


class MisconceptionHit(BaseModel):
    id: str
    planned: bool
    evidence: list[str]
    feedback: str
    remedy: str


class TimingResult(BaseModel):
    target: str
    ratio: float
    budget: float
    device: str
    size: str = ""
    passed: bool = True


class CellIssue(BaseModel):
    """A notebook cell that raised, hung or was dropped while the submission was loaded."""

    cell_index: int
    status: Literal["error", "timeout", "skipped"]
    message: str
    source_excerpt: str = ""


class GradeReport(BaseModel):
    assignment: str
    score: float
    max_score: float
    grader_version: str
    environment: Environment
    tests: list[TestResult]
    misconceptions: list[MisconceptionHit]
    timing: list[TimingResult] = Field(default_factory=list)
    cells: list[CellIssue] = Field(default_factory=list)
    stdout_excerpt: str = ""
    grading_seed: int | None = None
    graded_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    duration_s: float = 0.0

    def results_for(self, target: str) -> list[TestResult]:
        return [test for test in self.tests if test.target == target]

    def failing_targets(self) -> set[str]:
        return {test.target for test in self.tests if test.status != "passed"}

    def misconception_ids(self) -> set[str]:
        return {hit.id for hit in self.misconceptions}

    def code_tests(self) -> list[TestResult]:
        return [test for test in self.tests if test.kind != "check"]
