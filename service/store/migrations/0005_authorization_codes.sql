-- The authorization code grant (issue 14): clients' redirect URIs and Oro's per-client
-- flags, and the visitor a customer user was before logging in on the authorize page.

ALTER TABLE oauth_clients DROP CONSTRAINT IF EXISTS oauth_clients_grants_check;
ALTER TABLE oauth_clients ADD CONSTRAINT oauth_clients_grants_check
    CHECK (grants <@ ARRAY['password', 'refresh_token', 'client_credentials',
                           'authorization_code']);

-- Compared as exact strings with the authorize request's redirect_uri.
ALTER TABLE oauth_clients ADD COLUMN redirect_uris text[] NOT NULL DEFAULT '{}'
    CHECK (cardinality(redirect_uris) <= 20);
-- Oro's "skip authorization": no consent page for this client.
ALTER TABLE oauth_clients ADD COLUMN skip_consent boolean NOT NULL DEFAULT false;
-- Oro's per-client flag: code_challenge_method=plain accepted (S256 always is).
ALTER TABLE oauth_clients ADD COLUMN allow_plain_pkce boolean NOT NULL DEFAULT false;
-- A code can only go back to a registered redirect URI.
ALTER TABLE oauth_clients ADD CONSTRAINT oauth_clients_code_needs_redirect
    CHECK (NOT 'authorization_code' = ANY (grants) OR cardinality(redirect_uris) >= 1);

-- Set when a customer user logs in on the authorize page with this visitor's access token
-- (visitor_access_token): a storefront carries the guest's cart over.
ALTER TABLE customer_visitors ADD COLUMN customer_user_id bigint
    REFERENCES customer_users (id) ON DELETE SET NULL;
ALTER TABLE customer_visitors ADD COLUMN converted_at timestamptz;
