"""The lesson-plan importer: synthetic plans in each supported shape, then the course's real plans."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from autograder.catalogue import ID_PATTERN, Misconception
from autograder.plans import propose_entries, render_yaml

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO.parent / "shared" / "plans"
PLANNED = REPO / "rubrics" / "misconceptions" / "planned.yaml"

TABLE_PLAN = """\
# Lesson 3: Optical Flow (flow-7) -- Planning Document

**Slug:** flow-7

### Misconceptions Table

| Misconception | Why They'd Think This | Negative Example That Disproves It | Where to Address |
|---|---|---|---|
| "Flow is just **frame differencing**" | Both compare two frames. | Differencing gives `one number` per pixel. Flow gives a 2-D vector. A sliding texture proves it. This fourth sentence is dropped. | After the warp demo. |
| Optical flow needs labels | Supervised habits. | Photometric loss trains it without labels. | Training section. |

```
| Misconception | Why They'd Think This | Negative Example | Where to Address |
|---|---|---|---|
| a fenced table is not a table | no | no | no |
# not a heading
```

### Concepts

| Concept | Depth |
|---|---|
| Warping | DEVELOPED |
"""

RECORD_PLAN = """\
# Module 9.9: Motion -- Record

### Lesson 1: Flow Basics (flow-1)

**Misconceptions addressed:**
1. "Flow is frame differencing" -- addressed with the sliding texture demo.
2. "Flow needs labels" — addressed in the training section: photometric loss.

### Lesson 2: Depth (depth-2)

**Misconceptions addressed:**
1. "Depth is disparity" -- addressed with the baseline formula.

**What is NOT covered:**
1. Not a misconception list, so not imported.
"""

MODULE_PLAN = """\
# Module 9.9: Motion -- Plan

## Module-Level Misconceptions

- Students may think optical flow is object tracking (flow is per pixel, tracking is per object)
- Students may conflate depth with distance to the camera centre

## Notes

