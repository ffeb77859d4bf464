"""Warning the neighbours, decided: inline TOML plus a table of situations and the expected decision
for each neighbour's committee member (levels, rings, roles, silences, inhibition, quiet hours,
dedup), the rules' validation with file:line, and the whole flow on a database through the alert
service: scoring opens the alert, the neighbours get their vigilance in their own language, a
report at the same level warns nobody again, a raised level does, and a neighbour's OK <code>
counts for its own commune without acknowledging the alert."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest
from sqlalchemy import select

from alerts import service
from alerts.areas import AreaPath, StaticGazetteer
from alerts.neighbours import rings_around
from alerts.outcomes import AckOutcome, ChangeKind
from alerts.pipeline import OtherAlert
from alerts.routing import Member
from alerts.rules import RulesError, load_rules
from alerts.spillover_decisions import Neighbourhood, SpillSituation, decide_neighbours, spill_rule
from gateway.gazetteer.model import ImportBatch, Unit
from gateway.storage.db import create_engine, session_factory
from gateway.storage.gazetteer import import_batch
from gateway.storage.models import (
    Alert,
    CommitteeMember,
    Message,
    Outbox,
    Report,
    Spillover,
    SpilloverNotification,
)
from tests.support.rules import MINIMAL

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
AYEROU, INATES, OUATTAGOUNA, TESSIT, GABI = "NE006002001", "NE006002002", "ML070104", "ML070106", "NE004006003"
ELSEWHERE = "BF130101"  # a commune a partner gateway covers: not in this gazetteer

RULES_TEXT = MINIMAL + """
[spillover.attack]
from_level = 1
rings = 1
roles = ["member", "chair"]

[spillover.kidnapping]
from_level = 2
rings = 2

[spillover.armed_men]

[spillover.cattle_theft]
spills = false

[[silence]]
area = "NE006002"
incident = "armed_men"
until = 2026-03-02T00:00:00Z
reason = "known patrol"

[[silence]]
area = "ML070104"
incident = "kidnapping"
until = 2026-03-02T00:00:00Z
reason = "negotiation under way"

