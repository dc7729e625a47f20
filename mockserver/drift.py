"""A sandbox that drifts from the contract on purpose, the way a real API might.

`lcphone serve --drift MODE` (repeatable) and `Sandbox(drift=[...])`. This is how
`lcphone verify` and the property suites are shown to catch drift, and how a
client team checks that its client copes with an API mid-migration.

Every mode is a transform around the gateway, never a flag inside the domain:
`before` delays or fails a request, `relax` loosens the request check, `after`
rewrites the rendered answer.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from .errors import error_for_status

if TYPE_CHECKING:
    from .contract import OperationSpec
    from .errors import ApiError
    from .models import Location, PurchaseReceipt, Token
    from .phone_system import PhoneSystem
    from .request_validation import CheckedRequest
    from .views import View

# mode -> what it does (shown by `lcphone serve --help`)
DRIFT_MODES: dict[str, str] = {
    "legacy-names": "answer the pre-v3 names isUnderGhl and under_ghl_account at v3",
    "no-envelope": "answer purchase and active numbers without the v3 envelope",
    "wrong-types": "send numbers and booleans as strings (total, pageSize, page, underLcAccount, price)",
    "extra-fields": "add fields the contract does not list (not a drift: clients must ignore them)",
    "slow": "answer every request late (slow=MILLISECONDS, default 300)",
    "flaky-5xx": "answer every Nth API request with a 503 (flaky-5xx=N, default 3)",
    "undocumented-status": "answer a purchase with 200 instead of 201",
    "lax-validation": "do not enforce required parameters",
    "no-rate-limit-headers": "leave out the X-RateLimit-* headers",
    "double-sell": "sell a number that was already sold",
    "no-auth": "serve requests without a valid token, as if the location's own token had been sent",
    "any-location": "let a token act on any location",
    "no-scopes": "do not enforce the token's scopes",
    "legacy-purchase": "answer a v3 purchase with the 2021-07-28 Twilio account document (under_ghl_account)",
    "shuffled-keys": "send the fields of every object in another order (not a drift: JSON objects are unordered)",
}

_LEGACY_NAMES = {"isUnderLc": "isUnderGhl", "underLcAccount": "under_ghl_account"}
_STRINGIFIED = {"total", "pageSize", "page", "underLcAccount", "isUnderLc", "price"}
SOLD_MESSAGE = "Phone number is no longer available"


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
        return {
            k: (str(v).lower() if isinstance(v, bool) else str(v))
            if k in _STRINGIFIED and not isinstance(v, (dict, list))
            else _stringify(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    return value


def _message(payload: Any) -> Any:
    return payload.get("message") if isinstance(payload, dict) else None


def _reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reversed_keys(value[k]) for k in reversed(value)}
    if isinstance(value, list):
        return [_reversed_keys(v) for v in value]
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

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

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
    def names(self) -> list[str]:
        return list(self.modes)

    # -- before the request is served ----------------------------------------------
    async def before(self, operation: OperationSpec) -> None:
        if "slow" in self.modes:
            await asyncio.sleep((self.modes["slow"] or 300) / 1000)
        if "flaky-5xx" in self.modes:
            every = self.modes["flaky-5xx"] or 3
            with self._lock:  # counted, so that runs are repeatable
                self._served += 1
                fail = self._served % every == 0
            if fail:
                raise error_for_status(503, "Service temporarily unavailable")

    def admit(
        self, token: Token | None, problem: ApiError | None, location_id: str | None, checked: CheckedRequest
    ) -> tuple[Token | None, ApiError | None]:
        """no-auth, any-location, no-scopes: an API that lets through what it should refuse."""
        from .models import ALL_SCOPES, Token

        modes = self.modes
        if "no-auth" in modes and location_id and (token is None and problem is not None and problem.status == 401):
            checked.violations = [v for v in checked.violations if v.rule != "security"]
            return Token("drift-no-auth", location_id, frozenset(ALL_SCOPES)), None
        if token is not None and "any-location" in modes and location_id and token.location_id != location_id:
            token = Token(token.value, location_id, token.scopes)
        if token is not None and "no-scopes" in modes:
            token = Token(token.value, token.location_id, frozenset(ALL_SCOPES))
        return token, problem

    def relax(self, operation: OperationSpec, checked: CheckedRequest) -> None:
        """lax-validation: what a lax API does with a request that lacks required values (fills them in)."""
        if "lax-validation" not in self.modes:
            return
        missing = [v for v in checked.violations if v.rule == "required"]
        checked.violations = [v for v in checked.violations if v.rule != "required"]
        if not missing:
            return
        for parameter in operation.parameters:
            if parameter.name not in checked.params and parameter.example is not None:
                checked.params[parameter.name] = parameter.example
        example = operation.body_example
        if isinstance(checked.body, dict) and isinstance(example, dict):
            checked.body = {**example, **checked.body}
        elif checked.body is None and example is not None:
            checked.body = dict(example)

    # -- after: the rendered answer ----------------------------------------------------
    def after(
        self,
        operation: OperationSpec,
        status: int,
        payload: Any,
        headers: dict[str, str],
        view: View,
        location: Location | None,
        checked: CheckedRequest,
        system: PhoneSystem,
    ) -> tuple[int, Any]:
        modes = self.modes
        purchase = operation.operation_id == "purchaseNumber" and location is not None
        if "double-sell" in modes and purchase and status == 400 and _message(payload) == SOLD_MESSAGE:
            status, payload = 201, view.purchase(self._receipt(checked, system, location))
        if "legacy-purchase" in modes and purchase and status == 201 and view.version == "v3":
            from .views.legacy import LegacyView

            payload = LegacyView().purchase(self._receipt(checked, system, location))
        payload = _plain(payload)
        if "no-envelope" in modes and isinstance(payload, dict) and payload.get("status") == "success":
            payload = payload["data"]
        if "legacy-names" in modes:
            payload = _rename(payload, _LEGACY_NAMES)
        if "wrong-types" in modes:
            payload = _stringify(payload)
        if "extra-fields" in modes:
            payload = _add_extras(payload)
        if "undocumented-status" in modes and status == 201:
            status = 200
        if "no-rate-limit-headers" in modes:
            for name in [h for h in headers if h.lower().startswith("x-ratelimit-")]:
                del headers[name]
        if "shuffled-keys" in modes:
            payload = _reversed_keys(payload)
        return status, payload

    @staticmethod
    def _receipt(checked: CheckedRequest, system: PhoneSystem, location: Location | None) -> PurchaseReceipt:
        assert location is not None
        return system.receipt(checked.body["phoneNumber"], system.account(location))
