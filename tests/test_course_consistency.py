"""The course content holds together: rubrics, suites, notebooks and the catalogue agree."""

import ast
import re
from pathlib import Path

import pytest

from autograder.registry import catalogue, list_assignments, resolve

ID_LITERAL = re.compile(r"""["']((?:siglip|sam|module|impl)\.[a-z0-9_-]+(?:\.[a-z0-9_-]+)*)["']""")
NOT_IDS = {"siglip.py"}
RUBRICS = list_assignments()


def _suite_files(rubric):
    return sorted(resolve(rubric.suite).glob("*.py"))


def _test_function_names(rubric) -> set[str]:
    names = set()
    for path in _suite_files(rubric):
        if path.name.startswith("test_"):
            tree = ast.parse(path.read_text())
            names |= {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
    return names


def test_all_four_assignments_are_installed():
    assert {rubric.slug for rubric in RUBRICS} == {"siglip", "prompt_encoder", "mask_decoder", "mask_losses"}


@pytest.mark.parametrize("rubric", RUBRICS, ids=lambda r: r.slug)
def test_rubric_paths_exist(rubric):
    for relative in (rubric.notebook, rubric.suite, rubric.solution):
        assert resolve(relative).exists(), relative
    assert (resolve(rubric.suite) / "references.safetensors").is_file()


@pytest.mark.parametrize("rubric", RUBRICS, ids=lambda r: r.slug)
def test_every_misconception_id_used_is_in_the_catalogue(rubric):
    known = catalogue().ids()
    used = set(rubric.referenced_misconceptions())
    for path in _suite_files(rubric):
        used |= set(ID_LITERAL.findall(path.read_text()))
    assert used - known - NOT_IDS == set()


@pytest.mark.parametrize("rubric", RUBRICS, ids=lambda r: r.slug)
def test_every_suite_test_earns_points_and_every_rule_matches_a_test(rubric):
    names = _test_function_names(rubric)
    unscored = sorted(name for name in names if (rubric.rule_for(name) is None or rubric.rule_for(name).points == 0))
    assert unscored == []
    dead_rules = [rule.pattern for rule in rubric.tests if not any(rule.matches(name) for name in names)]
    assert dead_rules == []


def test_every_catalogue_id_is_observable_somewhere():
    """Planned ids are linked by a rubric or named in a suite; an impl id's name appears in its
    assignment's suite or rubric (suites often build `impl.<slug>.<name>` from a variant's name)."""
    texts = {rubric.slug: " ".join(p.read_text() for p in _suite_files(rubric)) + resolve(f"rubrics/{rubric.slug}.yaml").read_text()
             for rubric in RUBRICS}
    linked = set().union(*(rubric.referenced_misconceptions() for rubric in RUBRICS))
    unobserved = []
    for mid in catalogue().ids():
        if mid.startswith("impl."):
            _, slug, name = mid.split(".", 2)
            if name not in texts.get(slug, ""):
                unobserved.append(mid)
        elif mid not in linked and not any(mid in text for text in texts.values()):
            unobserved.append(mid)
    assert unobserved == []


def test_planned_and_impl_ids_are_kept_apart():
    for entry in catalogue().entries.values():
        assert entry.planned == (not entry.id.startswith("impl."))
        if not entry.planned:
            assert any(entry.id.startswith(f"impl.{rubric.slug}.") for rubric in RUBRICS), entry.id
