"""Hostile broadcast forms (hypothesis), as a logged-in operator over HTTP: preview, send, approve and
cancel with any area, audience, texts, ids and body encoding. Never a 500 nor a traceback, and
nothing half-stored: a broadcast waiting or cancelled has no SMS, a queued one exactly one per
recipient, each has the audit row of its writing (and of its approval or cancelling), and no
broadcast SMS is without its broadcast. Approvals and a cancelling sent at once: one wins."""

from __future__ import annotations

import asyncio
import re
import string
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from gateway.dashboard.scope import Scope
from gateway.dashboard.users import add_user
from gateway.runtime import RUNTIME
from gateway.storage.models import AuditEntry, Broadcast, Outbox
from tests.support.dashboard import log_in
from tests.support.gateway import make_settings, running_gateway

PASSWORD = "sahel-operator-2026"
ALLOWED = {"preview": {200, 400, 403, 413}, "send": {303, 400, 403, 409, 413},
           "approve": {303, 400, 403, 404, 409, 413}, "cancel": {303, 400, 403, 404, 409, 413}}

areas = st.one_of(
    st.sampled_from(["NE004", "NE006", "Maradi", "maradi", "Tillabéri", "TILLABERI", "NE004006003", "Gabi", "NE006011",
                     "Atlantis", "", " ", "NE", "NE004%", "NE00_", "ne004", "NE004\x00", "' OR 1=1 --", "Madarounfa",
                     "x" * 300]),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=30))
audiences = st.sampled_from(["committees", "focal_points", "everyone", "", "Committees", "committees\x00"])
texts = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=50),
    st.text(string.printable, max_size=200),
    st.sampled_from(["Reunion samedi.", "Taron kwamiti.", "Marga hawru.", "ê" * 400, "é" * 161, "x" * 1001, "\r\n",
                     "a\x00b", "\u202eevil", "ɗaukar ƙasa", "🙂" * 70, "{x}", "<script>", "%s%s"]),
    st.integers(150, 1100).map(lambda n: "x" * n))
VALID_TEXTS = {"fr": "Reunion samedi.", "ha": "Taron kwamiti.", "dje": "Marga hawru."}
ids = st.one_of(st.integers(1, 30).map(str), st.sampled_from(["0", "9" * 25, str(2**63), str(2**63 - 1)]))


@st.composite
def requests(draw, csrf: str) -> tuple[str, str, bytes, str]:
    what = draw(st.sampled_from(list(ALLOWED)))
    if what in ("preview", "send"):
        path = "/dashboard/broadcasts" + ("/preview" if what == "preview" else "")
        # A valid form (Tillabéri's two are queued at once, Maradi's five wait), then some of its fields replaced.
        form = {"area": draw(st.sampled_from(["NE004", "NE006", "Maradi", "tillaberi", "Gabi"])),
                "audience": draw(st.sampled_from(["committees", "focal_points"])),
                **{f"text_{lang}": text for lang, text in VALID_TEXTS.items()}}
        for name in draw(st.lists(st.sampled_from(["area", "audience", "text_fr", "text_ha", "text_dje", "text_en"]),
                                  unique=True, max_size=3)):
            form[name] = draw({"area": areas, "audience": audiences}.get(name, texts))
    else:
        path, form = f"/dashboard/broadcasts/{draw(ids)}/{what}", {}
    if draw(st.sampled_from([True] * 9 + [False])):
        form["csrf"] = csrf
    for _ in range(draw(st.integers(0, 2))):
        form[draw(st.text(string.ascii_letters + "_", min_size=1, max_size=8))] = draw(texts)
    charset = draw(st.sampled_from(["", "", "", "; charset=utf-8", "; charset=latin-1", "; charset=utf-16", "; charset=bogus"]))
    encoding = {"; charset=latin-1": "latin-1"}.get(charset, "utf-8")
    body = urlencode(form, encoding=encoding, errors="replace").encode("ascii")
    return what, path, body, "application/x-www-form-urlencoded" + charset


FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])


