"""The SMS parser: what a focal point's text means (protocol.md)."""

from __future__ import annotations

from pathlib import Path

from gateway.gazetteer.matcher import Gazetteer
from gateway.kernel.taxonomy import DEFAULT_TAXONOMY, load_taxonomy
from gateway.parser.lexicon import DEFAULT_LOCALES, Lexicon, LexiconError, load_lexicon
from gateway.parser.parser import Parser
from gateway.parser.result import COMMAND, REPORT, UNKNOWN, ParseResult


def load_parser(gazetteer: Gazetteer, locales: Path = DEFAULT_LOCALES, taxonomy_path: Path = DEFAULT_TAXONOMY,
                overlay: Path | None = None) -> Parser:
    """A parser with the shipped lexicons (locales/*/keywords.toml), the words operators accepted
    (overlay/<lang>/keywords.local.toml) and the taxonomy."""
    taxonomy = load_taxonomy(taxonomy_path)
    return Parser(gazetteer, load_lexicon(taxonomy, locales, overlay=overlay), taxonomy)


__all__ = ["COMMAND", "REPORT", "UNKNOWN", "Lexicon", "LexiconError", "ParseResult", "Parser", "load_lexicon",
           "load_parser"]