- A note that is not a misconception.
"""


def by_source(entries: list[dict]) -> dict[str, dict]:
    return {entry["source"]: entry for entry in entries}


def test_table_rows_become_entries_with_the_negative_example_as_remedy():
    entries = propose_entries(TABLE_PLAN, "042_plan.md", set())

    assert [entry["source"] for entry in entries] == [
        "042_plan.md, misconceptions table #1",
        "042_plan.md, misconceptions table #2",
    ]
    first, second = entries
    assert first["statement"] == "Flow is just frame differencing"  # quotes and bold dropped
    assert first["remedy"] == (
        "Differencing gives one number per pixel. Flow gives a 2-D vector. A sliding texture proves it."
    )
    assert first["lesson"] == "flow-7"
    assert first["id"] == "flow.frame-differencing"
    assert second["id"] == "flow.optical-needs-labels"  # the prefix word is not repeated
    assert first["plan_context"] == {"why": "Both compare two frames.", "where": "After the warp demo."}
    for entry in entries:
        assert entry["observed_by"] == [] and entry["review"] is True


def test_record_lists_take_the_lesson_of_their_heading():
    entries = by_source(propose_entries(RECORD_PLAN, "rec.md", set()))

    assert set(entries) == {
        "rec.md, flow-1 misconceptions addressed #1",
        "rec.md, flow-1 misconceptions addressed #2",
        "rec.md, depth-2 misconceptions addressed #1",
    }
    labels = entries["rec.md, flow-1 misconceptions addressed #2"]
    assert labels["statement"] == "Flow needs labels"
    assert labels["remedy"] == "Addressed in the training section: photometric loss."
    assert labels["lesson"] == "flow-1" and labels["id"] == "flow.needs-labels"
    assert entries["rec.md, depth-2 misconceptions addressed #1"]["id"] == "depth.disparity"


def test_module_level_bullets_split_statement_from_correction():
    entries = propose_entries(MODULE_PLAN, "mod.md", set())

    assert [entry["source"] for entry in entries] == [
        "mod.md, module-level misconceptions #1",
        "mod.md, module-level misconceptions #2",
    ]
    tracking, depth = entries
    assert tracking["statement"] == "Optical flow is object tracking"
    assert tracking["remedy"] == "Flow is per pixel, tracking is per object"
    assert tracking["lesson"] == "module"
    assert tracking["id"] == "module.optical-flow-object-tracking"
    assert depth["statement"].startswith("Students may conflate depth")
    assert depth["remedy"] == ""  # nothing to propose: the instructor writes it


def test_ids_never_reuse_existing_or_each_other():
    existing = {"flow.frame-differencing", "flow.frame-differencing-2"}
    twice = TABLE_PLAN + "\n### More\n\n" + TABLE_PLAN.split("### Misconceptions Table")[1].split("```")[0]

    entries = propose_entries(twice, "p.md", existing)
    ids = [entry["id"] for entry in entries]

    assert len(ids) == 4 and len(set(ids)) == 4
    assert not set(ids) & existing
    assert "flow.frame-differencing-3" in ids and "flow.frame-differencing-4" in ids
    assert "p.md, misconceptions table (2) #1" in by_source(entries)


def test_places_already_cited_by_the_catalogue_are_skipped():
    existing_entries = [
        {"id": "flow.x", "source": "042_plan.md, misconceptions table #2; other.md, misconceptions table #1"},
        {"id": "flow.y", "source": "042_plan.md, misconceptions table #10"},  # #10 is not #1
    ]
    entries = propose_entries(TABLE_PLAN, "042_plan.md", {"flow.x", "flow.y"}, existing_entries=existing_entries)

    assert [entry["source"] for entry in entries] == ["042_plan.md, misconceptions table #1"]


def test_render_yaml_round_trips_and_keeps_plan_context_as_comments():
    entries = propose_entries(TABLE_PLAN, "042_plan.md", set())
    entries[1]["statement"] = "Tricky: a colon, a # hash and 'quotes'"

    text = render_yaml(entries)
    loaded = yaml.safe_load(text)

    assert loaded == [{k: v for k, v in entry.items() if k != "plan_context"} for entry in entries]
    assert "# why they'd think this: Both compare two frames." in text
    assert yaml.safe_load(render_yaml([])) == []


def test_proposals_are_catalogue_shaped_but_invalid_until_reviewed():
    entries = propose_entries(TABLE_PLAN, "042_plan.md", set())
    for raw in yaml.safe_load(render_yaml(entries)):
        assert re.match(ID_PATTERN, raw["id"])
        with pytest.raises(ValueError):  # no observed_by yet
            Misconception.model_validate(raw)
        reviewed = dict(raw, observed_by=[{"kind": "check", "detail": "an MCQ"}], review=False)
        Misconception.model_validate(reviewed)


# --- the course's real plans --------------------------------------------------------------------

needs_plans = pytest.mark.skipif(not PLANS.is_dir(), reason="the shared plans folder is not next to the repo")


def real_plans() -> list[Path]:
    return sorted(PLANS.glob("*.txt")) if PLANS.is_dir() else []


@needs_plans
@pytest.mark.parametrize("plan", real_plans(), ids=lambda path: path.name[:3])
def test_every_real_plan_imports_cleanly(plan):
    entries = propose_entries(plan.read_text(encoding="utf-8"), plan.name, set())

    for entry in entries:
        assert re.match(ID_PATTERN, entry["id"]), entry["id"]
        assert entry["statement"] and entry["source"].startswith(plan.name + ", ")
    assert yaml.safe_load(render_yaml(entries)) is not None


@needs_plans
def test_real_plans_yield_their_misconceptions():
    def imported(prefix: str) -> list[dict]:
        (plan,) = PLANS.glob(f"{prefix}_*.txt")
        return propose_entries(plan.read_text(encoding="utf-8"), plan.name, set())

    module_plan, record, siglip_plan = imported("000"), imported("001"), imported("002")

    assert len(module_plan) == 3 and {e["lesson"] for e in module_plan} == {"module"}
    assert all(e["remedy"] for e in module_plan)
    assert [e["lesson"] for e in record] == ["siglip-2"] * 5 + ["sam-3"] * 5
    assert len(siglip_plan) == 5 and {e["lesson"] for e in siglip_plan} == {"siglip-2"}
    assert all(len(e["remedy"]) > 40 for e in siglip_plan)


@needs_plans
def test_reimporting_the_catalogued_plans_proposes_nothing_new():
    planned = yaml.safe_load(PLANNED.read_text(encoding="utf-8"))
    planned_ids = {entry["id"] for entry in planned}

    for prefix in ("000", "001", "002"):
        (plan,) = PLANS.glob(f"{prefix}_*.txt")
        entries = propose_entries(plan.read_text(encoding="utf-8"), plan.name, planned_ids, existing_entries=planned)
        assert entries == [], f"{plan.name}: not catalogued: {[e['source'] for e in entries]}"
