"""`ewg i18n status`: every catalog entry still marked `#. UNVERIFIED`, per language and catalog, for
a native speaker's review (the mark's reason, then the French source text it translates)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from babel.messages.pofile import read_po

from gateway.cli.common import add_config
from gateway.kernel.i18n import DEFAULT_LOCALES_DIR, LANGUAGES

MARK = "UNVERIFIED:"


@dataclass(frozen=True)
class Unverified:
    lang: str
    catalog: str
    msgid: str
    text: str
    why: str


def unverified(locales_dir: Path = DEFAULT_LOCALES_DIR) -> list[Unverified]:
    """The marked entries of every language's catalogs, in language then catalog order."""
    found = []
    for lang in LANGUAGES:
        for path in sorted((locales_dir / lang / "LC_MESSAGES").glob("*.po")):
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=None)
            for message in catalog:
                marks = [c for c in message.auto_comments if c.startswith(MARK)]
                if message.id and marks:
                    found.append(Unverified(lang, path.stem, str(message.id), str(message.string),
                                            marks[0][len(MARK):].strip()))
    return found


def register(sub) -> None:
    i18n = sub.add_parser("i18n", help="the translations' review state")
    i18n_sub = i18n.add_subparsers(dest="i18n_command", required=True)
    status = i18n_sub.add_parser("status", help="list every entry still marked UNVERIFIED")
    add_config(status)
    status.add_argument("--lang", choices=LANGUAGES, help="one language only")
    status.add_argument("--json", action="store_true", help="one JSON object per line")
    status.set_defaults(handler=print_status)


def print_status(args, settings) -> int:
    entries = [e for e in unverified() if args.lang in (None, e.lang)]
    if args.json:
        for entry in entries:
            print(json.dumps(asdict(entry), ensure_ascii=False))
        return 0
    current = None
    for entry in entries:
        if (entry.lang, entry.catalog) != current:
            current = (entry.lang, entry.catalog)
            count = sum(1 for e in entries if (e.lang, e.catalog) == current)
            print(f"{entry.lang}/{entry.catalog}.po: {count} unverified")
        print(f"  {entry.msgid}\n    -> {entry.text}\n    why: {entry.why}")
    print(f"{len(entries)} entries to check with a native speaker")
    return 0
