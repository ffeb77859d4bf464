"""The one face of the alerts package: what the gateway (ingest, the CLI, the timed jobs, the
sender) calls. Behind it, alerts depends on the shared kernel and on storage only, never on
aiohttp, a provider or the running application (tests/test_architecture.py holds both rules)."""

from alerts.committees import (
    CommitteeImportError,
    add_member,
    import_committees_csv,
    list_members,
    remove_member,
)
from alerts.digest import send_daily_digests
from alerts.jobs import (
    EXPIRED_TEXT,
    auto_resolve,
    expire_alerts_left_unsent,
    expire_stale_outbox,
    run_escalations,
    run_held_spillovers,
    run_repeats,
    silent_reporters,
)
from alerts.neighbours import NeighbourPair, neighbour_pairs
from alerts.operators import (
    RESPONSE_CATEGORIES,
    ActionError,
    ActionLine,
    acknowledge_as,
    actions_of,
    add_note,
    resolve_with_outcome,
    silence_alert,
)
from alerts.outcomes import AckResult
from alerts.rules import RulesError, RuleSet, load_rules
from alerts.service import (
    acknowledge,
    replay,
    report_retracted,
    resolve_alert,
    score_pending_reports,
    warn_of_partner_alert,
)
from alerts.silences import lift_silence, standing_silences
from alerts.spillover_decisions import with_partners
from alerts.spillover_inbound import InboundWarning
from alerts.spillover_rules import PartnerArea
from alerts.unreachable import escalate_unreachable

__all__ = [
    "InboundWarning", "PartnerArea", "run_held_spillovers", "warn_of_partner_alert", "with_partners",
    "NeighbourPair", "neighbour_pairs",
    "RESPONSE_CATEGORIES", "ActionError", "ActionLine", "acknowledge_as", "actions_of", "add_note", "lift_silence",
    "resolve_with_outcome", "silence_alert", "standing_silences",
    "EXPIRED_TEXT", "AckResult", "CommitteeImportError", "RuleSet", "RulesError", "acknowledge", "add_member",
    "auto_resolve", "escalate_unreachable", "expire_alerts_left_unsent", "expire_stale_outbox", "import_committees_csv",
    "list_members", "load_rules", "remove_member", "replay", "report_retracted", "resolve_alert",
    "run_escalations", "run_repeats", "score_pending_reports", "send_daily_digests", "silent_reporters",
]
