"""The audit trail: one structured log event per issued, refused or revoked token and per
locked account. Callers pass names and ids only, never a password, secret or token."""

from __future__ import annotations

import logging

log = logging.getLogger("service.audit")


def audit(event: str, **fields: object) -> None:
    log.info(event, extra={"audit": {k: v for k, v in fields.items() if v is not None}})
