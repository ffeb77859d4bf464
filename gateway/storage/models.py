"""Database schema. Migrations in migrations/ are generated from these models."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator):
    """Always UTC and timezone-aware in Python, whatever the database keeps (SQLite keeps
    naive text, PostgreSQL timestamptz): comparisons with an aware clock never fail."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy's SQLite DATETIME keeps a naive UTC time


def sqlite_time(value: datetime) -> str:
    """A time as UtcDateTime keeps it on SQLite (naive UTC text): for SQL that bypasses the column
    type (comparisons in hand-built parameters, the SMS batch's driver-level statements)."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).strftime(SQLITE_TIME)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime()}


class AdminUnit(Base):
    """A region (level 1), department (2) or commune (3) with its OCHA P-code."""

    __tablename__ = "admin_units"
    pcode: Mapped[str] = mapped_column(String(16), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)
    country: Mapped[str] = mapped_column(String(2))  # NE, ML
    name: Mapped[str] = mapped_column(String(120))
    parent_pcode: Mapped[str | None] = mapped_column(String(16), index=True)
    alt_names: Mapped[list] = mapped_column(JSON, default=list)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    census_code: Mapped[str | None] = mapped_column(String(16), index=True)  # Niger RENALOC R-DD-CC
    old_pcode: Mapped[str | None] = mapped_column(String(16))  # Mali 2015 P-code
    neighbours: Mapped[list] = mapped_column(JSON, default=list)
    population: Mapped[int | None] = mapped_column(Integer)
    ref_points: Mapped[list | None] = mapped_column(JSON)  # further [lat, lon] points (Mali: the centroid)


class Locality(Base):
    """A village or locality of a commune (Niger's RENALOC register, or hand-entered)."""

    __tablename__ = "localities"
    __table_args__ = (UniqueConstraint("commune_pcode", "local_code", name="uq_locality_code"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    commune_pcode: Mapped[str] = mapped_column(String(16), ForeignKey("admin_units.pcode"), index=True)
    local_code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(160))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    population: Mapped[int | None] = mapped_column(Integer)


class Reporter(Base):
    """A focal point; or a number that only chose a language or asked to register (unregistered)."""

    __tablename__ = "reporters"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str | None] = mapped_column(String(120))
    commune_pcode: Mapped[str | None] = mapped_column(String(16), ForeignKey("admin_units.pcode"))
    lang: Mapped[str] = mapped_column(String(3), default="fr")
    status: Mapped[str] = mapped_column(String(12), default="pending")  # approved, pending, blocked, unregistered
    created_at: Mapped[datetime]
    last_report_at: Mapped[datetime | None]


class Message(Base):
    """Every inbound SMS or USSD report exactly as received: the durable record."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_message_external"),
        # The messages not yet erased, by when the gateway stored them: the retention job erases the
        # old ones with a range scan of this index, not a scan of the table; its key grows with time,
        # so an insert appends to it (a key by sender dirtied a random page of the index with every message).
        Index("ix_messages_unerased", "stored_at", sqlite_where=text("sender IS NOT NULL"),
              postgresql_where=text("sender IS NOT NULL")),
        Index("ix_messages_kind_review", "kind", "review_label"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(8))  # sms, ussd
    external_id: Mapped[str] = mapped_column(String(100))
    sender: Mapped[str | None] = mapped_column(String(40))  # E.164; None once anonymised
    short_code: Mapped[str | None] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    stored_at: Mapped[datetime]
    link_id: Mapped[str | None] = mapped_column(String(100))
    network_code: Mapped[str | None] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(10))  # report, command, unknown
    command: Mapped[str | None] = mapped_column(String(16))
    lang: Mapped[str | None] = mapped_column(String(3))
    parse: Mapped[dict] = mapped_column(JSON, default=dict)
    reply_status: Mapped[str | None] = mapped_column(String(16))  # queued, rate_limited, none
    review_label: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(String(200))  # why understanding it failed; it waits for review
    provider: Mapped[str | None] = mapped_column(String(16))  # africastalking, android, kannel; None on old rows


class Report(Base):
    """An understood incident report (from SMS or USSD)."""

    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_window", "commune_pcode", "incident", "received_at"),
        Index("ix_reports_unscored", "scored_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ref: Mapped[str] = mapped_column(String(8), unique=True)
    message_id: Mapped[int] = mapped_column(BigId, ForeignKey("messages.id"), unique=True)
    channel: Mapped[str] = mapped_column(String(8))
    reporter_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("reporters.id"), index=True)
    sender_key: Mapped[str] = mapped_column(String(40))  # pseudonymous: distinguishes reporters, reveals no number
    trust: Mapped[str] = mapped_column(String(10))  # approved, pending, unknown
    incident: Mapped[str] = mapped_column(String(32))
    secondary: Mapped[list] = mapped_column(JSON, default=list)
    commune_pcode: Mapped[str | None] = mapped_column(String(16), ForeignKey("admin_units.pcode"))
    village: Mapped[str | None] = mapped_column(String(160))
    count: Mapped[int | None] = mapped_column(Integer)
    free_text: Mapped[str | None] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(10), default="valid")  # valid, retracted
    received_at: Mapped[datetime]
    scored_at: Mapped[datetime | None]


class CommitteeMember(Base):
    """A recipient of alerts for a commune, department or region."""

    __tablename__ = "committee_members"
    __table_args__ = (UniqueConstraint("phone", "area_pcode", name="uq_member_area"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str | None] = mapped_column(String(120))
    area_pcode: Mapped[str] = mapped_column(String(16), ForeignKey("admin_units.pcode"), index=True)
    role: Mapped[str] = mapped_column(String(12))  # member, chair, authority
    lang: Mapped[str] = mapped_column(String(3), default="fr")
    active: Mapped[bool] = mapped_column(default=True)


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_open", "commune_pcode", "incident", "status"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    commune_pcode: Mapped[str] = mapped_column(String(16), ForeignKey("admin_units.pcode"))
    incident: Mapped[str] = mapped_column(String(32))
    level: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(12))  # open, acknowledged, escalated, resolved, expired
    opened_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_report_at: Mapped[datetime]
    notified_at: Mapped[datetime | None]
    escalation_due_at: Mapped[datetime | None]
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("committee_members.id"))
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(40))


class AlertReport(Base):
    __tablename__ = "alert_reports"
    alert_id: Mapped[int] = mapped_column(BigId, ForeignKey("alerts.id"), primary_key=True)
    report_id: Mapped[int] = mapped_column(BigId, ForeignKey("reports.id"), primary_key=True)


class Notification(Base):
    """Every notification decision, sent or withheld, with its reason (Alertmanager-style)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_sent", "alert_id", "decision", "member_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(BigId, ForeignKey("alerts.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("committee_members.id"))
    level: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(10))  # sent, withheld
    reason: Mapped[str] = mapped_column(String(60))
    outbox_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime]


class CommuneAdjacency(Base):
    """Neighbouring communes, one row per direction: the commune tables' own neighbours, and pairs of
    different countries computed from coordinates at import. Rule files may add or remove pairs on top."""

    __tablename__ = "commune_adjacency"
    commune_pcode: Mapped[str] = mapped_column(String(16), primary_key=True)
    neighbour_pcode: Mapped[str] = mapped_column(String(16), primary_key=True)
    source: Mapped[str] = mapped_column(String(10))  # imported, computed
    distance_km: Mapped[float | None] = mapped_column(Float)


class Spillover(Base):
    """A neighbouring commune an alert spilled over to: its ring, the highest level its committee was
    warned of, and whether that committee acknowledged the warning for itself. The commune may lie
    outside this gateway's gazetteer (a partner gateway's commune)."""

    __tablename__ = "spillovers"
    __table_args__ = (UniqueConstraint("alert_id", "commune_pcode", name="uq_spillover_commune"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(BigId, ForeignKey("alerts.id"))
    commune_pcode: Mapped[str] = mapped_column(String(16), index=True)
    ring: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer, default=0)  # 0: decided, nobody warned yet
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("committee_members.id"))


class SpilloverNotification(Base):
    """Every decision to warn, or not, a member of a neighbouring commune's committee, with its reason."""

    __tablename__ = "spillover_notifications"
    __table_args__ = (Index("ix_spillover_notifications_sent", "alert_id", "decision", "member_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(BigId, ForeignKey("alerts.id"))
    commune_pcode: Mapped[str] = mapped_column(String(16))
    member_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("committee_members.id"))
    level: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(10))  # sent, withheld
    reason: Mapped[str] = mapped_column(String(60))
    outbox_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime]


