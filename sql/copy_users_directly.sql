COPY users (id, external_id, name, email, phone_number, fingerprint) FROM STDIN
