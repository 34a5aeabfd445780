"""Turn a grade report into what the pages show: results per function, tensor-mismatch
summaries parsed from the suites' messages, and timing rows scaled for a small bar."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from autograder.report import TestResult, TimingResult

STATUS_WORDS = {
    "passed": "passed",
    "failed": "failed",
    "error": "error",
    "timeout": "timed out",
    "not_implemented": "not written",
    "queued": "queued",
    "running": "grading",
    "graded": "graded",
}
# Most serious first: a function's overall status is the first of these that any test has.
SEVERITY = ("error", "timeout", "failed", "not_implemented", "passed")


@dataclass
class FunctionResult:
    """The tests of one function (or class, or check question) taken together."""

    target: str
    is_check: bool
    tests: list[TestResult] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(test.status == "passed" for test in self.tests)

    @property
    def score(self) -> float:
        return sum(test.score for test in self.tests)

    @property
    def max_score(self) -> float:
        return sum(test.max_score for test in self.tests)

    @property
    def status(self) -> str:
        statuses = {test.status for test in self.tests}
        return next(status for status in SEVERITY if status in statuses)

    @property
    def misconceptions(self) -> list[str]:
        return list(dict.fromkeys(mid for test in self.tests for mid in test.misconceptions))


def by_function(tests: list[TestResult]) -> list[FunctionResult]:
    """Group tests by target in report order; check questions come after the functions."""
    groups: dict[str, FunctionResult] = {}
    for test in tests:
        if test.target not in groups:
            groups[test.target] = FunctionResult(test.target, test.target.startswith("check:"))
        groups[test.target].tests.append(test)
    return sorted(groups.values(), key=lambda group: group.is_check)


# --- tensor mismatches ---------------------------------------------------------------------

_NUMBER = r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf|nan)"
_VALUES = re.compile(
    rf"values differ: max abs error (?P<error>{_NUMBER})(?: at index (?P<index>\[[^\]]*\]))? "
    rf"\(got (?P<got>{_NUMBER}), expected (?P<expected>{_NUMBER})\); (?P<share>\d+)% of entries differ"
)
_NON_FINITE = re.compile(
    rf"got a non-finite value (?P<got>{_NUMBER}) at index (?P<index>\[[^\]]*\]) \(expected (?P<expected>{_NUMBER})\)"
)
_SHAPE = re.compile(r"expected shape (?P<expected>\[[^\]]*\]), got shape (?P<got>\[[^\]]*\])")
_META = re.compile(
    r"(?P<field>shape) (?P<got>\[[^\]]*\]) instead of (?P<expected>\[[^\]]*\])"
    r"|(?P<field2>dtype|device) (?P<got2>[^\s,]+) instead of (?P<expected2>[^\s,(]+)"
)


@dataclass(frozen=True)
class Mismatch:
    """One way a tensor differed from the expected one, as the suite's message reported it."""

    kind: str  # values, non-finite, shape, dtype, device
    got: str
    expected: str
    index: str = ""
    max_error: str = ""
    share_differing: str = ""


def mismatches(message: str) -> list[Mismatch]:
    """The mismatches a message from autograder.testing describes (empty for other messages)."""
    found = [
        Mismatch("values", m["got"], m["expected"], m["index"] or "", m["error"], m["share"] + "%")
        for m in _VALUES.finditer(message)
    ]
    found += [Mismatch("non-finite", m["got"], m["expected"], m["index"]) for m in _NON_FINITE.finditer(message)]
    found += [Mismatch("shape", m["got"], m["expected"]) for m in _SHAPE.finditer(message)]
    if not found:
        found += [
            Mismatch(m["field"], m["got"], m["expected"])
            if m["field"]
            else Mismatch(m["field2"], m["got2"], m["expected2"])
            for m in _META.finditer(message)
        ]
    return found


# --- timing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimingRow:
    timing: TimingResult
    ratio_fraction: float  # of the bar's full length
    budget_fraction: float

    @property
    def within_budget(self) -> bool:
        return self.timing.passed and self.timing.ratio <= self.timing.budget


def timing_rows(timings: list[TimingResult]) -> list[TimingRow]:
    """Each ratio and its budget on one scale per row, the larger of the two at 80% of the bar."""
    rows = []
    for timing in timings:
        full = max(timing.ratio, timing.budget, 1e-9) / 0.8
        rows.append(TimingRow(timing, min(timing.ratio / full, 1.0), min(timing.budget / full, 1.0)))
    return rows
