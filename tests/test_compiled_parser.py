"""The parser compiled with mypyc (setup.py) must mean exactly what its Python sources mean, and
must be what runs: compiled where a C compiler is, never older than the sources it was built from."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys

import pytest

from gateway.compiled import build_state, module_names
from tests.support.paths import REPO, needs_shared

COMPILED = build_state()[0] != "pure Python"
needs_compiled = pytest.mark.skipif(not COMPILED, reason="the parser is not compiled here (no C compiler, or "
                                                          "EWG_PURE_PYTHON=1 at install): nothing to compare")


def _parse(*options: str, stdin: str = "") -> list[str]:
    done = subprocess.run([sys.executable, "-m", "tests.support.parse_corpus", *options], input=stdin, cwd=REPO,
                          capture_output=True, text=True, timeout=240, check=True)
    header, *results = done.stdout.splitlines()
    module = json.loads(header)["parser_module"]
    assert module.endswith(".py") == ("--pure" in options), module  # each side runs what it claims
    return results


def _cases_input() -> str:
    with open(REPO / "tests" / "parser_cases" / "cases.csv", newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["kind"]]
    return "".join(json.dumps({"text": row["text"], "lang": row["lang"] or None, "home": row["home"] or None}) + "\n"
                   for row in rows)


@pytest.mark.skipif(os.environ.get("EWG_PURE_PYTHON") == "1" or shutil.which("cc") is None,
                    reason="no C compiler here, or EWG_PURE_PYTHON=1: the pure Python parser is the one expected")
def test_the_parser_runs_compiled_where_a_c_compiler_is() -> None:
    kind, _ = build_state()
    assert kind == "compiled", f"{kind}: reinstall with `make` (setup.py compiles {', '.join(module_names())})"


@needs_compiled
def test_no_compiled_module_is_older_than_its_source() -> None:
    _, stale = build_state()
    assert stale == [], f"edited since the last install, so not what runs: {stale} (run `make`)"


@needs_compiled
def test_compiled_and_pure_python_parsers_agree_on_every_case_and_on_made_up_texts() -> None:
    cases = _cases_input()
    compiled = _parse("--generate", "4000", stdin=cases)
    pure = _parse("--pure", "--generate", "4000", stdin=cases)
    assert len(compiled) == len(pure) == cases.count("\n") + 4000
    differing = [(n, a, b) for n, (a, b) in enumerate(zip(compiled, pure, strict=True)) if a != b]
    assert differing == [], f"{len(differing)} texts differ, the first: {differing[:1]}"


@needs_compiled
@needs_shared
def test_compiled_and_pure_python_parsers_agree_on_the_full_gazetteer() -> None:
    compiled = _parse("--shared", "--generate", "3000")
    pure = _parse("--pure", "--shared", "--generate", "3000")
    differing = [(n, a, b) for n, (a, b) in enumerate(zip(compiled, pure, strict=True)) if a != b]
    assert differing == [], f"{len(differing)} texts differ, the first: {differing[:1]}"