ERASED = "-"  # a number erased by retention, in columns that cannot be NULL (what mask_phone shows for none)
# The replies still carrying their recipient's number, as literal SQL: a statement with the same
# literal condition can use the partial index on SQLite and PostgreSQL alike, a bound value cannot.
REPLIES_UNERASED = f"kind = 'reply' AND recipient != '{ERASED}'"


class Outbox(Base):
    """Outbound SMS, written in the same transaction as what caused them."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "priority", "next_attempt_at"),
        Index("ix_outbox_recipient_created", "recipient", "created_at"),
        # the retention job's range (old replies still carrying a number); appended to by every reply
        Index("ix_outbox_replies_unerased", "created_at", sqlite_where=text(REPLIES_UNERASED),
              postgresql_where=text(REPLIES_UNERASED)),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(12))  # one of gateway.storage.outbox.KINDS
    priority: Mapped[int] = mapped_column(Integer)  # 0 = alerts first
    recipient: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    segments: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(12))  # queued, sending, sent, logged, failed, expired, stopped (budget)
    delivery_status: Mapped[str | None] = mapped_column(String(24))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    claimed_until: Mapped[datetime | None]
    provider_message_id: Mapped[str | None] = mapped_column(String(100), index=True)
    cost: Mapped[str | None] = mapped_column(String(24))
    last_error: Mapped[str | None] = mapped_column(String(200))
    alert_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("alerts.id"), index=True)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # a reply: the provider its message came in on; once tried: the provider that last took it
    provider: Mapped[str | None] = mapped_column(String(16))
    # no foreign key: adding one would rebuild the whole outbox table on SQLite
    broadcast_id: Mapped[int | None] = mapped_column(BigId, index=True)
    spend: Mapped[float | None] = mapped_column(Float)  # what sending it cost, in [costs] currency


class DeliveryEvent(Base):
    __tablename__ = "delivery_events"
    __table_args__ = (
        UniqueConstraint("provider_message_id", "status", "retry_count", name="uq_delivery_event"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    provider_message_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(24))
    network_code: Mapped[str | None] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(String(60))
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime]


class UssdSession(Base):
    __tablename__ = "ussd_sessions"
    session_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))
    service_code: Mapped[str] = mapped_column(String(40))
    state: Mapped[dict] = mapped_column(JSON, default=dict)
    last_text: Mapped[str] = mapped_column(Text, default="")
    last_screen: Mapped[str] = mapped_column(Text, default="")
    hops: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(40))  # completed, abandoned, provider event status
    report_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("reports.id"))


class DeploymentSecret(Base):
    """Values generated once per deployment and shared by every replica through the database.
    Never the key of reporters' pseudonyms: with it, a copy of the database would re-identify
    reporters (gateway.storage.secrets.load_pseudonym_secret reads it from outside)."""

    __tablename__ = "deployment_secrets"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))


class DashboardUser(Base):
    """A person who logs in to the dashboard. Only a scrypt hash of the password is kept;
    `session_epoch` is part of every session cookie, so raising it (logout, password change)
    revokes all of that user's sessions at once."""

    __tablename__ = "dashboard_users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(12), default="admin")  # viewer, operator, admin
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    scope: Mapped[list | None] = mapped_column(JSON)  # P-codes the user sees and acts on; None: everywhere


