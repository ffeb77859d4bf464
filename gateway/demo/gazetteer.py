"""The small demo gazetteer shipped in gateway/demo/places (see its README)."""

from __future__ import annotations

from pathlib import Path

from gateway.gazetteer.model import ImportBatch
from gateway.gazetteer.readers import read_gazetteer_files

DEMO_DIR = Path(__file__).resolve().parent / "places"
DEMO_FILES = ("ne_communes.csv", "ml_communes.csv", "ne_localities.csv", "ml_localities.csv")


def load_demo_batch() -> ImportBatch:
    return read_gazetteer_files(DEMO_DIR / name for name in DEMO_FILES)
