"""The direction of dependencies, read from the source: a change that breaks it fails the build.

- alerts/ depends on the shared kernel (gateway.kernel) and storage (gateway.storage) only: never on
  aiohttp, a provider or the running application;
- the gateway reaches alerts through its one face, alerts.api;
- the kernel depends on nothing else of the gateway; storage on the kernel, the settings and the
  pure place matching only;
- a provider adapter knows neither storage nor alerts;
- imports sit at a module's top, unless a comment on the same line says why;
- no test module imports another, nor conftest.py: shared helpers live in tests/support/."""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # what it imports, dotted
    line: int
    top_level: bool
    commented: bool


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[Import]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    module = module_name(path)
    top = {id(node) for node in tree.body}
    top |= {id(child) for node in tree.body if isinstance(node, ast.If | ast.Try) for child in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        commented = "#" in lines[node.lineno - 1]
        found += [Import(module, target, node.lineno, id(node) in top, commented) for target in targets]
    return found


def all_imports(package: str) -> list[Import]:
    return [found for path in sorted((REPO / package).rglob("*.py")) for found in imports_of(path)]


def within(name: str, *packages: str) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


ROOT = ("gateway", "gateway.PROJECT_ROOT")  # the package itself: where the project's files are


def first_party(target: str) -> bool:
    return within(target, "gateway", "alerts")


def violations(imports: list[Import], allowed) -> list[str]:
    return sorted({f"{i.module}:{i.line} imports {i.target}" for i in imports if not allowed(i)})


def test_alerts_depends_on_the_kernel_and_storage_only():
    def allowed(i: Import) -> bool:
        if within(i.target, "aiohttp"):
            return False
        return not within(i.target, "gateway") or i.target in ROOT or within(
            i.target, "gateway.kernel", "gateway.storage")

    assert violations(all_imports("alerts"), allowed) == []


def test_the_gateway_reaches_alerts_through_its_face():
    def allowed(i: Import) -> bool:
        return not within(i.target, "alerts") or within(i.target, "alerts.api") or i.target == "alerts"

    assert violations(all_imports("gateway"), allowed) == []


@pytest.mark.parametrize(("room", "may_use"), [
    ("gateway.kernel", ("gateway.kernel",)),
    ("gateway.storage", ("gateway.kernel", "gateway.storage", "gateway.config", "gateway.gazetteer.matcher",
                         "gateway.gazetteer.model")),
    ("gateway.providers", ("gateway.kernel", "gateway.providers")),
])
def test_low_rooms_depend_on_lower_ones_only(room: str, may_use: tuple[str, ...]):
    def allowed(i: Import) -> bool:
        if not within(i.module, room):
            return True
        if within(i.target, "aiohttp") and room != "gateway.providers":
            return False
        return not first_party(i.target) or i.target in ROOT or within(i.target, *may_use)

    assert violations(all_imports("gateway"), allowed) == []


def test_imports_sit_at_the_top_unless_a_comment_says_why():
    inner = [i for i in all_imports("gateway") + all_imports("alerts") if not i.top_level and not i.commented]
    assert sorted({f"{i.module}:{i.line} imports {i.target}" for i in inner}) == []


def is_test_module(target: str) -> bool:
    """A test module or conftest.py, by its dotted name or by the bare one pytest puts on sys.path."""
    return re.fullmatch(r"(tests\.)?(test_\w+|conftest)(\..+)?", target) is not None


def test_no_test_module_imports_another_or_conftest():
    imports = all_imports("tests") + all_imports("bench")
    assert violations(imports, lambda i: not is_test_module(i.target)) == []


def test_the_walk_sees_a_broken_direction(tmp_path, monkeypatch):
    """The checks above can fail: a module of alerts importing the web application is caught."""
    rogue = tmp_path / "alerts" / "rogue.py"
    rogue.parent.mkdir()
    rogue.write_text("from gateway.app import create_app\n\n\ndef f():\n    import aiohttp\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert violations(all_imports("alerts"), lambda i: within(i.target, "gateway.kernel")) == [
        "alerts.rogue:1 imports gateway.app", "alerts.rogue:1 imports gateway.app.create_app",
        "alerts.rogue:5 imports aiohttp"]
    assert [i.top_level for i in imports_of(rogue)] == [True, True, False]
