"""The modules setup.py compiles with mypyc, and whether this process runs them compiled.

An editable install leaves each compiled module (`.so`) beside its source, and Python loads
the `.so` first: a source edited since the last install is not what runs until the next
install (`make` does it when a source changes). `build_state` names such modules."""

from __future__ import annotations

import importlib
from pathlib import Path

# Relative to the project root; no imports of the gateway here: setup.py reads this file.
COMPILED_SOURCES = (
    "gateway/gazetteer/normalise.py",
    "gateway/gazetteer/fuzzy.py",
    "gateway/gazetteer/matcher.py",
    "gateway/parser/lexicon.py",
    "gateway/parser/parser.py",
)


def module_names() -> list[str]:
    return [source.removesuffix(".py").replace("/", ".") for source in COMPILED_SOURCES]


def build_state() -> tuple[str, list[str]]:
    """("compiled", "pure Python" or "partly compiled"; the compiled modules older than their source)."""
    compiled, stale = 0, []
    for name in module_names():
        path = Path(importlib.import_module(name).__file__ or "")
        if path.suffix == ".py":
            continue
        compiled += 1
        source = path.with_name(path.name.split(".", 1)[0] + ".py")
        if source.exists() and source.stat().st_mtime > path.stat().st_mtime:
            stale.append(name)
    kind = "compiled" if compiled == len(COMPILED_SOURCES) else "partly compiled" if compiled else "pure Python"
    return kind, stale
