"""A sandbox that drifts from the contract on purpose, the way a real API might.

`lcphone serve --drift MODE` (repeatable) and `Sandbox(drift=[...])`. This is how `lcphone verify` and the
property suites are shown to catch drift, and how a client team checks that its client copes with an API
mid-migration.

Every mode is an object with three hooks around the gateway, each a no-op unless the mode needs it: `before`
delays or fails a request, `admit` lets through what the service would refuse (after the token is looked
up), `after` rewrites the answer. Each takes the request's `Exchange`. A mode says which operations it can make
drift (`affects`), so that a test can see every operation of the registry covered. Never a flag in the domain.
"""

from __future__ import annotations

import asyncio
import threading
from http import HTTPStatus
from typing import Any, ClassVar, TypeVar

import orjson

from ..contract.operations import Operation
from ..contract.operations import registry as operations
from ..contract.versions import ApiVersion
from ..contract.versions import registry as versions
from ..domain.models import NUMBER_TYPES, Token
from ..errors import NUMBER_NO_LONGER_AVAILABLE, error_for_status
from ..views import view_for
from .exchange import Exchange


class DriftError(ValueError):
    pass


class DriftMode:
    """One way to drift. Subclasses set `name` and `summary`, and override the hooks they need."""

    name: ClassVar[str]
    summary: ClassVar[str]  # what it does (shown by `lcphone serve --help`)
    default: ClassVar[int | None] = None  # its parameter when none is given (`slow=MILLISECONDS`)
    benign: ClassVar[bool] = False  # not a drift: what a client must cope with anyway

    def __init__(self, parameter: int | None = None) -> None:
        self.parameter = parameter if parameter is not None else self.default

    async def before(self, exchange: Exchange) -> None:
        """Before anything is checked."""

    def admit(self, exchange: Exchange) -> None:
        """After the token is looked up, before the scopes and parameters are enforced."""

    def after(self, exchange: Exchange) -> None:
        """After the answer is rendered, before it is written."""

    def affects(self, operation: Operation, version: ApiVersion) -> bool:
        """Whether it can make this operation drift at this version."""
        return True


DRIFT_MODES: dict[str, type[DriftMode]] = {}  # in the order their hooks run
Mode = TypeVar("Mode", bound=type[DriftMode])


def drift_mode(cls: Mode) -> Mode:
    DRIFT_MODES[cls.name] = cls
    return cls


def _walk(value: Any, change) -> Any:
    """`value` with `change(object)` applied to every object in it, innermost first."""
    if isinstance(value, dict):
        return change({key: _walk(item, change) for key, item in value.items()})
    if isinstance(value, list):
        return [_walk(item, change) for item in value]
    return value


def _requires_token(operation: Operation, version: ApiVersion) -> bool:
    return version.name in operation.versions and operation.at(version.name).bearer


# -- before ----------------------------------------------------------------------------------------------
@drift_mode
class Slow(DriftMode):
    name, summary, default = "slow", "answer every request late (slow=MILLISECONDS, default 300)", 300

    async def before(self, exchange: Exchange) -> None:
        await asyncio.sleep((self.parameter or 0) / 1000)


@drift_mode
class Flaky5xx(DriftMode):
    name, summary, default = "flaky-5xx", "answer every Nth API request with a 503 (flaky-5xx=N, default 3)", 3

    def __init__(self, parameter: int | None = None) -> None:
        super().__init__(parameter)
        self._served = 0
        self._lock = threading.Lock()

    async def before(self, exchange: Exchange) -> None:
        with self._lock:  # counted, so that runs are repeatable
            self._served += 1
            fail = self._served % max(1, self.parameter or 1) == 0
        if fail:
            raise error_for_status(503, "Service temporarily unavailable")


# -- admit: an API that lets through what it should refuse ----------------------------------------------
@drift_mode
class NoAuth(DriftMode):
    name, summary = "no-auth", "serve requests without a valid token, as if the location's own token had been sent"
    affects = staticmethod(_requires_token)

    def admit(self, exchange: Exchange) -> None:
        problem = exchange.problem
        if exchange.location_id and exchange.token is None and problem is not None and problem.status == 401:
            exchange.request.violations = [v for v in exchange.request.violations if v.rule != "security"]
            exchange.token = Token("drift-no-auth", exchange.location_id, frozenset(operations().scopes))
            exchange.problem = None


