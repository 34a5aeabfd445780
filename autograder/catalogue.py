"""The misconception catalogue: every id a report can carry, with its statement and remedy."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

ID_PATTERN = r"^[a-z0-9_-]+(\.[a-z0-9_-]+)+$"


class Observation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["wrong-implementation", "property", "budget", "check"]
    detail: str


class Misconception(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID_PATTERN)
    lesson: str
    source: str
    statement: str = Field(min_length=1)
    remedy: str = Field(min_length=1)
    observed_by: list[Observation] = Field(min_length=1)
    review: bool = False

    @property
    def planned(self) -> bool:
        return not self.id.startswith("impl.")


class Catalogue(BaseModel):
    entries: dict[str, Misconception]

    @field_validator("entries")
    @classmethod
    def _keys_match_ids(cls, entries: dict[str, Misconception]) -> dict[str, Misconception]:
        for key, entry in entries.items():
            if key != entry.id:
                raise ValueError(f"catalogue key {key!r} differs from its id {entry.id!r}")
        return entries

    def get(self, misconception_id: str) -> Misconception | None:
        return self.entries.get(misconception_id)

    def __contains__(self, misconception_id: str) -> bool:
        return misconception_id in self.entries

    def ids(self) -> set[str]:
        return set(self.entries)


def load_catalogue(folder: Path) -> Catalogue:
    """Merge every YAML file in `folder`; an id defined twice is an error."""
    entries: dict[str, Misconception] = {}
    for path in sorted(folder.glob("*.yaml")):
        for raw in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            entry = Misconception.model_validate(raw)
            if entry.id in entries:
                raise ValueError(f"misconception {entry.id!r} defined twice (again in {path.name})")
            entries[entry.id] = entry
    return Catalogue(entries=entries)
