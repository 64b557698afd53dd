"""The audit trail: one structured log event per issued, refused or revoked token and per
locked account. Callers pass names and ids only, never a password, secret or token."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

log = logging.getLogger("service.audit")


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the web layer established it."""

    address: str
    request_id: str
    # When the request began (unix time): before its client was authenticated, so a client
    # revoked since then may have been seen still active.
    started: float = field(default_factory=time.time)


def audit(event: str, caller: Caller | None = None, **fields: object) -> None:
    """Log one event; `caller` adds where the request came from and its request id."""
    if caller is not None:
        fields.update(address=caller.address, request_id=caller.request_id)
    log.info(event, extra={"audit": {k: v for k, v in fields.items() if v is not None}})
