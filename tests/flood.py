"""A flood from one address, run as its own process (`python -m tests.flood URL SECONDS
CONNECTIONS BODY`) so that making the load does not slow the test's own client: every
connection POSTs BODY (JSON) to URL again as soon as its answer came. Prints the count of
each status (0: no answer within 10 s) as one JSON object. Loopback only."""

from __future__ import annotations

import asyncio
import collections
import json
import sys
import time
from urllib.parse import urlsplit

import aiohttp


async def flood(url: str, seconds: float, connections: int, body: str) -> dict[int, int]:
    host = urlsplit(url).hostname or ""
    if not host.startswith("127."):
        raise SystemExit(f"refusing to flood {host}: loopback only")
    statuses: collections.Counter[int] = collections.Counter()
    deadline = time.monotonic() + seconds
    headers = {"Content-Type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=10)
    connector = aiohttp.TCPConnector(limit=connections)

    async def one() -> None:
        while time.monotonic() < deadline:
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    statuses[response.status] += 1
            except (aiohttp.ClientError, TimeoutError):
                statuses[0] += 1

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(one() for _ in range(connections)))
    return dict(statuses)


def main() -> None:
    url, seconds, connections, body = sys.argv[1:5]
    counts = asyncio.run(flood(url, float(seconds), int(connections), body))
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
