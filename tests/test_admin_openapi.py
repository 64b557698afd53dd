"""The admin API's OpenAPI document matches its listener: every admin route is documented
and every documented route exists, the listener serves the document, and schemathesis
finds no failure (no 5xx, no undocumented status or body) against a live admin listener."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from service.app import create_admin_app, create_app
from service.config import Settings
from service.web.admin.openapi import document
from tests.servers import apps_in_thread
from tests.test_openapi import live_settings, seed

SCHEMA = schemathesis.openapi.from_dict(document())


@pytest.fixture(scope="module")
def admin_base(
    database_url: str, redis_url: str, keys_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A live admin listener (on loopback: no token needed) beside the app whose stores it
    uses, with a keys folder of its own: schemathesis adds and retires keys."""
    keys = tmp_path_factory.mktemp("admin-keys")
    shutil.copytree(keys_dir, keys, dirs_exist_ok=True)
    config = live_settings(database_url, redis_url, keys)
    main = create_app(config)
    with apps_in_thread(main, create_admin_app(main), then=lambda: seed(config)) as (bases, _):
        yield bases[1]


def test_every_admin_route_is_documented_and_every_documented_route_exists(
    settings: Settings,
) -> None:
    served = set()
    for route in create_admin_app(create_app(settings)).router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info() if route.resource else {}
        served.add((route.method.lower(), info.get("path") or info.get("formatter", "")))
    documented = {(method, path) for path, item in document()["paths"].items() for method in item}
    assert served == documented


def test_the_admin_listener_serves_its_document(admin_base: str) -> None:
    response = httpx2.get(f"{admin_base}/openapi.json")
    assert response.status_code == 200
    assert response.json() == document()
    assert response.json()["openapi"].startswith("3.1")


@SCHEMA.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_schemathesis(case: Any, admin_base: str) -> None:
    # Valid-looking but random values name nothing (no such id, owner or key), so "schema-
    # valid input is accepted" does not hold; and on loopback the operator needs no token
    # by design (the tokens off loopback: tests/web/test_admin_api.py). Every other check
    # holds.
    case.call_and_validate(
        base_url=admin_base, excluded_checks=[positive_data_acceptance, ignored_auth]
    )
