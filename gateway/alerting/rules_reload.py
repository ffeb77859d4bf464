"""The rules in force, and their reloading: a changed file (polled) or SIGHUP loads them again. A
reload that fails validation is logged and changes nothing: the last good rules stay in force."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from pathlib import Path

from alerts.api import PartnerArea, RulesError, RuleSet, load_rules, with_partners
from gateway.gazetteer.matcher import Gazetteer
from gateway.gazetteer.places import known_area_codes

log = logging.getLogger(__name__)

FileStamp = tuple[tuple[str, int, int], ...]  # (path, mtime in ns, size) of each rule file


class RulesHolder:
    """The rules in force, validated against the gazetteer's area codes."""

    def __init__(self, path: Path, gazetteer: Gazetteer, partners: tuple[PartnerArea, ...] = ()) -> None:
        self.path = path
        self.rules: RuleSet | None = None
        self._gazetteer = gazetteer
        self._partners = partners  # the settings' partner gateways, joined to every rule set loaded
        self._stamp: FileStamp = ()

    def _files_stamp(self) -> FileStamp:
        files = sorted(self.path.rglob("*.toml")) if self.path.is_dir() else [self.path]
        return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files if f.exists())

    def load(self) -> bool:
        stamp = self._files_stamp()
        try:
            rules = load_rules(self.path, known_area_codes(self._gazetteer))
        except RulesError as exc:
            self._stamp = stamp  # do not retry the same broken files every poll
            log.error("rules refused, keeping the last good rules:\n%s", "\n".join(exc.errors))
            return False
        self._stamp = stamp
        self.rules = with_partners(rules, self._partners)
        for warning in rules.warnings:
            log.warning("rules: %s", warning)
        log.info("rules loaded from %s", self.path)
        return True

    def reload_if_changed(self) -> bool:
        return self._files_stamp() != self._stamp and self.load()


def reload_on_sighup(holder: RulesHolder) -> Callable[[], None]:
    """SIGHUP loads the rules again; returns what removes the handler (nothing where signals are not
    available to the event loop, as on Windows or outside the main thread)."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGHUP, holder.load)
    except (NotImplementedError, RuntimeError):
        return lambda: None

    def remove() -> None:
        try:
            loop.remove_signal_handler(signal.SIGHUP)
        except (NotImplementedError, RuntimeError):
            pass

    return remove
