"""Where installed assignments, their rubrics and the misconception catalogue live."""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path
from types import ModuleType

from autograder.catalogue import Catalogue, load_catalogue
from autograder.rubric import Rubric, load_rubric


class UnknownAssignment(KeyError):
    def __str__(self) -> str:
        known = ", ".join(rubric.slug for rubric in list_assignments()) or "none"
        return f"unknown assignment {self.args[0]!r} (installed: {known})"


def project_root() -> Path:
    override = os.environ.get("TENSORGRADE_COURSE_DIR")
    return Path(override) if override else Path(__file__).resolve().parent.parent


def rubrics_dir() -> Path:
    return project_root() / "rubrics"


def list_assignments() -> list[Rubric]:
    return [load_rubric(path) for path in sorted(rubrics_dir().glob("*.yaml"))]


@functools.lru_cache(maxsize=32)
def _cached_rubric(path: Path, mtime: float) -> Rubric:
    return load_rubric(path)


def get_rubric(slug: str) -> Rubric:
    path = rubrics_dir() / f"{slug}.yaml"
    if not slug.replace("_", "").isalnum() or not path.is_file():
        raise UnknownAssignment(slug)
    return _cached_rubric(path, path.stat().st_mtime)


def catalogue() -> Catalogue:
    folder = rubrics_dir() / "misconceptions"
    stamp = tuple((p.name, p.stat().st_mtime) for p in sorted(folder.glob("*.yaml")))
    return _cached_catalogue(folder, stamp)


@functools.lru_cache(maxsize=4)
def _cached_catalogue(folder: Path, stamp: tuple) -> Catalogue:
    return load_catalogue(folder)


def resolve(relative: str) -> Path:
    return project_root() / relative


def load_solution(rubric: Rubric) -> ModuleType:
    """Import the trusted reference solution (never sent to the sandbox)."""
    path = resolve(rubric.solution)
    spec = importlib.util.spec_from_file_location(f"tensorgrade_solution_{rubric.slug}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
