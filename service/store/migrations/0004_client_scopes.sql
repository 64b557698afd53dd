-- The scopes a client may ask for, as Oro's client `scopes`; NULL: any scope (Oro's
-- behaviour). Each one is a scope-token: not empty, no spaces.
ALTER TABLE oauth_clients ADD COLUMN scopes text[]
    CHECK (scopes IS NULL OR (array_position(scopes, NULL) IS NULL
                              AND NOT '' = ANY (scopes)
                              AND array_to_string(scopes, '') !~ '[[:space:]]'));
