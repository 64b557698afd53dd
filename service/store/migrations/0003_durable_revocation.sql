-- Revocations that outlive a Redis fault, and no back-office user that looks like a guest.

-- Bumped by every owner-wide revocation (disable, new password, `tokens revoke`); a token
-- carries the generation it was issued under, and a refresh of an older one is refused.
ALTER TABLE users ADD COLUMN token_generation bigint NOT NULL DEFAULT 0;
ALTER TABLE customer_users ADD COLUMN token_generation bigint NOT NULL DEFAULT 0;

-- Refresh tokens of the client issued up to this unix second are refused (deactivation,
-- `tokens revoke --client`); Redis keeps the same marker for the hot path.
ALTER TABLE oauth_clients ADD COLUMN revoked_before bigint;

-- Logins revoked one at a time (RFC 7009 revocation of a refresh token, reuse detection).
-- A row is needed only while a refresh token of the family could still be presented.
CREATE TABLE revoked_families (
    family text PRIMARY KEY CHECK (length(family) BETWEEN 1 AND 64),
    until  timestamptz NOT NULL
);
CREATE INDEX revoked_families_until ON revoked_families (until);

-- "visitor:" subjects belong to storefront guests. (A database that has such a user stops
-- here: rename it first, e.g. UPDATE users SET username = 'x-' || username WHERE ...)
ALTER TABLE users ADD CONSTRAINT users_username_not_visitor
    CHECK (username NOT LIKE 'visitor:%');
