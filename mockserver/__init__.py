"""lcphone's sandbox of the LC Phone API (versions v3 and 2021-07-28).

    from mockserver import Sandbox
    sandbox = Sandbox(seed=1)          # the default scenario
    app = sandbox.app                  # an ASGI app: httpx.ASGITransport(app=app)

The distribution is `lcphone`; its import name is `mockserver`. Heavy modules
load on first use, so that `import mockserver` stays cheap. The parts:
`contract` (the contracts, loaded), `domain` (the service's rules), `store`
(state in SQLite or PostgreSQL), `views` (each version's wire shapes),
`control` (the control plane, journal, faults, rate limits, drift), `http`
(the gateway, admin API, inspector), `serve`, `verify`, `testing` (the pytest
plugin and its harness), `suites` (the property-based suites).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("lcphone")
except PackageNotFoundError:  # a checkout that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "Sandbox",
    "DEFAULT_SEED",
    "Scenario",
    "ScenarioError",
    "RateLimitPolicy",
    "ApiError",
    "SyncASGITransport",
    "__version__",
]

_EXPORTS = {
    "Sandbox": "sandbox",
    "DEFAULT_SEED": "sandbox",
    "Scenario": "domain.scenario",
    "ScenarioError": "domain.scenario",
    "RateLimitPolicy": "control.rate_limits",
    "ApiError": "errors",
    "SyncASGITransport": "http.transport",
}

if TYPE_CHECKING:
    from .control.rate_limits import RateLimitPolicy
    from .domain.scenario import Scenario, ScenarioError
    from .errors import ApiError
    from .http.transport import SyncASGITransport
    from .sandbox import DEFAULT_SEED, Sandbox


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'mockserver' has no attribute {name!r}")
    import importlib  # the exports load on first use: `import mockserver` stays cheap

    return getattr(importlib.import_module(f".{module_name}", __name__), name)
