"""rubrics/misconceptions/planned.yaml against EXERCISES.md's misconception table and the plans."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from autograder.catalogue import Misconception

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PLANNED = REPO / "rubrics" / "misconceptions" / "planned.yaml"
LESSON_OF_PREFIX = {"module": "module", "siglip": "siglip-2", "sam": "sam-3"}
MODULE_PLAN, RECORD, SIGLIP_PLAN = "000_7d9c6d11063b2780.txt", "001_70ff2f4706a5172e.txt", "002_2c61f1a1d6de489c.txt"
COPY_RUN = 8  # this many consecutive plan words in a row count as copied prose

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared (EXERCISES.md, plans) is not next to the repo")


def plain(node: SyntaxTreeNode) -> str:
    if node.type in ("text", "code_inline"):
        return node.content
    return "".join(plain(child) for child in node.children)


@cache
def exercises_table() -> dict[str, str]:
    """id -> its "from" cell, from the table under "## Misconception catalogue"."""
    text = (SHARED / "EXERCISES.md").read_text(encoding="utf-8")
    root = SyntaxTreeNode(MarkdownIt("commonmark").enable("table").parse(text))
    in_section = False
    for block in root.children:
        if block.type == "heading":
            in_section = plain(block).strip().lower() == "misconception catalogue"
        elif block.type == "table" and in_section:
            rows = [[plain(cell).strip() for cell in row.children] for part in block.children for row in part.children]
            assert rows[0][:2] == ["id", "from"]
            return {row[0]: row[1] for row in rows[1:]}
    raise AssertionError("EXERCISES.md has no table under 'Misconception catalogue'")


@cache
def planned() -> list[dict]:
    return yaml.safe_load(PLANNED.read_text(encoding="utf-8"))


def planned_by_id() -> dict[str, dict]:
    return {entry["id"]: entry for entry in planned()}


def test_planned_ids_are_exactly_the_exercises_table():
    ids = [entry["id"] for entry in planned()]
    assert len(ids) == len(set(ids)), "an id appears twice"
    assert set(ids) == set(exercises_table())
    assert len(ids) == 13


@pytest.mark.parametrize("entry", planned(), ids=lambda entry: entry["id"])
def test_entry_is_complete_and_valid(entry):
    prefix = entry["id"].split(".")[0]
    assert prefix != "impl"
    assert entry["lesson"] == LESSON_OF_PREFIX[prefix]
    assert entry["statement"].strip() and entry["remedy"].strip()
    assert entry["observed_by"], "every id needs at least one way the grader observes it"
    assert all(observation["detail"].strip() for observation in entry["observed_by"])
    assert not entry.get("review"), "planned entries are reviewed"
    Misconception.model_validate(entry)


def expected_citations(from_cell: str) -> list[str]:
    """Regexes the entry's source must match, one per plan named in EXERCISES.md's "from" cell
    (in the locator format of autograder.plans, so that re-importing a plan recognises it)."""
    citations = []
    for part in (piece.strip() for piece in from_cell.split(";")):
        if part == "module plan":
            citations.append(re.escape(f"{MODULE_PLAN}, module-level misconceptions #") + r"\d+")
        elif match := re.fullmatch(r"record sam-3 #(\d+)", part):
            citations.append(re.escape(f"{RECORD}, sam-3 misconceptions addressed #{match[1]}") + r"(?!\d)")
        elif match := re.fullmatch(r"siglip-2 #(\d+)", part):
            citations.append(re.escape(f"{SIGLIP_PLAN}, misconceptions table #{match[1]}") + r"(?!\d)")
        elif part.startswith("record"):
            citations.append(re.escape(RECORD))
            if "siglip-2" in part:
                citations.append(re.escape(SIGLIP_PLAN))
        else:
            raise AssertionError(f"unexpected 'from' cell part {part!r}")
    return citations


@pytest.mark.parametrize("entry_id", sorted(exercises_table()))
def test_source_cites_the_plans_named_in_exercises(entry_id):
    source = " ".join(planned_by_id()[entry_id]["source"].split())
    for citation in expected_citations(exercises_table()[entry_id]):
        assert re.search(citation, source), f"{entry_id}: source lacks {citation!r}"
    for cited_file in re.findall(r"\b\d{3}_[0-9a-f]{16}\.txt\b", source):
        assert (SHARED / "plans" / cited_file).is_file()


def test_every_planned_id_is_asked_as_a_check():
    """Each assignment notebook asks a multiple-choice question per misconception it covers."""
    for entry in planned():
        assert "check" in {o["kind"] for o in entry["observed_by"]}, entry["id"]


@pytest.mark.parametrize(
    ("entry_id", "kind"),
    [
        ("siglip.batch-dependency-is-data", "property"),  # pair loss unchanged when pairs join
        ("siglip.batch-dependency-is-data", "wrong-implementation"),  # softmax-coupled variant
        ("siglip.wastes-negatives", "wrong-implementation"),  # diagonal-only variant
        ("sam.encoder-per-prompt", "property"),  # encoder call count
        ("sam.encoder-per-prompt", "budget"),  # timing budget
        ("sam.mean-over-masks", "wrong-implementation"),  # mean over hypotheses
    ],
)
def test_grader_evidence_named_by_the_issues_is_recorded(entry_id, kind):
    assert kind in {o["kind"] for o in planned_by_id()[entry_id]["observed_by"]}


def words(text: str) -> list[str]:
    """The prose words (numbers are facts the catalogue may quote)."""
    return re.findall(r"[a-z]+", text.lower())


def runs(tokens: list[str]) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + COPY_RUN]) for i in range(len(tokens) - COPY_RUN + 1)}


def test_statements_and_remedies_are_in_our_own_words():
    plan_runs = set()
    for plan in (SHARED / "plans").glob("*.txt"):
        plan_runs |= runs(words(plan.read_text(encoding="utf-8")))
    for entry in planned():
        for field in ("statement", "remedy"):
            copied = runs(words(entry[field])) & plan_runs
            assert not copied, f"{entry['id']} {field} copies the plan: {' '.join(sorted(copied)[0])}"


def rubric_mentions(rubric: dict) -> set[str]:
    """Every misconception id a rubric links to (checks and test patterns)."""
    ids = set()
    for check in rubric.get("checks") or []:
        ids.update(check.get("misconceptions_if_wrong") or [])
        for option_ids in (check.get("wrong_options") or {}).values():
            ids.update(option_ids)
    for test in rubric.get("tests") or []:
        ids.update(test.get("on_fail") or [])
    return ids


def check_claims() -> list[tuple[str, str]]:
    """(id, assignment slug) for each check observation that names an existing rubric's notebook."""
    claims = []
    for entry in planned():
        for observation in entry["observed_by"]:
            if observation["kind"] != "check":
                continue
            for slug in re.findall(r"\b(siglip|prompt_encoder|mask_decoder|mask_losses) notebook", observation["detail"]):
                if (REPO / "rubrics" / f"{slug}.yaml").is_file():
                    claims.append((entry["id"], slug))
    return claims


@pytest.mark.parametrize(("entry_id", "slug"), check_claims())
def test_rubric_asks_the_check_the_catalogue_claims(entry_id, slug):
    rubric = yaml.safe_load((REPO / "rubrics" / f"{slug}.yaml").read_text(encoding="utf-8"))
    assert entry_id in rubric_mentions(rubric), f"rubrics/{slug}.yaml links no check to {entry_id}"


@pytest.mark.parametrize("rubric_path", sorted((REPO / "rubrics").glob("*.yaml")), ids=lambda p: p.stem)
def test_rubric_planned_ids_exist_in_the_catalogue(rubric_path):
    rubric = yaml.safe_load(rubric_path.read_text(encoding="utf-8"))
    unknown = {i for i in rubric_mentions(rubric) if not i.startswith("impl.")} - set(planned_by_id())
    assert not unknown, f"{rubric_path.name} links planned ids that planned.yaml lacks: {sorted(unknown)}"
