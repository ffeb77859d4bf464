"""A throw-away PostgreSQL cluster for benchmarks, with durability on (fsync and synchronous_commit:
the test cluster turns them off for speed, which a throughput figure must not do)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.support import postgres
from tests.support.ports import free_port


class DurableCluster(postgres.PgCluster):
    def restart(self) -> None:
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c max_connections=100"
        postgres._run([self._tool("pg_ctl"), "-D", str(self.datadir), "-l", str(self.root / "server.log"),
                       "-o", options, "-w", "-t", "60", "start"], cwd=self.root)


@contextlib.contextmanager
def durable_cluster() -> Iterator[str]:
    """Yields the asyncpg URL of an empty database; the cluster is deleted afterwards."""
    root = Path(tempfile.mkdtemp(prefix="ewg-bench-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam(postgres.SUPERUSER)
        os.chown(root, user.pw_uid, user.pw_gid)
    cluster = DurableCluster(postgres.find_bin_dir(), root, free_port())
    try:
        postgres._run([cluster._tool("initdb"), "-D", str(cluster.datadir), "-U", postgres.SUPERUSER,
                       "-A", "trust", "-E", "UTF8", "--locale=C", "--no-instructions"], cwd=root)
        cluster.restart()
        yield postgres.create_database(cluster, "ewg_bench")
    finally:
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)
