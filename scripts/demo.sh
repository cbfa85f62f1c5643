#!/usr/bin/env bash
# The main job, end to end on a bare machine: PostgreSQL (embedded unless DATABASE_URL is
# set) -> migrations -> a generated 100,000-user file -> import through Dagster -> summary.
set -euo pipefail
source "$(dirname "$0")/venv.sh"
USERS="${DEMO_USERS:-100000}"
export IMPORT_BASE_DIR="${IMPORT_BASE_DIR:-$ROOT/data}"
mkdir -p "$IMPORT_BASE_DIR"
user-import migrate
user-import generate "$USERS" --out "$IMPORT_BASE_DIR/sample_users.json" --seed 42 --invalid-rate 0.01
user-import run sample_users.json
cat <<TXT

Imported. The run is in Dagster's history; to look at it in the UI:
  .venv/bin/user-import dagster dev     # then open http://127.0.0.1:3000
TXT
