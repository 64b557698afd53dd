-- Back-office users, storefront customer users and visitors, OAuth clients.

CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      text NOT NULL CHECK (length(username) BETWEEN 1 AND 255),
    email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 255 AND email LIKE '%_@_%'),
    first_name    text NOT NULL DEFAULT '',
    last_name     text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    enabled       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_key ON users (username);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE customer_users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- A customer user's token subject is its email; "visitor:" subjects belong to guests.
    email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 255 AND email LIKE '%_@_%'
                                       AND email NOT LIKE 'visitor:%'),
    first_name    text NOT NULL DEFAULT '',
    last_name     text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    enabled       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
-- Customer users log in with their email, case-insensitively: one row per folded email.
CREATE UNIQUE INDEX customer_users_email_key ON customer_users (lower(email));

CREATE TABLE customer_visitors (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id text NOT NULL UNIQUE CHECK (session_id ~ '^[0-9a-f]{20}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- After this instant no token of the visitor can be refreshed; cleanup removes the row.
    expires_at timestamptz NOT NULL
);
CREATE INDEX customer_visitors_expires_at ON customer_visitors (expires_at);

CREATE TABLE oauth_clients (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id              text NOT NULL UNIQUE CHECK (length(client_id) BETWEEN 1 AND 128),
    -- SHA-256 of the generated secret (>= 256 bits of entropy); NULL for public clients.
    secret_digest          bytea CHECK (secret_digest IS NULL OR length(secret_digest) = 32),
    name                   text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    audience               text NOT NULL CHECK (audience IN ('backoffice', 'storefront')),
    grants                 text[] NOT NULL DEFAULT '{password,refresh_token}'
        CHECK (grants <@ ARRAY['password', 'refresh_token', 'client_credentials']),
    active                 boolean NOT NULL DEFAULT true,
    confidential           boolean NOT NULL DEFAULT true,
    -- Resource servers may introspect every client's tokens; other clients only their own.
    can_introspect         boolean NOT NULL DEFAULT false,
    owner_user_id          bigint REFERENCES users (id) ON DELETE CASCADE,
    owner_customer_user_id bigint REFERENCES customer_users (id) ON DELETE CASCADE,
    created_at             timestamptz NOT NULL DEFAULT now(),
    CHECK (confidential = (secret_digest IS NOT NULL)),
    CHECK (owner_user_id IS NULL OR audience = 'backoffice'),
    CHECK (owner_customer_user_id IS NULL OR audience = 'storefront'),
    CHECK (num_nonnulls(owner_user_id, owner_customer_user_id) <= 1),
    -- client_credentials tokens act as the client's owner, and need a secret to get one.
    CHECK (NOT 'client_credentials' = ANY (grants)
           OR (confidential AND num_nonnulls(owner_user_id, owner_customer_user_id) = 1))
);
CREATE INDEX oauth_clients_owner_user ON oauth_clients (owner_user_id)
    WHERE owner_user_id IS NOT NULL;
CREATE INDEX oauth_clients_owner_customer_user ON oauth_clients (owner_customer_user_id)
    WHERE owner_customer_user_id IS NOT NULL;
