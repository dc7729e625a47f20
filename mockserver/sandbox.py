"""A sandbox: its control plane (`mockserver.control.plane`) and the ASGI app that serves it.

    sandbox = Sandbox(seed=1)      # the default scenario, state in memory
    sandbox.app                    # the ASGI app: httpx.ASGITransport(app=sandbox.app), uvicorn, the fixtures

Everything that changes a sandbox is a method of its control plane; this class only adds the app, so that the
control plane never depends on the HTTP layer that serves it.
"""

from __future__ import annotations

import functools
from typing import Any

from .control.plane import DEFAULT_SEED, REPLICA, ControlPlane, StateError
from .http.app import create_app


class Sandbox(ControlPlane):
    @functools.cached_property
    def app(self) -> Any:
        """The ASGI application (built on first use)."""
        return create_app(self)


__all__ = ["DEFAULT_SEED", "REPLICA", "Sandbox", "StateError"]
