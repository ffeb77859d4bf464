"""A real Kannel for end-to-end tests: bearerbox with a fake SMSC, smsbox, and Kannel's own test
SMSC `fakesmsc` (Debian's `kannel` and `kannel-extras`), on free loopback ports.

    kannel = Kannel(tmp_path, gateway_url, token)
    await kannel.start()                       # bearerbox and smsbox, once they listen
    await kannel.send_from_phone(FROM, TO, "ucs2", quote_from_bytes(text.encode("utf-16-be")))
    kannel.phone_received()                    # what reached the phone: [(from, to, text)]
    await kannel.stop()                        # every process it started

The configuration is the README's (Kannel (SMPP)), with the fake SMSC in the operator's place and free ports.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path
from urllib.parse import unquote_to_bytes

from tests.support.ports import free_port

FAKESMSC = Path("/usr/lib/kannel/test/fakesmsc")
USERNAME, PASSWORD = "ewg", "sendsms-password-0123"


def available() -> bool:
    return bool(shutil.which("bearerbox") and shutil.which("smsbox") and os.access(FAKESMSC, os.X_OK))


REASON = "Kannel is not installed (Debian: apt-get install kannel kannel-extras)"

# fakesmsc prints each SMS it receives: "Got message 3: <sender receiver type data>"
RECEIVED = re.compile(r"Got message \d+: <(\S+) (\S+) (\S+) (.*)>")


def config(workdir: Path, gateway_url: str, token: str, ports: dict[str, int]) -> str:
    fields = "id=%I&from=%p&to=%P&time=%T&smsc=%i&coding=%c&charset=%C&text=%b"
    return f"""
group = core
admin-port = {ports["admin"]}
admin-password = admin-password-0123
admin-interface = 127.0.0.1
smsbox-port = {ports["smsbox"]}
box-allow-ip = 127.0.0.1
log-level = 1
log-file = "{workdir}/bearerbox.log"
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
port = {ports["smsc"]}
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {ports["smsbox"]}
sendsms-port = {ports["sendsms"]}
sendsms-interface = 127.0.0.1
global-sender = 3737
log-level = 1
log-file = "{workdir}/smsbox.log"
http-request-retry = 5
http-queue-delay = 1
reply-couldnotfetch = ""
reply-requestfailed = ""
reply-couldnotrepresent = ""
reply-emptymessage = ""

group = sendsms-user
username = {USERNAME}
password = {PASSWORD}
max-messages = 10
concatenation = true

group = sms-service
keyword = default
catch-all = true
omit-empty = true
max-messages = 0
get-url = "{gateway_url}/callbacks/kannel/sms?token={token}&{fields}"
"""


class Kannel:
    def __init__(self, workdir: Path, gateway_url: str, token: str) -> None:
        self.workdir = Path(workdir)
        self.ports = {name: free_port() for name in ("admin", "smsbox", "smsc", "sendsms")}
        self.conf = self.workdir / "kannel.conf"
        self.conf.write_text(config(self.workdir, gateway_url, token, self.ports))
        self.phone_log = self.workdir / "fakesmsc.log"
        self._processes: list[subprocess.Popen] = []

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['sendsms']}/cgi-bin/sendsms"

    def env(self, gateway_url: str) -> dict[str, str]:
        """The gateway's settings for this Kannel."""
        return {"EWG_KANNEL__SENDSMS_URL": self.sendsms_url, "EWG_KANNEL__USERNAME": USERNAME,
                "EWG_KANNEL__PASSWORD": PASSWORD, "EWG_KANNEL__DLR_BASE_URL": gateway_url}

    def _spawn(self, name: str, *command: str) -> subprocess.Popen:
        with open(self.workdir / f"{name}.out", "ab") as output:
            process = subprocess.Popen(command, cwd=self.workdir, stdout=output, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self._processes.append(process)
        return process

    async def _listening(self, port: int, process: subprocess.Popen, what: str, timeout: float = 20) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{what} exited with {process.returncode}:\n{self.logs()}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                await writer.wait_closed()
                return
            except OSError:
                if loop.time() > deadline:
                    raise RuntimeError(f"{what} not listening on {port} after {timeout}s:\n{self.logs()}") from None
                await asyncio.sleep(0.1)

    async def start(self) -> None:
        bearerbox = self._spawn("bearerbox", "bearerbox", str(self.conf))
        await self._listening(self.ports["smsc"], bearerbox, "bearerbox")
        smsbox = self._spawn("smsbox", "smsbox", str(self.conf))
        await self._listening(self.ports["sendsms"], smsbox, "smsbox")

    async def send_from_phone(self, sender: str, receiver: str, kind: str, data: str) -> None:
        """fakesmsc sends one SMS (kind `text`: plain UTF-8; `ucs2`: UTF-16BE bytes, URL-encoded) and
        stays connected, printing every SMS Kannel delivers to it."""
        self._spawn("fakesmsc", str(FAKESMSC), "-H", "127.0.0.1", "-r", str(self.ports["smsc"]), "-m", "1",
                    f"{sender} {receiver} {kind} {data}")

    def phone_received(self) -> list[tuple[str, str, str]]:
        """Every SMS that reached fakesmsc, as (sender, receiver, text)."""
        output = self.workdir / "fakesmsc.out"
        received = []
        for sender, receiver, kind, data in RECEIVED.findall(output.read_text(errors="replace")
                                                             if output.exists() else ""):
            raw = unquote_to_bytes(data.replace("+", " ")) if kind != "text" else data.encode()
            received.append((sender, receiver, raw.decode("utf-16-be" if kind == "ucs-2" else "utf-8")))
        return received

    def logs(self) -> str:
        parts = []
        for name in ("bearerbox.out", "smsbox.out", "fakesmsc.out", "bearerbox.log", "smsbox.log"):
            path = self.workdir / name
            if path.exists():
                parts.append(f"--- {name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-30:]))
        return "\n".join(parts)

    async def stop(self) -> None:
        """SIGTERM to every process started (fakesmsc first, bearerbox last), SIGKILL after 10 s."""
        loop = asyncio.get_running_loop()
        for process in reversed(self._processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            deadline = loop.time() + 10
            while process.poll() is None and loop.time() < deadline:
                await asyncio.sleep(0.05)
            if process.poll() is None:
                process.kill()
                process.wait()
        self._processes.clear()
