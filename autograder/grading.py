"""One grading run: load the notebook, start the sandbox, run the hidden suite and the checks,
and turn the outcomes into a report."""

from __future__ import annotations

import contextlib
import io
import os
import platform
import re
import secrets
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from autograder import __version__
from autograder.catalogue import Catalogue
from autograder.notebook import CodeCell, LoadedNotebook, load_submission
from autograder.plugin import GradingContext, GradingPlugin, RecordedTest
from autograder.registry import catalogue as load_catalogue
from autograder.registry import get_rubric, load_solution, resolve
from autograder.report import CellIssue, Environment, GradeReport, MisconceptionHit, TestResult, TimingResult
from autograder.rubric import Check, Rubric
from autograder.sandbox import Limits, NotDefined, SandboxError, Submission, Timeouts

class SuiteError(RuntimeError):
    """The hidden suite itself is broken (it did not import, or ran no test): a grader bug,
    never the student's fault, so no report is produced from it."""


# pytest keeps process-wide state (import hooks, capture); one suite runs at a time per process.
_PYTEST_LOCK = threading.Lock()


def grade(notebook: Path | bytes, slug: str, *, seed: int | None = None, limits: Limits | None = None,
          devices: list[str] | None = None, run_budgets: bool = True) -> GradeReport:
    """Grade one notebook for one assignment. Raises NotebookError / UnknownAssignment only."""
    started = time.monotonic()
    rubric = get_rubric(slug)
    loaded = load_submission(notebook)
    grading_seed = seed if seed is not None else secrets.randbits(31)
    devices = devices if devices is not None else available_devices()
    submission = Submission(loaded.cells, timeouts=Timeouts(**rubric.timeouts.model_dump()), limits=limits or Limits())
    try:
        try:
            submission.start()
        except SandboxError:
            pass  # every test will then report the crash on its own
        recorded = run_suite(rubric, submission, grading_seed, devices)
        recorded += grade_checks(rubric, submission)
        if run_budgets and rubric.budgets:
            recorded += run_budgets_for(rubric, submission, devices, limits or Limits())
        stdout = submission.output_excerpt()
    finally:
        submission.close()
    report = build_report(rubric, recorded, load_catalogue(), loaded, submission, devices)
    report.stdout_excerpt = stdout
    make_printable(report)
    report.grading_seed = grading_seed
    report.duration_s = round(time.monotonic() - started, 3)
    return report


def available_devices() -> list[str]:
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


def run_suite(rubric: Rubric, submission: Submission, grading_seed: int, devices: list[str]) -> list[RecordedTest]:
    suite_dir = resolve(rubric.suite)
    context = GradingContext(submission=submission, reference=load_solution(rubric), suite_dir=suite_dir,
                             grading_seed=grading_seed, devices=devices)
    plugin = GradingPlugin(context)
    args = [str(suite_dir), "-c", os.devnull, "--rootdir", str(suite_dir), "-p", "no:cacheprovider",
            "--import-mode=importlib", "-q", "--no-header", "--tb=no", "-s", "-W", "ignore::DeprecationWarning"]
    with _PYTEST_LOCK, contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            pytest.main(args, plugins=[plugin])
        finally:
            forget_suite_modules(suite_dir)
    if plugin.collection_errors:
        raise SuiteError(f"the hidden suite of {rubric.slug!r} failed to load: " + " | ".join(plugin.collection_errors)[:2000])
    if not plugin.records:
        raise SuiteError(f"the hidden suite of {rubric.slug!r} ran no test")
    return list(plugin.records.values())


def forget_suite_modules(suite_dir: Path) -> None:
    """Drop modules imported from a suite, so a long-lived process grading several assignments
    never finds one suite's helper module (say `cases`) when another suite imports its own."""
    root = str(suite_dir.resolve())
    for name, module in list(sys.modules.items()):
        location = getattr(module, "__file__", None) or ""
        if location.startswith(root):
            del sys.modules[name]


def budget_device(devices: list[str]) -> str:
    return "cuda" if "cuda" in devices else "cpu"


def run_budgets_for(rubric: Rubric, submission: Submission, devices: list[str], limits: Limits) -> list[RecordedTest]:
    """Measure every budget of the rubric on this run's device against a reference worker."""
    from autograder.budgets import BudgetRunner, run_budget

    device = budget_device(devices)
    budgets = [budget for budget in rubric.budgets if device in budget.sizes]
    if not budgets:
        return []
    reference = Submission([CodeCell(0, resolve(rubric.solution).read_text(encoding="utf-8"))],
                           timeouts=Timeouts(**rubric.timeouts.model_dump()), limits=limits)
    try:
        reference.start()
        runner = BudgetRunner(submission, reference, device, resolve(rubric.suite))
        return [run_budget(budget, runner) for budget in budgets]
    finally:
        reference.close()


def grade_checks(rubric: Rubric, submission: Submission) -> list[RecordedTest]:
    return [grade_check(check, submission) for check in rubric.checks]


def grade_check(check: Check, submission: Submission) -> RecordedTest:
    record = RecordedTest(name=f"check_{check.name}", target=f"check:{check.name}", kind="check", status="passed")
    try:
        answer = submission.value(check.variable)
    except NotDefined:
        record.status, record.message = "not_implemented", f"`{check.variable}` is not answered yet"
        return record
    except SandboxError as exc:
        record.status, record.message = "error", f"`{check.variable}` could not be read: {exc}"
        return record
    correct = _verdict(check, answer)
    if not correct:
        record.status = "failed"
        record.message = f"`{check.variable}` = {_shown(answer, 80)} is not the expected answer"
        if check.explanation:
            record.message += f". {check.explanation}"
        try:
            ids = check.misconceptions_for(answer)
        except Exception:
            ids = []
        record.flags = [(mid, f"answered {_shown(answer, 40)} to {check.name}") for mid in ids]
    return record


