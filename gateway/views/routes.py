"""Every route of the gateway, in one place."""

from aiohttp import web

from gateway.dashboard.auth import AttemptLimiter
from gateway.runtime import RUNTIME
from gateway.views import (
    android,
    api,
    broadcasts,
    callbacks,
    cap_inbound,
    dashboard,
    feeds,
    health,
    kannel,
    operators,
)
from gateway.views.dashboard import LOGIN_LIMITER
from gateway.views.proxies import trusted_networks


def setup(app: web.Application) -> None:
    settings = app[RUNTIME].settings
    trusted_networks(settings)  # a bad entry is named now, not on the first request
    app[LOGIN_LIMITER] = AttemptLimiter(settings.dashboard.login_attempts_per_minute)
    app.cleanup_ctx.append(health.metrics_ctx)  # after the database: the gauges' refresh reads it
    app.router.add_post("/callbacks/at/sms", callbacks.inbound_sms)
    app.router.add_post("/callbacks/at/delivery", callbacks.delivery_report)
    app.router.add_post("/callbacks/at/ussd", callbacks.ussd)
    app.router.add_post("/callbacks/at/ussd/events", callbacks.ussd_event)
    app[android.PHONE] = android.PhoneHealth()
    app.router.add_post("/callbacks/android", android.webhook)
    kannel.add_routes(app)  # smsbox's sms-service and delivery reports, by GET or POST
    app.router.add_get("/healthz", health.healthz)
    if not settings.metrics.port:  # otherwise /metrics is served on that port only (health.metrics_ctx)
        app.router.add_get("/metrics", health.metrics)
    app.router.add_get("/api/reports", api.reports)
    app.router.add_get("/api/alerts", api.alerts)
    app.router.add_get("/api/communes", api.communes)
    app.router.add_get("/api/ussd/funnel", api.ussd_funnel)

    app.router.add_post("/api/cap/inbound", cap_inbound.cap_inbound)
    app.router.add_get("/feeds/cap.atom", feeds.cap_feed)
    app.router.add_get(r"/feeds/cap/{alert_id:\d+}.xml", feeds.cap_alert)
    app.router.add_get("/dashboard", dashboard.situation)
    app.router.add_get("/dashboard/login", dashboard.login_form)
    app.router.add_post("/dashboard/login", dashboard.login)
    app.router.add_post("/dashboard/logout", dashboard.logout)
    app.router.add_get("/dashboard/reports", dashboard.reports)
    app.router.add_get("/dashboard/review", dashboard.review)
    app.router.add_post(r"/dashboard/review/{message_id:\d+}", dashboard.label)
    app.router.add_get("/dashboard/suggestions", dashboard.suggestions)
    app.router.add_post(r"/dashboard/suggestions/{index:\d+}", dashboard.decide_suggestion)
    app.router.add_get("/dashboard/focal-points", dashboard.focal_points)
    app.router.add_get("/dashboard/delivery", dashboard.delivery)
    app.router.add_get("/dashboard/response-times", dashboard.response_times)
    app.router.add_get("/dashboard/static/dashboard.css", dashboard.stylesheet)
    operators.add_routes(app)  # what operators and admins do: alerts, people, silences, audit, tokens, exports
    broadcasts.add_routes(app)  # broadcasts to an area's focal points or committees, and the SMS spend page