@drift_mode
class AnyLocation(DriftMode):
    name, summary = "any-location", "let a token act on any location"

    def admit(self, exchange: Exchange) -> None:
        token, wanted = exchange.token, exchange.location_id
        if token is not None and wanted and token.location_id != wanted:
            exchange.token = Token(token.value, wanted, token.scopes)

    def affects(self, operation: Operation, version: ApiVersion) -> bool:
        spec = operation.versions.get(version.name)
        return spec is not None and spec.parameter("locationId") is not None


@drift_mode
class NoScopes(DriftMode):
    name, summary = "no-scopes", "do not enforce the token's scopes"
    affects = staticmethod(_requires_token)

    def admit(self, exchange: Exchange) -> None:
        token = exchange.token
        if token is not None:
            exchange.token = Token(token.value, token.location_id, frozenset(operations().scopes))


@drift_mode
class LaxValidation(DriftMode):
    name, summary = "lax-validation", "do not enforce required parameters"

    def admit(self, exchange: Exchange) -> None:
        """What a lax API does with a request that lacks required values: fills them in."""
        request, spec = exchange.request, exchange.spec
        missing = [v for v in request.violations if v.rule == "required"]
        request.violations = [v for v in request.violations if v.rule != "required"]
        if not missing:
            return
        for parameter in spec.parameters:
            if parameter.name not in request.params and parameter.example is not None:
                request.params[parameter.name] = parameter.example
        example = spec.body_example
        if isinstance(request.body, dict) and isinstance(example, dict):
            request.body = {**example, **request.body}
        elif request.body is None and example is not None:
            request.body = dict(example)

    def affects(self, operation: Operation, version: ApiVersion) -> bool:
        spec = operation.versions.get(version.name)
        return spec is not None and (spec.body_required or any(p.required for p in spec.parameters))


# -- after: the answer -----------------------------------------------------------------------------------
def _sold_again(exchange: Exchange) -> bool:
    payload = exchange.payload
    return exchange.status == 400 and isinstance(payload, dict) and payload.get("message") == NUMBER_NO_LONGER_AVAILABLE


@drift_mode
class DoubleSell(DriftMode):
    name, summary = "double-sell", "sell a number that was already sold"

    def after(self, exchange: Exchange) -> None:
        location, system = exchange.location, exchange.system
        if exchange.spec.spends_money and location is not None and _sold_again(exchange):
            exchange.result = system.receipt(exchange.request.body["phoneNumber"], system.account(location))
            exchange.status = 201
            exchange.payload = exchange.view.render(exchange.spec.operation_id, exchange.result)

    def affects(self, operation: Operation, version: ApiVersion) -> bool:
        return operation.spends_money


@drift_mode
class LegacyPurchase(DriftMode):
    name = "legacy-purchase"
    summary = "answer a purchase in the oldest version's shape (the 2021-07-28 Twilio account document)"

    def after(self, exchange: Exchange) -> None:
        oldest = versions().oldest
        if exchange.spec.spends_money and exchange.status == 201 and exchange.version != oldest.name:
            exchange.payload = view_for(oldest).render(exchange.spec.operation_id, exchange.result)

    def affects(self, operation: Operation, version: ApiVersion) -> bool:
        return operation.spends_money and version is not versions().oldest


@drift_mode
class NoEnvelope(DriftMode):
    name, summary = "no-envelope", "answer without the success envelope (v3: purchase and active numbers)"

    def after(self, exchange: Exchange) -> None:
        envelope = exchange.view.api_version
        payload = exchange.payload
        if envelope.envelope and isinstance(payload, dict) and set(envelope.envelope) <= set(payload):
            exchange.payload = payload[envelope.envelope_answer]

    def affects(self, operation: Operation, version: ApiVersion) -> bool:
        spec = operation.versions.get(version.name)
        return spec is not None and spec.answers_in(version.envelope)


