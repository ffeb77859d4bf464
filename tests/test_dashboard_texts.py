"""Every text the dashboard shows is in the French, Hausa and Zarma dashboard catalogs: the literal
`t("...")` calls of the dashboard's modules, and the values it passes to `t` from tables (page titles,
notices, statuses, roles, response categories, timeline entries)."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from alerts.api import RESPONSE_CATEGORIES
from gateway import PROJECT_ROOT
from gateway.dashboard import alert_page, broadcast_pages, people, provider_health
from gateway.dashboard.layout import ADMIN_PAGES, OPERATOR_PAGES, PAGES
from gateway.dashboard.users import ROLES
from gateway.kernel.i18n import LANGUAGES
from gateway.views import dashboard, operators

SOURCES = [*sorted((PROJECT_ROOT / "gateway" / "dashboard").glob("*.py")),
           PROJECT_ROOT / "gateway" / "views" / "dashboard.py", PROJECT_ROOT / "gateway" / "views" / "operators.py"]
LITERAL = re.compile(r"""\bt\(\s*(["'])((?:\\.|(?!\1).)*)\1""")
TIMELINE = {"Alert opened", "Report", "Notification sent", "Notification withheld", "Acknowledged by SMS",
            "Acknowledged on the dashboard", "Note", "Resolved with an outcome", "Silenced", "Closed"}
TITLES = {"Alert", "People", "Focal point", "Silences", "Audit trail", "API tokens"}
# labels of the alert's and the person's facts and of the people's buttons, passed to t from tuples
# broadcast pages: titles, and the labels, statuses, notices and facts they pass to t from tables
BROADCASTS = ({"Broadcast", "New broadcast", "SMS spend"} | set(broadcast_pages.FACTS)
              | {label for table in (broadcast_pages.LANGUAGE_LABELS, broadcast_pages.AUDIENCE_LABELS,
                                     broadcast_pages.STATUS_LABELS, broadcast_pages.DELIVERY_LABELS,
                                     broadcast_pages.NOTICES) for label in table.values()})
LABELS = {"Code", "Level", "Incident", "Commune", "Status", "Opened", "Acknowledged", "Escalation step", "Resolved",
          "Outcome", "Pseudonym", "Number", "Registered", "Last report", "Approve", "Block"}


def shown_texts() -> set[str]:
    found = {match.group(2).replace("\\'", "'") for path in SOURCES
             for match in LITERAL.finditer(path.read_text(encoding="utf-8"))} - {"msgid"}  # layout's own t(msgid)
    return (found | set(operators.NOTICES.values()) | set(dashboard.NOTICES.values())
            | {label for _, label in PAGES + OPERATOR_PAGES + ADMIN_PAGES} | set(people.STATUSES) | {"unregistered"}
            | set(people.MEMBER_ROLES) | set(RESPONSE_CATEGORIES) | set(ROLES) | {"active", "expired", "revoked"}
            | set(alert_page.LEVEL_NAMES.values()) | TIMELINE | TITLES | LABELS | BROADCASTS
            | set(alert_page.REACHED_LABELS.values()) | set(provider_health.WHY_TEXTS))


def test_the_extraction_finds_the_texts() -> None:
    texts = shown_texts()
    assert {"Take charge (acknowledge)", "Reveal the number", "Audit trail", "security_forces"} <= texts
    assert len(texts) > 150


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_dashboard_text_is_in_the_catalog(lang: str) -> None:
    with (PROJECT_ROOT / "locales" / lang / "LC_MESSAGES" / "dashboard.po").open("rb") as handle:
        catalog = {str(m.id): str(m.string) for m in read_po(handle) if m.id and m.string and not m.fuzzy}
    assert sorted(shown_texts() - set(catalog)) == []
