"""The test harness behind the pytest plugin: a target (a local sandbox or a remote API) and a per-test handle.

Kept free of pytest so that it can be used from any test runner; the plugin
only maps options and fixtures onto it. Every change to a local sandbox goes
through the `Sandbox` control plane, as the admin API's do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ..contract.conformance import Verdict, conformance
from ..contract.outcomes import Classifier
from ..contract.requests import Violation
from ..contract.versions import registry as version_registry
from ..control.journal import Journal, JournalEntry, RequestDetails
from ..domain.scenario import Scenario
from ..http.transport import SyncASGITransport
from ..sandbox import Sandbox
from ..serve.thread import SandboxServer
from ..verify.traffic import TrafficJudge
from .sdk import vendor_sdk

NEWEST = version_registry().newest.name  # what a client talks unless told otherwise
TEST_HEADER = "X-Lcphone-Test"  # which test's client sent a request (see LcPhone.tag)
IN_PROCESS_URL = "http://lcphone.sandbox"


class TargetUnavailable(RuntimeError):
    """A helper that changes state was asked of a target that is not a local sandbox."""


class PurchaseRefused(RuntimeError):
    """A purchase was about to be sent to a remote target without permission to buy."""


@dataclass(frozen=True)
class HarnessSettings:
    seed: int | None = None
    scenario: str | None = None
    base_url: str | None = None  # set: the fixtures talk to this remote API instead of a sandbox
    token: str | None = None
    location_id: str | None = None
    allow_purchase: bool = False
    drift: tuple[str, ...] = ()  # a local sandbox that misbehaves on purpose (see mockserver.drift)

    @property
    def remote(self) -> bool:
        return bool(self.base_url)


def format_violations(entries: list[JournalEntry], dropped: int = 0) -> str:
    """A report of the requests that broke the contract (request, rule, contract location), and of the remote
    API's answers that did (verdict, what it did, the ledger entry)."""
    lines: list[str] = []
    broken = [e for e in entries if e.violations]
    if broken or dropped:
        lines.append(f"lcphone: the client sent {len(broken) + dropped} request(s) outside the contract:")
        for number, entry in enumerate(broken, 1):
            lines.append(f"  {number}. {_exchange(entry)}")
            for violation in entry.violations:
                lines.append(f"     - {violation.field}: {violation.message} [{violation.rule}]")
                lines.append(f"       contract: {violation.pointer}")
        if dropped:
            lines.append(f"  ... and {dropped} more, not kept")
        lines.append("(mark the test with @pytest.mark.lcphone_allow_violations if it breaks the contract on purpose)")
    drifted = [e for e in entries if e.answer is not None and e.answer.problems]
    if drifted:
        lines.append(f"lcphone: the remote API answered {len(drifted)} request(s) outside the contract:")
        for number, entry in enumerate(drifted, 1):
            lines.append(f"  {number}. {_exchange(entry)}")
            for problem in entry.answer.problems if entry.answer else ():
                lines.append(f"     - {problem.verdict}: {problem.title}: {problem.found}")
                lines.append(f"       expected: {problem.expected} (ledger: {problem.behaviour})")
        lines.append("(mark the test with @pytest.mark.lcphone_allow_drift if the drift is known and accepted)")
    return "\n".join(lines)


def _exchange(entry: JournalEntry) -> str:
    version = f" [Version {entry.version}]" if entry.version else ""
    return f"{entry.request_line} -> {entry.status}{version}"