@drift_mode
class LegacyNames(DriftMode):
    name, summary = "legacy-names", "answer the older names of renamed fields (v3: isUnderGhl, under_ghl_account)"

    def after(self, exchange: Exchange) -> None:
        older = exchange.view.api_version.legacy_names
        if older:
            exchange.payload = _walk(exchange.payload, lambda value: {older.get(k, k): v for k, v in value.items()})

    def affects(self, operation: Operation, version: ApiVersion) -> bool:
        return bool(version.renamed)


STRINGIFIED = frozenset({"total", "pageSize", "page", "underLcAccount", "isUnderLc", "price"})


def _stringified(value: dict[str, Any]) -> dict[str, Any]:
    def text(item: Any) -> Any:
        if isinstance(item, (dict, list)):
            return item
        return str(item).lower() if isinstance(item, bool) else str(item)

    return {key: text(item) if key in STRINGIFIED else item for key, item in value.items()}


@drift_mode
class WrongTypes(DriftMode):
    name, summary = "wrong-types", "send numbers and booleans as strings (total, pageSize, page, underLcAccount, price)"

    def after(self, exchange: Exchange) -> None:
        exchange.payload = _walk(exchange.payload, _stringified)


@drift_mode
class ExtraFields(DriftMode):
    name, summary = "extra-fields", "add fields the contract does not list (not a drift: clients must ignore them)"
    benign = True

    def after(self, exchange: Exchange) -> None:
        exchange.payload = _walk(exchange.payload, lambda value: {**value, "x_trace": "sandbox-drift"})


@drift_mode
class UndocumentedStatus(DriftMode):
    name, summary = "undocumented-status", "answer a purchase with 200 instead of 201"

    def after(self, exchange: Exchange) -> None:
        if exchange.status == 201:
            exchange.status = 200

    def affects(self, operation: Operation, version: ApiVersion) -> bool:
        spec = operation.versions.get(version.name)
        return spec is not None and spec.success is not None and spec.success.status == "201"


@drift_mode
class NoRateLimitHeaders(DriftMode):
    name, summary = "no-rate-limit-headers", "leave out the X-RateLimit-* headers"

    def after(self, exchange: Exchange) -> None:
        for name in [h for h in exchange.headers if h.lower().startswith("x-ratelimit-")]:
            del exchange.headers[name]

    def affects(self, operation: Operation, version: ApiVersion) -> bool:
        spec = operation.versions.get(version.name)
        return spec is not None and spec.success is not None and bool(spec.success.required_headers)


@drift_mode
class ShuffledKeys(DriftMode):
    name = "shuffled-keys"
    summary = "send the fields of every object in another order (not a drift: JSON objects are unordered)"
    benign = True

    def after(self, exchange: Exchange) -> None:
        exchange.payload = _walk(exchange.payload, lambda value: dict(reversed(value.items())))


# -- the behaviours of the fidelity ledger: answers of the right shape that mean something else ---------------
def _takes(parameter: str):
    """`affects` for a mode that drifts where an operation takes `parameter`."""

    def affects(operation: Operation, version: ApiVersion) -> bool:
        spec = operation.versions.get(version.name)
        return spec is not None and spec.parameter(parameter) is not None

    return staticmethod(affects)


class IgnoredParameter(DriftMode):
    """A parameter the drifting API does not honour: the request is served as if it had another value."""

    parameter_name: ClassVar[str]

    def admit(self, exchange: Exchange) -> None:
        params = exchange.request.params
        if self.parameter_name in params:
            params[self.parameter_name] = self.instead(params[self.parameter_name])

    def instead(self, value: Any) -> Any:
        raise NotImplementedError


@drift_mode
class IgnoresFirstPart(IgnoredParameter):
    name, summary, parameter_name = "ignores-first-part", "search as if firstPart were empty", "firstPart"
    affects = _takes("firstPart")

    def instead(self, value: Any) -> Any:
        return ""


@drift_mode
class IgnoresLastPart(IgnoredParameter):
    name, summary, parameter_name = "ignores-last-part", "search as if lastPart were empty", "lastPart"
    affects = _takes("lastPart")

    def instead(self, value: Any) -> Any:
        return ""


