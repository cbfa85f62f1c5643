-- Templates only: each import stages into its own UNLOGGED copy
-- (CREATE UNLOGGED TABLE ... (LIKE stg_users INCLUDING ALL)), so concurrent imports never
-- see each other's rows, get their own planner statistics and are dropped whole.
CREATE UNLOGGED TABLE stg_users (
    row_index     bigint PRIMARY KEY,
    -- Set for a row that failed validation; the other columns are then NULL.
    error_code    text,
    error_message text,
    external_id   text,
    external_uuid uuid,
    name          text,
    email         text,
    phone_number  text,
    has_addresses boolean,
    addresses     jsonb,
    identity      text GENERATED ALWAYS AS (coalesce(external_id, lower(email))) STORED,
    email_lower   text GENERATED ALWAYS AS (lower(email)) STORED
);

CREATE UNLOGGED TABLE stg_addresses (
    row_index bigint NOT NULL,
    position  int NOT NULL,
    street    text NOT NULL,
    city      text NOT NULL,
    state     text NOT NULL,
    zip_code  text NOT NULL,
    country   text NOT NULL,
    PRIMARY KEY (row_index, position)
);
