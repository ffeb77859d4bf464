"""Typo-tolerant lookup of name keys by a deletion-neighbourhood index.

Two keys within Levenshtein distance k share a string obtained by deleting at most k
characters from each. Indexing every 2-deletion of 30,000 village names costs ~2M
entries, so commune names (the few hundred that matter most) are indexed to depth 2 and
village names to depth 1; queries are expanded to depth 2. Communes therefore tolerate
any two errors; villages any one error and most pairs (two extra letters, a letter
swapped or replaced plus one extra), but not two missing letters.
Candidates are confirmed with an exact edit distance.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

MAX_ERRORS = 2
MIN_NAME_LENGTH = 6  # protocol.md: typing errors are tolerated in names of six letters or more
MIN_QUERY_LENGTH = 5


def deletions(key: str, depth: int) -> set[str]:
    out = {key}
    frontier = {key}
    for _ in range(depth):
        frontier = {variant[:i] + variant[i + 1:] for variant in frontier for i in range(len(variant))}
        out |= frontier
    return out


class FuzzyIndex:
    def __init__(self, keys_with_depth: Iterable[tuple[str, int]], cache_size: int = 100_000) -> None:
        self._keys: list[str] = []
        self._variants: dict[str, int | tuple[int, ...]] = {}
        depth_of: dict[str, int] = {}
        for key, depth in keys_with_depth:
            if len(key) >= MIN_NAME_LENGTH:
                depth_of[key] = max(depth, depth_of.get(key, 0))
        for number, (key, depth) in enumerate(depth_of.items()):
            self._keys.append(key)
            for variant in deletions(key, depth):
                known = self._variants.get(variant)
                if known is None:
                    self._variants[variant] = number
                elif isinstance(known, int):
                    self._variants[variant] = (known, number)
                else:
                    self._variants[variant] = (*known, number)
        self.lookup = lru_cache(maxsize=cache_size)(self._lookup)

    def __len__(self) -> int:
        return len(self._keys)

    def _lookup(self, query: str) -> tuple[int, tuple[str, ...]]:
        """(distance, keys at that smallest distance) for keys within MAX_ERRORS of `query`."""
        if len(query) < MIN_QUERY_LENGTH:
            return (0, ())
        # Every key one error away shares a one-deletion variant with the query: when one is
        # found, the wider two-deletion expansion cannot find anything closer.
        near = deletions(query, 1)
        close = self._candidates(near)
        found = self._closest(query, close)
        if found[0] == 1:
            return found
        wider = {variant[:i] + variant[i + 1:] for variant in near if len(variant) < len(query)
                 for i in range(len(variant))}
        further = self._candidates(wider)
        return self._closest(query, further | close if found[1] else further)

    def _candidates(self, variants: Iterable[str]) -> set[int]:
        numbers: set[int] = set()
        get = self._variants.get
        for variant in variants:
            known = get(variant)
            if known is None:
                continue
            if isinstance(known, int):
                numbers.add(known)
            else:
                numbers.update(known)
        return numbers

    def _closest(self, query: str, numbers: set[int]) -> tuple[int, tuple[str, ...]]:
        best, found = MAX_ERRORS + 1, []
        for number in numbers:
            key = self._keys[number]
            distance = Levenshtein.distance(query, key, score_cutoff=MAX_ERRORS)
            if distance == 0 or distance > MAX_ERRORS:
                continue
            if distance < best:
                best, found = distance, [key]
            elif distance == best:
                found.append(key)
        return (best, tuple(sorted(found))) if found else (0, ())