@drift_mode
class IgnoresAnywhere(IgnoredParameter):
    name, summary, parameter_name = "ignores-anywhere", "search as if anywhere were empty", "anywhere"
    affects = _takes("anywhere")

    def instead(self, value: Any) -> Any:
        return ""


@drift_mode
class IgnoresCapabilities(DriftMode):
    name, summary = "ignores-capabilities", "search as if smsEnabled, mmsEnabled and voiceEnabled were false"
    affects = _takes("smsEnabled")

    def admit(self, exchange: Exchange) -> None:
        for flag in ("smsEnabled", "mmsEnabled", "voiceEnabled"):
            if flag in exchange.request.params:
                exchange.request.params[flag] = False


@drift_mode
class IgnoresCountryCode(IgnoredParameter):
    name, summary, parameter_name = "ignores-country-code", "search another country than countryCode", "countryCode"
    affects = _takes("countryCode")

    def instead(self, value: Any) -> Any:
        return "CA" if value != "CA" else "US"


@drift_mode
class IgnoresNumberTypes(IgnoredParameter):
    name, summary, parameter_name = (
        "ignores-number-types",
        "search every number type, whatever numberTypes asks",
        "numberTypes",
    )
    affects = _takes("numberTypes")

    def instead(self, value: Any) -> Any:
        return list(NUMBER_TYPES) if isinstance(value, list) else ",".join(NUMBER_TYPES)


@drift_mode
class IgnoresPage(IgnoredParameter):
    name, summary, parameter_name = "ignores-page", "answer the first page, whatever page is asked for", "page"
    affects = _takes("page")

    def instead(self, value: Any) -> Any:
        return 0


@drift_mode
class IgnoresPageSize(IgnoredParameter):
    name, summary, parameter_name = "ignores-page-size", "answer pages of 1000, whatever pageSize asks", "pageSize"
    affects = _takes("pageSize")

    def instead(self, value: Any) -> Any:
        return 1000


@drift_mode
class IgnoresSkipNumberPool(IgnoredParameter):
    name, summary = "ignores-skip-number-pool", "list the numbers of pools too, whatever skipNumberPool says"
    parameter_name = "skipNumberPool"
    affects = _takes("skipNumberPool")

    def instead(self, value: Any) -> Any:
        return False


@drift_mode
class SearchFilterDigitsOnly(IgnoredParameter):
    name = "search-filter-digits-only"
    summary = "match searchFilter on its digits only, so that +55 finds US numbers with 55 in them (lcphone 0.2)"
    parameter_name = "searchFilter"
    affects = _takes("searchFilter")

    def instead(self, value: Any) -> Any:
        return "".join(ch for ch in str(value) if ch.isdigit()) or value


@drift_mode
class NoIdempotency(DriftMode):
    name, summary = "no-idempotency", "ignore fingerprintId: a replayed purchase is a new one"

    def __init__(self, parameter: int | None = None) -> None:
        super().__init__(parameter)
        self._calls = 0

    def admit(self, exchange: Exchange) -> None:
        body = exchange.request.body
        if exchange.spec.spends_money and isinstance(body, dict) and body.get("fingerprintId"):
            self._calls += 1
            exchange.request.body = {**body, "fingerprintId": f"{body['fingerprintId']}-drift-{self._calls}"}

    def affects(self, operation: Operation, version: ApiVersion) -> bool:
        return operation.spends_money


@drift_mode
class EnvelopeStatusCode(DriftMode):
    name, summary = "envelope-status-code", "answer an envelope whose statusCode is not the HTTP status"

    def after(self, exchange: Exchange) -> None:
        payload = exchange.payload
        if isinstance(payload, dict) and "statusCode" in payload and exchange.status < 300:
            payload["statusCode"] = 200 if exchange.status != 200 else 201

    def affects(self, operation: Operation, version: ApiVersion) -> bool:
        spec = operation.versions.get(version.name)
        return spec is not None and spec.answers_in(version.envelope)