@pytest.fixture
async def operator(db_url, clock):
    settings = make_settings(db_url, callbacks={"token": "s3cret"}, api={"token": "api-token"},
                             broadcast={"approval_threshold": 3})
    async with running_gateway(settings, clock) as client:
        async with client.server.app[RUNTIME].sessions() as session, session.begin():
            await add_user(session, "musa", PASSWORD, "operator", scope=Scope(None))
        await log_in(client, "musa", PASSWORD)
        client.csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"',
                                await (await client.get("/dashboard/broadcasts")).text()).group(1)
        yield client


async def assert_nothing_half_stored(client) -> None:
    async with client.server.app[RUNTIME].sessions() as session:
        sms = dict((await session.execute(select(Outbox.broadcast_id, func.count()).where(Outbox.kind == "broadcast")
                                          .group_by(Outbox.broadcast_id))).all())
        audited = {(action, target) for action, target in await session.execute(
            select(AuditEntry.action, AuditEntry.target).where(AuditEntry.action.startswith("broadcast")))}
        broadcasts = (await session.execute(select(Broadcast))).scalars().all()
    for b in broadcasts:
        expected = b.recipients if b.status == "queued" else 0
        assert sms.pop(b.id, 0) == expected, (b.id, b.status, b.recipients)
        assert ("broadcast", f"broadcast {b.id}") in audited
        assert (b.approved_by is None) == (("broadcast_approve", f"broadcast {b.id}") not in audited)
        assert (b.status == "cancelled") == (("broadcast_cancel", f"broadcast {b.id}") in audited)
    assert not sms, f"broadcast SMS without their broadcast: {sms}"


@FUZZ
@given(data=st.data())
async def test_hostile_broadcast_forms_never_500_and_leave_nothing_half_stored(operator, data) -> None:
    what, path, body, content_type = data.draw(requests(operator.csrf))
    response = await operator.post(path, data=body, headers={"Content-Type": content_type}, allow_redirects=False)
    answer = await response.text()
    assert response.status in ALLOWED[what] and "Traceback" not in answer, (response.status, answer[:300], path, body[:300])
    event(f"{what} {response.status} {answer[:20] if response.status != 200 else ''}")
    await assert_nothing_half_stored(operator)


async def session_of(client, name: str) -> tuple[dict, str]:
    """A second operator's session cookie and CSRF token, sent explicitly beside the client's own."""
    async with client.server.app[RUNTIME].sessions() as session, session.begin():
        await add_user(session, name, PASSWORD, "operator", scope=Scope(None))
    response = await client.post("/dashboard/login", data={"user": name, "password": PASSWORD}, allow_redirects=False)
    cookies = {"ewg_session": response.cookies["ewg_session"].value}
    html = await (await client.get("/dashboard", cookies=cookies)).text()
    return cookies, re.search(r'name="csrf" value="([0-9a-f]{64})"', html).group(1)


async def test_decisions_at_once_on_one_broadcast_leave_one_decision(operator) -> None:
    """Two approvals and a cancelling of a waiting broadcast at the same moment (row-locked on
    PostgreSQL): exactly one is done, the others are refused 409, and the broadcast is consistent."""
    form = {"csrf": operator.csrf, "area": "NE004", "audience": "committees", **{
        f"text_{lang}": text for lang, text in VALID_TEXTS.items()}}
    assert (await operator.post("/dashboard/broadcasts", data=form, allow_redirects=False)).status == 303
    deciders = [await session_of(operator, name) for name in ("awa", "idi", "ali")]
    statuses = await asyncio.gather(*(
        operator.post(f"/dashboard/broadcasts/1/{verb}", cookies=cookies, data={"csrf": csrf}, allow_redirects=False)
        for verb, (cookies, csrf) in zip(("approve", "approve", "cancel"), deciders, strict=True)))
    assert sorted(r.status for r in statuses) == [303, 409, 409]
    async with operator.server.app[RUNTIME].sessions() as session:
        decisions = (await session.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action.in_(("broadcast_approve", "broadcast_cancel"))))).scalar_one()
    assert decisions == 1
    await assert_nothing_half_stored(operator)
