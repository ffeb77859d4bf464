"""`ewg` as a user runs it: a child process with only the EWG_* variables a test gives it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO


def ewg(*args: str, env: dict | None = None, stdin: str | None = None, db_url: str | None = None,
        cwd: Path = REPO) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EWG_")}
    if db_url:
        environment["EWG_DATABASE__URL"] = db_url
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True,
                          input=stdin, env=environment, cwd=cwd, timeout=120)
