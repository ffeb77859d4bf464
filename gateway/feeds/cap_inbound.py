"""Reading a CAP 1.2 message a partner gateway POSTed: hostile XML is refused before it is parsed
(a size limit, no DOCTYPE, so no entities; no network), the rest is checked against the OASIS
schema shipped beside this module (CAP-v1.2.xsd, verbatim), then for what a spillover warning
needs (scope Restricted, Alert/Update/Cancel, the ewg: parameters partner_cap_xml writes, the
communes as OCHA P-code geocodes). Every refusal is a CapRefused naming what is wrong."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lxml import etree

from gateway.feeds.cap import CAP_NS
from gateway.kernel.phones import mask_phones_in

SCHEMA_PATH = Path(__file__).resolve().parent / "CAP-v1.2.xsd"
MAX_CAP_BYTES = 65536  # three languages and a few dozen communes fit many times over
MESSAGE_TYPES = ("Alert", "Update", "Cancel")
MAX_ID_CHARS = 255  # what cap_inbound keeps of an identifier, a sender and an incidents key
PCODE = re.compile(r"^[A-Z]{2}[0-9]{1,12}$")
LEVEL = re.compile(r"[1-9]")  # ASCII: str.isdigit() also takes '²', which int() refuses
RING = re.compile(r"^([A-Z]{2}[0-9]{1,12}) ([1-9])$")
C = {"cap": CAP_NS}


class CapRefused(ValueError):
    """The message is refused; str() is the reason, safe to answer with. `kind`, for the metrics, is
    one of a closed set: empty, too_large, entities, not_xml, schema, content (what a spillover
    warning needs) or unknown_incident."""

    def __init__(self, reason: str, kind: str = "content"):
        super().__init__(reason)
        self.kind = kind


@dataclass(frozen=True)
class PartnerCap:
    identifier: str
    sender: str
    msg_type: str
    incidents: str
    code: str
    incident: str
    level: int
    home_pcode: str
    home_name: str
    communes: dict[str, int]  # P-code -> ring


@cache
def cap_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH), _parser()))


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True, remove_pis=True)


def read_partner_cap(body: bytes) -> PartnerCap:
    if not body.strip():
        raise CapRefused("empty body: a CAP 1.2 document was expected", "empty")
    if len(body) > MAX_CAP_BYTES:
        raise CapRefused(f"document too large: more than {MAX_CAP_BYTES} bytes", "too_large")
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise CapRefused("a DOCTYPE or entity declaration is not accepted", "entities")
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        raise CapRefused(f"not well-formed XML: {exc.msg}", "not_xml") from None
    if root.getroottree().docinfo.doctype:  # one the byte check missed: UTF-16, say
        raise CapRefused("a DOCTYPE or entity declaration is not accepted", "entities")
    schema = cap_schema()
    try:
        valid = schema.validate(root)
    except etree.Error:  # libxml2's own failure on a tree it parsed is the document's fault, not a 500
        raise CapRefused("CAP 1.2 schema: the document cannot be validated", "schema") from None
    if not valid:
        error = schema.error_log.last_error
        raise CapRefused(f"CAP 1.2 schema: line {error.line}: {error.message}"[:300], "schema")
    return _facts(root)


def _text(element: etree._Element, path: str) -> str:
    return (element.findtext(path, namespaces=C) or "").strip()


def _facts(root: etree._Element) -> PartnerCap:
    msg_type = _text(root, "cap:msgType")
    if msg_type not in MESSAGE_TYPES:
        raise CapRefused(f"msgType {msg_type!r}: only Alert, Update and Cancel are accepted")
    if _text(root, "cap:scope") != "Restricted":
        raise CapRefused("scope must be Restricted")
    incidents = _text(root, "cap:incidents")
    if not incidents:
        raise CapRefused("incidents is required: it ties an alert's updates together")
    for name in ("identifier", "sender", "incidents"):
        if len(_text(root, f"cap:{name}")) > MAX_ID_CHARS:
            raise CapRefused(f"{name} longer than {MAX_ID_CHARS} characters")
    if msg_type != "Alert" and not _text(root, "cap:references"):
        raise CapRefused(f"a {msg_type} needs references")
    info = root.find("cap:info", C)
    if info is None:
        raise CapRefused("an info element is required")
    parameters: dict[str, list[str]] = {}
    for parameter in info.findall("cap:parameter", C):
        parameters.setdefault(_text(parameter, "cap:valueName"), []).append(_text(parameter, "cap:value"))

    def one(name: str) -> str:
        values = parameters.get(name)
        if not values or not values[0]:
            raise CapRefused(f"parameter {name} is required")
        return values[0]

    level = one("ewg:level")
    if not LEVEL.fullmatch(level):
        raise CapRefused(f"parameter ewg:level must be a level from 1 to 9, not {level!r}")
    home_pcode = one("ewg:home_pcode")
    if not PCODE.match(home_pcode):
        raise CapRefused(f"parameter ewg:home_pcode is not a P-code: {home_pcode!r}")
    rings = {}
    for value in parameters.get("ewg:ring", []):
        match = RING.match(value)
        if not match:
            raise CapRefused(f"parameter ewg:ring must be 'P-code ring', not {value!r}")
        rings[match.group(1)] = int(match.group(2))
    communes = {}
    for geocode in info.findall("cap:area/cap:geocode", C):
        if _text(geocode, "cap:valueName") != "OCHA_PCODE":
            continue
        pcode = _text(geocode, "cap:value")
        if not PCODE.match(pcode):
            raise CapRefused(f"geocode OCHA_PCODE is not a P-code: {pcode!r}")
        communes[pcode] = rings.get(pcode, 1)
    if not communes:
        raise CapRefused("the area names no commune: a geocode OCHA_PCODE is required")
    for name in ("ewg:alert_code", "ewg:home_name"):  # both are written into SMS and shown to operators
        if mask_phones_in(one(name)) != one(name):
            raise CapRefused(f"parameter {name} must not hold a phone number")
    return PartnerCap(_text(root, "cap:identifier"), _text(root, "cap:sender"), msg_type, incidents,
                      one("ewg:alert_code")[:16], one("ewg:incident")[:32], int(level), home_pcode,
                      one("ewg:home_name")[:80], communes)
