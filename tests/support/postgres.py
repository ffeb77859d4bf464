"""A throw-away PostgreSQL cluster in a temp dir (initdb + pg_ctl), for tests that need a real server.

    cluster = start_cluster()          # raises PostgresUnavailable when no initdb is installed
    try:
        url = create_database(cluster, "ewg_test")
        ...
        cluster.stop(); cluster.restart()   # an outage and its end
    finally:
        cluster.destroy()

Trust auth, listening on 127.0.0.1 at a free port and on a unix socket in the temp dir. When the
tests run as root the binaries run as the `postgres` user (the server refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from .ports import free_port

SUPERUSER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine; tests should skip with this message."""


def find_bin_dir() -> Path:
    """The folder holding initdb, pg_ctl and createdb (PATH first, then Debian's versioned folders)."""
    initdb = shutil.which("initdb")
    candidates = [Path(initdb).resolve().parent] if initdb else []
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True)]
    for folder in candidates:
        if all((folder / tool).exists() for tool in ("initdb", "pg_ctl", "createdb")):
            return folder
    raise PostgresUnavailable("no PostgreSQL server binaries found (initdb, pg_ctl on PATH or in /usr/lib/postgresql/*/bin)")


def _version(folder: str) -> int:
    name = Path(folder).parent.name
    return int(name) if name.isdigit() else 0


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", SUPERUSER, "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str], cwd: Path) -> str:
    done = subprocess.run(_as_server_user(argv), cwd=cwd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(argv[0]).name} failed ({done.returncode}): {(done.stderr or done.stdout)[-2000:]}")
    return done.stdout


class PgCluster:
    """A running throw-away cluster; `destroy()` stops it and deletes its files."""

    def __init__(self, bin_dir: Path, root: Path, port: int) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.datadir = root / "data"
        self.socket_dir = root
        self.port = port

    @property
    def url_asyncpg(self) -> str:
        return self.url_for(SUPERUSER)

    def url_for(self, database: str) -> str:
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _tool(self, name: str) -> str:
        return str(self.bin_dir / name)

    def restart(self) -> None:
        """Start the server (again); waits until it accepts connections."""
        options = (f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        _run([self._tool("pg_ctl"), "-D", str(self.datadir), "-l", str(self.root / "server.log"),
              "-o", options, "-w", "-t", "60", "start"], cwd=self.root)

    def stop(self) -> None:
        """A clean, fast shutdown (open connections are closed by the server)."""
        _run([self._tool("pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"], cwd=self.root)

    def kill(self) -> None:
        """A crash: SIGKILL the server and all its processes; `restart()` then runs crash recovery."""
        pid = self._postmaster_pid()
        if pid is None:
            return
        victims = [pid, *_descendants(pid)]
        for victim in victims:
            _signal(victim, signal.SIGKILL)
        _wait_gone(victims, timeout=10)
        # Where nothing reaps orphans (a container's PID 1), the dead server stays a zombie whose pid
        # still "exists", and the next start would refuse its lock files; they are stale, so drop them.
        for lock in (self.datadir / "postmaster.pid", self.socket_dir / f".s.PGSQL.{self.port}.lock"):
            lock.unlink(missing_ok=True)

    def is_running(self) -> bool:
        pid = self._postmaster_pid()
        return pid is not None and _alive(pid)

    def server_log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def destroy(self) -> None:
        if self.is_running():
            self.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.datadir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None

    def __enter__(self) -> PgCluster:
        return self

    def __exit__(self, *exc_info) -> None:
        self.destroy()


def start_cluster() -> PgCluster:
    """initdb a new cluster in a fresh temp dir and start it on a free port."""
    bin_dir = find_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="ewg-pg-"))
    if os.geteuid() == 0:
        server_user = pwd.getpwnam(SUPERUSER)
        os.chown(root, server_user.pw_uid, server_user.pw_gid)
    cluster = PgCluster(bin_dir, root, free_port())
    try:
        _run([cluster._tool("initdb"), "-D", str(cluster.datadir), "-U", SUPERUSER, "-A", "trust",
              "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"], cwd=root)
        cluster.restart()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return cluster


def create_database(cluster: PgCluster, name: str) -> str:
    """Create an empty database and return its SQLAlchemy asyncpg URL."""
    _run([cluster._tool("createdb"), "-h", "127.0.0.1", "-p", str(cluster.port), "-U", SUPERUSER, name],
         cwd=cluster.root)
    return cluster.url_for(name)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(Path(stat).parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    """True for a live process; a zombie (killed, not yet reaped by its parent) counts as gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def _wait_gone(pids: list[int], timeout: float) -> None:
    # Polling the process table; the server gives no event to wait on.
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            raise RuntimeError(f"PostgreSQL processes {pids} still alive after SIGKILL")
        time.sleep(0.02)