class LocalTarget:
    """A sandbox in this process; its socket server starts the first time a URL is needed."""

    remote = False

    def __init__(self, settings: HarnessSettings) -> None:
        self.settings = settings
        self.sandbox = Sandbox(seed=settings.seed, scenario=settings.scenario, drift=settings.drift)
        self._initial_scenario = self.sandbox.scenario
        self.server = SandboxServer(self.sandbox)

    @property
    def base_url(self) -> str:
        return self.server.start()

    @property
    def app(self):
        return self.sandbox.app

    def default_credentials(self) -> tuple[str, str]:
        return self.sandbox.default_credentials()

    def reset(self) -> None:
        if self.sandbox.scenario is not self._initial_scenario:
            self.sandbox.load_scenario(self._initial_scenario)
        else:
            self.sandbox.reset()

    def journal_mark(self) -> int:
        return self.sandbox.journal.last_sequence

    def journal_since(self, mark: int) -> list[JournalEntry]:
        return self.sandbox.journal.entries(after=mark)

    def violations_since(self, mark: int) -> tuple[list[JournalEntry], int]:
        journal = self.sandbox.journal
        return journal.violations_since(mark), journal.dropped_since(mark)

    def crashes(self) -> list[BaseException]:
        return list(self.sandbox.crashes)

    def close(self) -> None:
        self.server.stop()

    # -- state-changing helpers: the control plane's ----------------------------------
    def mint_token(self, location_id: str, scopes: list[str] | None = None) -> str:
        return self.sandbox.mint_token(location_id, scopes).value

    def load_scenario(self, scenario: Any) -> None:
        if isinstance(scenario, dict):
            scenario = Scenario.from_document(scenario)
        elif isinstance(scenario, (str, Path)) and "\n" in str(scenario):
            scenario = Scenario.from_yaml(str(scenario))
        self.sandbox.load_scenario(scenario)

    def add_numbers(self, location_id: str, count: int, country: str, number_type: str) -> list[str]:
        return [n.phone_number for n in self.sandbox.add_numbers(location_id, country, number_type, count)]

    def add_number(self, location_id: str, phone_number: str, **details: Any) -> str:
        return self.sandbox.add_number(location_id, {"phoneNumber": phone_number, **details}).phone_number

    def add_pool(self, location_id: str, name: str, numbers: int | list[str], **details: Any) -> str:
        return self.sandbox.add_pool(location_id, {"name": name, "numbers": numbers, **details}).id

    def create_location(self, location_id: str, **fields: Any) -> None:
        self.sandbox.create_location({"id": location_id, **fields})

    def set_rate_limits(self, **policy: Any) -> None:
        self.sandbox.set_rate_limits(**policy)

    def add_fault(self, spec: dict[str, Any]) -> None:
        self.sandbox.add_fault(spec)


def _spends_money(request: httpx.Request) -> bool:
    found = conformance().operations.match(request.method, request.url.path)
    return found is not None and found[0].spends_money


