# syntax=docker/dockerfile:1
# One image for every Gantry process; the command chooses the process (see Procfile).

ARG PYTHON_IMAGE=python:3.11-slim
ARG NODE_IMAGE=node:20-slim

# The console's and /docs' front-end files from the npm registry, as the lock file pins them;
# only the files the processes serve reach the image (services/kit/web_assets.py).
FROM ${NODE_IMAGE} AS assets
WORKDIR /assets
COPY services/console/assets/package.json services/console/assets/package-lock.json services/console/assets/.npmrc ./
RUN npm ci --omit=dev

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /app
COPY requirements.lock ./
RUN pip install -r requirements.lock
COPY protos/ protos/
COPY tools/ tools/
RUN python tools/protogen.py /app/generated
COPY --from=assets /assets/node_modules /tmp/node_modules
COPY services/__init__.py services/
COPY services/kit/__init__.py services/kit/web_assets.py services/kit/
RUN python -m services.kit.web_assets /tmp/node_modules /app/vendor

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app:/app/generated \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GANTRY_BIND_HOST=0.0.0.0 \
    GANTRY_METRICS_PORT=9100 \
    GANTRY_MQTT_PORT=1883
RUN groupadd --system --gid 10001 gantry \
    && useradd --system --uid 10001 --gid gantry --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin gantry
WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app/generated generated/
COPY services/ services/
COPY --from=builder /app/vendor services/console/assets/vendor/
COPY protos/ protos/
COPY tools/ tools/
COPY pyproject.toml README.md ./
# The project's commands (`gantry`, `kubectl-gantry`) on PATH; editable, so that they run
# the code in /app rather than a second copy of it.
RUN pip install --no-cache-dir --no-deps --no-build-isolation -e . && rm -rf gantry.egg-info
# Bytecode is compiled at build time because the root filesystem is read-only at run time.
RUN python -m compileall -q services generated tools
# Numeric so that Kubernetes can verify runAsNonRoot without a user database.
USER 10001:10001
EXPOSE 8080 8090 1883 9100 50051 50052 50053 50054
CMD ["python", "-m", "services.gateway"]
