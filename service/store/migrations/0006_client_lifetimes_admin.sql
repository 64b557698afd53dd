-- Per-client token lifetimes (NULL: config.yml's), and admin clients: their
-- client_credentials tokens carry the `admin` scope the admin API asks for.
ALTER TABLE oauth_clients
    ADD COLUMN access_token_lifetime integer CHECK (access_token_lifetime > 0),
    ADD COLUMN refresh_token_lifetime integer CHECK (refresh_token_lifetime > 0),
    ADD COLUMN admin boolean NOT NULL DEFAULT false,
    -- An admin client acts as its owner, a back-office user, with its own secret.
    ADD CONSTRAINT oauth_clients_admin_client_credentials
        CHECK (NOT admin OR (audience = 'backoffice' AND 'client_credentials' = ANY (grants)));
