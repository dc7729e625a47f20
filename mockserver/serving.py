"""How `lcphone serve` builds its sandbox, in one process or in each of several workers.

With `--workers N`, uvicorn starts N processes that each import the app from
`app_from_environment`; the settings travel in one environment variable, and
the state is shared through the SQLite file.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import asdict, dataclass, field

import orjson

SETTINGS_VARIABLE = "LCPHONE_SERVE_SETTINGS"


@dataclass(frozen=True)
class ServeSettings:
    seed: int
    scenario: str | None = None
    state: str | None = None  # SQLite file; None: state in memory
    drift: tuple[str, ...] = ()
    faults: tuple[str, ...] = ()
    rate_limit: dict[str, int | bool] = field(default_factory=dict)  # RateLimitPolicy fields
    admin_key: str | None = None
    numbers_per_type: int = 200

    def to_environment(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def from_environment(cls) -> ServeSettings:
        data = orjson.loads(os.environ[SETTINGS_VARIABLE])
        return cls(**{**data, "drift": tuple(data["drift"]), "faults": tuple(data["faults"])})


def build_sandbox(settings: ServeSettings):
    from .rate_limits import RateLimitPolicy
    from .sandbox import Sandbox

    store = None
    if settings.state:
        from .sqlite_store import SqliteStore

        store = SqliteStore(settings.state)
    return Sandbox(
        seed=settings.seed, scenario=settings.scenario, store=store, drift=settings.drift, faults=settings.faults,
        rate_limits=RateLimitPolicy(**settings.rate_limit), admin_key=settings.admin_key,
        numbers_per_type=settings.numbers_per_type,
    )


def app_from_environment():
    """The ASGI app of one worker (uvicorn factory)."""
    return build_sandbox(ServeSettings.from_environment()).app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
