#!/usr/bin/env bash
# The main job, end to end on a bare machine: PostgreSQL (embedded unless DATABASE_URL is
# set) -> migrations -> a generated 100,000-user file -> import through Dagster -> summary.
# Files are resolved in IMPORT_BASE_DIR (default: the repository), as for the Dagster stack
# started from here, so the same paths work in both.
set -euo pipefail
source "$(dirname "$0")/venv.sh"
USERS="${DEMO_USERS:-100000}"
user-import migrate
user-import generate "$USERS" --out data/sample_users.json --seed 42 --invalid-rate 0.01
user-import run data/sample_users.json
cat <<TXT

Imported. The run is in Dagster's history; to look at it, and import the file again
through the queue (every user unchanged this time):
  source .venv/bin/activate
  user-import dg dev                               # UI on http://127.0.0.1:3000
  user-import submit data/sample_users.json --wait # in another shell
TXT
