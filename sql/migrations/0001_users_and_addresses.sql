CREATE TABLE users (
    id           uuid PRIMARY KEY,
    external_id  text UNIQUE,
    name         varchar(255) NOT NULL,
    email        varchar(320) NOT NULL,
    phone_number varchar(32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Emails are unique case-insensitively; the stored value keeps the case given.
CREATE UNIQUE INDEX users_lower_email_key ON users (lower(email));

CREATE TABLE addresses (
    id         bigserial PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position   int NOT NULL,
    street     varchar(255) NOT NULL,
    city       varchar(120) NOT NULL,
    state      varchar(120) NOT NULL,
    zip_code   varchar(20) NOT NULL,
    country    varchar(120) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Serves lookups by user_id and keeps each user's list ordered and gap-free.
CREATE UNIQUE INDEX addresses_user_id_position_key ON addresses (user_id, position);
