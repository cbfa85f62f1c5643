#!/usr/bin/env bash
# Installs what the tests need (a venv from pyproject.toml with the dev extra), checks
# lint, formatting and types, and runs the whole test suite against a real PostgreSQL:
# TEST_DATABASE_URL when set, else the embedded server.
set -euo pipefail
source "$(dirname "$0")/venv.sh" dev
ruff check .
ruff format --check .
mypy
# The code location loads as Dagster's dg CLI sees it (a throwaway instance: no database;
# its dagster.yaml only turns telemetry off, which dg reads from there).
dg_home="$(mktemp -d)"
printf 'telemetry:\n  enabled: false\n' > "$dg_home/dagster.yaml"
DAGSTER_HOME="$dg_home" dg check defs
pytest "$@"
