"""lcphone's sandbox of the LC Phone API v3.

    from mockserver import Sandbox
    sandbox = Sandbox(seed=1)          # the default scenario
    app = sandbox.app                  # an ASGI app: httpx.ASGITransport(app=app)

Heavy modules load on first use, so that `import mockserver` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Sandbox", "DEFAULT_SEED", "Scenario", "ScenarioError", "RateLimitPolicy", "ApiError"]

_EXPORTS = {
    "Sandbox": "sandbox",
    "DEFAULT_SEED": "sandbox",
    "Scenario": "scenario",
    "ScenarioError": "scenario",
    "RateLimitPolicy": "rate_limits",
    "ApiError": "errors",
}

if TYPE_CHECKING:
    from .errors import ApiError
    from .rate_limits import RateLimitPolicy
    from .sandbox import DEFAULT_SEED, Sandbox
    from .scenario import Scenario, ScenarioError


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'mockserver' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{module_name}", __name__), name)
