# syntax=docker/dockerfile:1
# One image for both services; SERVICE=auth|realtime picks deploy/gunicorn_$SERVICE.py.
#   docker build -t ridewire .
#   docker run -e SERVICE=realtime -e JWT_SECRET_KEY=... -e MONGO_URI=... ridewire
ARG PYTHON_VERSION=3.11

# Build stage: the project and its dependencies in a virtualenv (wheels only).
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY shared ./shared
COPY auth_service ./auth_service
COPY realtime_service ./realtime_service
COPY compat ./compat
RUN pip install --upgrade pip && pip install .

# Runtime stage: the virtualenv, the gunicorn configs, an unprivileged user.
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    APP_ENV=production \
    HOST=0.0.0.0 \
    AUTH_PORT=5001 \
    REALTIME_PORT=5002 \
    SERVICE=auth
RUN groupadd --system --gid 10001 ridewire \
    && useradd --system --uid 10001 --gid ridewire --home-dir /app --shell /usr/sbin/nologin ridewire
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY deploy/gunicorn_auth.py deploy/gunicorn_realtime.py deploy/healthcheck.py ./deploy/
USER ridewire:ridewire
EXPOSE 5001 5002
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "deploy/healthcheck.py"]
# exec: gunicorn is PID 1 and gets the SIGTERM of `docker stop` (graceful shutdown).
CMD ["sh", "-c", "exec gunicorn -c deploy/gunicorn_${SERVICE}.py"]
