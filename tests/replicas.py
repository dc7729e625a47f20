"""Replicas of one sandbox: several `lcphone serve` processes on one PostgreSQL database, started at once."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from mockserver.serve.process import ServeProcess


def start_replicas(serve: Callable[..., ServeProcess], url: str, count: int, *args: str) -> list[ServeProcess]:
    """`count` replicas with `--state url`, all starting at the same moment (as after a deploy)."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: serve("--state", url, *args), range(count)))
