"""lcphone's sandbox of the LC Phone API (versions v3 and 2021-07-28).

    from mockserver import Sandbox
    sandbox = Sandbox(seed=1)          # the default scenario
    app = sandbox.app                  # an ASGI app: httpx.ASGITransport(app=app)

The distribution is `lcphone`; its import name is `mockserver`. Heavy modules
load on first use, so that `import mockserver` stays cheap.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("lcphone")
except PackageNotFoundError:  # a checkout that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["Sandbox", "DEFAULT_SEED", "Scenario", "ScenarioError", "RateLimitPolicy", "ApiError", "__version__"]

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
