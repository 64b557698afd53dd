"""A real browser for the page tests: Debian's headless Chromium driven by Selenium, a local
redirect target that records what the service sent the browser to, PKCE pairs and
screenshots.

Selenium Manager is never asked for anything: it would download a driver and a browser
when it cannot find them. Given the driver's path, Selenium skips it, so the tests use the
packages the machine has (`apt-get install chromium chromium-driver`) or skip."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

ROOT = Path(__file__).parent.parent
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
# Kept after the run (var/ is not in git); CI need not keep them.
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR", ROOT / "var" / "screenshots"))
WAIT = 15.0  # seconds for a page to appear; generous on two shared cores


@contextlib.contextmanager
def chromium() -> Iterator[WebDriver]:
    """Headless Chromium, or a skip saying what is missing."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.skip(f"no {', '.join(missing)} (Debian: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    # --no-sandbox: Chromium's sandbox refuses to start as root, which CI runs as.
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    options.add_argument("--window-size=720,680")  # the pages fit; small screenshots
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: WebDriver, css: str) -> WebElement:
    element: WebElement = WebDriverWait(driver, WAIT).until(
        expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, css))
    )
    return element


def screenshot(driver: WebDriver, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert driver.save_screenshot(str(path)), f"no screenshot of {name}"
    return path


@dataclass(frozen=True)
class Pkce:
    """RFC 7636 S256: the app keeps the verifier, the authorize URL carries the challenge."""

    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class RedirectTarget:
    """The client's redirect URI: a tiny HTTP server on 127.0.0.1 that records the query of
    every request it gets and answers with a page saying so."""

    def __init__(self) -> None:
        self.queries: list[dict[str, str]] = []
        received = self.queries

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                received.append({k: v[0] for k, v in query.items()})
                body = b"<!doctype html><title>Redirect target</title><h1>Back at the app</h1>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # the query carries codes: keep them out of the test output

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/callback"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> RedirectTarget:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def query_with(self, state: str) -> dict[str, str]:
        """The query of the request that carried `state` (the browser may still be on its
        way: the redirect target is the last hop)."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            found = [q for q in self.queries if q.get("state") == state]
            if found:
                assert len(found) == 1, f"the redirect target was called {len(found)} times"
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"the browser never reached the redirect target: {self.queries}")
