"""The in-memory gazetteer: which commune a typed place name means.

Indexes are built once: name key -> candidate communes (official names, alternative
spellings, aliases, numbered-commune forms, village names), P-codes (current and Mali
2015), and a deletion index for typing errors. Lookups are dictionary probes.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from gateway.gazetteer.fuzzy import FuzzyIndex
from gateway.gazetteer.model import COMMUNE, DEPARTMENT, REGION, Place, Unit
from gateway.gazetteer.normalise import name_key, name_keys, split_words, token_key

DEFAULT_ALIASES = Path(__file__).with_name("aliases.toml")
MAX_NAME_WORDS = 5
_PCODE_KEY = re.compile(r"(ne|ml)\d{2,9}")
_COMMUNE_WORD = token_key("commune")

# Match kinds, best first.
BY_PCODE, BY_COMMUNE_NAME, BY_VILLAGE_NAME = "pcode", "commune", "village"
_RANK = {BY_PCODE: 0, BY_COMMUNE_NAME: 0, BY_VILLAGE_NAME: 1}


class _Entry(NamedTuple):
    kind: str
    commune: str
    words: int  # how many words the indexed name has: typed words may be glued, not split
    village: str | None


@dataclass(frozen=True)
class Candidate:
    """A commune a typed name may designate (for "did you mean" lists)."""

    pcode: str
    name: str
    village: str | None
    kind: str
    errors: int


@dataclass(frozen=True)
class PlaceMention:
    """The place found in a token list. `commune` is None when the name stays ambiguous."""

    tokens: tuple[int, ...]  # indices of the tokens it consumed
    kind: str
    commune: str | None
    village: str | None
    candidates: tuple[str, ...]  # commune P-codes the name could mean
    errors: int  # typing errors corrected (0 = exact)

    @property
    def ambiguous(self) -> bool:
        return self.commune is None


class _Found(NamedTuple):
    rank: tuple[int, int, int, int]
    start: int
    length: int
    entries: tuple[_Entry, ...]
    errors: int


class Gazetteer:
    def __init__(self, units: Iterable[Unit], places: Iterable[Place] = (),
                 aliases: dict[str, Sequence[str]] | None = None) -> None:
        self._units: dict[str, Unit] = {unit.pcode: unit for unit in units}
        self._communes = {pcode: unit for pcode, unit in self._units.items() if unit.level == COMMUNE}
        self._names: dict[str, list[_Entry]] = {}
        self._spans: dict[str, int] = {}  # token key -> most tokens a name starting with it spans
        self._pcodes: dict[str, str] = {}
        self._chains: dict[str, tuple[str | None, str | None, str | None, str | None]] = {}
        self.place_count = 0
        names_of: Mapping[str, Sequence[str]] = load_aliases() if aliases is None else aliases
        for unit in self._communes.values():
            self._pcodes[unit.pcode.lower()] = unit.pcode
            for name in (unit.name, *unit.alt_names, *names_of.get(unit.pcode, ())):
                self._add_commune_name(unit, name)
        for unit in self._communes.values():  # current codes win over reused 2015 codes
            if unit.old_pcode:
                self._pcodes.setdefault(unit.old_pcode.lower(), unit.pcode)
        for place in places:
            if place.commune_pcode not in self._communes:
                continue
            self.place_count += 1
            for name in place.names:
                self._add(name_keys(name), _Entry(BY_VILLAGE_NAME, place.commune_pcode, 0, _display(name)))
        self._fuzzy = FuzzyIndex(
            (key, 2 if any(entry.kind == BY_COMMUNE_NAME for entry in entries) else 1)
            for key, entries in self._names.items())

    # -- building ---------------------------------------------------------------------

    def _add(self, keys: tuple[str, ...], entry: _Entry) -> None:
        if not keys or len(keys) > MAX_NAME_WORDS:
            return
        entry = entry._replace(words=len(keys))
        for split in range(1, len(keys)):
            # A typed token starting a multi-word name (possibly glued words): how many more
            # tokens the name may span, so that other tokens are probed alone.
            start = "".join(keys[:split])
            self._spans[start] = max(self._spans.get(start, 1), len(keys) - split + 1)
        bucket = self._names.setdefault("".join(keys), [])
        if entry not in bucket:
            bucket.append(entry)

    def _add_commune_name(self, unit: Unit, name: str) -> None:
        keys = name_keys(name)
        variants = [keys]
        department = self._units.get(unit.parent_pcode or "")
        if keys and keys[0] == _COMMUNE_WORD and department is not None:
            # Bamako's "Commune IV" is typed "Bamako Commune 4", "Bamako 4" or "Commune 4".
            city = name_keys(department.name)
            variants += [city + keys, city + keys[1:]]
        for variant in list(variants):
            if len(variant) > 1 and variant[-1].isdigit():
                # "Niamey" alone names Niamey I-V: resolved by the reporter's home if at all.
                variants.append(variant[:-1])
        for variant in variants:
            self._add(variant, _Entry(BY_COMMUNE_NAME, unit.pcode, 0, None))

    # -- administrative lookups -------------------------------------------------------

    def unit(self, pcode: str) -> Unit | None:
        return self._units.get(pcode)

    def commune(self, pcode: str) -> Unit:
        """The commune with this P-code (current or Mali 2015); KeyError if unknown."""
        resolved = self._pcodes.get(pcode.strip().lower())
        if resolved is None:
            raise KeyError(pcode)
        return self._communes[resolved]

    def communes(self) -> list[Unit]:
        return list(self._communes.values())

    def department_of(self, pcode: str) -> Unit | None:
        return self._ancestor(pcode, DEPARTMENT)

    def region_of(self, pcode: str) -> Unit | None:
        return self._ancestor(pcode, REGION)

    def _ancestor(self, pcode: str, level: int) -> Unit | None:
        unit = self._units.get(pcode)
        while unit is not None and unit.level > level:
            unit = self._units.get(unit.parent_pcode or "")
        return unit if unit is not None and unit.level == level else None

    def _chain(self, pcode: str) -> tuple[str | None, str | None, str | None, str | None]:
        """(commune, department, region, country) of a unit, for tie-breaking by home."""
        known = self._chains.get(pcode)
        if known is not None:
            return known
        unit = self._units.get(pcode)
        chain: tuple[str | None, str | None, str | None, str | None]
        if unit is None:
            chain = (None, None, None, pcode[:2].upper() if pcode[:2].upper() in {"NE", "ML"} else None)
        else:
            department = self._ancestor(pcode, DEPARTMENT)
            region = self._ancestor(pcode, REGION)
            chain = (pcode if unit.level == COMMUNE else None, department.pcode if department else None,
                     region.pcode if region else None, unit.country)
        self._chains[pcode] = chain
        return chain

    # -- matching ---------------------------------------------------------------------

    def pcode_of(self, key: str) -> str | None:
        """The commune P-code a typed P-code designates (token key, e.g. "ne004006003")."""
        return self._pcodes.get(key) if _PCODE_KEY.fullmatch(key) else None

    def find_place(self, keys: Sequence[str], usable: Sequence[bool] | None = None,
                   alone: Sequence[bool] | None = None, home: str | None = None) -> PlaceMention | None:
        """The best place mention among token keys. `usable[i]` False: token i is taken (a
        keyword); `alone[i]` False: token i may not be a place by itself (a common word, a
        number). Exact matches beat corrected ones, communes beat villages, then leftmost."""
        count = len(keys)
        usable = usable if usable is not None else [True] * count
        alone = alone if alone is not None else [True] * count
        found = self._exact_mentions(keys, usable, alone)
        if not found:
            found = self._corrected_mentions(keys, usable, alone)
        if not found:
            return None
        best = min(found, key=lambda item: (item.rank[:3], self._resolve(item.entries, home)[0] is None, item.start))
        return self._mention(best, found, home)

    def _exact_mentions(self, keys: Sequence[str], usable: Sequence[bool],
                        alone: Sequence[bool]) -> list[_Found]:
        found: list[_Found] = []
        index, count = 0, len(keys)
        while index < count:
            if not usable[index]:
                index += 1
                continue
            run, longest = 1, self._spans.get(keys[index], 1)
            while run < longest and index + run < count and usable[index + run]:
                run += 1
            match = None
            for length in range(run, 0, -1):
                if length == 1 and not alone[index]:
                    break
                key = "".join(keys[index:index + length])
                if length == 1 and (pcode := self.pcode_of(key)) is not None:
                    match = _Found((0, 0, 0, index), index, 1, (_Entry(BY_PCODE, pcode, 1, None),), 0)
                    break
                entries = self._names.get(key)
                if entries:
                    fitting = tuple(entry for entry in entries if entry.words >= length)
                    if fitting:
                        rank = min(_RANK[entry.kind] for entry in fitting)
                        match = _Found((rank, 0, 0, index), index, length,
                                       tuple(e for e in fitting if _RANK[e.kind] == rank), 0)
                        break
            if match is not None:
                found.append(match)
                index += match.length
            else:
                index += 1
        return found

    def _corrected_mentions(self, keys: Sequence[str], usable: Sequence[bool],
                            alone: Sequence[bool]) -> list[_Found]:
        found: list[_Found] = []
        for index in range(len(keys)):
            if not usable[index]:
                continue
            for length in (3, 2, 1):
                span = range(index, index + length)
                # Corrections are guesses: only over words that could be names by themselves.
                if span.stop > len(keys) or not all(usable[i] and alone[i] for i in span):
                    continue
                errors, matched = self._fuzzy.lookup("".join(keys[index:index + length]))
                entries = tuple(entry for key in matched for entry in self._names[key] if entry.words >= length)
                if entries:
                    rank = min(_RANK[entry.kind] for entry in entries)
                    found.append(_Found((2 + rank, errors, -length, index), index, length,
                                        tuple(e for e in entries if _RANK[e.kind] == rank), errors))
                    break
        return found

    def _mention(self, best: _Found, found: list[_Found], home: str | None) -> PlaceMention:
        commune, candidates = self._resolve(best.entries, home)
        tokens = tuple(range(best.start, best.start + best.length))
        village = next((entry.village for entry in best.entries if entry.commune == commune), None)
        if commune is not None and village is None:
            # "Gabi Takoude": the commune named, and a village of it.
            for other in found:
                name = next((e.village for e in other.entries if e.village and e.commune == commune), None)
                if name and other is not best:
                    village = name
                    tokens += tuple(range(other.start, other.start + other.length))
                    break
        return PlaceMention(tokens=tuple(sorted(tokens)), kind=best.entries[0].kind, commune=commune,
                            village=village, candidates=candidates, errors=best.errors)

    def _resolve(self, entries: Sequence[_Entry], home: str | None) -> tuple[str | None, tuple[str, ...]]:
        """The one commune entries designate, if any: ties go to the reporter's home commune,
        then department, region and country; several left in the nearest area = ambiguous."""
        candidates = tuple(sorted({entry.commune for entry in entries}))
        if len(candidates) == 1:
            return candidates[0], candidates
        if home:
            home_chain = self._chain(home)
            for level in range(4):
                if home_chain[level] is None:
                    continue
                inside = [pcode for pcode in candidates if self._chain(pcode)[level] == home_chain[level]]
                if len(inside) == 1:
                    return inside[0], candidates
                if inside:
                    return None, candidates
        return None, candidates

    def resolve_commune(self, text: str, home: str | None = None) -> str | None:
        """The commune P-code a whole text (a P-code, commune or village name) designates."""
        keys = [token_key(text[start:end]) for start, end in split_words(text)]
        mention = self.find_place(keys, home=home)
        if mention is None or len(mention.tokens) != len(keys):
            return None
        return mention.commune

    def search(self, name: str, home: str | None = None, limit: int = 5) -> list[Candidate]:
        """Communes a typed name may mean, nearest to `home` first (for "did you mean")."""
        key = name_key(name)
        if not key:
            return []
        errors = 0
        if (pcode := self.pcode_of(key)) is not None:
            entries: Sequence[_Entry] = (_Entry(BY_PCODE, pcode, 1, None),)
        else:
            entries = self._names.get(key, ())
            if not entries:
                errors, matched = self._fuzzy.lookup(key)
                entries = [entry for found in matched for entry in self._names[found]]
        home_chain = self._chain(home) if home else (None,) * 4
        seen: dict[str, Candidate] = {}
        for entry in sorted(entries, key=lambda e: _RANK[e.kind]):
            if entry.commune not in seen:
                seen[entry.commune] = Candidate(entry.commune, self._communes[entry.commune].name,
                                                entry.village, entry.kind, errors)

        def nearness(candidate: Candidate) -> tuple[int, int, str]:
            chain = self._chain(candidate.pcode)
            shared = next((level for level in range(4) if home_chain[level] and chain[level] == home_chain[level]), 4)
            return (_RANK[candidate.kind], shared, candidate.name)

        return sorted(seen.values(), key=nearness)[:limit]


def load_aliases(path: Path = DEFAULT_ALIASES) -> dict[str, tuple[str, ...]]:
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    return {pcode: tuple(names) for pcode, names in data.items()}


def _display(register_name: str) -> str:
    """"KONGO KIRE" -> "Kongo Kire" (register names are upper case)."""
    return " ".join(word.capitalize() for word in register_name.split()) if register_name.isupper() else register_name
