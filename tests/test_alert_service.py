"""The alert service on a real SQLite file: report sequences with times in, alerts, recipients,
notifications and outbox rows out. Time is injected; nothing sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest
from sqlalchemy import select

from alerts import service
from alerts.areas import StaticGazetteer
from alerts.outcomes import AckOutcome, ChangeKind
from alerts.rules import load_rules
from gateway.phone_actions import RetractOutcome, retract_report
from gateway.storage.db import create_engine, session_factory
from gateway.storage.models import (
    AdminUnit,
    Alert,
    AlertReport,
    CommitteeMember,
    Message,
    Notification,
    Outbox,
    Report,
    Reporter,
)

RULES = load_rules(Path(__file__).resolve().parents[1] / "rules")
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
GABI, DEPT, REGION, OTHER = "NE004006003", "NE004006", "NE004", "NE004006001"
PLACES = StaticGazetteer({GABI: "Gabi", DEPT: "Kollo", REGION: "Tillaberi", OTHER: "Bitinkodji"},
                         {GABI: DEPT, OTHER: DEPT, DEPT: REGION, REGION: None})
COMMUNE_MEMBERS = {"+22796000001": "fr", "+22796000002": "ha"}
PREFET, GOVERNOR = "+22796000003", "+22796000004"
REPORTER_PHONES = ["+22790000101", "+22790000102", "+22790000103"]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
async def sessions(db_url):
    """A migrated empty database (SQLite; PostgreSQL too in the suite's PostgreSQL run)."""
    engine = create_engine(db_url)
    factory = session_factory(engine)
    async with factory() as session, session.begin():
        session.add_all([
            AdminUnit(pcode=REGION, level=1, country="NE", name="Tillaberi", parent_pcode=None),
            AdminUnit(pcode=DEPT, level=2, country="NE", name="Kollo", parent_pcode=REGION),
            AdminUnit(pcode=GABI, level=3, country="NE", name="Gabi", parent_pcode=DEPT),
            AdminUnit(pcode=OTHER, level=3, country="NE", name="Bitinkodji", parent_pcode=DEPT),
        ])
        await session.flush()
        session.add_all([CommitteeMember(phone=p, name=f"Membre {p[-1]}", area_pcode=GABI, role="member", lang=lang)
                         for p, lang in COMMUNE_MEMBERS.items()])
        session.add_all([
            CommitteeMember(phone=PREFET, name="Prefet", area_pcode=DEPT, role="authority", lang="fr"),
            CommitteeMember(phone=GOVERNOR, name="Gouverneur", area_pcode=REGION, role="authority", lang="fr"),
        ])
    yield factory
    await engine.dispose()


_ids = count(1)


async def report(factory, sender: str, minutes: float, incident: str = "attack", trust: str = "approved",
                 count_: int | None = None, commune: str = GABI) -> int:
    n = next(_ids)
    async with factory() as session, session.begin():
        message = Message(channel="sms", external_id=f"ATX{n}", sender=sender, text="ATTAQUE", received_at=at(minutes),
                          stored_at=at(minutes), kind="report", parse={})
        session.add(message)
        await session.flush()
        row = Report(ref=f"R{n:03d}", message_id=message.id, channel="sms", sender_key=f"key-{sender}",
                     trust=trust, incident=incident, commune_pcode=commune, count=count_, lang="fr",
                     status="valid", received_at=at(minutes))
        session.add(row)
        await session.flush()
        return row.id


async def score(factory, minutes: float):
    async with factory() as session, session.begin():
        return await service.score_pending_reports(session, RULES, PLACES, at(minutes))


async def run(factory, job, minutes: float):
    async with factory() as session, session.begin():
        return await job(session, RULES, at(minutes), gazetteer=PLACES)


async def outbox(factory) -> list[Outbox]:
    async with factory() as session:
        return list((await session.execute(select(Outbox).order_by(Outbox.id))).scalars())


async def recipients(factory, kind: str = "alert") -> list[str]:
    return [row.recipient for row in await outbox(factory) if row.kind == kind]


async def the_alert(factory) -> Alert:
    async with factory() as session:
        return (await session.execute(select(Alert))).scalar_one()


async def test_two_focal_points_reach_the_commune_then_department_and_region(sessions):
    await report(sessions, REPORTER_PHONES[0], 0)
    [opened] = await score(sessions, 0.1)
    assert (opened.kind, opened.level, opened.sent, opened.withheld) == (ChangeKind.OPENED, 1, 2, 0)
    assert await recipients(sessions) == list(COMMUNE_MEMBERS)
    first = await outbox(sessions)
    assert [m.priority for m in first] == [0, 0]
    assert first[0].dedup_key == f"alert:{opened.alert_id}:L1:+22796000001"
    # T0 is 08:00 UTC, 09:00 in Niamey: the time a committee member reads is the deployment's
    assert first[0].body == (f"ALERTE {opened.code} niveau 1: attaque à Gabi. 1 signalement(s) indépendant(s). "
                             f"Signalé le 01/03 à 09:00. Répondez OK {opened.code} pour prendre en charge.")
    assert first[1].body.startswith(f"GARGADI {opened.code} mataki 1: hari a Gabi.")
    assert first[0].expires_at.replace(tzinfo=UTC) == at(0.1) + timedelta(minutes=240)

    await report(sessions, REPORTER_PHONES[1], 5, trust="pending")
    [raised] = await score(sessions, 5.1)
    assert (raised.kind, raised.code, raised.level, raised.previous_level) == (ChangeKind.RAISED, opened.code, 2, 1)
    assert await recipients(sessions) == [*COMMUNE_MEMBERS, *COMMUNE_MEMBERS, PREFET, GOVERNOR]
    bodies = [m.body for m in await outbox(sessions)]
    assert not any(phone in body or phone[4:] in body for body in bodies for phone in REPORTER_PHONES)
    assert "2 signalement(s)" in bodies[-1]

    async with sessions() as session:
        linked = (await session.execute(select(AlertReport.report_id))).scalars().all()
        reasons = (await session.execute(select(Notification.decision, Notification.reason)
                                         .order_by(Notification.id))).all()
    assert sorted(linked) == [1, 2]
    assert reasons[0] == ("sent", "first notification L1; commune level 1")
    assert reasons[-1] == ("sent", "level raised L2; region level 2")


async def test_a_duplicate_scoring_pass_alerts_no_one_twice(sessions):
    await report(sessions, REPORTER_PHONES[0], 0)
    await score(sessions, 0)
    assert await score(sessions, 0) == []
    await report(sessions, REPORTER_PHONES[0], 1)  # the same number again: same level, same people
    [update] = await score(sessions, 1)
    assert (update.kind, update.sent, update.withheld) == (ChangeKind.UPDATED, 0, 2)
    assert len(await outbox(sessions)) == 2


async def test_unknown_numbers_never_alert_alone(sessions):
    for n in range(5):
        await report(sessions, f"+2279000020{n}", n, trust="unknown", count_=20)
    assert await score(sessions, 5) == []
    await report(sessions, REPORTER_PHONES[0], 6)  # one focal point confirms: corroborated at once
    [opened] = await score(sessions, 6)
    assert (opened.kind, opened.level) == (ChangeKind.OPENED, 2)


async def test_cattle_theft_needs_three_independent_numbers_in_24_hours(sessions):
    for minutes, phone in ((0, REPORTER_PHONES[0]), (600, REPORTER_PHONES[1])):
        await report(sessions, phone, minutes, incident="cattle_theft")
        assert await score(sessions, minutes) == []
    await report(sessions, REPORTER_PHONES[2], 1500, incident="cattle_theft")  # the first is 25 h old now
    assert await score(sessions, 1500) == []
    await report(sessions, REPORTER_PHONES[0], 1510, incident="cattle_theft")
    [opened] = await score(sessions, 1510)
    assert (opened.kind, opened.level) == (ChangeKind.OPENED, 1)
    # corroborated: the department joins at level 1
    assert await recipients(sessions) == [*COMMUNE_MEMBERS, PREFET]


async def test_escalation_widens_until_someone_acknowledges(sessions):
    await report(sessions, REPORTER_PHONES[0], 0)
    [opened] = await score(sessions, 0)
    assert await run(sessions, service.run_escalations, 29.9) == []
    [step1] = await run(sessions, service.run_escalations, 30)
    assert (step1.kind, step1.sent, step1.withheld) == (ChangeKind.ESCALATED, 1, 2)
    assert (await recipients(sessions))[-1] == PREFET
    assert (await outbox(sessions))[-1].body.startswith(f"ESCALADE {opened.code} niveau 1: attaque à Gabi, pas prise en "
                                                        "charge depuis 30 min.")
    assert (await the_alert(sessions)).status == "escalated"
    assert await run(sessions, service.run_escalations, 59) == []
    [step2] = await run(sessions, service.run_escalations, 60)
    assert (await recipients(sessions))[-1] == GOVERNOR and step2.sent == 1
    assert await run(sessions, service.run_escalations, 600) == []  # nothing wider than the region


async def test_ok_code_acknowledges_stops_escalation_and_tells_the_others(sessions):
    await report(sessions, REPORTER_PHONES[0], 0)
    [opened] = await score(sessions, 0)
    async with sessions() as session, session.begin():
        result = await service.acknowledge(session, "+22796000002", opened.code.lower(), at(10), gazetteer=PLACES)
    assert (result.outcome, result.who, result.lang, result.notified) == (AckOutcome.ACKNOWLEDGED, "Membre 2", "ha", 1)
    notices = [m for m in await outbox(sessions) if m.kind == "ack_notice"]
    assert [(m.recipient, m.body, m.priority) for m in notices] == [
        ("+22796000001", f"Alerte {opened.code} prise en charge par Membre 2.", 1)]
    assert await run(sessions, service.run_escalations, 31) == []
    assert await run(sessions, service.run_repeats, 600) == []
    async with sessions() as session, session.begin():
        again = await service.acknowledge(session, "+22796000001", opened.code, at(11))
        stranger = await service.acknowledge(session, "+22790000999", opened.code, at(11))
        unknown = await service.acknowledge(session, "+22796000001", "ZZZZ", at(11))
        prefet = await service.acknowledge(session, PREFET, opened.code, at(11))
    assert (again.outcome, again.who) == (AckOutcome.ALREADY_ACKNOWLEDGED, "Membre 2")
    assert stranger.outcome == AckOutcome.NOT_MEMBER and unknown.outcome == AckOutcome.UNKNOWN_CODE
    assert prefet.outcome == AckOutcome.ALREADY_ACKNOWLEDGED
    alert = await the_alert(sessions)
    assert (alert.status, alert.escalation_due_at) == ("acknowledged", None)


async def test_repeat_after_the_interval_while_nobody_acknowledges(sessions):
    await report(sessions, REPORTER_PHONES[0], 0)
    [opened] = await score(sessions, 0)
    async with sessions() as session, session.begin():  # keep escalation out of the way
        await session.execute(Alert.__table__.update().values(escalation_due_at=None))
    assert await run(sessions, service.run_repeats, 119) == []
    [repeat] = await run(sessions, service.run_repeats, 120)
    assert (repeat.kind, repeat.sent) == (ChangeKind.REPEATED, 2)
    last = (await outbox(sessions))[-1]
    assert last.body.startswith("TUNATARWA") and ":R" in last.dedup_key
    assert await run(sessions, service.run_repeats, 121) == []
    assert len(await run(sessions, service.run_repeats, 240)) == 1


async def test_auto_resolve_after_the_quiet_period(sessions):
    await report(sessions, REPORTER_PHONES[0], 0)
    await score(sessions, 0)
    assert await run(sessions, service.auto_resolve, 24 * 60 - 1) == []
    [resolved] = await run(sessions, service.auto_resolve, 24 * 60)
    alert = await the_alert(sessions)
    assert (resolved.kind, alert.status, alert.resolution) == (ChangeKind.RESOLVED, "resolved", "auto: no report for 24h")
    await report(sessions, REPORTER_PHONES[0], 24 * 60 + 5)  # a new report opens a new alert
    [opened] = await score(sessions, 24 * 60 + 5)
    assert opened.kind == ChangeKind.OPENED and opened.code != resolved.code


async def test_alert_sms_not_sent_in_time_expire_and_the_alert_too(sessions):
    await report(sessions, REPORTER_PHONES[0], 0)
    await score(sessions, 0)
    async with sessions() as session, session.begin():
        early = await service.expire_stale_outbox(session, at(239))
    async with sessions() as session, session.begin():
        late = await service.expire_stale_outbox(session, at(240))
    alert = await the_alert(sessions)
    assert (early.messages, late.messages, late.alerts) == (0, 2, (alert.code,))
    assert alert.status == "expired" and {m.status for m in await outbox(sessions)} == {"expired"}


async def test_retracting_the_only_report_cancels_the_alert(sessions):
    report_id = await report(sessions, REPORTER_PHONES[0], 0)
    [opened] = await score(sessions, 0)

    def rescore(session, report_id: int, now: datetime):  # the rules and places of this test
        return service.report_retracted(session, RULES, report_id, PLACES, now)

    async with sessions() as session, session.begin():
        ref = (await session.get(Report, report_id)).ref
        not_yours = await retract_report(session, "key-someone", ref, at(3), rescore)
        done = await retract_report(session, f"key-{REPORTER_PHONES[0]}", ref.lower(), at(3), rescore)
        again = await retract_report(session, f"key-{REPORTER_PHONES[0]}", ref, at(4), rescore)
    assert not_yours.outcome == RetractOutcome.NOT_YOURS
    assert (done.outcome, done.cancelled_alert) == (RetractOutcome.RETRACTED, opened.code)
    assert again.outcome == RetractOutcome.ALREADY_RETRACTED
    alert = await the_alert(sessions)
    assert (alert.status, alert.resolution) == ("resolved", "cancelled: report retracted")
    closing = [m.body for m in await outbox(sessions) if m.kind == "ack_notice"]
    assert closing[0] == f"ALERTE {opened.code} annulée: signalement retiré (attaque à Gabi)."


async def test_admin_resolution_tells_the_members(sessions):
    await report(sessions, REPORTER_PHONES[0], 0)
    [opened] = await score(sessions, 0)
    async with sessions() as session, session.begin():
        resolved = await service.resolve_alert(session, opened.code, "admin", at(5))
        twice = await service.resolve_alert(session, opened.code, "admin", at(6))
    assert resolved.kind == ChangeKind.RESOLVED and twice is None
    assert await recipients(sessions, "ack_notice") == list(COMMUNE_MEMBERS)


async def test_silenced_alert_is_recorded_and_sent_when_the_silence_ends(sessions, tmp_path):
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    for name in ("defaults.toml", "routing.toml"):
        (rules_dir / name).write_text((Path(__file__).resolve().parents[1] / "rules" / name).read_text())
    (rules_dir / "silences.toml").write_text(
        '[[silence]]\narea = "NE004006"\nuntil = 2026-03-01T09:00:00Z\nreason = "operation"\n')
    rules = load_rules(rules_dir)
    await report(sessions, REPORTER_PHONES[0], 0)
    async with sessions() as session, session.begin():
        [opened] = await service.score_pending_reports(session, rules, PLACES, at(0))
    assert (opened.sent, opened.withheld) == (0, 2)
    async with sessions() as session, session.begin():
        assert await service.run_repeats(session, rules, at(59), gazetteer=PLACES) == []
        [sent] = await service.run_repeats(session, rules, at(60), gazetteer=PLACES)
    assert sent.sent == 2 and (await outbox(sessions))[0].body.startswith("ALERTE")


async def test_inhibition_by_a_more_severe_incident(sessions):
    await report(sessions, REPORTER_PHONES[0], 0, incident="killing")
    await score(sessions, 0)
    await report(sessions, REPORTER_PHONES[1], 1, incident="armed_men", count_=25)
    [armed] = await score(sessions, 1)
    assert (armed.kind, armed.sent, armed.withheld) == (ChangeKind.OPENED, 0, 2)
    async with sessions() as session:
        reason = (await session.execute(select(Notification.reason).where(Notification.alert_id == armed.alert_id)
                                        .limit(1))).scalar_one()
    assert reason.startswith("inhibited by ") and reason.endswith("(killing L1)")


async def test_replay_lists_what_would_have_been_raised_and_changes_nothing(sessions):
    await report(sessions, REPORTER_PHONES[0], 0)
    await report(sessions, REPORTER_PHONES[1], 20)
    await report(sessions, REPORTER_PHONES[0], 30, incident="cattle_theft", commune=OTHER)
    await report(sessions, REPORTER_PHONES[0], 3000)  # after the 24 h quiet period: a second alert
    async with sessions() as session:
        replayed = await service.replay(session, RULES, at(-1), at(4000), PLACES)
        assert (await session.execute(select(Alert))).first() is None
    assert [(a.commune, a.incident, a.level, a.opened_at, a.report_ids, a.reporters) for a in replayed] == [
        (GABI, "attack", 2, at(0), (1, 2), 2),
        (GABI, "attack", 1, at(3000), (4,), 1),
    ]
    assert replayed[0].raised_at == ((1, at(0)), (2, at(20)))
    assert replayed[0].resolved_at == at(20 + 24 * 60) and replayed[1].resolved_at is None
    assert replayed[0].to_dict()["opened_at"] == "2026-03-01T08:00:00+00:00"


async def test_silent_focal_points(sessions):
    async with sessions() as session, session.begin():
        session.add_all([
            Reporter(phone=REPORTER_PHONES[0], commune_pcode=GABI, status="approved", created_at=at(-60 * 24 * 30)),
            Reporter(phone=REPORTER_PHONES[1], commune_pcode=GABI, status="approved", created_at=at(-60 * 24 * 30)),
            Reporter(phone=REPORTER_PHONES[2], commune_pcode=GABI, status="pending", created_at=at(-60 * 24 * 30)),
        ])
    report_id = await report(sessions, REPORTER_PHONES[0], 0)
    async with sessions() as session, session.begin():
        (await session.get(Report, report_id)).reporter_id = 1
    async with sessions() as session:
        silent = await service.silent_reporters(session, 7, at(60 * 24 * 3))
    assert [(s.reporter_id, s.commune, s.days_silent) for s in silent] == [(2, GABI, 33)]


async def test_one_pass_over_many_reports_links_them_all_and_records_every_decision(sessions):
    """A pass reads members, open alerts and sent levels for all its alerts at once and writes
    their links and decisions at the end: 1,200 reports of one attack (more links than one INSERT
    takes) and a first report in a second commune, scored together."""
    async with sessions() as session, session.begin():
        for n in range(1200):
            message = Message(channel="sms", external_id=f"bulk{n}", sender="+22790000101", text="ATTAQUE",
                              received_at=at(0), stored_at=at(0), kind="report", parse={})
            session.add(message)
            await session.flush()
            session.add(Report(ref=f"B{n:04d}", message_id=message.id, channel="sms", sender_key=f"key-{n}",
                               trust="approved", incident="attack", commune_pcode=GABI, lang="fr",
                               status="valid", received_at=at(0)))
    await report(sessions, REPORTER_PHONES[1], 0, commune=OTHER)
    async with sessions() as session, session.begin():
        changes = await service.score_pending_reports(session, RULES, PLACES, at(0), batch_size=2000)
    assert sorted((c.commune, c.kind) for c in changes) == [(OTHER, ChangeKind.OPENED), (GABI, ChangeKind.OPENED)]
    async with sessions() as session:
        alerts = {a.commune_pcode: a for a in (await session.execute(select(Alert))).scalars()}
        links = (await session.execute(select(AlertReport.alert_id))).scalars().all()
        decisions = (await session.execute(select(Notification.alert_id, Notification.decision))).all()
    assert links.count(alerts[GABI].id) == 1200 and links.count(alerts[OTHER].id) == 1
    # Gabi's committee is told; Bitinkodji has none of its own, and that decision is recorded too.
    assert {(alert_id, decision) for alert_id, decision in decisions} >= {(alerts[GABI].id, "sent")}
    assert any(alert_id == alerts[OTHER].id for alert_id, _ in decisions)


async def test_a_new_alert_is_linked_to_every_report_of_its_window_not_only_each_senders_best(sessions):
    """Scoring reads one row per sender, trust and count; the alert it opens still gets every report
    that counts (three alike from one focal point: not the retracted one, not the one out of the
    window), and a later pass adds its own."""
    old = await report(sessions, REPORTER_PHONES[0], -60 * 30)  # beyond the attack window
    async with sessions() as session, session.begin():
        (await session.get(Report, old)).scored_at = at(-60 * 30)
    ones = [await report(sessions, REPORTER_PHONES[0], minutes) for minutes in (0, 1, 2)]
    retracted = [await report(sessions, REPORTER_PHONES[2], 2)]
    async with sessions() as session, session.begin():
        (await session.get(Report, retracted[0])).status = "retracted"
    assert [change.kind for change in await score(sessions, 3)] == [ChangeKind.OPENED]
    other = await report(sessions, REPORTER_PHONES[1], 4, count_=12)
    retracted.append(await report(sessions, REPORTER_PHONES[2], 4))
    async with sessions() as session, session.begin():  # retracted before its first pass
        (await session.get(Report, retracted[1])).status = "retracted"
    await score(sessions, 5)
    async with sessions() as session:
        linked = (await session.execute(select(AlertReport.report_id).order_by(AlertReport.report_id))).scalars().all()
    assert linked == [*ones, other]


@pytest.mark.parametrize("seed", range(6))
async def test_each_senders_best_report_scores_as_the_whole_window(sessions, seed):
    """windows_senders (a few rows per reporter) against window_reports (every row): the same score
    for random reports of a few senders, trusts, counts and ages, some retracted."""
    import random

    from alerts import store
    from alerts.scoring import score_window

    rng = random.Random(seed)
    rule = RULES.rule_for(PLACES.area_path(GABI), "attack")
    window_minutes = rule.window.total_seconds() / 60
    ids = []
    for _ in range(rng.randrange(5, 60)):
        ids.append(await report(sessions, rng.choice(REPORTER_PHONES + ["+22790000777"]),
                                -rng.uniform(0, window_minutes * 1.3), trust=rng.choice(("approved", "pending", "unknown")),
                                count_=rng.choice((None, 1, 3, 40, 200))))
    async with sessions() as session, session.begin():
        for report_id in rng.sample(ids, len(ids) // 5):
            (await session.get(Report, report_id)).status = "retracted"
    now, since = at(0), at(0) - rule.window
    async with sessions() as session:
        whole = score_window(await store.window_reports(session, GABI, "attack", since), rule, RULES.scoring, now)
        senders, sizes = await store.windows_senders(session, {(GABI, "attack"): since})
        best = score_window(senders[(GABI, "attack")], rule, RULES.scoring, now)
    assert (best.value, best.reporters, best.trusted_reporters, best.corroborated, best.max_count, best.level) == (
        whole.value, whole.reporters, whole.trusted_reporters, whole.corroborated, whole.max_count, whole.level)
    assert set(best.report_ids) <= set(whole.report_ids) and sizes[(GABI, "attack")] == len(whole.report_ids)


async def test_many_pairs_are_read_each_with_its_own_reports(sessions):
    """windows_senders over many (commune, incident) pairs, each with its own start, some with no
    report and some reports in pairs not asked for: each pair scores as its own window alone and
    counts exactly its window's reports."""
    import random

    from alerts import store
    from alerts.scoring import score_window

    rng = random.Random(11)
    incidents = ["attack", "kidnapping", "cattle_theft", "armed_men", "killing", "arson"]
    for _ in range(120):
        await report(sessions, rng.choice(REPORTER_PHONES + ["+22790000777"]), -rng.uniform(0, 300),
                     incident=rng.choice(incidents), commune=rng.choice((GABI, OTHER)),
                     trust=rng.choice(("approved", "pending", "unknown")), count_=rng.choice((None, 2, 30)))
    asked = {(commune, incident): at(0) - timedelta(minutes=rng.choice((30, 90, 240)))
             for commune in (GABI, OTHER) for incident in incidents[:5]}  # arson: stored, not asked
    asked[(GABI, "trafficking")] = at(-60)  # nothing stored
    now = at(0)
    async with sessions() as session:
        senders, sizes = await store.windows_senders(session, asked)
        assert set(senders) == set(asked)
        for (commune, incident), since in asked.items():
            rule = RULES.rule_for(PLACES.area_path(commune), incident)
            whole = score_window(await store.window_reports(session, commune, incident, since), rule, RULES.scoring, now)
            best = score_window(senders[(commune, incident)], rule, RULES.scoring, now)
            assert (best.value, best.reporters, best.max_count, best.level) == (
                whole.value, whole.reporters, whole.max_count, whole.level), (commune, incident)
            assert set(best.report_ids) <= set(whole.report_ids)
            assert all(row.received_at > since for row in senders[(commune, incident)])
            assert sizes[(commune, incident)] == len(whole.report_ids)
    assert senders[(GABI, "trafficking")] == []


async def test_an_alert_opened_late_is_linked_to_the_reports_scored_before_it(sessions):
    """An unknown number alone raises nothing; when a focal point confirms, the alert opened links
    both (the earlier report is read back: it is not in the pass)."""
    unknown = await report(sessions, "+22799999999", 0, trust="unknown")
    assert await score(sessions, 1) == []
    focal = await report(sessions, REPORTER_PHONES[0], 2)
    assert [change.kind for change in await score(sessions, 3)] == [ChangeKind.OPENED]
    async with sessions() as session:
        linked = (await session.execute(select(AlertReport.report_id).order_by(AlertReport.report_id))).scalars().all()
    assert linked == [unknown, focal]
