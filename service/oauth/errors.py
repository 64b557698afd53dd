"""One exception per RFC 6749 error code, with league/oauth2-server's messages; the errors
any storage may raise; and `classify`, the one mapping of an error to what answers it."""

from __future__ import annotations


class OAuthError(Exception):
    error = "server_error"
    status = 500
    message = "The authorization server encountered an unexpected condition."

    def __init__(self, hint: str | None = None, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.hint = hint
        if message:
            self.message = message
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, str]:
        body = {"error": self.error, "error_description": self.message, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        return body


class InvalidRequest(OAuthError):
    error = "invalid_request"
    status = 400
    message = (
        "The request is missing a required parameter, includes an invalid parameter value, "
        "includes a parameter more than once, or is otherwise malformed."
    )

    @classmethod
    def parameter(cls, name: str) -> InvalidRequest:
        return cls(hint=f"Check the `{name}` parameter")


class InvalidClient(OAuthError):
    error = "invalid_client"
    status = 401
    message = "Client authentication failed"

    def __init__(self, *, basic: bool = False) -> None:
        super().__init__()
        if basic:
            self.headers["WWW-Authenticate"] = 'Basic realm="OAuth"'


class InvalidGrant(OAuthError):
    error = "invalid_grant"
    status = 400
    message = (
        "The provided authorization grant (e.g., authorization code, resource owner "
        "credentials) or refresh token is invalid, expired, revoked, does not match the "
        "redirection URI used in the authorization request, or was issued to another client."
    )


class InvalidCredentials(InvalidGrant):
    """A wrong password, or no such user: one answer for both."""

    message = "The user credentials were incorrect."


class AccountDisabled(InvalidGrant):
    """Told only after the right password, with league's generic text, as Oro answers."""

    def __init__(self) -> None:
        super().__init__(hint="Account is disabled.")


class AccountLocked(InvalidGrant):
    """Too many wrong passwords: refused whatever the password, with league's generic text."""

    def __init__(self) -> None:
        super().__init__(hint="Account is locked.")


class InvalidScope(OAuthError):
    error = "invalid_scope"
    status = 400
    message = "The requested scope is invalid, unknown, or malformed"

    def __init__(self, scope: str | None = None, *, hint: str | None = None) -> None:
        """`scope`: the one at fault (league's hint names it); else `hint` as given."""
        super().__init__(hint=f"Check the `{scope}` scope" if scope is not None else hint)


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"
    status = 400
    message = "The authorization grant type is not supported by the authorization server."


class UnauthorizedClient(OAuthError):
    """A known client with a valid redirect URI that may not use the authorization code."""

    error = "unauthorized_client"
    status = 400
    message = "The client is not authorized to request an authorization code using this method."


class UnsupportedResponseType(OAuthError):
    error = "unsupported_response_type"
    status = 400
    message = (
        "The authorization server does not support obtaining an authorization code using "
        "this method."
    )


class AccessDenied(OAuthError):
    error = "access_denied"
    status = 401
    message = "The resource owner or authorization server denied the request."


class TemporarilyUnavailable(OAuthError):
    error = "temporarily_unavailable"
    status = 503
    message = "The service is temporarily unavailable. Please try again later."


class TooManyRequests(OAuthError):
    error = "too_many_requests"
    status = 429
    message = "Too many requests. Try again later."

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.headers["Retry-After"] = str(retry_after)


class InvalidValue(InvalidRequest):
    """A value the store refused that got past the checks in front of it: still the
    caller's input, so a 400 that names nothing."""


class PayloadTooLarge(InvalidRequest):
    """A body over the server's limit (413, league's shape, no hint)."""

    status = 413
    message = "Request Entity Too Large"


class StoreError(Exception):
    """A storage failure. Implementations of service.oauth.ports raise these, never their
    driver's exceptions."""


class StoreUnavailable(StoreError):
    """Postgres or Redis cannot be reached (or answered too slowly)."""


class Conflict(StoreError):
    """A row with the same unique key exists."""


class Invalid(StoreError):
    """The database refused the values (a CHECK or foreign key constraint)."""


def classify(exc: BaseException) -> OAuthError:
    """The OAuth error that answers `exc`: its status, its body, and the outcome label that
    metrics and the audit log count it under (`error`). Anything unexpected is a
    server_error that reveals nothing."""
    if isinstance(exc, OAuthError):
        return exc
    if isinstance(exc, StoreUnavailable):
        return TemporarilyUnavailable()
    if isinstance(exc, Invalid):
        return InvalidValue()
    return OAuthError()


class InvalidToken(Exception):
    """A bearer token that cannot be accepted (RFC 6750 invalid_token). The reason is for
    logs only; the caller always sees the same answer."""


class TokenExpired(InvalidToken):
    """A token of ours, signature and all, past its `exp` (league's "Token has expired")."""
