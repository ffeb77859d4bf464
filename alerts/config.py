"""What a piece of alert work runs with: rules, places and settings. Its own module, so that the
alert's notifications and its neighbours' warnings both take it without importing each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from alerts.areas import Gazetteer
from alerts.rules import RuleSet
from gateway.kernel.taxonomy import Taxonomy, load_taxonomy

DEFAULT_EXPIRY = timedelta(minutes=240)  # the default of settings.outbox.alert_expiry_minutes


@dataclass(frozen=True)
class AlertConfig:
    """Rules, places and settings for one piece of alert work."""

    rules: RuleSet | None  # None for work that needs no rules (acknowledge, resolve)
    gazetteer: Gazetteer
    alert_expiry: timedelta = DEFAULT_EXPIRY
    taxonomy: Taxonomy = field(default_factory=load_taxonomy)
