"""`tensorgrade plans import PLAN.md [--out FILE]` from the command line: proposals as YAML for an
instructor to review, never written into the catalogue."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from autograder.cli import main
from autograder.registry import catalogue, rubrics_dir

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO.parent / "shared" / "plans"

PLAN = """\
# Lesson 4: Image Pyramids (pyramids-4) -- Planning Document

### Misconceptions Table

| Misconception | Why They'd Think This | Negative Example | Where to Address |
|---|---|---|---|
| "Downsampling is just dropping every other pixel" | It halves the size, which is all they see. | Drop pixels of a fine checkerboard and the result is a flat grey or a fake coarse pattern: aliasing. | The blur-then-subsample demo. |
| A pyramid level keeps every detail of the level below | Each level looks like the same picture. | Upsample a level back and subtract: the residual is the detail that level lost. | Laplacian pyramid section. |
"""


def catalogue_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in sorted((rubrics_dir() / "misconceptions").glob("*.yaml")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def plan(tmp_path) -> Path:
    path = tmp_path / "pyramids-plan.md"
    path.write_text(PLAN, encoding="utf-8")
    return path


def test_prints_reviewable_proposals(plan, capsys):
    before = catalogue_fingerprint()
    assert main(["plans", "import", str(plan)]) == 0
    entries = yaml.safe_load(capsys.readouterr().out)
    assert [entry["statement"] for entry in entries] == [
        "Downsampling is just dropping every other pixel",
        "A pyramid level keeps every detail of the level below"]
    first = entries[0]
    assert first["id"].startswith("pyramids.") and first["lesson"] == "pyramids-4"
    assert first["source"].startswith("pyramids-plan.md") and "aliasing" in first["remedy"]
    assert all(entry["review"] is True and entry["observed_by"] == [] for entry in entries)
    assert catalogue_fingerprint() == before, "importing a plan never touches the catalogue"


def test_out_writes_the_same_proposals_to_a_file(plan, tmp_path, capsys):
    assert main(["plans", "import", str(plan)]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    out = tmp_path / "proposed.yaml"
    assert main(["plans", "import", str(plan), "--out", str(out)]) == 0
    assert "2 proposed entries written to" in capsys.readouterr().out
    assert yaml.safe_load(out.read_text(encoding="utf-8")) == printed


def test_a_missing_plan_is_a_usage_error(tmp_path, capsys):
    assert main(["plans", "import", str(tmp_path / "nope.md")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize("path", sorted(p for p in PLANS.glob("*") if p.name != "README.md"), ids=lambda p: p.name)
def test_real_plans_import_without_reusing_catalogue_ids(path, tmp_path, capsys):
    out = tmp_path / "proposed.yaml"
    assert main(["plans", "import", str(path), "--out", str(out)]) == 0
    entries = yaml.safe_load(out.read_text(encoding="utf-8"))
    ids = [entry["id"] for entry in entries]
    assert len(ids) == len(set(ids))
    assert not set(ids) & catalogue().ids()


def test_out_never_writes_into_the_catalogue_or_over_a_file(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    plan = tmp_path / "plan.md"
    plan.write_text("## Module-Level Misconceptions\n\n- Students may think tensors are lists\n")
    catalogue_file = Path(__file__).resolve().parents[1] / "rubrics" / "misconceptions" / "proposed.yaml"
    existing = tmp_path / "existing.yaml"
    existing.write_text("keep me\n")
    for target in (catalogue_file, existing):
        result = subprocess.run([sys.executable, "-m", "autograder.cli", "plans", "import", str(plan), "--out", str(target)],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and "will not write" in result.stderr
    assert not catalogue_file.exists() and existing.read_text() == "keep me\n"
