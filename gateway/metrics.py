"""Prometheus metrics. One registry per application, so tests can run several apps.

Labels never carry a phone number, a name or free text: only closed sets (outcome,
language, level, reason)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.callbacks = Counter("ewg_callbacks_total", "Provider callbacks by endpoint and outcome",
                                 ["endpoint", "outcome"], registry=r)
        self.parsed = Counter("ewg_messages_parsed_total", "Inbound texts by parse outcome and language",
                              ["kind", "lang"], registry=r)
        self.replies_withheld = Counter("ewg_replies_withheld_total",
                                        "Replies not sent because a number exceeded its reply limit", registry=r)
        self.flood_numbers = Gauge("ewg_flooding_numbers", "Numbers over their reply limit in the current window",
                                   registry=r)
        self.outbox_depth = Gauge("ewg_outbox_depth", "Outbound SMS waiting, by kind", ["kind"], registry=r)
        self.outbox_oldest_age = Gauge("ewg_outbox_oldest_age_seconds", "Age of the oldest waiting outbound SMS",
                                       registry=r)
        self.sent = Counter("ewg_sms_sent_total", "Outbound SMS handed to the provider (or the log), by kind",
                            ["kind", "mode"], registry=r)
        self.send_failures = Counter("ewg_sms_send_failures_total", "Outbound SMS send failures by reason",
                                     ["reason", "retryable"], registry=r)
        self.delivery = Counter("ewg_delivery_reports_total", "Delivery reports by provider status",
                                ["status"], registry=r)
        self.alerts = Counter("ewg_alerts_total", "Alert notifications by level and decision",
                              ["level", "decision"], registry=r)
        self.time_to_ack = Histogram("ewg_alert_time_to_acknowledge_seconds", "From alert to first acknowledgement",
                                     buckets=(60, 300, 900, 1800, 3600, 7200, 21600, 86400), registry=r)
        self.scheduler_lag = Gauge("ewg_scheduler_lag_seconds", "How late the last timed job started",
                                   ["job"], registry=r)
        self.job_runs = Counter("ewg_timed_job_runs_total", "Runs of each timed job by outcome (ok, failed, "
                                "skipped: another replica held it)", ["job", "outcome"], registry=r)
        self.ingest_latency = Histogram("ewg_ingest_seconds", "Callback to durable commit",
                                        buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, 1), registry=r)
        # .02: the hop latency the project holds itself to (p99), so a dashboard can watch it
        self.ussd_latency = Histogram("ewg_ussd_hop_seconds", "USSD hop from request to answer (the provider allows ~10 s)",
                                      buckets=(.001, .0025, .005, .01, .02, .025, .05, .1, .25, 1), registry=r)
        # How many callbacks (or USSD actions) share a transaction: its statements' fixed cost and its
        # fsync are paid once per batch, so under load this shows what a callback pays.
        self.group_commit_size = Histogram("ewg_group_commit_size", "Items committed together, by queue", ["queue"],
                                           buckets=(1, 2, 4, 8, 16, 32, 64), registry=r)
        self.silent_reporters = Gauge("ewg_silent_focal_points",
                                      "Approved focal points with no report for dashboard.silent_days",
                                      registry=r)
        self.ussd_hops = Counter("ewg_ussd_hops_total", "USSD hops by outcome", ["outcome"], registry=r)
        self.provider_sent = Counter("ewg_provider_sms_sent_total", "Outbound SMS each provider took", ["provider"],
                                     registry=r)
        self.provider_failed = Counter("ewg_provider_sms_failed_total", "Outbound SMS tries that failed, by provider "
                                       "and side (provider: may move to the next provider; recipient: final)",
                                       ["provider", "side"], registry=r)
        self.provider_latency = Histogram("ewg_provider_send_seconds", "One batch handed to a provider, by provider",
                                          ["provider"], buckets=(.05, .1, .25, .5, 1, 2.5, 5, 10, 30), registry=r)
        self.redeliveries = Counter("ewg_delivery_failures_acted_total", "Delivery reports of a failed SMS acted on, "
                                    "by cause (provider, absent, recipient) and action (next_provider, later, final)",
                                    ["cause", "action"], registry=r)
        # spend in [costs] currency, from the sms_spend table; labels name providers, never numbers
        self.sms_spend_today = Gauge("ewg_sms_spend_today", "SMS spend today (UTC), by provider",
                                     ["provider"], registry=r)
        self.sms_spend_month = Gauge("ewg_sms_spend_month", "SMS spend this calendar month (UTC)", registry=r)
        self.sms_budget = Gauge("ewg_sms_budget_monthly", "The monthly SMS budget (0: none)", registry=r)
        self.sms_budget_used = Gauge("ewg_sms_budget_used_ratio", "Share of the monthly SMS budget spent", registry=r)
        self.sms_budget_warning = Gauge("ewg_sms_budget_warning", "1 once 80% of the monthly SMS budget is spent "
                                        "(at 100% broadcasts are refused)", registry=r)
        self.sms_budget_stopped = Counter("ewg_sms_budget_stopped_total", "Broadcast SMS the sender did not send "
                                          "because the month's spend had reached the monthly budget", registry=r)
        self.provider_healthy = Gauge("ewg_provider_healthy", "1 when a provider can be counted on (its latest "
                                      "batch did not fail on its side; the phone: pinged within "
                                      "android.ping_stale_seconds), by provider", ["provider"], registry=r)
        # spillover between gateways: partner names come from [[spillover.partners]], never a token
        self.partner_deliveries = Gauge("ewg_partner_deliveries", "CAP messages to partner gateways, by partner and "
                                        "state (queued, sending, sent, failed, expired, dropped)",
                                        ["partner", "state"], registry=r)
        self.cap_inbound = Counter("ewg_cap_inbound_total", "CAP messages POSTed by partner gateways, by partner "
                                   "('none': no partner's token), outcome (accepted, refused) and reason",
                                   ["partner", "outcome", "reason"], registry=r)
        self.android_last_ping = Gauge("ewg_android_last_ping_timestamp_seconds",
                                       "When the phone of SMS Gateway for Android last pinged (Unix time; 0: never)",
                                       registry=r)