class ApiToken(Base):
    """A partner's API token with its role, scope and expiry. Only the token's SHA-256 is kept: the
    token is 256 random bits, so its hash cannot be reversed by guessing."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(12))
    scope: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AuditEntry(Base):
    """What a person did (log in, reveal a number, approve, acknowledge, silence, export...): rows are
    only ever inserted; the migration's triggers refuse an update or a delete."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(80), index=True)
    action: Mapped[str] = mapped_column(String(24), index=True)
    target: Mapped[str | None] = mapped_column(String(120))
    detail: Mapped[str | None] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(String(64))


class AlertSilence(Base):
    """A silence set from the dashboard: like a [[silence]] of the rule files, stored; it ends at
    `until` by itself, or earlier when lifted."""

    __tablename__ = "alert_silences"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    area_pcode: Mapped[str] = mapped_column(String(16), ForeignKey("admin_units.pcode"))
    incident: Mapped[str | None] = mapped_column(String(32))  # None: every incident
    until: Mapped[datetime] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(String(200))
    alert_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("alerts.id"))  # the alert it was set from
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    lifted_at: Mapped[datetime | None]
    lifted_by: Mapped[str | None] = mapped_column(String(80))


class AlertAction(Base):
    """What a person did to an alert from the dashboard (acknowledged, a note, resolved with its
    outcome, silenced): the alert's timeline beside its notifications."""

    __tablename__ = "alert_actions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(BigId, ForeignKey("alerts.id"), index=True)
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(16))  # acknowledged, note, resolved, silenced
    actor: Mapped[str] = mapped_column(String(80))
    category: Mapped[str | None] = mapped_column(String(32))  # a resolution's response category
    note: Mapped[str | None] = mapped_column(String(500))


