# The code location as an image: the project installed from its built wheel (the SQL ships
# inside it as the package user_import_pipeline.sql), run as a non-root user, with /app
# holding dagster.yaml and workspace.yaml and serving as DAGSTER_HOME. docker-compose.yml
# runs `user-import migrate`, `dagster-webserver`, `dagster-daemon` and `user-import api`.

# --- Build stage: the dependency list and the wheel. ---
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
# Optional extras of pyproject.toml to install too, comma-separated: `docker` (the compose
# profile `scale` builds with it: dagster-docker, for DockerRunLauncher) or `k8s`
# (dagster-k8s, for the Helm chart's K8sRunLauncher). docs/DEPLOY.md.
ARG EXTRAS=""
WORKDIR /src
COPY pyproject.toml ./
# [project].dependencies and those of the extras in EXTRAS, one a line. The image installs
# them from this file, so that layer is rebuilt when the list changes, not when the code or
# other settings change.
RUN EXTRAS="$EXTRAS" python -c 'import os, tomllib; project = tomllib.load(open("pyproject.toml", "rb"))["project"]; extras = [e.strip() for e in os.environ["EXTRAS"].split(",") if e.strip()]; print(*project["dependencies"], *(d for e in extras for d in project["optional-dependencies"][e]), sep="\n")' > /requirements.txt
# README.md is the package's readme (pyproject.toml): the build reads it.
COPY README.md ./
COPY user_import_pipeline ./user_import_pipeline
COPY sql ./sql
RUN pip wheel --no-deps --wheel-dir /wheels .

# --- The image. ---
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    DAGSTER_DISABLE_TELEMETRY=1 \
    DAGSTER_HOME=/app \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore

# The dependencies first: this layer is reused as long as the list above is the same.
COPY --from=build /requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt

# The project itself, not editable and without dependencies (all installed above);
# `pip check` fails the build if the wheel requires something that layer did not install.
COPY --from=build /wheels/ /tmp/wheels/
RUN pip install --no-deps /tmp/wheels/*.whl && rm -r /tmp/wheels && pip check

# A non-root user whose home is /app. Dagster's processes write under DAGSTER_HOME (compute
# logs, run queue files), so /app belongs to that user; the configuration stays root's.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app
WORKDIR /app
COPY dagster.yaml workspace.yaml ./
# /app/scale: DAGSTER_HOME of the compose profile `scale`, which mounts deploy/docker's
# dagster.yaml and workspace.yaml there and a shared volume on its storage/ (made here so
# that the volume starts out owned by the app user).
RUN mkdir -p /app/scale/storage && chown app:app /app /app/scale /app/scale/storage
USER 10001:10001

# The HTTP API (`user-import api`) and the Dagster webserver; compose sets each command.
EXPOSE 8080 3000
CMD ["user-import", "--help"]
