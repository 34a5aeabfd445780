"""Shared fixtures for the project's own tests."""

from __future__ import annotations

from pathlib import Path

import pytest

TOY_COURSE = Path(__file__).parent / "fixtures" / "toycourse"

# The synthetic course's hidden suites are run by the grader, never collected as project tests.
collect_ignore = ["fixtures"]


@pytest.fixture
def toy_course(monkeypatch) -> Path:
    """Point the registry at the small synthetic course used to test the engine on its own."""
    monkeypatch.setenv("TENSORGRADE_COURSE_DIR", str(TOY_COURSE))
    return TOY_COURSE
