"""The parser on the demo gazetteer, loaded once for every test that reads texts with it."""

from __future__ import annotations

from functools import lru_cache

from gateway.demo.gazetteer import load_demo_batch
from gateway.gazetteer import Gazetteer
from gateway.parser import Parser, load_parser


@lru_cache(maxsize=1)
def demo_parser() -> Parser:
    batch = load_demo_batch()
    return load_parser(Gazetteer(batch.units, batch.places))
