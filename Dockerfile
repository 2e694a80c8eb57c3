# syntax=docker/dockerfile:1
# Storyboard bot as a service. Build and run (see README, "Running as a service"):
#   docker build -t storyboard-bot .
#   docker run -d --name storyboard --restart unless-stopped \
#     -v "$PWD/config.toml:/config/config.toml:ro" -v storyboard-data:/data \
#     -p 127.0.0.1:9100:9100 storyboard-bot
# The config must say [storage] path = "/data/storyboard.sqlite3" and, for the
# health check, [ops] listen = "0.0.0.0:9100".

# --- build: the package and its runtime dependencies into /opt/venv ------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

WORKDIR /src
# Dependencies first, read from pyproject.toml (with the postgres extra, so one image
# serves a fleet; no dev extra), so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['postgres']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt
COPY bot ./bot
COPY cogs ./cogs
RUN pip install --no-deps .

# --- runtime ------------------------------------------------------------------
FROM python:3.11-slim

ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    STORYBOARD_OPS_PORT=9100

RUN groupadd --system --gid 10001 storyboard \
    && useradd --system --uid 10001 --gid storyboard --home-dir /home/storyboard \
       --create-home --shell /usr/sbin/nologin storyboard \
    && mkdir -p /config /data \
    && chown storyboard:storyboard /data

COPY --from=build /opt/venv /opt/venv

# The SQLite database (and its WAL files) lives here: keep it on a volume.
VOLUME ["/data"]
WORKDIR /data
EXPOSE 9100

USER 10001:10001

# 200 from the ops endpoint: gateway connected and store writable. Needs [ops] listen.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('STORYBOARD_OPS_PORT', '9100') + '/healthz', timeout=4)"]

# SIGTERM (Docker's stop) lets submissions under way finish, within the 10 s grace.
STOPSIGNAL SIGTERM
CMD ["storyboard-bot", "run", "--config", "/config/config.toml"]
