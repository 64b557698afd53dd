"""Re-reading the keys folder while serving, so that a rotated key starts verifying and a
retired one stops, without a restart. It must outlive any error: a reload that stopped for
good would leave a retired (perhaps leaked) key signing until the next restart."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

from service import metrics
from service.oauth import keys
from service.oauth.keys import KeyRing
from service.oauth.tokens import TokenCodec

log = logging.getLogger(__name__)


class KeyReloader:
    """Loads the folder again when it changed; remembers when it last read it whole."""

    def __init__(
        self,
        codec: TokenCodec,
        folder: str | Path,
        activation_delay: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._codec = codec
        self._folder = folder
        self._delay = activation_delay
        self._clock = clock
        self._seen = keys.fingerprint(folder)
        self._skipped: frozenset[str] = frozenset()
        self._succeeded(self._clock())  # the codec's ring was loaded just before

    @property
    def last_success(self) -> float:
        """When a reload last went through (UNIX time); skipping an entry does not stop one."""
        return self._last_success

    def _succeeded(self, when: float) -> None:
        self._last_success = when
        metrics.keys_last_reload().set(when)

    async def reload(self) -> None:
        """Raises KeyFileError when no key could be used (the keys in use stay)."""
        # Parsing an RSA key takes tens of milliseconds: only when the folder changed, and
        # off the event loop.
        current = await asyncio.to_thread(keys.fingerprint, self._folder)
        if current != self._seen:
            skipped: list[str] = []
            try:
                ring = await asyncio.to_thread(
                    KeyRing.load, self._folder, self._delay, lambda exc: skipped.append(str(exc))
                )
            finally:
                # One line per entry and problem, while it lasts; no traceback: the message
                # names the file and what is wrong with it.
                for problem in skipped:
                    if problem not in self._skipped:
                        log.warning("key reload skipped an entry: %s", problem)
                self._skipped = frozenset(skipped)
            self._seen = current
            if ring.kids != self._codec.keys.kids:
                self._codec.use(ring)
                log.info("signing keys reloaded: %d keys", len(ring.keys))
        self._succeeded(self._clock())
