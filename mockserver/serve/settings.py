"""How `lcphone serve` builds its sandbox, in one process or in each of several workers.

With `--workers N`, uvicorn starts N processes that each import the app from
`app_from_environment`; the settings travel in one environment variable, and
the state, settings included, is shared through the store. Each worker
dies with its master: the kernel signals it when the master goes
(PR_SET_PDEATHSIG), and a watchdog thread checks too, where that is not
available.
"""

from __future__ import annotations

import ctypes
import gc
import ipaddress
import os
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from ..control.plane import IDENTITY_KEY, REPLICA
from ..control.rate_limits import RateLimitPolicy
from ..sandbox import Sandbox
from ..store import open_store
from . import protection

SETTINGS_VARIABLE = "LCPHONE_SERVE_SETTINGS"
MASTER_VARIABLE = "LCPHONE_MASTER_PID"
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ServeSettings:
    seed: int | None = None  # None: the stored one, or the default
    scenario: str | None = None
    state: str | None = None  # SQLite file or PostgreSQL URL; None: state in memory
    drift: tuple[str, ...] = ()
    faults: tuple[str, ...] = ()
    rate_limit: dict[str, Any] = field(default_factory=dict)  # RateLimitPolicy fields
    admin_key: str | None = None
    allowed_hosts: tuple[str, ...] | None = None  # on loopback: the Host names answered besides loopback's
    numbers_per_type: int | None = None  # None: the stored one, or the default
    cors_origins: tuple[str, ...] = ()
    max_connections: int = protection.DEFAULT_MAX_CONNECTIONS
    header_timeout: float = protection.DEFAULT_HEADER_TIMEOUT
    body_timeout: float = protection.DEFAULT_BODY_TIMEOUT
    max_header_bytes: int = protection.DEFAULT_MAX_HEADER_BYTES
    state_timeout: float = 5.0  # the longest a request waits on PostgreSQL before a 503

    def limits(self) -> dict[str, Any]:
        """What `protection` enforces on each connection."""
        return {
            "max_connections": self.max_connections,
            "header_timeout": self.header_timeout,
            "body_timeout": self.body_timeout,
            "max_header_bytes": self.max_header_bytes,
        }

    def to_environment(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def from_environment(cls) -> ServeSettings:
        data = orjson.loads(os.environ[SETTINGS_VARIABLE])
        return cls(
            **{
                **data,
                "drift": tuple(data["drift"]),
                "faults": tuple(data["faults"]),
                "cors_origins": tuple(data.get("cors_origins", ())),
                "allowed_hosts": None if data.get("allowed_hosts") is None else tuple(data["allowed_hosts"]),
            }
        )


def build_sandbox(settings: ServeSettings, attach: bool = False):
    """The sandbox these settings describe. On a shared store (PostgreSQL), a replica that finds the state
    already made joins it as it is: its scenario, faults and rate limits are the shared ones."""
    store = open_store(settings.state, settings.state_timeout, name=REPLICA)
    try:
        with store.exclusive():
            joining = store.shared and store.get_meta(IDENTITY_KEY) is not None
            return Sandbox(
                seed=settings.seed,
                scenario=settings.scenario,
                store=store,
                drift=settings.drift,
                faults=settings.faults,
                rate_limits=RateLimitPolicy(**settings.rate_limit),
                admin_key=settings.admin_key,
                allowed_hosts=settings.allowed_hosts,
                numbers_per_type=settings.numbers_per_type,
                cors_origins=settings.cors_origins,
                attach=attach or joining,
            )
    except BaseException:
        store.close()
        raise


def settle_memory() -> None:
    """Before serving: what lives as long as the process (the inventory, the contracts) is moved out of the garbage
    collector's way, and collections run less often. A full collection otherwise walks the whole inventory, and
    pauses every request behind it (a p99 of 150 ms on a 120,000-number inventory)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def die_with_master() -> None:
    """Ends this worker process when its master goes, however the master ended (kill -9 included)."""
    master = int(os.environ.get(MASTER_VARIABLE, "0"))
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):
            pass
    if master and os.getppid() != master:  # the master went before the signal was asked for
        os.kill(os.getpid(), signal.SIGTERM)

    def watch() -> None:
        while True:
            time.sleep(1)
            if master and os.getppid() != master:
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, name="lcphone-master-watch", daemon=True).start()


def app_from_environment():
    """The ASGI app of one worker (uvicorn factory): attached to the shared state, changing nothing at start."""
    die_with_master()
    settings = ServeSettings.from_environment()
    protection.configure(**settings.limits())
    app = build_sandbox(settings, attach=True).app
    settle_memory()
    return app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
