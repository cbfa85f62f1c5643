CREATE TABLE import_jobs (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_path         text NOT NULL,
    status              text NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    -- How far the merge got; each phase is recorded in the transaction that does its writes.
    phase               text NOT NULL DEFAULT 'pending'
                        CHECK (phase IN ('pending', 'users_staged', 'addresses_staged',
                                         'users_merged', 'addresses_replaced')),
    progress_processed  bigint NOT NULL DEFAULT 0,
    progress_total      bigint,
    imported_count      bigint NOT NULL DEFAULT 0,
    updated_count       bigint NOT NULL DEFAULT 0,
    unchanged_count     bigint NOT NULL DEFAULT 0,
    skipped_count       bigint NOT NULL DEFAULT 0,
    failed_count        bigint NOT NULL DEFAULT 0,
    attempts            int NOT NULL DEFAULT 0,
    max_attempts        int NOT NULL DEFAULT 3,
    error_message       text,
    heartbeat_at        timestamptz,
    lease_expires_at    timestamptz,
    lease_owner         text,
    started_at          timestamptz,
    finished_at         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    bytes_total         bigint,
    bytes_processed     bigint NOT NULL DEFAULT 0,
    dagster_run_id      text,
    dagster_root_run_id text,
    -- Identity of the bytes that were staged, to refuse restaging a file that changed.
    source_sha256       text,
    staged_users        bigint,
    staged_addresses    bigint
);

CREATE INDEX import_jobs_status_idx ON import_jobs (status);
CREATE INDEX import_jobs_root_run_idx ON import_jobs (dagster_root_run_id);

CREATE TABLE import_job_errors (
    job_id     uuid NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
    row_index  bigint NOT NULL,
    code       text NOT NULL,
    message    text NOT NULL,
    -- An earlier row for the same identity: skipped, but not an error (CONTRACT §4).
    superseded boolean NOT NULL DEFAULT false,
    phase      text NOT NULL CHECK (phase IN ('stage', 'merge')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, row_index)
);
