# syntax=docker/dockerfile:1
# One image for every Switchboard process; each Deployment picks its command:
#   python -m services.ingest | services.support | services.circle_sync |
#   services.convertkit_sync | services.crm_sync
# The sandbox (dev and tests only), tests/ and bench/ are not in the image: .dockerignore keeps
# them out of the context, and tests/deploy/test_dockerfile.py checks the image's file set.
#
# The base is pinned by digest (refresh both FROM lines together:
# `docker buildx imagetools inspect python:3.11-slim-bookworm`). Dependencies are exactly
# uv.lock (`uv sync --frozen`), with the uv version the Makefile pins.

# ---- build: resolve nothing, install the lock into /app/.venv, precompile bytecode ----------
FROM python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91 AS build

ENV UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/uv && /opt/uv/bin/pip install "uv==0.13.9"

WORKDIR /app
# Dependencies first: this layer is rebuilt only when the lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN /opt/uv/bin/uv sync --frozen --no-dev --no-install-project

COPY libs ./libs
COPY services ./services
COPY config ./config
RUN python -m compileall -q libs services

# ---- runtime: the interpreter, the locked venv and our source; no uv, pip or compilers ------
FROM python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91 AS runtime

LABEL org.opencontainers.image.title="switchboard" \
      org.opencontainers.image.description="Keeps payments, community, email, CRM and support in agreement about every customer."

# The base image's own pip/setuptools/wheel are not needed at run time.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
    && groupadd --system --gid 10001 switchboard \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin switchboard

WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY --from=build /app/libs /app/libs
COPY --from=build /app/services /app/services
COPY --from=build /app/config /app/config

# Listen on all interfaces in a container (the settings default is loopback); the root file
# system can be read-only: no bytecode is written at run time.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SWITCHBOARD_HOST=0.0.0.0

USER 10001:10001
EXPOSE 8080 8081 9101 9102 9103
CMD ["python", "-m", "services.ingest"]
