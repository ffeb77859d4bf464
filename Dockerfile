# The gateway on a slim Python base, as a non-root user. Its data (the SQLite database, the
# pseudonym key file) lives in the volume /app/var; or set EWG_DATABASE__URL to PostgreSQL.
# Like `ewg serve`, it refuses to start without its secrets: EWG_CALLBACKS__TOKEN, EWG_API__TOKEN,
# EWG_GATEWAY__PSEUDONYM_SECRET and EWG_DASHBOARD__SESSION_SECRET (`ewg secrets new` makes them).
# Installed editable: the gateway reads locales/, rules/ and migrations/ from /app, where admins
# edit them, and the compiled parser modules sit beside their sources in /app, where they are imported.
# With podman or buildah, build with `--format docker` (docker always does): the OCI image format
# has no HEALTHCHECK, so it would be dropped.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN useradd --create-home --uid 10001 ewg

COPY pyproject.toml setup.py README.md alembic.ini settings.toml ./
COPY gateway ./gateway
COPY alerts ./alerts
COPY migrations ./migrations
COPY locales ./locales
COPY rules ./rules
# A C compiler for the install only: setup.py compiles the parser with mypyc. A Python from Debian's
# own packages comes without its C headers (the python image has them), so they are added then.
# setup.py falls back to the slower pure Python parser when compiling fails; the image must not,
# so the build stops unless `ewg serve` would import every module compiled (`python -P`: as the
# `ewg` script does, not from the working directory).
RUN headers=$(python -c 'import sysconfig; print(sysconfig.get_paths()["include"])') \
    && python_dev=$([ -f "$headers/Python.h" ] || python -c 'import sys; print("libpython%d.%d-dev" % sys.version_info[:2])') \
    && apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends gcc libc6-dev $python_dev >/dev/null \
    && pip install -e ".[speed]" \
    && python -P -c "from gateway.compiled import build_state; kind, stale = build_state(); \
assert kind == 'compiled' and not stale, f'parser {kind} (stale: {stale}); pip install -v shows why'" \
    && apt-get purge -y -qq gcc libc6-dev $python_dev >/dev/null && apt-get autoremove -y -qq >/dev/null \
    && apt-get clean && rm -rf /var/lib/apt/lists/* build \
    && mkdir -p /app/var && chown ewg:ewg /app/var

USER ewg
# Declared after its owner is set: the database must outlive the container.
VOLUME /app/var
EXPOSE 8080
# The port follows EWG_HTTP__PORT, as the gateway does.
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import os, sys, urllib.request; \
port = os.environ.get('EWG_HTTP__PORT', '8080'); \
sys.exit(urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status != 200)"
CMD ["sh", "-c", "ewg db upgrade && exec ewg serve"]
