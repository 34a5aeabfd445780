"""Where the service learns which assignments exist and what each misconception id means."""

from __future__ import annotations

import importlib
from typing import Any, Protocol

from autograder.catalogue import Catalogue
from autograder.rubric import Rubric


class Course(Protocol):
    def assignments(self) -> list[Rubric]: ...

    def rubric(self, slug: str) -> Rubric:
        """The rubric of `slug`; raises KeyError (UnknownAssignment) when there is none."""

    def catalogue(self) -> Catalogue: ...


class RegistryCourse:
    """The bundled course: rubrics and catalogue from autograder.registry."""

    def assignments(self) -> list[Rubric]:
        from autograder import registry

        return list(registry.list_assignments())

    def rubric(self, slug: str) -> Rubric:
        from autograder import registry

        return registry.get_rubric(slug)

    def catalogue(self) -> Catalogue:
        from autograder import registry

        return registry.catalogue()


def import_object(path: str) -> Any:
    """`package.module:attribute` -> the attribute."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"expected module:attribute, got {path!r}")
    return getattr(importlib.import_module(module_name), attribute)


def load_course(factory_path: str) -> Course:
    return import_object(factory_path)()


def rubric_or_none(course: Course, slug: str) -> Rubric | None:
    try:
        return course.rubric(slug)
    except KeyError:
        return None
