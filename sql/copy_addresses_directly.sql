COPY addresses (user_id, position, street, city, state, zip_code, country) FROM STDIN
