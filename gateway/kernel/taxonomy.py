"""The incident taxonomy, loaded from rules/incidents.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from gateway import PROJECT_ROOT

DEFAULT_TAXONOMY = PROJECT_ROOT / "rules" / "incidents.toml"


@dataclass(frozen=True)
class Incident:
    id: str
    code: int
    severity: int
    labels: dict[str, str]

    def label(self, lang: str) -> str:
        return self.labels.get(lang) or self.labels.get("fr") or self.id


@dataclass(frozen=True)
class Taxonomy:
    incidents: tuple[Incident, ...]

    def by_id(self, incident_id: str) -> Incident:
        for incident in self.incidents:
            if incident.id == incident_id:
                return incident
        raise KeyError(incident_id)

    def by_code(self, code: int) -> Incident | None:
        for incident in self.incidents:
            if incident.code == code:
                return incident
        return None

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(incident.id for incident in self.incidents)


def parse_taxonomy(data: dict) -> Taxonomy:
    incidents = []
    for entry in data.get("incident", []):
        incidents.append(Incident(
            id=entry["id"], code=int(entry["code"]), severity=int(entry.get("severity", 50)),
            labels=dict(entry.get("labels", {})),
        ))
    return Taxonomy(tuple(incidents))


@lru_cache(maxsize=4)
def load_taxonomy(path: Path = DEFAULT_TAXONOMY) -> Taxonomy:
    with open(path, "rb") as handle:
        return parse_taxonomy(tomllib.load(handle))