class _PurchaseGuard(httpx.BaseTransport):
    """Refuses, without sending it, any purchase to a target where buying was not allowed."""

    def __init__(self, inner: httpx.BaseTransport, refuse) -> None:
        self.inner = inner
        self.refuse = refuse

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.refuse(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class RemoteTarget:
    """A real API (staging, say). Nothing changes its state but the test's own requests."""

    remote = True

    def __init__(self, settings: HarnessSettings) -> None:
        if not (settings.base_url and settings.token and settings.location_id):
            raise TargetUnavailable(
                "a remote target needs a token and a location id (--lcphone-token, --lcphone-location)"
            )
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self.journal = Journal()
        self.classifier = Classifier()  # what each answer of the real API was, for the session's coverage
        self.judge = TrafficJudge()  # the answer checks of verify and the proxy, on each answer
        self.refusals: list[str] = []  # purchases stopped before they were sent

    def default_credentials(self) -> tuple[str, str]:
        assert self.settings.location_id and self.settings.token
        return self.settings.location_id, self.settings.token

    def reset(self) -> None:
        self.journal.clear()
        self.refusals.clear()

    def journal_mark(self) -> int:
        return self.journal.last_sequence

    def journal_since(self, mark: int) -> list[JournalEntry]:
        return self.journal.entries(after=mark)

    def violations_since(self, mark: int) -> tuple[list[JournalEntry], int]:
        return self.journal.violations_since(mark), self.journal.dropped_since(mark)

    def crashes(self) -> list[BaseException]:
        return []

    def close(self) -> None:
        pass

    def refuse_purchase(self, request: httpx.Request) -> None:
        """Raises, before it is sent, a purchase this run may not make."""
        if not self.settings.allow_purchase and _spends_money(request):
            self.refusals.append(f"{request.method} {request.url}")
            raise PurchaseRefused(
                f"lcphone: refused to send {request.method} {request.url.path} to a remote target: purchases cost "
                "real money. Pass --lcphone-allow-purchase to allow them."
            )

    def transport(self) -> httpx.BaseTransport:
        return _PurchaseGuard(httpx.HTTPTransport(), self.refuse_purchase)

    def record(self, response: httpx.Response) -> None:
        """Client-side conformance: the request a remote target received, checked against the contract."""
        request = response.request
        verdict = check_request(request)
        operation = verdict.operation.id if verdict.operation else None
        try:
            content = response.read()  # (the async client's hook has read it already)
        except (RuntimeError, httpx.HTTPError):
            content = b""
        try:
            answer = response.json() if content else None
        except ValueError:
            answer = None
        outcomes = () if operation is None else self.classifier.classify(
            operation, verdict.version, response.status_code, answer, verdict.request.params, verdict.request.body,
            verdict.location_id,
        )  # fmt: skip
        # The body is decoded already: judged as received, without the encoding it was sent in.
        headers = httpx.Headers([(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-encoding"])
        judgement = self.judge.judge(verdict, response.status_code, headers, content)
        self.journal.record(
            request.method,
            request.url.path,
            request.url.query.decode(),
            operation,
            response.status_code,
            verdict.violations,
            verdict.version,
            outcomes=outcomes,
            request=RequestDetails.bounded(None, request.headers.get("version"), None, None),
            answer=judgement.check if judgement is not None else None,
        )  # fmt: skip

    def __getattr__(self, name: str) -> Any:
        if name in {
            "mint_token",
            "load_scenario",
            "add_numbers",
            "add_number",
            "add_pool",
            "create_location",
            "app",
            "sandbox",
            "set_rate_limits",
            "add_fault",
        }:
            raise TargetUnavailable(
                f"lcphone: {name} needs a local sandbox; the target is the remote API {self.base_url}"
            )
        raise AttributeError(name)


def check_request(request: httpx.Request) -> Verdict:
    """The contract's verdict on a request as a client sent it: the one check the sandbox applies too."""
    return conformance().verdict(
        request.method, request.url.path, request.url.query.decode(), request.headers.raw, request.read()
    )


class LcPhone:
    """What a test gets from the `lcphone` fixture: a target reset for this test, and ways to talk to it."""

    def __init__(self, target: LocalTarget | RemoteTarget, journal_mark: int = 0, tag: str | None = None) -> None:
        self.target = target
        self._mark = journal_mark
        # Sent by the clients it makes to a local sandbox, so that a request of this test's that arrives while
        # another test runs (a thread left running) is told apart from that test's own.
        self.tag = tag
        self.location_id, self.token = target.default_credentials()
        self._clients: list[httpx.Client] = []
        self._client: httpx.Client | None = None

    @property
    def remote(self) -> bool:
        return self.target.remote

    @property
    def purchases_allowed(self) -> bool:
        """A local sandbox may always be bought from; a remote API only when the run allows it."""
        return not self.remote or self.target.settings.allow_purchase

    @property
    def base_url(self) -> str:
        """A real URL that any HTTP client, in any language, can call."""
        return self.target.base_url

    @property
    def asgi_app(self):
        """The sandbox as an ASGI app, for in-process clients: httpx.ASGITransport(app=lcphone.asgi_app)."""
        return self.target.app

    @property
    def sandbox(self):
        return self.target.sandbox

    def headers(self, token: str | None = None, version: str | None = NEWEST) -> dict[str, str]:
        """`Authorization` and `Version` headers for your own client (`version=None` leaves Version out); to a
        local sandbox, also the test's tag, so that what a thread of this test sends later is not another's."""
        headers = {"Authorization": f"Bearer {token or self.token}", **self._tagged()}
        if version is not None:
            headers["Version"] = version
        return headers

    def make_client(self, token: str | None = None, version: str | None = NEWEST, **kwargs: Any) -> httpx.Client:
        """An httpx client with auth and Version set: in-process for a local sandbox, over HTTP for a remote API."""
        if version is not None and version not in version_registry():
            raise ValueError(f"version {version!r}: the contract knows {', '.join(version_registry().names)}")
        headers = {**self.headers(token, version), **kwargs.pop("headers", {})}
        client: httpx.Client
        if isinstance(self.target, RemoteTarget):
            client = httpx.Client(
                base_url=self.base_url,
                headers=headers,
                transport=self.target.transport(),
                event_hooks={"response": [self.target.record]},
                **kwargs,
            )
        else:
            client = httpx.Client(
                base_url=IN_PROCESS_URL, headers=headers, transport=SyncASGITransport(self.asgi_app), **kwargs
            )
        self._clients.append(client)
        return client

    def _tagged(self) -> dict[str, str]:
        return {TEST_HEADER: self.tag} if self.tag and not self.remote else {}

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = self.make_client()
        return self._client

    def async_client(self, token: str | None = None, version: str | None = NEWEST, **kwargs: Any) -> httpx.AsyncClient:
        """An httpx.AsyncClient with auth set (in-process for a local sandbox). Close it yourself."""
        headers = {**self.headers(token, version), **kwargs.pop("headers", {})}
        if isinstance(self.target, RemoteTarget):
            request_hooks, response_hooks = self._remote_hooks(self.target)
            hooks = {"request": request_hooks, "response": response_hooks}
            return httpx.AsyncClient(base_url=self.base_url, headers=headers, event_hooks=hooks, **kwargs)
        return httpx.AsyncClient(
            base_url=IN_PROCESS_URL, headers=headers, transport=httpx.ASGITransport(app=self.asgi_app), **kwargs
        )

    @staticmethod
    def _remote_hooks(remote: RemoteTarget) -> tuple[list[Any], list[Any]]:
        """An async client's hooks for a remote target: purchases refused unless allowed, everything checked."""

        async def refuse(request: httpx.Request) -> None:
            remote.refuse_purchase(request)

        async def record(response: httpx.Response) -> None:
            await response.aread()
            remote.record(response)

        return [refuse], [record]

    def sdk(self, version: str = NEWEST, token: str | None = None) -> Any:
        """The vendor's Python SDK client (`highlevel.HighLevel`) pointed at the target with the test's token.

        Its calls are async: `await lcphone.sdk().phone_system.active_numbers(...)`. Against a remote target, a
        purchase is refused before it is sent unless the run allows purchases, and every request is checked
        against the contract as the sandbox checks its own.
        """
        request_hooks: list[Any] = []
        response_hooks: list[Any] = []
        if isinstance(self.target, RemoteTarget):
            request_hooks, response_hooks = self._remote_hooks(self.target)
        elif self.tag:
            tag = self.tag

            async def tagged(request: httpx.Request) -> None:
                request.headers[TEST_HEADER] = tag

            request_hooks = [tagged]
        return vendor_sdk(self.base_url, token or self.token, version, request_hooks, response_hooks)

    def token_for(self, location_id: str, scopes: list[str] | None = None) -> str:
        """A token of another location (created if new), optionally with fewer scopes."""
        return self.target.mint_token(location_id, scopes)

    def load_scenario(self, scenario: Any) -> None:
        """Starts this test from another scenario: a path, a shipped name, YAML text or a dict."""
        self.target.load_scenario(scenario)
        self.location_id, self.token = self.target.default_credentials()

    def add_numbers(
        self, count: int = 1, country: str = "US", number_type: str = "local", location_id: str | None = None
    ) -> list[str]:
        """Gives a location (default: the test's) numbers from the inventory; returns them."""
        return self.target.add_numbers(location_id or self.location_id, count, country, number_type)

    def add_number(self, phone_number: str, location_id: str | None = None, **details: Any) -> str:
        """Gives a location one number described in full (origin, capabilities... as in a scenario)."""
        return self.target.add_number(location_id or self.location_id, phone_number, **details)

    def add_pool(self, name: str, numbers: int | list[str], location_id: str | None = None, **details: Any) -> str:
        return self.target.add_pool(location_id or self.location_id, name, numbers, **details)

    def create_location(self, location_id: str, **fields: Any) -> None:
        self.target.create_location(location_id, **fields)

    def rate_limits(self, enforce: bool = True, **policy: Any) -> None:
        """Rate limits for this test: `rate_limits(burst=5, window_ms=1000)` enforces 5 per second."""
        self.target.set_rate_limits(enforce=enforce, **policy)

    def fault(self, operation_id: str = "*", **rule: Any) -> None:
        """A fault for this test: `fault("purchaseNumber", status=503, times=2)`, `fault(latencyMs=300)`..."""
        self.target.add_fault({"operationId": operation_id, **rule})

    @property
    def journal(self) -> list[JournalEntry]:
        """Every request this test made to the target, with the contract's verdict."""
        return self.target.journal_since(self._mark)

    @property
    def violations(self) -> list[tuple[JournalEntry, Violation]]:
        entries, _ = self.target.violations_since(self._mark)
        return [(entry, v) for entry in entries for v in entry.violations]

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()
        self._client = None
