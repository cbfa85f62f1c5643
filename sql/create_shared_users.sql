-- The users that rows staged in full find by external id, email or id, gathered batch by
-- batch while the file is read (record_shared_users, restage_shared_proven).
CREATE TEMP TABLE shared_users (user_id uuid NOT NULL) ON COMMIT DROP
