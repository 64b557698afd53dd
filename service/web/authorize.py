"""The authorization code flow's pages (Oro's paths): GET/POST .../oauth2-token/authorize
(login, consent, the redirect with a code), GET /oauth2-token/authorize-visitor, and POST
.../oauth2-token/logout. They work without JavaScript; every form carries a CSRF token."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from aiohttp import web

from service.oauth.authorize import AUTHORIZE, VISITOR, AuthorizationRequest, PageError, Redirect
from service.oauth.entities import LoginSession
from service.oauth.errors import (
    AccountDisabled,
    AccountLocked,
    InvalidCredentials,
    StoreError,
    TemporarilyUnavailable,
    TooManyRequests,
)
from service.oauth.model import Audience, SubjectKind
from service.oauth.owners import Grantee
from service.oauth.protection import Admission
from service.web.appkeys import AUTHORIZER, LOGIN_SESSIONS, SETTINGS
from service.web.middleware import caller
from service.web.pages import error_page, redirect, render
from service.web.token import FORM, media_type, read_body

log = logging.getLogger(__name__)
LOGOUT = "/oauth2-token/logout"
# Form fields of the pages themselves, never parameters of the authorize request.
CONTROLS = frozenset({"_csrf_token", "username", "password", "grantAccess"})
LOGIN_FAILED = "The login or password is not right, or this account cannot sign in now."
FORM_EXPIRED = "The form expired. Please try again."
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _prefix(request: web.Request, audience: Audience) -> str:
    return (
        request.app[SETTINGS].authorize.backoffice_prefix if audience is Audience.BACKOFFICE else ""
    )


def _cookie(audience: Audience) -> str:
    return "oauth_admin_session" if audience is Audience.BACKOFFICE else "oauth_session"


def _set_cookie(
    request: web.Request, response: web.StreamResponse, audience: Audience, session_id: str
) -> None:
    settings = request.app[SETTINGS]
    response.set_cookie(
        _cookie(audience),
        session_id,
        max_age=settings.authorize.session_lifetime,
        # Only the flow's own paths see it: never the APIs, never the other audience's pages.
        path=f"{_prefix(request, audience)}/oauth2-token",
        httponly=True,
        samesite="Lax",
        secure=settings.tokens.issuer.startswith("https://"),
    )


async def _form(request: web.Request) -> dict[str, str]:
    """A posted form's fields, the first of each name. The pages post urlencoded forms; a
    body of any other type is no form of theirs (its CSRF token is then missing)."""
    raw = await read_body(request)
    if media_type(request) != FORM or not raw:
        return {}
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    return form


def _params(request: web.Request, form: dict[str, str] | None) -> dict[str, str]:
    """The authorize request's parameters: the query's, and a posted form's that the query
    lacks (a request may be posted, RFC 6749 §3.1). Repeated ones are refused (§3.1)."""
    params: dict[str, str] = {}
    for key, value in request.query.items():
        if key in params:
            raise PageError(f"The parameter {key} is repeated.")
        params[key] = value
    for key, value in (form or {}).items():
        if key not in CONTROLS and key not in params:
            params[key] = value
    return params


class Page:
    """One authorize request of one browser, as the handler works it through."""

    def __init__(
        self,
        request: web.Request,
        audience: Audience,
        auth: AuthorizationRequest,
        session_id: str,
        session: LoginSession,
    ) -> None:
        self.request = request
        self.audience = audience
        self.auth = auth
        self.session_id = session_id
        self.session = session

    def _finish(self, response: web.StreamResponse) -> web.StreamResponse:
        _set_cookie(self.request, response, self.audience, self.session_id)
        return response

    def login(
        self, error: str | None = None, status: int = 200, username: str = ""
    ) -> web.Response:
        backoffice = self.audience is Audience.BACKOFFICE
        response = render(
            self.request,
            "login.html",
            {
                "client_name": self.auth.client.name,
                "action": self.request.path_qs,
                "csrf_token": self.session.csrf,
                "username_label": "Username or email" if backoffice else "Email",
                "username_type": "text" if backoffice else "email",
                "username": username,
                "error": error,
            },
            status,
            self.auth.redirect_uri,
        )
        self._finish(response)
        return response

    def consent(self, error: str | None = None, status: int = 200) -> web.Response:
        subject = self.session.subject
        assert subject is not None
        response = render(
            self.request,
            "consent.html",
            {
                "client_name": self.auth.client.name,
                "action": self.request.path_qs,
                "logout_action": _prefix(self.request, self.audience) + LOGOUT,
                "csrf_token": self.session.csrf,
                "subject": subject.name,
                "scopes": self.auth.scopes,
                "error": error,
            },
            status,
            self.auth.redirect_uri,
        )
        self._finish(response)
        return response

    async def code(self, grantee: Grantee, after_post: bool) -> web.StreamResponse:
        authorizer = self.request.app[AUTHORIZER]
        location = await authorizer.grant(self.auth, grantee, caller(self.request))
        return self._finish(redirect(location, after_post))

    def deny(self) -> web.StreamResponse:
        return self._finish(redirect(self.request.app[AUTHORIZER].deny(self.auth), True))


async def _logged_in(page: Page) -> Grantee | None:
    subject = page.session.subject
    if (
        subject is None
        or subject.kind is SubjectKind.VISITOR
        or subject.audience is not page.audience
    ):
        return None
    return await page.request.app[AUTHORIZER].current(Grantee(subject, page.session.generation))


async def _log_in(page: Page, form: dict[str, str]) -> web.StreamResponse:
    username = form.get("username") or ""
    try:
        grantee = await page.request.app[AUTHORIZER].log_in(
            page.audience, username, form.get("password") or "", Admission(caller(page.request))
        )
    except TooManyRequests as exc:
        response = page.login(LOGIN_FAILED, 429, username)
        response.headers.update(exc.headers)
        return response
    except (InvalidCredentials, AccountLocked, AccountDisabled):
        return page.login(LOGIN_FAILED, 400, username)
    page.session_id, page.session = await page.request.app[LOGIN_SESSIONS].log_in(
        page.session_id, grantee
    )
    if page.auth.client.skip_consent:
        return await page.code(grantee, after_post=True)
    return page.consent()


async def _respond(request: web.Request, audience: Audience) -> web.StreamResponse:
    form = await _form(request) if request.method == "POST" else None
    try:
        auth = await request.app[AUTHORIZER].validate(_params(request, form), audience)
    except PageError as exc:
        return error_page(request, str(exc))
    except Redirect as exc:
        return redirect(exc.location, after_post=form is not None)
    sessions = request.app[LOGIN_SESSIONS]
    session_id, session = await sessions.open(request.cookies.get(_cookie(audience)))
    page = Page(request, audience, auth, session_id, session)
    grantee = await _logged_in(page)
    if form is None:
        if grantee is None:
            return page.login()
        if auth.client.skip_consent:
            return await page.code(grantee, after_post=False)
        return page.consent()
    if not sessions.csrf_ok(session, form.get("_csrf_token")):
        return page.login(FORM_EXPIRED, 403) if grantee is None else page.consent(FORM_EXPIRED, 403)
    if grantee is None:
        return await _log_in(page, form)
    grant_access = form.get("grantAccess")
    if grant_access == "true":
        return await page.code(grantee, after_post=True)
    if grant_access == "false":
        return page.deny()
    return page.consent()  # e.g. the login form posted twice: the session is logged in


def _pages(audience: Audience) -> Handler:
    async def authorize(request: web.Request) -> web.StreamResponse:
        try:
            return await _respond(request, audience)
        except StoreError as exc:
            log.warning("authorize page unavailable: %s", exc)
            return error_page(request, TemporarilyUnavailable.message, 503)

    return authorize


async def authorize_visitor(request: web.Request) -> web.StreamResponse:
    """A code for a new storefront visitor, without a login (Oro's authorizeVisitorAction)."""
    authorizer = request.app[AUTHORIZER]
    try:
        auth = await authorizer.validate(_params(request, None), Audience.STOREFRONT)
        location = await authorizer.visitor(auth, Admission(caller(request)))
    except PageError as exc:
        return error_page(request, str(exc))
    except Redirect as exc:
        return redirect(exc.location, after_post=False)
    except TooManyRequests as exc:
        unavailable = TemporarilyUnavailable(hint="Too many visitors from this address")
        response = redirect(Redirect(unavailable, auth.redirect_uri, auth.state).location, False)
        response.headers.update(exc.headers)
        return response
    except StoreError as exc:
        log.warning("visitor authorize unavailable: %s", exc)
        return error_page(request, TemporarilyUnavailable.message, 503)
    return redirect(location, after_post=False)


def _logout(audience: Audience) -> Handler:
    async def logout(request: web.Request) -> web.StreamResponse:
        form = await _form(request)
        sessions = request.app[LOGIN_SESSIONS]
        session_id = request.cookies.get(_cookie(audience))
        try:
            session = await sessions.find(session_id)
            if session_id and session is not None:
                if not sessions.csrf_ok(session, form.get("_csrf_token")):
                    return error_page(request, FORM_EXPIRED, 403)
                await sessions.log_out(session_id)
        except StoreError as exc:
            log.warning("logout unavailable: %s", exc)
            return error_page(request, TemporarilyUnavailable.message, 503)
        response = render(request, "logged_out.html", {})
        response.del_cookie(_cookie(audience), path=f"{_prefix(request, audience)}/oauth2-token")
        return response

    return logout


def routes(backoffice_prefix: str) -> list[web.AbstractRouteDef]:
    storefront, backoffice = _pages(Audience.STOREFRONT), _pages(Audience.BACKOFFICE)
    return [
        web.get(AUTHORIZE, storefront),
        web.post(AUTHORIZE, storefront),
        web.get(backoffice_prefix + AUTHORIZE, backoffice),
        web.post(backoffice_prefix + AUTHORIZE, backoffice),
        web.get(VISITOR, authorize_visitor),
        web.post(LOGOUT, _logout(Audience.STOREFRONT)),
        web.post(backoffice_prefix + LOGOUT, _logout(Audience.BACKOFFICE)),
    ]
