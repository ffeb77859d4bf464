"""Hostile input on the GET endpoints: query strings, path ids and cookies answer 400 or 404,
never 500. First each finding over HTTP, then a property test (hypothesis) over every GET route
of the app's router, with valid authentication, so that a new route or parameter is fuzzed too."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from pathlib import Path
from urllib.parse import quote, quote_from_bytes

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from gateway.config import Settings
from gateway.dashboard.users import ensure_user
from gateway.runtime import RUNTIME
from tests.support.gateway import running_gateway

VIEWS = Path(__file__).resolve().parents[1] / "gateway" / "views"
DASHBOARD_USER, DASHBOARD_PASSWORD = "fuzz-admin", "fuzz-password-0123456789"
BIGINT_PLUS_ONE = str(2**63)


def api_headers(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.api.token}"}


async def log_in(client: TestClient) -> str:
    """The session cookie of a dashboard admin, made for the test. The login form's hidden fields
    are sent back, whatever they are, so that a field added to the form does not break the fuzzing."""
    async with client.app[RUNTIME].sessions() as session, session.begin():
        await ensure_user(session, DASHBOARD_USER, DASHBOARD_PASSWORD, "admin")
    form_page = await (await client.get("/dashboard/login")).text()
    hidden = dict(re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form_page))
    response = await client.post("/dashboard/login", allow_redirects=False,
                                 data={**hidden, "user": DASHBOARD_USER, "password": DASHBOARD_PASSWORD})
    assert response.status == 303 and "ewg_session" in response.cookies, await response.text()
    return response.cookies["ewg_session"].value


async def csrf_token(client: TestClient, session_cookie: str) -> str:
    html = await (await client.get("/dashboard/review", cookies={"ewg_session": session_cookie})).text()
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


async def raw_request(host: str, port: int, head: bytes) -> tuple[int, bytes]:
    """One request written byte for byte (aiohttp's client will not send bytes that are not UTF-8)."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(head)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return int(answer.split(b" ", 2)[1]), answer


# --- each finding, over HTTP ---------------------------------------------------------------

@pytest.mark.parametrize(("path", "status", "named"), [
    ("/api/reports?limit=²", 400, "limit"),  # str.isdigit() accepts it, int() does not
    ("/api/alerts?limit=²", 400, "limit"),
    ("/api/reports?limit=١٢", 400, "limit"),  # int() accepts Arabic-Indic digits: ASCII only
    ("/api/reports?limit=99999999999999999999999", 400, "limit"),
    ("/api/reports?since=9999-12-31T23:59:59-23:59", 400, "since"),  # beyond year 9999 in UTC
    ("/api/reports?until=0001-01-01T00:00:00%2B23:59", 400, "until"),  # before year 1 in UTC
    ("/api/alerts?since=0001-01-01T00:00:00%2B23:59", 400, "since"),
    ("/api/ussd/funnel?since=0001-01-01T00:00:00%2B23:59", 400, "since"),
    ("/api/reports?since=２０２６-11-01", 400, "since"),
    ("/api/reports?commune=NE%00", 400, "commune"),  # PostgreSQL refuses NUL in text
    ("/api/alerts?region=%01", 400, "region"),
    ("/api/communes?region=NE%00", 400, "region"),
    ("/api/reports?incident=" + "A" * 500, 400, "incident"),
    ("/feeds/cap/99999999999999999999999.xml", 404, "no alert"),  # beyond BIGINT
    (f"/feeds/cap/{BIGINT_PLUS_ONE}.xml", 404, "no alert"),
    ("/feeds/cap/0.xml", 404, "no alert"),
    ("/dashboard/reports?days=²", 400, "days"),
    ("/dashboard/reports?days=١٤", 400, "days"),
    ("/dashboard/reports?region=%00", 400, "region"),
])
async def test_hostile_parameters_are_named_in_a_400_or_are_a_404(gateway, settings, path: str, status: int,
                                                                   named: str) -> None:
    session_cookie = await log_in(gateway)
    response = await gateway.get(path, headers=api_headers(settings), cookies={"ewg_session": session_cookie},
                                 allow_redirects=False)
    assert (response.status, named in await response.text()) == (status, True), await response.text()


async def test_good_parameters_still_answer(gateway, settings) -> None:
    session_cookie = await log_in(gateway)
    for path in ["/api/reports?limit=10&since=2026-11-01&until=2026-11-30T00:00:00Z&commune=NE004006003",
                 "/api/alerts?limit=5000&since=2026-11-01T00:00:00%2B01:00", "/api/communes?region=NE004",
                 "/api/ussd/funnel?since=2026-11-01", "/dashboard/reports?days=90&region=NE001",
                 "/dashboard/reports?days=1", "/dashboard/reports"]:
        response = await gateway.get(path, headers=api_headers(settings), cookies={"ewg_session": session_cookie},
                                     allow_redirects=False)
        assert response.status == 200, (path, await response.text())
    for path in ["/api/reports?limit=0", "/api/reports?limit=5001", "/dashboard/reports?days=91"]:
        response = await gateway.get(path, headers=api_headers(settings), cookies={"ewg_session": session_cookie})
        assert response.status == 400, path


async def test_a_huge_review_id_is_a_404(gateway, settings) -> None:
    session_cookie = await log_in(gateway)
    csrf = await csrf_token(gateway, session_cookie)
    for message_id in ["99999999999999999999999", BIGINT_PLUS_ONE]:
        response = await gateway.post(f"/dashboard/review/{message_id}", data={"csrf": csrf, "label": "noise"},
                                      cookies={"ewg_session": session_cookie}, allow_redirects=False)
        assert response.status == 404, await response.text()


@pytest.mark.parametrize("cookie_header", [
    "ewg_session=a|1|é".encode(),  # hmac.compare_digest refuses non-ASCII str
    b"ewg_session=admin\xff|1|00",  # not UTF-8: a lone surrogate in the decoded header
    b"ewg_session=\xed\xa0\x80|1|ab",
    "ewg_session=admin|²|00".encode(),
    b"ewg_lang=\xed\xa0\x80",
])
async def test_a_cookie_that_is_not_ascii_is_no_session(gateway, cookie_header: bytes) -> None:
    head = b"GET /dashboard HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: " + cookie_header + b"\r\n\r\n"
    status, answer = await raw_request(gateway.host, gateway.port, head)
    assert status == 303 and b"Location: /dashboard/login" in answer, answer[:200]


@pytest.mark.parametrize("path", [b"/api/reports", b"/feeds/cap.atom", b"/feeds/cap/1.xml"])
async def test_an_authorization_header_that_is_not_utf8_is_refused_not_a_500(gateway, path: bytes) -> None:
    head = b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer \xff\xfe\r\n\r\n"
    status, answer = await raw_request(gateway.host, gateway.port, head)
    assert status == 401, answer[:200]


# --- every GET route, fuzzed ---------------------------------------------------------------

class ServedGateway:
    """The gateway served from a thread of its own, so that hypothesis's synchronous examples can
    talk to it byte for byte through plain sockets."""

    def __init__(self, settings: Settings, clock) -> None:
        self.settings, self._clock = settings, clock
        self._ready, self._thread = threading.Event(), None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.client: TestClient | None = None
        self._failure: BaseException | None = None

    def __enter__(self) -> ServedGateway:
        self._thread = threading.Thread(target=self._serve, name="fuzzed-gateway", daemon=True)
        self._thread.start()
        self._ready.wait(60)
        if self._failure is not None or self.client is None:
            raise RuntimeError("the gateway did not start") from self._failure
        return self

    def __exit__(self, *exc_info) -> None:
        self.loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(60)

    def _serve(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to the test by __enter__
            self._failure = exc
            self._ready.set()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        async with running_gateway(self.settings, self._clock) as client:
            self.loop, self.client = asyncio.get_running_loop(), client
            self._ready.set()
            await self._stopping.wait()

    def run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)

    @property
    def app(self) -> web.Application:
        return self.client.app

    def get(self, target: bytes, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
        head = b"GET " + target + b" HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n"
        head += b"".join(name + b": " + value + b"\r\n" for name, value in headers) + b"\r\n"
        with socket.create_connection((self.client.host, self.client.port), timeout=30) as connection:
            connection.sendall(head)
            chunks = []
            while chunk := connection.recv(65536):
                chunks.append(chunk)
        answer = b"".join(chunks)
        return int(answer.split(b" ", 2)[1]), answer


def get_routes(app: web.Application) -> list[tuple[str, tuple[str, ...]]]:
    """Every GET route of the router: its path template and the names of its path parts."""
    routes = []
    for route in app.router.routes():
        if route.method != "GET":
            continue
        info = route.resource.get_info()
        template = info.get("path") or info.get("formatter")
        if template is not None:
            routes.append((template, tuple(re.findall(r"{(\w+)}", template))))
    return sorted(set(routes))


def parameter_names() -> list[str]:
    """The words quoted on the views' lines that read the query string: a parameter a view starts
    reading is fuzzed without a change here."""
    words = set()
    for path in VIEWS.glob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.search(r"query|_parameter\(|_since\(|_limit\(|_place\(", line):
                words.update(re.findall(r'"([a-z][a-z_]{1,19})"', line))
    return sorted(words | {"limit", "days", "since", "until", "token", "lang"})


def test_the_parameters_read_through_a_helper_are_fuzzed() -> None:
    """/api's place filters are read through _place: missing here, they went unfuzzed."""
    assert {"commune", "region", "days", "done", "limit", "since"} <= set(parameter_names())


def percent_encoded(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def loosely_encoded(text: str) -> str:
    """'=', '&' and '%' left as they are: keys split, values merge, escapes break."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="=&%")


# Lone surrogates included (hypothesis leaves them out by default): they are sent as their UTF-8-like bytes.
unicode_text = st.text(st.characters() | st.characters(categories=("Cs",)) | st.sampled_from("é²١\u00a0"),
                       max_size=30)
control_text = st.text(st.characters(max_codepoint=0x1F) | st.sampled_from("\x7f\x00\u200b\u202e\ufeff"), max_size=8)
numbers = st.one_of(st.integers(-10**30, 10**30).map(str), st.integers(0, 100).map(str),
                    st.sampled_from([BIGINT_PLUS_ONE, str(2**63 - 1), str(2**31), "0", "-1", "1e9", "0x10", " 1", "1_0"]))
# Digits of other scripts, and superscripts and circled digits that str.isdigit() accepts but int() refuses.
other_digits = st.text(st.characters(categories=("Nd", "No")) | st.sampled_from("²³¹⁰①⑴١٢"), min_size=1, max_size=6)
dates = st.sampled_from(["2026-11-01", "2026-11-01T00:00:00Z", "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59",
                         "1969-12-31", "2200-01-01", "2026-02-30", "2026-11-01T25:00", "now", "", "T", "2026-W01"])
values = st.one_of(unicode_text, control_text, numbers, other_digits, dates,
                   st.binary(max_size=20).map(lambda raw: quote_from_bytes(raw, safe="")),
                   st.integers(101, 5000).map(lambda n: "x" * n))


@st.composite
def query_strings(draw, names: list[str]) -> bytes:
    """Known and unknown keys, repeated keys, any value, sometimes bytes left unencoded."""
    pairs = draw(st.lists(st.tuples(st.sampled_from(names), values), max_size=8))
    pairs += draw(st.lists(st.tuples(unicode_text, values), max_size=2))
    pairs = draw(st.permutations(pairs))
    pairs += [(pairs[0][0], draw(values))] if pairs and draw(st.booleans()) else []
    encode = st.sampled_from([percent_encoded, loosely_encoded])
    return "&".join(f"{draw(encode)(name)}={draw(encode)(value)}" for name, value in pairs).encode("ascii")


cookie_bytes = st.one_of(
    unicode_text.map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=30),
    numbers.map(str.encode),
    st.builds(lambda user, expires, signature: f"{user}|{expires}|{signature}".encode("utf-8", "surrogatepass"),
              unicode_text, numbers | other_digits, st.text("0123456789abcdef", max_size=64) | unicode_text),
).map(lambda raw: raw.replace(b"\r", b"").replace(b"\n", b""))


@st.composite
def cookie_headers(draw, session_cookie: str | None) -> list[tuple[bytes, bytes]]:
    """The valid session (usually), plus fuzzed cookies: the gateway's own names, repeated, any bytes."""
    cookies = [b"ewg_session=" + session_cookie.encode()] if session_cookie and draw(st.integers(0, 3)) else []
    name = st.sampled_from([b"ewg_session", b"ewg_lang", b"other"]) | st.binary(min_size=1, max_size=8)
    cookies += [draw(name) + b"=" + draw(cookie_bytes) for _ in range(draw(st.integers(0, 3)))]
    if draw(st.booleans()):
        cookies.reverse()
    return [(b"Cookie", b"; ".join(cookies))] if cookies else []


path_parts = st.one_of(numbers, other_digits, st.integers(1, 5).map(str), unicode_text.filter(bool))
FUZZ = hypothesis_settings(max_examples=100, deadline=None, database=None,
                           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def served(settings, clock):
    with ServedGateway(settings, clock) as gateway:
        yield gateway


async def seed(client: TestClient, settings: Settings) -> None:
    """Reports from two focal points and a text not understood: pages and feeds with rows to show."""
    for sender, text, message_id in [("+22790000101", "ATTAQUE GABI 12", "f-1"), ("+22790000102", "hari gabi 20", "f-2"),
                                     ("+22790000104", "bonjour kaykay", "f-3")]:
        response = await client.post("/callbacks/at/sms", params={"token": settings.callbacks.token}, data={
            "from": sender, "to": "3737", "text": text, "date": "2026-11-24 11:59:00", "id": message_id})
        assert response.status == 200, await response.text()


def routes_and_credentials(served: ServedGateway) -> list[tuple[str, tuple[str, ...], list, str | None]]:
    """Each GET route with what logs in to it: /dashboard a session cookie, the rest (/api, /feeds,
    /healthz, /metrics) the API token."""
    served.run(seed(served.client, served.settings))
    session_cookie = served.run(log_in(served.client))
    api_authorization = [(b"Authorization", f"Bearer {served.settings.api.token}".encode())]
    routes = get_routes(served.app)
    assert {"/api/reports", "/dashboard/reports", "/feeds/cap/{alert_id}.xml"} <= {t for t, _ in routes}
    return [(template, names) + (([], session_cookie) if template.startswith("/dashboard") else (api_authorization, None))
            for template, names in routes]


HOSTILE_VALUES = ["²", "١٢", "①", "9" * 25, BIGINT_PLUS_ONE, "-1", "0", "", "0001-01-01T00:00:00+23:59",
                  "9999-12-31T23:59:59-23:59", "\x00", "\ud800", "x" * 300, "é"]
HOSTILE_IDS = ["99999999999999999999999", BIGINT_PLUS_ONE, "0", "1", "١", "²"]
HOSTILE_COOKIES = [b"ewg_session=a|1|\xc3\xa9", b"ewg_session=admin\xff|1|00", b"ewg_session=\xed\xa0\x80|1|ab",
                   b"ewg_session=admin|\xc2\xb2|00", b"ewg_lang=\xed\xa0\x80", b"ewg_session=||"]


def test_every_get_route_and_parameter_with_known_hostile_values(served: ServedGateway) -> None:
    """Every parameter the views read, alone, with each value known to have caused a 500; every
    path id and cookie likewise. Deterministic, so a regression is found on every run."""
    names = parameter_names()
    failures = []
    for template, path_names, headers, session_cookie in routes_and_credentials(served):
        session = [(b"Cookie", b"ewg_session=" + session_cookie.encode())] if session_cookie else []
        paths = [template.format(**dict.fromkeys(path_names, percent_encoded(id_))) for id_ in HOSTILE_IDS] \
            if path_names else [template]
        requests = [(path + "?" + percent_encoded(name) + "=" + percent_encoded(value), session)
                    for path in paths[:1] for name in names for value in HOSTILE_VALUES]
        requests += [(path, session) for path in paths[1:]]
        requests += [(paths[0], [(b"Cookie", cookie)]) for cookie in HOSTILE_COOKIES]
        statuses = set()
        for target, cookies in requests:
            status, answer = served.get(target.encode("ascii"), cookies + headers)
            statuses.add(status)
            if status >= 500 or b"Traceback" in answer:
                failures.append((status, target, cookies))
        # A provider's GET callback answers 200 only to its own token and fields (tests/test_wire_kannel.py);
        # here it is swept for 500s like every route.
        assert path_names or template.startswith("/callbacks/") or 200 in statuses, \
            f"{template} never answered 200: not logged in?"
    assert not failures, failures


def fuzz_route(served: ServedGateway, template: str, path_names: tuple[str, ...], headers: list,
               cookies: st.SearchStrategy) -> None:
    @FUZZ
    @given(query=query_strings(parameter_names()), cookies=cookies,
           parts=st.fixed_dictionaries({name: path_parts for name in path_names}))
    def never_500(query: bytes, cookies: list, parts: dict[str, str]) -> None:
        path = template.format(**{name: percent_encoded(value) for name, value in parts.items()})
        target = path.encode("ascii") + (b"?" + query if query else b"")
        status, answer = served.get(target, cookies + headers)
        assert status < 500 and b"Traceback" not in answer, (target, cookies, answer[:300])

    never_500()


def test_every_get_route_never_answers_500(served: ServedGateway) -> None:
    """Random query strings and cookies, each route its own examples."""
    for template, path_names, headers, session_cookie in routes_and_credentials(served):
        fuzz_route(served, template, path_names, headers, cookie_headers(session_cookie))