def _shown(answer, limit: int) -> str:
    """The start of an answer's text (a value nested deeply enough has no str())."""
    try:
        return str(answer)[:limit]
    except Exception:
        return f"a {type(answer).__name__}"


def _verdict(check: Check, answer) -> bool:
    """Whether the answer is right, as a plain bool. The answer is the student's value: a tensor
    compares element-wise (a multi-element one has no truth value), other types may raise."""
    try:
        verdict = check.is_correct(answer)
        if isinstance(verdict, torch.Tensor):
            return verdict.numel() == 1 and bool(verdict.item())
        return verdict is True
    except Exception:
        return False


_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str, limit: int) -> str:
    """Text that came from the student's process, safe to print in a terminal or a page: control
    characters (terminal escape sequences, carriage returns, bidirectional overrides) are shown as
    escapes instead of acting, and the result is cut to `limit` characters."""
    escaped = _UNPRINTABLE.sub(lambda match: f"\\x{ord(match.group()):02x}" if ord(match.group()) < 0x100
                               else f"\\u{ord(match.group()):04x}", text)
    return escaped if len(escaped) <= limit else escaped[: limit - 3] + "..."


def make_printable(report: GradeReport) -> None:
    """Escape and bound every text field of the report that student code can influence."""
    report.stdout_excerpt = printable(report.stdout_excerpt, 4000)
    for test in report.tests:
        test.message = printable(test.message, 1500)
    for cell in report.cells:
        cell.message = printable(cell.message, 1500)
        cell.source_excerpt = printable(cell.source_excerpt, 400)
    for hit in report.misconceptions:
        hit.feedback = printable(hit.feedback, 2000)


def build_report(rubric: Rubric, recorded: list[RecordedTest], catalogue: Catalogue, loaded: LoadedNotebook,
                 submission: Submission, devices: list[str]) -> GradeReport:
    tests = [score_test(rubric, record) for record in recorded]
    return GradeReport(
        assignment=rubric.slug,
        score=round(sum(test.score for test in tests), 4),
        max_score=round(sum(test.max_score for test in tests), 4),
        grader_version=__version__,
        environment=Environment(device="cuda" if "cuda" in devices else "cpu", torch=torch.__version__,
                                python=platform.python_version(), isolation=submission.isolation or "not started"),
        tests=tests,
        misconceptions=collect_misconceptions(tests, recorded, catalogue),
        timing=[TimingResult(**timing) for record in recorded for timing in record.timings],
        cells=cell_issues(loaded, submission),
    )


def score_test(rubric: Rubric, record: RecordedTest) -> TestResult:
    rule = rubric.rule_for(record.name)
    check = next((c for c in rubric.checks if f"check:{c.name}" == record.target), None)
    budget = next((b for b in rubric.budgets if f"budget_{b.name}" == record.name), None)
    max_score = check.points if check else budget.points if budget else (rule.points if rule else 0.0)
    # A passing test never carries a misconception, whatever the suite flagged along the way.
    ids = [] if record.status in ("passed", "not_implemented") else [mid for mid, _ in record.flags]
    if record.status == "failed" and rule is not None:
        ids += rule.on_fail
    return TestResult(
        name=record.name, target=record.target, kind=record.kind, status=record.status,
        score=max_score if record.status == "passed" else 0.0, max_score=max_score,
        message=record.message, misconceptions=list(dict.fromkeys(ids)),
        visible=True if (check or budget) else bool(rule and rule.visible), duration_s=round(record.duration_s, 4),
    )


def collect_misconceptions(tests: list[TestResult], recorded: list[RecordedTest], catalogue: Catalogue) -> list[MisconceptionHit]:
    evidence: dict[str, list[str]] = {}
    details: dict[str, list[str]] = {}
    for test, record in zip(tests, recorded):
        for mid in test.misconceptions:
            evidence.setdefault(mid, []).append(test.name)
        for mid, text in record.flags:
            # Only visible tests describe what they saw: feedback reaches students, hidden inputs must not.
            if mid in test.misconceptions and test.visible:
                details.setdefault(mid, []).append(text)
    hits = []
    for mid, names in evidence.items():
        entry = catalogue.get(mid)
        observations = list(dict.fromkeys(details.get(mid, [])))
        observed = "; ".join(observations[:3]) + (f" (and {len(observations) - 3} more)" if len(observations) > 3 else "")
        statement = entry.statement if entry else "an implementation mistake the catalogue does not describe yet"
        feedback = f"Your submission shows this misunderstanding: {statement}"
        if observed:
            feedback += f" What the grader saw: {observed}"
        hits.append(MisconceptionHit(id=mid, planned=not mid.startswith("impl."), evidence=list(dict.fromkeys(names)),
                                     feedback=feedback, remedy=entry.remedy if entry else ""))
    return sorted(hits, key=lambda hit: (not hit.planned, hit.id))


def cell_issues(loaded: LoadedNotebook, submission: Submission) -> list[CellIssue]:
    sources = loaded.source_by_index
    return [
        CellIssue(cell_index=outcome.index, status="timeout" if outcome.status == "timeout" else "error",
                  message=(outcome.message + ("\n" + outcome.traceback if outcome.traceback else ""))[:1500],
                  source_excerpt=sources.get(outcome.index, "")[:400])
        for outcome in submission.cell_issues()
    ]
