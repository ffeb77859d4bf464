"""Every route of the gateway, in one place."""

from aiohttp import web

from gateway.views import api, callbacks, health


def setup(app: web.Application) -> None:
    app.router.add_post("/callbacks/at/sms", callbacks.inbound_sms)
    app.router.add_post("/callbacks/at/delivery", callbacks.delivery_report)
    app.router.add_post("/callbacks/at/ussd", callbacks.ussd)
    app.router.add_post("/callbacks/at/ussd/events", callbacks.ussd_event)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/metrics", health.metrics)
    app.router.add_get("/api/reports", api.reports)
    app.router.add_get("/api/alerts", api.alerts)
    app.router.add_get("/api/communes", api.communes)
