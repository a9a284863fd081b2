"""A small HTTP/1.1 keep-alive load generator (asyncio streams, no dependencies).

It runs in the benchmark process while uvicorn serves the app in another, so the
two share the machine's cores but not a Python interpreter. Each connection sends
one request at a time and waits for the whole response; latency is measured per
request, from write to the last body byte.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies: list[float]
    failures: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def _load(
    port: int, path: str, tokens: list[str] | None, count: int, concurrency: int, seconds: float
) -> LoadResult:
    latencies: list[float] = []
    failures = 0
    issued = 0
    deadline = time.perf_counter() + seconds

    def request(i: int) -> bytes:
        auth = f"Authorization: Bearer {tokens[i % len(tokens)]}\r\n" if tokens else ""
        return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode("ascii")

    async def worker() -> None:
        nonlocal issued, failures
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while issued < count and time.perf_counter() < deadline:
                i = issued
                issued += 1
                data = request(i)
                start = time.perf_counter()
                writer.write(data)
                status = await _read_response(reader)
                latencies.append(time.perf_counter() - start)
                if status != 200:
                    failures += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return LoadResult(len(latencies), time.perf_counter() - started, latencies, failures)


def load(
    port: int,
    path: str,
    tokens: list[str] | None,
    *,
    count: int,
    concurrency: int = 8,
    seconds: float = 3.0,
) -> LoadResult:
    """Send at most ``count`` requests (or for at most ``seconds``) to 127.0.0.1."""
    return asyncio.run(_load(port, path, tokens, count, concurrency, seconds))
