"""Line numbers for TOML keys and tables: tomllib gives values but no positions, and an
admin needs `file:line` to fix a rule file."""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'))*)\s*=""")
_DOTTED_PART = re.compile(r"""[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'""")


def _split_dotted(text: str) -> tuple[str, ...]:
    return tuple(part.strip("\"'") for part in _DOTTED_PART.findall(text))


class Locator:
    """Finds the line of `[table]`, `[[array]]` (nth occurrence) or `key = ...` in one file's text."""

    def __init__(self, text: str) -> None:
        self._headers: list[tuple[tuple[str, ...], int, int]] = []  # (path, occurrence, line)
        self._keys: list[tuple[tuple[str, ...], int, tuple[str, ...], int]] = []  # (table, occ, key, line)
        table: tuple[str, ...] = ()
        occurrence = 0
        seen_arrays: dict[tuple[str, ...], int] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                table = _split_dotted(header.group(2))
                if header.group(1) == "[[":
                    occurrence = seen_arrays.get(table, -1) + 1
                    seen_arrays[table] = occurrence
                else:
                    occurrence = 0
                self._headers.append((table, occurrence, number))
                continue
            key = _KEY.match(line)
            if key:
                self._keys.append((table, occurrence, _split_dotted(key.group(1)), number))

    def line(self, path: tuple[str, ...], occurrence: int = 0) -> int:
        """The line of the entry (table header or key) that matches the longest part of `path`;
        `occurrence` picks the nth `[[array]]` table. Line 1 when nothing matches."""
        best_length, best_line = 0, 1
        entries = [(t, occ, t, n) for t, occ, n in self._headers]
        entries += [(t, occ, t + k, n) for t, occ, k, n in self._keys]
        for table, occ, full, number in entries:
            if table and occ != occurrence:
                continue
            length = min(len(full), len(path))
            if length > best_length and full[:length] == path[:length]:
                best_length, best_line = length, number
        return best_line
