FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 DAGSTER_DISABLE_TELEMETRY=1 DAGSTER_HOME=/app
WORKDIR /app
COPY pyproject.toml README.md ./
COPY user_import_pipeline ./user_import_pipeline
COPY sql ./sql
COPY dagster.yaml workspace.yaml ./
RUN pip install --no-cache-dir -e .