@drift_mode
class WrongTotal(DriftMode):
    name, summary = "wrong-total", "answer a total one more than what is listed (pools and active numbers)"

    def after(self, exchange: Exchange) -> None:
        if exchange.status < 300:
            exchange.payload = _walk(
                exchange.payload,
                lambda value: {**value, "total": value["total"] + 1} if isinstance(value.get("total"), int) else value,
            )


@drift_mode
class BareErrors(DriftMode):
    name, summary = "bare-errors", 'answer refusals without statusCode and message: {"error": "something went wrong"}'

    def after(self, exchange: Exchange) -> None:
        if exchange.status >= 400:
            exchange.payload = {"error": "something went wrong"}


@drift_mode
class VagueErrors(DriftMode):
    name, summary = "vague-errors", 'answer refusals with a message that names nothing ("Bad Request")'

    def after(self, exchange: Exchange) -> None:
        payload = exchange.payload
        if exchange.status >= 400 and isinstance(payload, dict) and "message" in payload:
            payload["message"] = HTTPStatus(exchange.status).phrase


@drift_mode
class StaticRateLimitHeaders(DriftMode):
    name, summary = "static-rate-limit-headers", "send X-RateLimit-Remaining and -Daily-Remaining that never go down"

    def after(self, exchange: Exchange) -> None:
        headers = exchange.headers
        if "X-RateLimit-Max" in headers:
            headers["X-RateLimit-Remaining"] = headers["X-RateLimit-Max"]
        if "X-RateLimit-Limit-Daily" in headers:
            headers["X-RateLimit-Daily-Remaining"] = headers["X-RateLimit-Limit-Daily"]


def _overrides(mode: DriftMode, hook: str) -> bool:
    return getattr(type(mode), hook) is not getattr(DriftMode, hook)


class Drift:
    """The drift modes in force. Each hook runs the hook of every mode that has one, in the registry's order;
    with no mode, each is a loop over nothing."""

    def __init__(self, modes: list[DriftMode] | None = None) -> None:
        order = list(DRIFT_MODES)
        self.modes = sorted(modes or [], key=lambda mode: order.index(mode.name))
        self._before = [mode for mode in self.modes if _overrides(mode, "before")]
        self._admit = [mode for mode in self.modes if _overrides(mode, "admit")]
        self._after = [mode for mode in self.modes if _overrides(mode, "after")]

    @classmethod
    def parse(cls, specs: list[str] | tuple[str, ...] | None) -> Drift:
        modes = []
        for spec in specs or ():
            name, _, parameter = spec.partition("=")
            if name not in DRIFT_MODES:
                raise DriftError(f"unknown drift mode {name!r} (known: {', '.join(DRIFT_MODES)})")
            if parameter and not parameter.isdigit():
                raise DriftError(f"drift mode {name}: expected a whole number after '=', got {parameter!r}")
            modes.append(DRIFT_MODES[name](int(parameter) if parameter else None))
        return cls(modes)

    def __bool__(self) -> bool:
        return bool(self.modes)

    def __contains__(self, name: str) -> bool:
        return any(mode.name == name for mode in self.modes)

    @property
    def names(self) -> list[str]:
        return [mode.name for mode in self.modes]

    async def before(self, exchange: Exchange) -> None:
        for mode in self._before:
            await mode.before(exchange)

    def admit(self, exchange: Exchange) -> None:
        for mode in self._admit:
            mode.admit(exchange)

    def after(self, exchange: Exchange) -> None:
        if not self._after:
            return
        # Without pre-serialized parts (orjson fragments), so that a mode can reach into every object.
        exchange.payload = orjson.loads(orjson.dumps(exchange.payload))
        for mode in self._after:
            mode.after(exchange)


def coverage(operation_registry=None, version_registry=None) -> dict[tuple[str, str], list[str]]:
    """(operation, version) -> the drift modes (benign ones left out) that can make it drift."""
    found: dict[tuple[str, str], list[str]] = {}
    for operation in operation_registry or operations():
        for version in version_registry or versions():
            if version.name in operation.versions:
                found[(operation.id, version.name)] = [
                    name
                    for name, mode in DRIFT_MODES.items()
                    if not mode.benign and mode(None).affects(operation, version)
                ]
    return found
