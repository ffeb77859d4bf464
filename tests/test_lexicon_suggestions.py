"""The review loop closed over real HTTP: a word suggested while labelling an unknown text is accepted
(or rejected) on the dashboard's lexicon suggestions page, and the running gateway reads the next SMS
with it, without a restart. Viewers can neither see nor decide."""

from __future__ import annotations

import re
import tomllib

import pytest
from sqlalchemy import select

from gateway import PROJECT_ROOT
from gateway.kernel.taxonomy import load_taxonomy
from gateway.parser.lexicon import INCIDENT, LexiconError, Sense, load_lexicon
from gateway.runtime import RUNTIME
from gateway.storage.models import AuditEntry, Message
from tests.support.dashboard import TERA, add_dashboard_user, log_in, post_sms
from tests.support.gateway import make_settings, running_gateway

SHIPPED = {lang: (PROJECT_ROOT / "locales" / lang / "keywords.toml").read_bytes() for lang in ("fr", "ha", "dje")}


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]{64})"', html).group(1)


async def page(client, path: str, status: int = 200) -> str:
    response = await client.get(path, allow_redirects=False)
    assert response.status == status, (path, response.status, await response.text())
    return await response.text()


async def last_message(client) -> Message:
    async with client.server.app[RUNTIME].sessions() as db:
        return (await db.execute(select(Message).order_by(Message.id.desc()).limit(1))).scalar_one()


async def label_with_word(client, text: str, sms_id: str, label: str, word: str) -> int:
    await post_sms(client, TERA, text, sms_id)
    message = await last_message(client)
    assert message.kind == "unknown", message.parse
    html = await page(client, "/dashboard/review")
    response = await client.post(f"/dashboard/review/{message.id}", allow_redirects=False, data={
        "label": label, "word": word, "word_lang": "dje", "csrf": csrf_of(html)})
    assert (response.status, response.headers["Location"]) == (303, "/dashboard/review?done=suggested")
    return message.id


def suggestion_rows(html: str) -> dict[str, str]:
    """word -> the suggestion's index, as the page lists them."""
    return {word: index for index, word in re.findall(
        r'<tr data-suggestion="(\d+)"><td><code>([^<]*)</code>', html)}


async def test_an_accepted_word_is_understood_by_the_running_gateway(db_url, clock, tmp_path) -> None:
    suggestions, overlay = tmp_path / "suggestions.toml", tmp_path / "lexicon"
    settings = make_settings(db_url, callbacks={"token": "s3cret"}, api={"token": "api-token"}, dashboard={
        "suggestions_path": str(suggestions), "lexicon_overlay_dir": str(overlay)})
    async with running_gateway(settings, clock) as client:
        runtime = client.server.app[RUNTIME]
        await log_in(client)
        message_id = await label_with_word(client, "kaykay tera 5", "k-1", "attack", "kaykay")
        await label_with_word(client, "zorzor tera 2", "k-2", "kidnapping", "zorzor")

        # A viewer sees neither the page nor can decide, even with a valid CSRF token of its own.
        await add_dashboard_user(client, "amina", "sahel-2026-amina", "viewer")
        await log_in(client, "amina", "sahel-2026-amina")
        viewer_csrf = csrf_of(await page(client, "/dashboard/review"))
        assert "/dashboard/suggestions" not in await page(client, "/dashboard/review")
        assert "viewer" in await page(client, "/dashboard/suggestions", 403)
        response = await client.post("/dashboard/suggestions/1", allow_redirects=False,
                                     data={"decision": "accept", "word": "kaykay", "csrf": viewer_csrf})
        assert response.status == 403 and "viewer" in await response.text()
        assert not overlay.exists()

        await add_dashboard_user(client, "moussa", "sahel-2026-moussa", "operator")
        await log_in(client, "moussa", "sahel-2026-moussa")
        html = await page(client, "/dashboard/suggestions")
        assert 'href="/dashboard/suggestions"' in html
        rows = suggestion_rows(html)
        assert set(rows) == {"kaykay", "zorzor"}
        assert re.search(rf"<code>kaykay</code></td><td>dje</td><td>attaque</td><td>{message_id}</td>", html)
        csrf = csrf_of(html)

        # Refusals, none of which changes anything.
        for data, status in (({"decision": "accept", "word": "kaykay"}, 403),
                             ({"decision": "accept", "word": "kaykay", "csrf": "f" * 64}, 403),
                             ({"decision": "adopt", "word": "kaykay", "csrf": csrf}, 400),
                             ({"decision": "accept", "word": "zorzor", "csrf": csrf}, 404)):
            response = await client.post(f"/dashboard/suggestions/{rows['kaykay']}", data=data, allow_redirects=False)
            assert response.status == status, (data, await response.text())
        response = await client.post("/dashboard/suggestions/99", allow_redirects=False,
                                     data={"decision": "accept", "word": "kaykay", "csrf": csrf})
        assert response.status == 404
        assert not overlay.exists()

        # Before: the word is not understood.
        await post_sms(client, TERA, "kaykay tera 4", "k-3")
        assert (await last_message(client)).kind == "unknown"

        parser_before = runtime.parser
        response = await client.post(f"/dashboard/suggestions/{rows['kaykay']}", allow_redirects=False,
                                     data={"decision": "accept", "word": "kaykay", "csrf": csrf})
        assert (response.status, response.headers["Location"]) == (303, "/dashboard/suggestions?done=accepted")
        assert runtime.parser is not parser_before
        html = await page(client, "/dashboard/suggestions?done=accepted")
        assert set(suggestion_rows(html)) == {"zorzor"} and "le mot est dans le lexique local" in html

        local = (overlay / "dje" / "keywords.local.toml").read_text(encoding="utf-8")
        assert tomllib.loads(local)["words"] == {"kaykay": "attack"}
        assert re.search(rf'^"kaykay" = "attack"  # accepted by moussa at 2026-\S+, message {message_id}$',
                         local, re.M)

        # After, in the same running gateway: the same word in a new SMS is an attack in Tera.
        await post_sms(client, TERA, "kaykay tera 7", "k-4")
        message = await last_message(client)
        assert message.kind == "report", message.parse
        assert message.parse["incident"] == "attack", message.parse

        # Rejecting: the suggestion disappears and nothing else changes.
        parser_before = runtime.parser
        response = await client.post(f"/dashboard/suggestions/{rows['zorzor']}", allow_redirects=False,
                                     data={"decision": "reject", "word": "zorzor", "csrf": csrf})
        assert (response.status, response.headers["Location"]) == (303, "/dashboard/suggestions?done=rejected")
        assert runtime.parser is parser_before
        html = await page(client, "/dashboard/suggestions?done=rejected")
        assert suggestion_rows(html) == {} and "Aucune suggestion en attente." in html
        assert (overlay / "dje" / "keywords.local.toml").read_text(encoding="utf-8") == local
        await post_sms(client, TERA, "zorzor tera 2", "k-5")
        assert (await last_message(client)).kind == "unknown"
        # A decided suggestion cannot be decided again.
        response = await client.post(f"/dashboard/suggestions/{rows['zorzor']}", allow_redirects=False,
                                     data={"decision": "accept", "word": "zorzor", "csrf": csrf})
        assert response.status == 404

        async with runtime.sessions() as db:
            audited = (await db.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.target, AuditEntry.detail)
                                        .where(AuditEntry.action.like("lexicon_%")).order_by(AuditEntry.id))).all()
        assert [tuple(row) for row in audited] == [
            ("moussa", "lexicon_accept", f"suggestion {rows['kaykay']}", "dje kaykay = attack"),
            ("moussa", "lexicon_reject", f"suggestion {rows['zorzor']}", "dje zorzor = kidnapping")]

    data = tomllib.loads(suggestions.read_text(encoding="utf-8"))
    assert [(d["index"], d["verdict"], d["by"]) for d in data["decision"]] == [
        (int(rows["kaykay"]), "accepted", "moussa"), (int(rows["zorzor"]), "rejected", "moussa")]
    assert {lang: (PROJECT_ROOT / "locales" / lang / "keywords.toml").read_bytes() for lang in SHIPPED} == SHIPPED

    # A restart reads the overlay too: the word is still understood.
    async with running_gateway(settings, clock) as client:
        await post_sms(client, TERA, "kaykay tera 9", "k-6")
        assert (await last_message(client)).parse["incident"] == "attack"


