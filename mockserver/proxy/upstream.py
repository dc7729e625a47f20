"""The connection to the target: aiohttp's client, with a keep-alive pool.

Measured on loopback (`bench/`, section 10), aiohttp spends a fifth of the CPU time per exchange that httpx, or
httpcore beneath it, does; that time is what the proxy adds to every call. The client is set to change nothing:
no headers of its own, bodies not decompressed, the path sent as it came, no cookies kept between exchanges. An
HTTP(S) proxy named in the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) is honoured.
"""

from __future__ import annotations

import urllib.request
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

MAX_CONNECTIONS = 100
# What aiohttp would add of its own to a request that lacks them: the client's request goes as it was sent.
NOT_ADDED = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


class Unanswered(Exception):
    """The target did not answer: `timed_out` says whether it was too slow, else it could not be reached."""

    def __init__(self, problem: str, timed_out: bool) -> None:
        super().__init__(problem)
        self.timed_out = timed_out


def environment_proxy(target: str) -> str | None:
    """The HTTP(S) proxy the environment names for the target, if any; looked up once (aiohttp's own
    `trust_env` looks in a thread for every request)."""
    parts = urlsplit(target)
    found = urllib.request.getproxies().get(parts.scheme)
    if not found or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return found


class Upstream:
    def __init__(self, target: str, timeout: float, max_answer_bytes: int) -> None:
        self.target = target.rstrip("/")
        self.timeout = timeout
        self.max_answer_bytes = max_answer_bytes
        self._session: aiohttp.ClientSession | None = None
        self.via = environment_proxy(self.target)

    def session(self) -> aiohttp.ClientSession:
        """The client, made on first use (on the event loop that serves the proxy)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS, keepalive_timeout=30.0),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                auto_decompress=False,
                skip_auto_headers=NOT_ADDED,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def send(
        self, method: str, path_and_query: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """The target's status, headers and body bytes, as it sent them."""
        url = URL(self.target + path_and_query, encoded=True)  # as the client escaped it
        sent = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers]
        try:
            async with self.session().request(
                method, url, headers=sent, data=body or None, allow_redirects=False, compress=None, proxy=self.via
            ) as response:
                chunks, size = [], 0
                async for chunk in response.content.iter_any():
                    size += len(chunk)
                    if size > self.max_answer_bytes:
                        raise Unanswered(f"an answer larger than {self.max_answer_bytes} bytes", False)
                    chunks.append(chunk)
                return response.status, list(response.raw_headers), b"".join(chunks)
        except TimeoutError as error:
            raise Unanswered(f"no answer within --timeout {self.timeout:g} s ({type(error).__name__})", True) from None
        except (aiohttp.ClientError, OSError) as error:
            raise Unanswered(f"{type(error).__name__}: {error}".rstrip(": "), False) from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
