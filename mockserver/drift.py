"""A sandbox that drifts from the contract on purpose, the way a real API might.

`lcphone serve --drift MODE` (repeatable) and `Sandbox(drift=[...])`. This is how
`lcphone verify` and the property suites are shown to catch drift, and how a
client team checks that its client copes with an API mid-migration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

# mode -> what it does (shown by `lcphone serve --help`)
DRIFT_MODES: dict[str, str] = {
    "legacy-names": "answer the pre-v3 names isUnderGhl and under_ghl_account",
    "no-envelope": "answer purchase and active numbers without the v3 envelope",
    "wrong-types": "send numbers and booleans as strings (total, pageSize, page, underLcAccount, price)",
    "extra-fields": "add fields the contract does not list (not a drift: clients must ignore them)",
    "slow": "answer every request late (slow=MILLISECONDS, default 300)",
    "flaky-5xx": "answer every Nth API request with a 503 (flaky-5xx=N, default 3)",
    "undocumented-status": "answer a purchase with 200 instead of 201",
    "lax-validation": "do not enforce required parameters",
    "no-rate-limit-headers": "leave out the X-RateLimit-* headers",
    "double-sell": "sell a number that was already sold",
}

_LEGACY_NAMES = {"isUnderLc": "isUnderGhl", "underLcAccount": "under_ghl_account"}
_STRINGIFIED = {"total", "pageSize", "page", "underLcAccount", "isUnderLc", "price"}


class DriftError(ValueError):
    pass


def _plain(value: Any) -> Any:
    """A payload without pre-serialized parts (orjson fragments), so that drift can reach into every object."""
    return orjson.loads(orjson.dumps(value))


def _rename(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {names.get(k, k): _rename(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v, names) for v in value]
    return value


def _stringify(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (str(v).lower() if isinstance(v, bool) else str(v)) if k in _STRINGIFIED and not isinstance(v, (dict, list))
                else _stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    return value


def _add_extras(value: Any) -> Any:
    if isinstance(value, dict):
        return {**{k: _add_extras(v) for k, v in value.items()}, "x_trace": "sandbox-drift"}
    if isinstance(value, list):
        return [_add_extras(v) for v in value]
    return value


@dataclass
class Drift:
    modes: dict[str, int | None] = field(default_factory=dict)  # mode -> its parameter, if any
    _served: int = 0

    @classmethod
    def parse(cls, specs: list[str] | tuple[str, ...] | None) -> Drift:
        modes: dict[str, int | None] = {}
        for spec in specs or ():
            name, _, parameter = spec.partition("=")
            if name not in DRIFT_MODES:
                raise DriftError(f"unknown drift mode {name!r} (known: {', '.join(DRIFT_MODES)})")
            if parameter and not parameter.isdigit():
                raise DriftError(f"drift mode {name}: expected a whole number after '=', got {parameter!r}")
            modes[name] = int(parameter) if parameter else None
        return cls(modes)

    def __bool__(self) -> bool:
        return bool(self.modes)

    def __contains__(self, mode: str) -> bool:
        return mode in self.modes

    @property
    def delay_seconds(self) -> float:
        return ((self.modes.get("slow") or 300) / 1000) if "slow" in self.modes else 0.0

    def forced_failure(self) -> int | None:
        """503 for every Nth API request under flaky-5xx (counted, so that runs are repeatable)."""
        if "flaky-5xx" not in self.modes:
            return None
        self._served += 1
        every = self.modes["flaky-5xx"] or 3
        return 503 if self._served % every == 0 else None

    def transform(self, status: int, payload: Any, headers: dict[str, str]) -> tuple[int, Any]:
        payload = _plain(payload)
        if "no-envelope" in self.modes and isinstance(payload, dict) and payload.get("status") == "success":
            payload = payload["data"]
        if "legacy-names" in self.modes:
            payload = _rename(payload, _LEGACY_NAMES)
        if "wrong-types" in self.modes:
            payload = _stringify(payload)
        if "extra-fields" in self.modes:
            payload = _add_extras(payload)
        if "undocumented-status" in self.modes and status == 201:
            status = 200
        if "no-rate-limit-headers" in self.modes:
            for name in [h for h in headers if h.lower().startswith("x-ratelimit-")]:
                del headers[name]
        return status, payload