def test_the_overlay_is_read_after_the_shipped_lexicon_and_checked(tmp_path) -> None:
    taxonomy = load_taxonomy()
    local = tmp_path / "dje" / "keywords.local.toml"
    local.parent.mkdir()
    local.write_text('[words]\n"kaykay" = "attack"  # accepted by moussa\n', encoding="utf-8")
    assert Sense(INCIDENT, "attack", "dje") in load_lexicon(taxonomy, overlay=tmp_path).phrases["kaykay"]
    assert "kaykay" not in load_lexicon(taxonomy).phrases
    for text, fragment in (('[words]\n"kaykay" = "weather"\n', "unknown incident 'weather'"),
                           ("words = 3\n", "[words] must be a table"), ("[words\n", "keywords.local.toml")):
        local.write_text(text, encoding="utf-8")
        with pytest.raises(LexiconError, match=re.escape(fragment)):
            load_lexicon(taxonomy, overlay=tmp_path)


async def test_a_broken_overlay_is_a_clear_503_and_the_parser_stays(db_url, clock, tmp_path) -> None:
    overlay = tmp_path / "lexicon"
    settings = make_settings(db_url, callbacks={"token": "s3cret"}, api={"token": "api-token"}, dashboard={
        "suggestions_path": str(tmp_path / "suggestions.toml"), "lexicon_overlay_dir": str(overlay)})
    async with running_gateway(settings, clock) as client:
        runtime = client.server.app[RUNTIME]
        await log_in(client)
        await label_with_word(client, "kaykay tera 5", "b-1", "attack", "kaykay")
        (overlay / "dje").mkdir(parents=True)
        (overlay / "dje" / "keywords.local.toml").write_text('[words]\n"x" = "weather"\n', encoding="utf-8")
        html = await page(client, "/dashboard/suggestions")
        parser_before = runtime.parser
        response = await client.post(f"/dashboard/suggestions/{suggestion_rows(html)['kaykay']}", allow_redirects=False,
                                     data={"decision": "accept", "word": "kaykay", "csrf": csrf_of(html)})
        assert response.status == 503 and "unknown incident 'weather'" in await response.text()
        assert runtime.parser is parser_before
        assert set(suggestion_rows(await page(client, "/dashboard/suggestions"))) == {"kaykay"}  # still pending