class Broadcast(Base):
    """A message written on the dashboard to the focal points or the committee members of an area,
    one text per language of its recipients. Above [broadcast] approval_threshold recipients it
    waits for a second person's approval before it is queued."""

    __tablename__ = "broadcasts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    area_pcode: Mapped[str] = mapped_column(String(16), ForeignKey("admin_units.pcode"))
    audience: Mapped[str] = mapped_column(String(16))  # focal_points, committees
    texts: Mapped[dict] = mapped_column(JSON, default=dict)  # language -> text
    recipients: Mapped[int] = mapped_column(Integer)
    estimated_cost: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20), index=True)  # awaiting_approval, queued, cancelled
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    approved_by: Mapped[str | None] = mapped_column(String(80))
    approved_at: Mapped[datetime | None]
    queued_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(80))
    cancelled_at: Mapped[datetime | None]


class SmsSpend(Base):
    """SMS spend per day (UTC) and provider, added to as each send result is recorded: the budget
    and the dashboard read a few rows rather than the outbox, and retention never touches it."""

    __tablename__ = "sms_spend"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    provider: Mapped[str] = mapped_column(String(16), primary_key=True)
    amount: Mapped[float] = mapped_column(Float, default=0.0)  # in [costs] currency
    sms: Mapped[int] = mapped_column(Integer, default=0)
    segments: Mapped[int] = mapped_column(Integer, default=0)


class PartnerDelivery(Base):
    """A CAP message owed to a partner gateway about one alert (Alert, Update or Cancel), with the
    neighbouring communes it names (P-code -> ring), retried with the outbox's back-off until it
    is delivered or expires."""

    __tablename__ = "partner_deliveries"
    __table_args__ = (Index("ix_partner_deliveries_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(120), unique=True)
    alert_id: Mapped[int] = mapped_column(BigId, ForeignKey("alerts.id"), index=True)
    partner: Mapped[str] = mapped_column(String(40))
    msg_type: Mapped[str] = mapped_column(String(8))  # Alert, Update, Cancel
    level: Mapped[int] = mapped_column(Integer)
    communes: Mapped[dict] = mapped_column(JSON, default=dict)  # P-code -> ring
    status: Mapped[str] = mapped_column(String(10))  # queued, sending, sent, failed, expired
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class CapInbound(Base):
    """A CAP message a partner gateway sent about one of its alerts; the identifier is the dedup
    key, `incident_key` (the CAP <incidents>) ties an alert's Update and Cancel to it."""

    __tablename__ = "cap_inbound"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    identifier: Mapped[str] = mapped_column(String(255), unique=True)
    partner: Mapped[str] = mapped_column(String(40))
    sender: Mapped[str] = mapped_column(String(255))
    msg_type: Mapped[str] = mapped_column(String(8))
    incident_key: Mapped[str] = mapped_column(String(255), index=True)
    code: Mapped[str] = mapped_column(String(16))
    incident: Mapped[str] = mapped_column(String(32))
    level: Mapped[int] = mapped_column(Integer)
    home_pcode: Mapped[str] = mapped_column(String(16))  # the incident's commune
    place: Mapped[str] = mapped_column(String(80))  # its name, as the partner gives it
    country: Mapped[str] = mapped_column(String(2))
    communes: Mapped[dict] = mapped_column(JSON, default=dict)  # P-code -> ring
    received_at: Mapped[datetime]


class CapInboundNotification(Base):
    """Every decision to warn, or not, a member of a commune a partner's CAP names, with its reason."""

    __tablename__ = "cap_inbound_notifications"
    __table_args__ = (Index("ix_cap_inbound_notifications_sent", "incident_key", "decision", "member_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    inbound_id: Mapped[int] = mapped_column(BigId, ForeignKey("cap_inbound.id"))
    incident_key: Mapped[str] = mapped_column(String(255))
    commune_pcode: Mapped[str] = mapped_column(String(16))
    member_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("committee_members.id"))
    level: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(10))  # sent, withheld; noted: the member answered OK <code>
    reason: Mapped[str] = mapped_column(String(60))
    outbox_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime]
