"""Parses texts with the demo gazetteer, or the shared one: `python -m tests.support.parse_corpus
[--pure] [--shared] [--generate N]` reads JSON lines {"text", "lang", "home"} and writes one result
(its repr) per line, then parses N texts made up from the gazetteer's names (some mistyped).
--pure loads the parser from its Python sources (tests.support.pure_python)."""

from __future__ import annotations

import sys

if "--pure" in sys.argv:
    import tests.support.pure_python  # noqa: F401 - before any gateway import

import json  # noqa: E402
import random  # noqa: E402
from pathlib import Path  # noqa: E402

from gateway.demo.gazetteer import load_demo_batch  # noqa: E402
from gateway.gazetteer import Gazetteer, read_gazetteer_files  # noqa: E402
from gateway.parser import load_parser  # noqa: E402
from gateway.parser import parser as parser_module  # noqa: E402

WORDS = ("ATTAQUE", "enlevement", "vol de betail", "hommes armes", "sace shanu", "'yan bindiga", "hari", "kashe",
         "#3", "3", "12", "vingt cinq", "biyar", "hinza", "cette nuit", "OK K7Q2", "FAUX R7K2", "LANGUE ha",
         "INSCRIPTION", "AIDE", "bonjour", "da dare", "???", "-", "'", "é", "0", "99999", "#")
SHARED_FILES = ("ner_adm3_gazetteer.csv", "mli_adm3_gazetteer.csv", "ner_pcodes_adm1_adm2_hdx_fixture.csv",
                "mli_pcodes_adm1_adm2_hdx_fixture.csv", "ner_renaloc_localities.csv")


def main() -> int:
    shared = Path(__file__).resolve().parents[2].parent / "shared" / "data"
    batch = read_gazetteer_files(shared / name for name in SHARED_FILES) if "--shared" in sys.argv else load_demo_batch()
    parser = load_parser(Gazetteer(batch.units, batch.places))
    print(json.dumps({"parser_module": parser_module.__file__}), flush=True)
    for line in sys.stdin:
        item = json.loads(line)
        print(repr(parser.parse(item["text"], lang=item.get("lang"), home=item.get("home"))))
    count = int(sys.argv[sys.argv.index("--generate") + 1]) if "--generate" in sys.argv else 0
    names = sorted({name for place in batch.places for name in place.names} | {unit.name for unit in batch.units})
    homes = [None, *sorted(unit.pcode for unit in batch.units)]
    rng = random.Random(7)
    for _ in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randrange(0, 3))]
        words += [_mistyped(rng.choice(names), rng) for _ in range(rng.randrange(0, 3))]
        rng.shuffle(words)
        print(repr(parser.parse(" ".join(words), lang=rng.choice((None, "fr", "ha", "dje")), home=rng.choice(homes))))
    return 0


def _mistyped(name: str, rng: random.Random) -> str:
    if len(name) < 5 or rng.random() < 0.5:
        return name if rng.random() < 0.7 else name.upper()
    i = rng.randrange(1, len(name) - 1)
    return rng.choice((name[:i] + name[i + 1:], name[:i] + name[i] + name[i:], name[:i] + "e" + name[i + 1:]))


if __name__ == "__main__":
    raise SystemExit(main())
