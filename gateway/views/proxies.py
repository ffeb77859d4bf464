"""What a request says about its client when a TLS proxy stands in front of the gateway.

X-Forwarded-Proto and X-Forwarded-For are believed only from a peer listed in
`http.trusted_proxies`: anybody else could send them to pass for HTTPS or for another address."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from aiohttp import web

from gateway.config import ConfigError, Settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ConfigError(f"setting http.trusted_proxies: {entry!r} is not an IP address or CIDR") from None
    return tuple(networks)


def trusted_networks(settings: Settings) -> tuple[Network, ...]:
    return _networks(tuple(settings.http.trusted_proxies))


def _is_trusted(address: str | None, networks: tuple[Network, ...]) -> bool:
    if not address or not networks:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _from_trusted_proxy(request: web.Request, settings: Settings) -> bool:
    return _is_trusted(request.remote, trusted_networks(settings))


def is_https(request: web.Request, settings: Settings) -> bool:
    if request.secure:
        return True
    if not _from_trusted_proxy(request, settings):
        return False
    forwarded = request.headers.get("X-Forwarded-Proto", "")
    return forwarded.split(",")[-1].strip().lower() == "https"


def client_address(request: web.Request, settings: Settings) -> str:
    """The peer, or behind trusted proxies the nearest address in X-Forwarded-For they did not add."""
    peer = request.remote or "unknown"
    networks = trusted_networks(settings)
    if not _is_trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a garbled header: count the attempts against the proxy itself
        if not _is_trusted(hop, networks):
            return hop
    return peer
