"""The authorize pages' rendering: Jinja2 templates (autoescaped) and the headers every
page and redirect of the flow carries."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import web

STYLESHEET = "/oauth2-token/assets/pages.css"
# A redirect URI's origin may go into the CSP only if nothing in it can end the directive.
_SAFE_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9.\-:\[\]]+")
_SAFE_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_CSS = (resources.files("service.web") / "static" / "pages.css").read_bytes()


def form_target(redirect_uri: str | None) -> str:
    """The CSP source of the client's redirect URI. Browsers apply `form-action` to the
    redirect that follows a form's post too (the login with skip-consent, Allow, Deny),
    so the client's origin must be allowed beside 'self'; an app's own scheme
    (com.example.app:/cb) is allowed as a scheme."""
    if not redirect_uri:
        return ""
    parts = urlsplit(redirect_uri)
    if parts.scheme in ("http", "https"):
        origin = f"{parts.scheme}://{parts.netloc}"
        return f" {origin}" if _SAFE_ORIGIN.fullmatch(origin) else ""
    return f" {parts.scheme}:" if _SAFE_SCHEME.fullmatch(parts.scheme) else ""


def secure_headers(response: web.StreamResponse, redirect_uri: str | None = None) -> None:
    response.headers.update(
        {
            "Content-Security-Policy": (
                "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
                f"form-action 'self'{form_target(redirect_uri)}; frame-ancestors 'none'"
            ),
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
            "Pragma": "no-cache",
        }
    )


def render(
    request: web.Request,
    template: str,
    context: dict[str, Any],
    status: int = 200,
    redirect_uri: str | None = None,
) -> web.Response:
    response = aiohttp_jinja2.render_template(
        template, request, {"stylesheet": STYLESHEET, **context}, status=status
    )
    secure_headers(response, redirect_uri)
    return response


def error_page(request: web.Request, message: str, status: int = 400) -> web.Response:
    title = "This request cannot continue" if status < 500 else "Please try again later"
    return render(request, "error.html", {"title": title, "message": message}, status)


def redirect(location: str, after_post: bool) -> web.Response:
    # 303 after a post: the browser follows with a GET, never re-posting the form.
    response = web.Response(status=303 if after_post else 302, headers={"Location": location})
    secure_headers(response)
    return response


async def stylesheet(request: web.Request) -> web.Response:
    return web.Response(
        body=_CSS, content_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
    )


def setup(app: web.Application) -> None:
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("service.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    app.router.add_get(STYLESHEET, stylesheet)
