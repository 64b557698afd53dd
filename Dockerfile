# The token service, for docker-compose.yml and production. Postgres and Redis are external:
# point SERVICE_DATABASE_URL / SERVICE_REDIS_URL at them (config.yml's "embedded" servers
# are for development and are not installed here).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The package only (no [embedded] or [dev] extras); the source is not kept in the image.
COPY pyproject.toml README.md /src/
COPY service /src/service
RUN pip install /src && rm -rf /src

# A non-root user. /keys is created here, owned by it, so a named volume mounted there
# starts out writable by the one-shot `keys generate` job.
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home app \
    && mkdir -p /app /keys \
    && chown app:app /keys
WORKDIR /app
COPY config.yml /app/config.yml
USER app

EXPOSE 8080
# Global options (--config, --json) come before the command. config.yml listens on
# 127.0.0.1; a container must listen on every interface.
ENTRYPOINT ["python", "-m", "service"]
CMD ["--config", "/app/config.yml", "serve", "--host", "0.0.0.0"]
