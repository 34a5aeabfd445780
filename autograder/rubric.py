"""Rubrics: points, visibility, misconception links, checks and budgets, loaded from YAML."""

from __future__ import annotations

import fnmatch
import math
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TestRule(_Strict):
    """Points and links for every test whose name (parameters stripped) matches `pattern`."""

    pattern: str
    points: float = Field(ge=0)
    visible: bool = False
    on_fail: list[str] = Field(default_factory=list)

    def matches(self, test_name: str) -> bool:
        return fnmatch.fnmatchcase(test_name.split("[", 1)[0], self.pattern)


class Check(_Strict):
    """An answer cell graded by value: `variable` must equal `expected`."""

    name: str
    variable: str
    expected: Any
    tolerance: float = Field(default=0.0, ge=0)
    points: float = Field(default=1.0, ge=0)
    wrong_options: dict[str, list[str]] = Field(default_factory=dict)
    misconceptions_if_wrong: list[str] = Field(default_factory=list)
    explanation: str = ""

    def is_correct(self, answer: Any) -> bool:
        expected = self.expected
        if isinstance(expected, bool) or isinstance(answer, bool):
            return type(answer) is bool and answer is expected
        if isinstance(expected, (int, float)) and isinstance(answer, (int, float)):
            return math.isfinite(float(answer)) and abs(float(answer) - float(expected)) <= self.tolerance
        if isinstance(expected, str) and isinstance(answer, str):
            return answer.strip().lower() == expected.strip().lower()
        return answer == expected

    def misconceptions_for(self, answer: Any) -> list[str]:
        if self.is_correct(answer):
            return []
        if isinstance(answer, str) and answer.strip().lower() in self.wrong_options:
            return list(self.wrong_options[answer.strip().lower()])
        if answer is None:
            return []
        return list(self.misconceptions_if_wrong)


class Budget(_Strict):
    """A timing or memory budget for one function, measured against the reference in the same run.

    `args` is a recipe the worker expands into fresh inputs for every repetition (see
    autograder/budgets.py); `sizes` gives the symbols of the recipe per device, chosen so one
    call takes tens of milliseconds on that device.
    """

    name: str
    target: str
    kind: Literal["timing", "memory"] = "timing"
    ratio: float | None = Field(default=None, gt=0)
    max_elements: str | None = None  # memory: cap = elements_factor * product of these symbols
    elements_factor: float = Field(default=4.0, gt=0)
    sizes: dict[Literal["cpu", "cuda"], dict[str, int]]
    args: list[dict[str, Any]]
    dtype: Literal["float32", "float64"] = "float32"
    no_grad: bool = False
    repeats: dict[Literal["cpu", "cuda"], int] = Field(default_factory=lambda: {"cpu": 15, "cuda": 50})
    points: float = Field(default=1.0, ge=0)
    misconceptions: list[str] = Field(default_factory=list)
    hint: str = ""

    @model_validator(mode="after")
    def _has_a_limit(self) -> "Budget":
        if self.ratio is None and self.max_elements is None:
            raise ValueError(f"budget {self.name!r} needs a ratio or max_elements")
        if self.kind == "timing" and self.ratio is None:
            raise ValueError(f"timing budget {self.name!r} needs a ratio")
        return self


class Timeouts(_Strict):
    notebook_s: float = Field(default=120.0, gt=0)
    cell_s: float = Field(default=60.0, gt=0)
    call_s: float = Field(default=30.0, gt=0)


class Rubric(_Strict):
    slug: str
    title: str
    lesson: str
    notebook: str
    suite: str
    solution: str
    description: str = ""
    timeouts: Timeouts = Field(default_factory=Timeouts)
    tests: list[TestRule]
    checks: list[Check] = Field(default_factory=list)
    budgets: list[Budget] = Field(default_factory=list)
    release_details_at: datetime | None = None
    requires_cuda_timing: bool = False

    @model_validator(mode="after")
    def _unique_check_names(self) -> "Rubric":
        names = [check.name for check in self.checks]
        duplicates = {name for name in names if names.count(name) > 1}
        if duplicates:
            raise ValueError(f"duplicate check names: {sorted(duplicates)}")
        return self

    def rule_for(self, test_name: str) -> TestRule | None:
        return next((rule for rule in self.tests if rule.matches(test_name)), None)

    def referenced_misconceptions(self) -> set[str]:
        ids = {mid for rule in self.tests for mid in rule.on_fail}
        for check in self.checks:
            ids.update(check.misconceptions_if_wrong)
            for option_ids in check.wrong_options.values():
                ids.update(option_ids)
        for budget in self.budgets:
            ids.update(budget.misconceptions)
        return ids


def load_rubric(path: Path) -> Rubric:
    with open(path, encoding="utf-8") as handle:
        return Rubric.model_validate(yaml.safe_load(handle))
