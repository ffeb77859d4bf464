"""`ewg i18n status` lists every catalog entry still marked UNVERIFIED, per language and catalog."""

from __future__ import annotations

import json

from babel.messages.pofile import read_po

from gateway import PROJECT_ROOT
from gateway.cli.i18n import unverified
from tests.support.cli import ewg

PO = '''msgid ""
msgstr ""

#. UNVERIFIED: a guess, needs a Zarma speaker
msgid "Thank you."
msgstr "Fofo."

#. Checked by a speaker
msgid "Help"
msgstr "Gaakasinay"
'''


def test_only_marked_entries_are_listed_with_their_reason(tmp_path) -> None:
    for lang in ("fr", "ha", "dje"):
        (tmp_path / lang / "LC_MESSAGES").mkdir(parents=True)
    (tmp_path / "dje" / "LC_MESSAGES" / "replies.po").write_text(PO, encoding="utf-8")
    [entry] = unverified(tmp_path)
    assert (entry.lang, entry.catalog, entry.msgid, entry.text, entry.why) == (
        "dje", "replies", "Thank you.", "Fofo.", "a guess, needs a Zarma speaker")


def test_the_command_lists_every_marked_zarma_entry() -> None:
    done = ewg("i18n", "status", "--lang", "dje", "--json")
    assert done.returncode == 0, done.stderr
    listed = {(row["catalog"], row["msgid"]) for row in map(json.loads, done.stdout.splitlines())}
    marked = set()
    for path in (PROJECT_ROOT / "locales" / "dje" / "LC_MESSAGES").glob("*.po"):
        with path.open("rb") as handle:
            marked |= {(path.stem, str(m.id)) for m in read_po(handle)
                       if m.id and any(c.startswith("UNVERIFIED:") for c in m.auto_comments)}
    assert marked and listed == marked
    text = ewg("i18n", "status", "--lang", "ha")
    assert text.returncode == 0 and "ha/replies.po:" in text.stdout and "entries to check" in text.stdout
