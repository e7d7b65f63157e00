# One image for every harvester process: api, worker, beat, flower and the one-shot `db upgrade`.
# Versions are pinned by requirements.lock (used as constraints: only what harvester needs at run
# time, with every server's driver and Flower, is installed). Your collectors: build FROM this image and install them, e.g.
#   FROM harvester:latest
#   COPY team_collectors /app/team_collectors   # with PYTHONPATH=/app, or: RUN pip install ./team_collectors
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    HARVESTER_DATA_DIR=/var/lib/harvester \
    HARVESTER_SCHEDULE_FILE=/app/schedule.yaml

WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY harvester ./harvester
RUN pip install --constraint requirements.lock ".[redis,postgres,rabbitmq,flower]" \
    && useradd --system --create-home --home-dir /var/lib/harvester harvester
COPY schedule.yaml ./schedule.yaml

USER harvester
EXPOSE 8000 5555
CMD ["harvester", "--help"]