[quiet_hours]
start = "22:00"
end = "06:00"
max_level = 1
utc_offset_hours = 1
"""

MEMBERS = [
    Member(1, "+22796000011", "Inates membre", INATES, "member", "ha"),
    Member(2, "+22796000012", "Inates prefet", INATES, "authority", "fr"),
    Member(3, "+22396000013", "Ouattagouna chef", OUATTAGOUNA, "chair", "dje"),
    Member(4, "+22796000014", "Gabi maire", GABI, "chair", "fr"),  # never a neighbour of Ayerou
]
NEIGHBOURS = [
    Neighbourhood(INATES, 1, AreaPath.from_pcode(INATES)),
    Neighbourhood(OUATTAGOUNA, 1, AreaPath.from_pcode(OUATTAGOUNA)),
    Neighbourhood(ELSEWHERE, 1, AreaPath.from_pcode(ELSEWHERE), known=False),
    Neighbourhood(TESSIT, 2, AreaPath.from_pcode(TESSIT)),  # no committee here
]
OUTSIDE = (ELSEWHERE, None, False, "outside this gateway's gazetteer")
NOBODY = (TESSIT, None, False, "no committee member to warn")


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rules")
    (folder / "rules.toml").write_text(RULES_TEXT)
    return load_rules(folder)


def situation(**changes) -> SpillSituation:
    return replace(SpillSituation("K7Q2", "attack", 1, AreaPath.from_pcode(AYEROU), NOW), **changes)


# (label, situation changes, neighbours' open alerts, sent levels, expected (commune, member, send, reason))
CASES = [
    ("attack L1: ring 1, members and chairs", {}, {}, {},
     [OUTSIDE, (OUATTAGOUNA, 3, True, "vigilance L1 ring 1"), (INATES, 1, True, "vigilance L1 ring 1"), NOBODY]),
    ("kidnapping L2: every role, two rings", {"incident": "kidnapping", "level": 2, "now": NOW + timedelta(days=2)},
     {}, {},
     [OUTSIDE, (OUATTAGOUNA, 3, True, "vigilance L2 ring 1"), (INATES, 1, True, "vigilance L2 ring 1"),
      (INATES, 2, True, "vigilance L2 ring 1"), NOBODY]),
    ("warned once per alert", {}, {}, {1: 1, 3: 1},
     [OUTSIDE, (OUATTAGOUNA, 3, False, "already warned at L1"), (INATES, 1, False, "already warned at L1"), NOBODY]),
    ("again when the level rises", {"level": 2}, {}, {1: 1},
     [OUTSIDE, (OUATTAGOUNA, 3, True, "vigilance L2 ring 1"), (INATES, 1, True, "vigilance raised L2 ring 1"),
      NOBODY]),
    ("a higher level warned already covers a lower one", {"level": 1}, {}, {1: 2},
     [OUTSIDE, (OUATTAGOUNA, 3, True, "vigilance L1 ring 1"), (INATES, 1, False, "already warned at L2"), NOBODY]),
    ("home silenced", {"incident": "armed_men"}, {}, {},
     [OUTSIDE, (OUATTAGOUNA, 3, False, "home silenced until 2026-03-02 00:00: known patrol"),
      (INATES, 1, False, "home silenced until 2026-03-02 00:00: known patrol"),
      (INATES, 2, False, "home silenced until 2026-03-02 00:00: known patrol"), NOBODY]),
    ("neighbour silenced", {"incident": "kidnapping", "level": 2}, {}, {},
     [OUTSIDE, (OUATTAGOUNA, 3, False, "neighbour silenced until 2026-03-02 00:00: negotiation under"),
      (INATES, 1, True, "vigilance L2 ring 1"), (INATES, 2, True, "vigilance L2 ring 1"), NOBODY]),
    ("inhibited at home by a graver alert", {"home_others_open": (OtherAlert("KILL", "killing", 1),)}, {}, {},
     [OUTSIDE, (OUATTAGOUNA, 3, False, "inhibited at home by KILL (killing L1)"),
      (INATES, 1, False, "inhibited at home by KILL (killing L1)"), NOBODY]),
    ("a lesser alert at home inhibits nothing", {"home_others_open": (OtherAlert("COWS", "cattle_theft", 3),)},
     {}, {},
     [OUTSIDE, (OUATTAGOUNA, 3, True, "vigilance L1 ring 1"), (INATES, 1, True, "vigilance L1 ring 1"), NOBODY]),
    ("inhibited in the neighbour by its own graver alert", {}, {INATES: (OtherAlert("KIL2", "killing", 2),)}, {},
     [OUTSIDE, (OUATTAGOUNA, 3, True, "vigilance L1 ring 1"),
      (INATES, 1, False, "inhibited by KIL2 in neighbour (killing L2)"), NOBODY]),
    ("quiet hours hold level 1 at night", {"now": datetime(2026, 3, 1, 22, 30, tzinfo=UTC)}, {}, {},
     [OUTSIDE, (OUATTAGOUNA, 3, False, "quiet hours (level 1)"), (INATES, 1, False, "quiet hours (level 1)"),
      NOBODY]),
    ("quiet hours let level 2 through", {"level": 2, "now": datetime(2026, 3, 1, 22, 30, tzinfo=UTC)}, {}, {},
     [OUTSIDE, (OUATTAGOUNA, 3, True, "vigilance L2 ring 1"), (INATES, 1, True, "vigilance L2 ring 1"), NOBODY]),
]


@pytest.mark.parametrize("label,changes,standing,sent,expected", CASES, ids=[c[0] for c in CASES])
def test_vigilance_decisions(rules, label, changes, standing, sent, expected):
    s = situation(**changes)
    rule = spill_rule(rules, s.incident, s.level)
    neighbours = [replace(n, others_open=standing.get(n.commune, ())) for n in NEIGHBOURS]
    decisions = decide_neighbours(s, rules, rule, neighbours, MEMBERS, sent)
    assert [(d.commune, d.member.id if d.member else None, d.decision.send, d.decision.reason)
            for d in decisions] == expected


@pytest.mark.parametrize("incident,level,spills", [
    ("attack", 1, True), ("kidnapping", 1, False), ("kidnapping", 2, True), ("armed_men", 1, True),
    ("cattle_theft", 3, False), ("killing", 3, False),
])
def test_which_alerts_spill_from_which_level(rules, incident, level, spills):
    assert (spill_rule(rules, incident, level) is not None) is spills


def test_the_shipped_rules_spill_attack_kidnapping_armed_men_and_cattle_theft_at_the_first_level():
    shipped = load_rules(Path(__file__).resolve().parents[1] / "rules")
    spilled = {incident: (r.from_level, r.rings, sorted(r.roles)) for incident, r in shipped.spillover.by_incident.items()}
    assert spilled == {i: (1, 1, ["authority", "chair", "member"])
                       for i in ("attack", "kidnapping", "armed_men", "cattle_theft")}


@pytest.mark.parametrize("text,error", [
    ("[spillover.attak]\n", "rules.toml:1: unknown incident 'attak' in [spillover]"),
    ("[spillover.attack]\nrings = 5\n", "rules.toml:2: 'spillover.attack.rings' must be at most 3, got 5"),
    ("[spillover.attack]\nfrom_level = 0\n", "rules.toml:2: 'spillover.attack.from_level' must be an integer >= 1"),
    ("[spillover.attack]\nroles = [\"mayor\"]\n", "rules.toml:2: 'spillover.attack.roles' must be a list of"),
    ("[spillover.attack]\nwhen = 1\n", "rules.toml:2: unknown key 'spillover.attack.when'"),
    ("[spillover.attack]\nspills = \"yes\"\n", "rules.toml:2: 'spillover.attack.spills' must be true or false"),
    ("[[neighbours.add]]\npair = [\"NE006002001\"]\nreason = \"x\"\n",
     "rules.toml:2: pair must be two different commune P-codes"),
    ("[[neighbours.add]]\npair = [\"NE006002001\", \"Ayerou\"]\nreason = \"x\"\n",
     "rules.toml:2: 'Ayerou' is not a P-code"),
    ("[[neighbours.remove]]\npair = [\"NE006002001\", \"NE006002002\"]\n",
     "rules.toml:1: [[neighbours.remove]] needs a reason"),
    ("[[neighbours.add]]\npair = [\"NE006002001\", \"ML070104\"]\nreason = \"x\"\n\n"
     "[[neighbours.remove]]\npair = [\"ML070104\", \"NE006002001\"]\nreason = \"y\"\n",
     "rules.toml:6: pair ML070104 NE006002001 is already listed under [[neighbours.add]] at rules.toml:2"),
    ("[neighbours]\nswap = []\n", "rules.toml:2: unknown key 'neighbours.swap'"),
])
def test_spillover_rules_are_validated_with_file_and_line(tmp_path, text, error):
    (tmp_path / "rules.toml").write_text(text + MINIMAL)
    with pytest.raises(RulesError) as refused:
        load_rules(tmp_path)
    errors = [e.replace(f"{tmp_path.name}/", "") for e in refused.value.errors]
    assert any(e.startswith(error) for e in errors), errors


def test_a_pair_needs_one_commune_of_this_gazetteer(tmp_path):
    (tmp_path / "rules.toml").write_text(
        "[[neighbours.add]]\npair = [\"BF130101\", \"BF130102\"]\nreason = \"x\"\n\n"
        "[[neighbours.add]]\npair = [\"NE006002001\", \"BF130101\"]\nreason = \"a partner's commune\"\n" + MINIMAL)
    with pytest.raises(RulesError) as refused:
        load_rules(tmp_path, known_areas={AYEROU, INATES})
    assert [e.rsplit("/", 1)[-1] for e in refused.value.errors] == [
        "rules.toml:2: neither BF130101 nor BF130102 is in the gazetteer"]


# ---------------------------------------------------------------- through the alert service, on a database

SHIPPED = load_rules(Path(__file__).resolve().parents[1] / "rules")
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
HOME_MEMBER, INATES_MEMBER, OUATTAGOUNA_MEMBER, GABI_MEMBER = (
    "+22796000101", "+22796000102", "+22396000103", "+22796000104")
PLACES = StaticGazetteer(
    {AYEROU: "Ayerou", INATES: "Inatès", OUATTAGOUNA: "Ouattagouna", GABI: "Gabi", "NE006002": "Ayerou",
     "NE006": "Tillabéri", "ML0701": "Ansongo", "ML07": "Gao", "NE004006": "Madarounfa", "NE004": "Maradi"},
    {AYEROU: "NE006002", INATES: "NE006002", "NE006002": "NE006", "NE006": None, OUATTAGOUNA: "ML0701",
     "ML0701": "ML07", "ML07": None, GABI: "NE004006", "NE004006": "NE004", "NE004": None})
# Centres from ../shared/data: Ayerou and Ouattagouna 44.8 km apart, within the default 50.
UNITS = ImportBatch(units=(
    Unit("NE006", 1, "NE", "Tillabéri"), Unit("NE006002", 2, "NE", "Ayerou", "NE006"),
    Unit(AYEROU, 3, "NE", "Ayerou", "NE006002", lat=14.77284, lon=0.89577, neighbours=(INATES,)),
    Unit(INATES, 3, "NE", "Inatès", "NE006002", lat=14.91849, lon=1.17064, neighbours=(AYEROU,)),
    Unit("ML07", 1, "ML", "Gao"), Unit("ML0701", 2, "ML", "Ansongo", "ML07"),
    Unit(OUATTAGOUNA, 3, "ML", "Ouattagouna", "ML0701", lat=15.17606, lon=0.90175,
         ref_points=((15.20019, 0.89241),)),
    Unit("NE004", 1, "NE", "Maradi"), Unit("NE004006", 2, "NE", "Madarounfa", "NE004"),
    Unit(GABI, 3, "NE", "Gabi", "NE004006", lat=13.13726, lon=7.06059),
))


@pytest.fixture
async def sessions(db_url):
    engine = create_engine(db_url)
    factory = session_factory(engine)
    async with factory() as session, session.begin():
        await import_batch(session, UNITS)
        session.add_all([
            CommitteeMember(phone=HOME_MEMBER, name="Maire Ayerou", area_pcode=AYEROU, role="chair", lang="fr"),
            CommitteeMember(phone=INATES_MEMBER, name="Comite Inates", area_pcode=INATES, role="member", lang="ha"),
            CommitteeMember(phone=OUATTAGOUNA_MEMBER, name="Comite Ouattagouna", area_pcode=OUATTAGOUNA,
                            role="chair", lang="dje"),
            CommitteeMember(phone=GABI_MEMBER, name="Maire Gabi", area_pcode=GABI, role="chair", lang="fr"),
        ])
    yield factory
    await engine.dispose()


_ids = count(1)


async def report(factory, sender: str, minutes: float, incident: str = "attack") -> None:
    n = next(_ids)
    at = T0 + timedelta(minutes=minutes)
    async with factory() as session, session.begin():
        message = Message(channel="sms", external_id=f"SPILL{n}", sender=sender, text="ATTAQUE AYEROU",
                          received_at=at, stored_at=at, kind="report", parse={})
        session.add(message)
        await session.flush()
        session.add(Report(ref=f"S{n:03d}", message_id=message.id, channel="sms", sender_key=f"key-{sender}",
                           trust="approved", incident=incident, commune_pcode=AYEROU, lang="fr", status="valid",
                           received_at=at))


async def score(factory, minutes: float):
    async with factory() as session, session.begin():
        return await service.score_pending_reports(session, SHIPPED, PLACES, T0 + timedelta(minutes=minutes))


async def sent(factory, kind: str) -> list[tuple[str, str]]:
    async with factory() as session:
        rows = (await session.execute(select(Outbox).where(Outbox.kind == kind).order_by(Outbox.id))).scalars()
        return [(row.recipient, row.body) for row in rows]


async def test_an_attack_warns_the_neighbours_once_then_again_when_its_level_rises(sessions):
    await report(sessions, "+22790000201", 0)
    [opened] = await score(sessions, 0.1)
    assert (opened.kind, opened.level) == (ChangeKind.OPENED, 1)
    code = opened.code
    assert [to for to, _ in await sent(sessions, "alert")] == [HOME_MEMBER]
    assert await sent(sessions, "vigilance") == [
        (OUATTAGOUNA_MEMBER, f"VIGILANCE {code}: wongu daraja 1 Ayerou (Niger) ra, war kwaara jarga. Ma haggoy. "
                             f"Ma OK {code} sanba ka tabbatandi."),
        (INATES_MEMBER, f"HATTARA {code}: hari mataki 1 a Ayerou (Nijar), kusa da komin ku. Ku yi hankali. "
                        f"Ku amsa TO {code} don tabbatar da samu."),
    ]
    async with sessions() as session:
        spilled = {(s.commune_pcode, s.ring, s.level) for s in (await session.execute(select(Spillover))).scalars()}
        reasons = [(n.commune_pcode, n.decision, n.reason) for n in
                   (await session.execute(select(SpilloverNotification).order_by(SpilloverNotification.id))).scalars()]
    assert spilled == {(INATES, 1, 1), (OUATTAGOUNA, 1, 1)}
    assert reasons == [(OUATTAGOUNA, "sent", "vigilance L1 ring 1"), (INATES, "sent", "vigilance L1 ring 1")]

    await report(sessions, "+22790000201", 5)  # the same reporter again: same level, nobody warned again
    [updated] = await score(sessions, 5.1)
    assert (updated.kind, updated.level) == (ChangeKind.UPDATED, 1)
    assert len(await sent(sessions, "vigilance")) == 2

    await report(sessions, "+22790000202", 10)  # a second reporter: level 2
    [raised] = await score(sessions, 10.1)
    assert (raised.kind, raised.level) == (ChangeKind.RAISED, 2)
    warned = await sent(sessions, "vigilance")
    assert [to for to, _ in warned[2:]] == [OUATTAGOUNA_MEMBER, INATES_MEMBER]
    assert ["daraja 2" in warned[2][1], "mataki 2" in warned[3][1]] == [True, True]
    assert GABI_MEMBER not in [to for to, _ in warned + await sent(sessions, "alert")]
    for _, body in warned:
        assert "+22790000201" not in body and "90000202" not in body and "ALERTE" not in body


async def test_a_neighbour_acknowledges_for_its_own_commune_and_the_alert_stays_open(sessions):
    await report(sessions, "+22790000201", 0)
    [opened] = await score(sessions, 0.1)
    now = T0 + timedelta(minutes=3)
    async with sessions() as session, session.begin():
        noted = await service.acknowledge(session, INATES_MEMBER, opened.code.lower(), now, gazetteer=PLACES)
        again = await service.acknowledge(session, INATES_MEMBER, opened.code, now + timedelta(minutes=1),
                                          gazetteer=PLACES)
        stranger = await service.acknowledge(session, GABI_MEMBER, opened.code, now, gazetteer=PLACES)
    assert (noted.outcome, noted.lang, again.outcome, stranger.outcome) == (
        AckOutcome.NOTED, "ha", AckOutcome.NOTED, AckOutcome.NOT_MEMBER)
    async with sessions() as session:
        alert = (await session.execute(select(Alert))).scalar_one()
        acks = {s.commune_pcode: s.acknowledged_at for s in (await session.execute(select(Spillover))).scalars()}
    assert alert.status == "open" and alert.acknowledged_at is None
    assert acks == {INATES: now, OUATTAGOUNA: None}  # the first acknowledgement stands
    async with sessions() as session, session.begin():
        home = await service.acknowledge(session, HOME_MEMBER, opened.code, now, gazetteer=PLACES)
    assert home.outcome == AckOutcome.ACKNOWLEDGED


async def test_rings_follow_the_stored_pairs_and_the_rules(sessions, tmp_path):
    async with sessions() as session:
        assert await rings_around(session, AYEROU, 1, ()) == {INATES: 1, OUATTAGOUNA: 1}
        assert await rings_around(session, INATES, 1, ()) == {AYEROU: 1, OUATTAGOUNA: 1}  # 41 km apart
        (tmp_path / "rules.toml").write_text(MINIMAL + """
[[neighbours.remove]]
pair = ["NE006002001", "ML070104"]
reason = "the river is the border here"

[[neighbours.add]]
pair = ["NE006002002", "BF130101"]
reason = "a partner's commune"
""")
        overrides = load_rules(tmp_path).spillover.overrides
        assert await rings_around(session, AYEROU, 1, overrides) == {INATES: 1}
        assert await rings_around(session, AYEROU, 2, overrides) == {INATES: 1, OUATTAGOUNA: 2, ELSEWHERE: 2}
        assert await rings_around(session, ELSEWHERE, 3, overrides) == {INATES: 1, AYEROU: 2, OUATTAGOUNA: 2}
        assert await rings_around(session, GABI, 3, overrides) == {}
