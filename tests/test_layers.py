"""The layers' direction, as the README's Architecture section draws it: web -> oauth ->
store. The domain imports neither aiohttp nor the store (it owns the ports the store
implements); the web layer reaches the stores only through the domain."""

from __future__ import annotations

import ast
from pathlib import Path

import service

ROOT = Path(service.__file__).parent


def imports(package: str) -> dict[str, set[str]]:
    found = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[str(path.relative_to(ROOT))] = names
    return found


def offending(package: str, *forbidden: str) -> list[str]:
    return sorted(
        f"{module} imports {name}"
        for module, names in imports(package).items()
        for name in names
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    )


def test_the_domain_knows_neither_http_nor_storage() -> None:
    assert offending("oauth", "aiohttp", "service.store", "service.web", "asyncpg", "redis") == []


def test_the_store_never_imports_the_web_layer() -> None:
    assert offending("store", "aiohttp", "service.web") == []


def test_the_web_layer_reaches_storage_only_through_the_domain() -> None:
    assert offending("web", "service.store", "asyncpg", "redis") == []
