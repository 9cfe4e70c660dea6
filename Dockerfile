# alerter: the service image. Configure it with ALERTER_* environment variables (see README).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY alerter ./alerter
RUN pip install .

COPY rules ./rules
COPY templates ./templates
RUN useradd --system --uid 10001 --home-dir /app alerter \
    && mkdir /app/state && chown alerter /app/state
USER alerter

# The SQLite ledger lives in the volume, so a new container remembers what was sent; set
# ALERTER_STATE_URL to PostgreSQL to run replicas.
ENV ALERTER_RULES_DIR=/app/rules \
    ALERTER_TEMPLATES_DIR=/app/templates \
    ALERTER_STATE_URL=sqlite:////app/state/alerter.db \
    ALERTER_HEALTH_PORT=9108 \
    ALERTER_LOG_FORMAT=json
VOLUME ["/app/state"]
EXPOSE 9108

# Fail the build if the shipped rules or their templates do not load.
RUN alerter check /app/rules

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=4).status != 200)"]

ENTRYPOINT ["alerter"]
CMD ["run"]
