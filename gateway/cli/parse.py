"""`ewg parse`: how one SMS (or a batch of JSON lines) is understood."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gateway.cli.common import add_config, run_db
from gateway.cli.errors import CliError
from gateway.demo.gazetteer import load_demo_batch
from gateway.gazetteer.matcher import Gazetteer
from gateway.gazetteer.reference import lexicon_overlay
from gateway.parser import load_parser
from gateway.storage.db import is_sqlite
from gateway.storage.gazetteer import is_empty, load_gazetteer


def register(sub) -> None:
    parse = sub.add_parser("parse", help="show how an SMS text is understood")
    add_config(parse)
    parse.add_argument("--lang", choices=["fr", "ha", "dje"], default=None,
                       help="the text's language: fr, ha (Hausa) or dje (Zarma); default: detected")
    parse.add_argument("--home", default=None, help="the reporter's commune P-code")
    parse.add_argument("--json", action="store_true", help="one JSON object")
    parse.add_argument("--jsonl", action="store_true", help="batch: JSON lines on stdin, JSON lines out")
    parse.add_argument("text", nargs="*", help="the SMS text, e.g. ATTAQUE GABI 12")
    parse.set_defaults(handler=run_parse)


def gazetteer_for_cli(settings):
    """The stored gazetteer when there is a database with one, else the demo gazetteer."""
    url = settings.database_url
    if not (is_sqlite(url) and not Path(url.split(":///", 1)[1]).exists()):
        async def load(sessions):
            async with sessions() as session:
                return None if await is_empty(session) else await load_gazetteer(session)

        try:
            stored = run_db(settings, load)
        except CliError:
            stored = None
        if stored is not None:
            return stored
    batch = load_demo_batch()
    return Gazetteer(batch.units, batch.places)


def run_parse(args, settings) -> int:
    parser = load_parser(gazetteer_for_cli(settings), overlay=lexicon_overlay(settings))  # as `ewg serve` reads
    if args.jsonl:
        for number, line in enumerate(sys.stdin, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                text = item["text"]
                if not isinstance(text, str):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                raise CliError(f"stdin:{number}: expected a JSON object with a string field \"text\"") from None
            result = parser.parse(text, lang=item.get("lang"), home=item.get("home"))
            sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
        return 0
    if not args.text:
        raise CliError("parse needs a TEXT (or --jsonl with JSON lines on stdin)")
    result = parser.parse(" ".join(args.text), lang=args.lang, home=args.home)
    data = result.to_dict()
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
    else:
        for key, value in data.items():
            if value not in (None, [], ""):
                print(f"{key:>14}: {value}")
    return 0
