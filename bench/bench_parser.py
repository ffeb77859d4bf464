"""Parser throughput on one core with the full shared gazetteer (Niger and Mali communes,
34,054 RENALOC localities). Run: .venv/bin/python bench/bench_parser.py [--texts N]

Prints the gazetteer load time and texts/second over a realistic mixed corpus: reports in
three languages with commune and village names (some with typing errors), commands, and
texts that are not understood. Target: over 20,000 texts/s. Prints whether the parser runs compiled
(mypyc, setup.py) or as pure Python.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.compiled import build_state  # noqa: E402
from gateway.gazetteer import Gazetteer, read_gazetteer_files  # noqa: E402
from gateway.parser import load_parser  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
FILES = ("ner_adm3_gazetteer.csv", "mli_adm3_gazetteer.csv", "ner_pcodes_adm1_adm2_hdx_fixture.csv",
         "mli_pcodes_adm1_adm2_hdx_fixture.csv", "ner_renaloc_localities.csv")
INCIDENTS = ("ATTAQUE", "attaque", "enlevement", "vol de betail", "hommes armes", "mine", "meurtre", "deplaces",
             "incendie", "conflit", "sace", "hari", "satar shanu", "'yan bindiga", "kashe", "gobara", "rikici",
             "zuru", "danji", "3", "#1", "vol de vaches", "sace shanu")
COUNTS = ("", "5", "12", "40", "uku", "biyar", "vingt", "hinza", "goma", "trois")
FREE = ("", "a moto", "cette nuit", "ils sont nombreux", "venez vite", "da dare", "sun gudu", "hier soir")
UNKNOWN = ("bonjour", "allo", "merci beaucoup", "sannu", "comment ca va", "test", "ok merci pour tout",
           "je veux parler au chef", "fofo", "???")
COMMANDS = ("AIDE", "OK K7Q2", "FAUX R7K2", "LANGUE ha", "TAIMAKO", "INSCRIPTION Gabi Moussa")


def typo(word: str, rng: random.Random) -> str:
    if len(word) < 6:
        return word
    i = rng.randrange(1, len(word) - 1)
    return rng.choice((word[:i] + word[i + 1:], word[:i] + word[i] + word[i:], word[:i] + "e" + word[i + 1:]))


def corpus(gazetteer: Gazetteer, places: list[str], size: int, seed: int = 7) -> list[tuple[str, str | None]]:
    rng = random.Random(seed)
    communes = [unit.name for unit in gazetteer.communes()]
    homes = [unit.pcode for unit in gazetteer.communes()]
    texts = []
    for _ in range(size):
        roll = rng.random()
        if roll < 0.08:
            texts.append((rng.choice(UNKNOWN), None))
            continue
        if roll < 0.12:
            texts.append((rng.choice(COMMANDS), None))
            continue
        place = rng.choice(communes) if rng.random() < 0.5 else rng.choice(places).title()
        if rng.random() < 0.25:
            place = typo(place, rng)
        if rng.random() < 0.15:
            place = ""
        parts = [rng.choice(INCIDENTS), place, rng.choice(COUNTS), rng.choice(FREE)]
        if rng.random() < 0.3:
            rng.shuffle(parts)
        texts.append((" ".join(part for part in parts if part), rng.choice(homes)))
    return texts


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--texts", type=int, default=100_000)
    options.add_argument("--distinct", type=int, default=50_000, help="distinct texts in the corpus")
    args = options.parse_args()
    if not all((SHARED / name).exists() for name in FILES):
        print(f"skipped: the shared gazetteer files are not in {SHARED}")
        return 0
    kind, stale = build_state()
    if stale:  # the .so runs, not the edited source: the figure would be of other code
        print(f"parser: compiled modules older than their sources ({', '.join(stale)}): "
              "run `.venv/bin/pip install -e . --no-deps` first")
        return 1
    started = time.perf_counter()
    batch = read_gazetteer_files(SHARED / name for name in FILES)
    read = time.perf_counter() - started
    gazetteer = Gazetteer(batch.units, batch.places)
    built = time.perf_counter() - started
    parser = load_parser(gazetteer)
    print(f"parser: {kind} (setup.py)")
    print(f"gazetteer: {len(batch.units)} units, {gazetteer.place_count} localities; "
          f"files read in {read:.2f} s, indexes built in {built - read:.2f} s")
    places = sorted({place.names[0] for place in batch.places if place.names})
    distinct = corpus(gazetteer, places, args.distinct)
    texts = [distinct[i % len(distinct)] for i in range(args.texts)]
    understood = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for text, home in texts:
        understood += parser.parse(text, home=home).kind != "unknown"
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(f"{len(texts)} texts ({len(distinct)} distinct, {understood / len(texts):.0%} understood): "
          f"{len(texts) / elapsed:,.0f} texts/s wall clock, {len(texts) / cpu:,.0f} texts/s of CPU time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
