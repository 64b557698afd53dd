"""Running the HTTP server: N workers on one port, under service.supervisor, with the
access log of service.web.access."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from service import metrics, supervisor
from service.config import Settings
from service.oauth.keys import KeyRing
from service.web.access import AccessLogger

log = logging.getLogger("service")


def serve(settings: Settings) -> None:
    """N worker processes on one port under gunicorn (service.supervisor). Their metrics go
    to files in one folder, summed by whichever worker answers /metrics."""
    # Before any worker starts: a bad keys folder is one `error:` line (KeyFileError), not
    # a traceback from each worker.
    KeyRing.load(settings.tokens.keys_dir, settings.tokens.key_activation_delay)
    workers = settings.server.workers or os.cpu_count() or 1
    given = os.environ.get(metrics.MULTIPROC_ENV)
    folder = Path(given or tempfile.mkdtemp(prefix="oauth-metrics-"))
    metrics.use_directory(folder)
    try:
        supervisor.run(settings, AccessLogger, workers)
    finally:
        if not given:
            shutil.rmtree(folder, ignore_errors=True)
