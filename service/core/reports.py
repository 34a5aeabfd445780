"""A grade report as a role may see it, and the same report in Gradescope's results.json format."""

from __future__ import annotations

from datetime import datetime

from autograder.report import GradeReport, MisconceptionHit, TestResult
from service.core.assignments import Policy
from service.core.submissions import override_of
from service.errors import ServiceError
from service.models import Submission, User, utcnow
from service.schemas import (
    GradescopeResults,
    GradescopeTest,
    HiddenSummary,
    MisconceptionFeedback,
    ReportView,
)


def stored_report(submission: Submission) -> GradeReport:
    if submission.status != "graded" or submission.report_json is None:
        detail = f"submission {submission.id} is {submission.status}; a report exists once it is graded"
        if submission.status == "error":
            detail = f"submission {submission.id} could not be graded: {submission.error}"
        raise ServiceError(409, "not_graded", detail, status=submission.status)
    return GradeReport.model_validate_json(submission.report_json)


def details_released(release_details_at: datetime | None, now: datetime | None = None) -> bool:
    return release_details_at is not None and (now or utcnow()) >= release_details_at


def view(submission: Submission, viewer: User, policy: Policy, release_details_at: datetime | None) -> ReportView:
    """Staff, and students once details are released, see every test; before that a student
    sees the visible tests in full and the hidden ones only as counts."""
    report = stored_report(submission)
    released = details_released(release_details_at)
    full = viewer.is_staff or released
    visible_names = {test.name for test in report.tests if test.visible}
    return ReportView(
        submission_id=submission.id,
        assignment=submission.assignment,
        student=submission.user.name,
        view="full" if full else "student",
        details_released=released,
        release_details_at=release_details_at,
        score=report.score,
        max_score=report.max_score,
        effective_score=policy.effective_score(submission),
        late_days=policy.late_days(submission.submitted_at),
        override=override_of(submission),
        grader_version=report.grader_version,
        environment=report.environment,
        graded_at=report.graded_at,
        duration_s=report.duration_s,
        grading_seed=report.grading_seed,
        tests=report.tests if full else [test for test in report.tests if test.visible],
        hidden=None if full else _hidden_summary([test for test in report.tests if not test.visible]),
        misconceptions=[_feedback(hit, None if full else visible_names) for hit in report.misconceptions],
        timing=report.timing,
        cells=report.cells,
        stdout_excerpt=report.stdout_excerpt if full else "",
    )


def _hidden_summary(hidden: list[TestResult]) -> HiddenSummary:
    passed = sum(test.status == "passed" for test in hidden)
    return HiddenSummary(
        tests=len(hidden),
        passed=passed,
        not_passed=len(hidden) - passed,
        score=sum(test.score for test in hidden),
        max_score=sum(test.max_score for test in hidden),
    )


def _feedback(hit: MisconceptionHit, visible_names: set[str] | None) -> MisconceptionFeedback:
    evidence = hit.evidence if visible_names is None else [name for name in hit.evidence if name in visible_names]
    return MisconceptionFeedback(
        id=hit.id,
        planned=hit.planned,
        feedback=hit.feedback,
        remedy=hit.remedy,
        evidence=evidence,
        hidden_evidence=len(hit.evidence) - len(evidence),
    )


def gradescope(submission: Submission) -> GradescopeResults:
    """Hidden tests become `after_published`, so Gradescope shows them once grades are published."""
    report = stored_report(submission)
    tests = [_gradescope_test(number, test) for number, test in enumerate(report.tests, start=1)]
    score = submission.override_score if submission.override_score is not None else report.score
    return GradescopeResults(
        score=score,
        execution_time=round(report.duration_s, 3),
        output=_misconception_summary(report),
        visibility="visible",
        stdout_visibility="hidden",
        tests=tests,
        extra_data={
            "submission_id": submission.id,
            "assignment": submission.assignment,
            "student": submission.user.name,
            "grader_version": report.grader_version,
            "grading_seed": report.grading_seed,
            "max_score": report.max_score,
            "misconceptions": sorted(report.misconception_ids()),
            "override_comment": submission.override_comment if submission.override_score is not None else "",
        },
    )


def _gradescope_test(number: int, test: TestResult) -> GradescopeTest:
    output = test.message
    if test.misconceptions:
        output = (output + "\n" if output else "") + "Misconceptions: " + ", ".join(test.misconceptions)
    return GradescopeTest(
        score=test.score,
        max_score=test.max_score,
        name=test.name,
        number=str(number),
        output=output,
        tags=[test.target, test.kind, *test.misconceptions],
        visibility="visible" if test.visible else "after_published",
        status="passed" if test.status == "passed" else "failed",
    )


def _misconception_summary(report: GradeReport) -> str:
    lines = [f"Score {report.score:g} / {report.max_score:g}"]
    for hit in report.misconceptions:
        lines.append(f"- {hit.id}: {hit.feedback}" + (f" Remedy: {hit.remedy}" if hit.remedy else ""))
    return "\n".join(lines)
