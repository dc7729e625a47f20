"""Stores that keep the sandbox's state in a database: SQLite (`--state FILE`) and PostgreSQL (`--state
postgresql://...`), over one SQL base (`sql.py`). The interface and the store in memory are the domain's
(`mockserver.domain.store`)."""

from __future__ import annotations

from ..domain.store import MemoryStore, Store
from ..errors import StateFileError


def is_postgres_url(state: str) -> bool:
    return state.startswith(("postgresql://", "postgres://"))


def open_store(state: str | None, timeout: float = 5.0, name: str = "") -> Store:
    """The store a `--state` value names: memory (None), a PostgreSQL URL, or a SQLite file."""
    if not state:
        return MemoryStore()
    if is_postgres_url(state):
        try:
            from .postgres import PostgresStore  # psycopg: installed and imported only by those who use PostgreSQL
        except ImportError as missing:
            raise StateFileError(
                f"a PostgreSQL state needs the postgres extra ({missing.name or missing} is not installed): "
                "pip install 'lcphone[postgres]'"
            ) from None
        return PostgresStore(state, timeout=timeout, name=name)
    from .sqlite import SqliteStore

    return SqliteStore(state)


__all__ = ["is_postgres_url", "open_store"]
