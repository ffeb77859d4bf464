"""Local time: the deployment's zone and an area's. Niger (Africa/Niamey, UTC+1) and Mali
(Africa/Bamako, UTC) keep no summer time, so a fixed offset each needs no time-zone database;
alert texts and the dashboard both read it here."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

DEFAULT_ZONE = "Africa/Niamey"
ZONES: dict[str, tzinfo] = {"Africa/Niamey": timezone(timedelta(hours=1)), "Africa/Bamako": UTC}
COUNTRY_ZONES = {"NE": "Africa/Niamey", "ML": "Africa/Bamako"}


def zone(name: str) -> tzinfo:
    """The zone of a setting's name; a ValueError naming the zones known otherwise."""
    try:
        return ZONES[name]
    except KeyError:
        raise ValueError(f"unknown time zone {name[:40]!r}: one of {', '.join(sorted(ZONES))}") from None


def zone_of(pcode: str | None) -> tzinfo:
    """The local time of an area, by its P-code's country (Niger's for an unknown one)."""
    return ZONES[COUNTRY_ZONES.get((pcode or "")[:2], DEFAULT_ZONE)]


def local(value: datetime, where: tzinfo) -> datetime:
    """`value` in the zone `where`; a naive value is UTC, as the database stores it."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(where)


def offset_label(value: datetime) -> str:
    """"UTC+1", "UTC": how far an aware local time is from UTC, for a reader to see which time it is."""
    hours = (value.utcoffset() or timedelta(0)) / timedelta(hours=1)
    return "UTC" if not hours else f"UTC{hours:+g}"


def day_start(day: date, where: tzinfo) -> datetime:
    """The first moment, in UTC, of a day of the zone `where`: how a date typed on the dashboard is read."""
    return datetime.combine(day, time(0), tzinfo=where).astimezone(UTC)


def zone_label(where: tzinfo) -> str:
    """"UTC+1", "UTC": the offset of a zone (the deployment's zones keep no summer time)."""
    return offset_label(datetime.now(where))
