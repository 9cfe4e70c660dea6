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
RUN useradd --system --uid 10001 --home-dir /app alerter
USER alerter

ENV ALERTER_RULES_DIR=/app/rules \
    ALERTER_TEMPLATES_DIR=/app/templates \
    ALERTER_LOG_FORMAT=json

# Fail the build if the shipped rules do not load.
RUN alerter check /app/rules

ENTRYPOINT ["alerter"]
CMD ["run"]
