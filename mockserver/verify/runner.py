"""Runs the probes against a target, checks every answer against the contract, and collects the drift."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from ..contract import Contract, load
from ..response_validation import check_response
from .findings import NOTE, Finding, Findings, classify, extra_fields, not_enforced, slow
from .probes import ACCEPT, REJECT, Probe, ProbeBuilder, generated

READ_OPERATIONS = ("listNumberPools", "searchAvailableNumbers", "listActiveNumbers")
ENVELOPED = ("purchaseNumber", "listActiveNumbers")

CONFORMS, DRIFTED, COULD_NOT_RUN = 0, 1, 2


@dataclass(frozen=True)
class VerifyOptions:
    base_url: str
    token: str
    location_id: str
    allow_purchase: bool = False
    max_purchases: int = 1
    budget_seconds: float | None = None
    generated_per_operation: int = 10
    max_latency_ms: int = 5000
    timeout_seconds: float = 15.0


@dataclass
class Exchange:
    probe: Probe
    status: int | None  # None: no answer (connection error or timeout)
    elapsed_ms: float
    error: str = ""


@dataclass
class VerifyResult:
    options: VerifyOptions
    exchanges: list[Exchange] = field(default_factory=list)
    findings: Findings = field(default_factory=Findings)
    purchases: list[str] = field(default_factory=list)
    stopped_by_budget: bool = False
    fatal: str = ""  # why verify could not run at all
    started: float = field(default_factory=time.time)
    finished: float = 0.0

    @property
    def exit_code(self) -> int:
        if self.fatal:
            return COULD_NOT_RUN
        return DRIFTED if self.findings.drifts() else CONFORMS

    def per_operation(self) -> dict[str, dict[str, int]]:
        table: dict[str, dict[str, int]] = {}
        for exchange in self.exchanges:
            row = table.setdefault(exchange.probe.operation_id, {"requests": 0, "drifts": 0, "notes": 0})
            row["requests"] += 1
        for finding in self.findings.by_key.values():
            row = table.setdefault(finding.operation_id, {"requests": 0, "drifts": 0, "notes": 0})
            row["notes" if finding.severity == NOTE else "drifts"] += 1
        return table


Progress = Callable[[int, int, Probe], None]


class Verifier:
    def __init__(self, options: VerifyOptions, progress: Progress | None = None, contract: Contract | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.options = options
        self.contract = contract or load()
        self.progress = progress or (lambda done, total, probe: None)
        self.result = VerifyResult(options)
        self.client = httpx.Client(base_url=options.base_url.rstrip("/"), timeout=options.timeout_seconds,
                                   transport=transport, follow_redirects=False)
        self.builder = ProbeBuilder(self.contract, options.location_id)
        self._deadline = (time.monotonic() + options.budget_seconds) if options.budget_seconds else None

    # -- sending -------------------------------------------------------------------
    def send(self, probe: Probe) -> tuple[Exchange, httpx.Response | None]:
        headers = dict(probe.headers)
        if not probe.omit_auth:
            headers["Authorization"] = f"Bearer {self.options.token}"
        kwargs: dict[str, Any] = {"params": list(probe.query), "headers": headers}
        if probe.body is not None:
            kwargs["content"] = orjson.dumps(probe.body)
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            response = self.client.request(probe.operation.method, probe.path(), **kwargs)
        except httpx.HTTPError as error:
            exchange = Exchange(probe, None, (time.perf_counter() - started) * 1000, f"{type(error).__name__}: {error}")
            self.result.exchanges.append(exchange)
            return exchange, None
        exchange = Exchange(probe, response.status_code, (time.perf_counter() - started) * 1000)
        self.result.exchanges.append(exchange)
        self.judge(probe, response, exchange.elapsed_ms)
        return exchange, response

    def judge(self, probe: Probe, response: httpx.Response, elapsed_ms: float) -> None:
        findings = self.result.findings
        operation = probe.operation
        problems = check_response(operation, response.status_code, response.headers, response.content, self.contract)
        for finding in classify(probe, response.status_code, problems, operation.operation_id in ENVELOPED):
            findings.add(finding)
        if probe.expect == REJECT and response.status_code < 400:
            findings.add(not_enforced(probe, response.status_code))
        if elapsed_ms > self.options.max_latency_ms:
            findings.add(slow(probe, response.status_code, elapsed_ms, self.options.max_latency_ms))
        spec = operation.response(response.status_code)
        if spec is not None and spec.schema is not None and not problems:
            try:
                body = response.json()
            except ValueError:
                return
            for name in sorted(extra_fields(spec.schema, body)):
                findings.add(Finding(operation.operation_id, "extra-field", name, "does not list it (extra fields are allowed)",
                                     f"sent `{name}`", probe, response.status_code, severity=NOTE))

    def out_of_budget(self) -> bool:
        if self._deadline is not None and time.monotonic() > self._deadline:
            self.result.stopped_by_budget = True
            return True
        return False

    # -- the run ---------------------------------------------------------------------
    def plan(self) -> list[Probe]:
        probes: list[Probe] = []
        for operation_id in READ_OPERATIONS:
            operation = self.contract.operations[operation_id]
            probes += list(self.builder.valid(operation))
            probes += list(self.builder.invalid(operation))
            probes += generated(operation, self.builder, self.options.generated_per_operation)
        return probes

    def run(self) -> VerifyResult:
        result = self.result
        try:
            first = self.builder.probe(self.contract.operations["listNumberPools"], "reachability",
                                       self.builder.base_values(self.contract.operations["listNumberPools"]))
            exchange, response = self.send(first)
            if response is None:
                result.fatal = f"could not reach {self.options.base_url}: {exchange.error}"
                return result
            probes = self.plan()
            for done, probe in enumerate(probes, 1):
                if self.out_of_budget():
                    break
                self.progress(done, len(probes), probe)
                self.send(probe)
            if self.options.allow_purchase and not result.stopped_by_budget:
                self.purchase()
            self._judge_run()
        finally:
            self.client.close()
            result.finished = time.time()
        return result

    def _judge_run(self) -> None:
        result = self.result
        answered = [e for e in result.exchanges if e.status is not None]
        if not answered:
            result.fatal = f"no request to {self.options.base_url} was answered"
        elif all(e.status == 401 for e in answered if e.probe.expect == ACCEPT and not e.probe.omit_auth):
            result.fatal = "every valid request was refused with 401: the token is not valid for this target"

    def purchase(self) -> None:
        """Buys at most --max-purchases numbers: search, buy the first, check it is listed, replay it."""
        contract = self.contract
        search_op = contract.operations["searchAvailableNumbers"]
        values = self.builder.base_values(search_op)
        for key in ("firstPart", "lastPart", "anywhere"):
            if key in values:
                values[key] = (values[key][0], "")
        search = self.builder.probe(search_op, "purchase: search", values)
        for attempt in range(self.options.max_purchases):
            if self.out_of_budget():
                return
            _, found = self.send(search)
            if found is None or found.status_code != 200:
                return
            body = found.json() if found.headers.get("content-type", "").startswith("application/json") else {}
            numbers = body.get("numbers") if isinstance(body, dict) else None
            if not numbers or not isinstance(numbers, list):
                return
            number = numbers[0]
            purchase_op = contract.operations["purchaseNumber"]
            request = dict(purchase_op.body_example or {})
            request.update({
                "phoneNumber": number.get("phoneNumber"), "countryCode": number.get("isoCountry"),
                "numberType": (number.get("price") or {}).get("number_type", "local"),
                "fingerprintId": body.get("fingerprintId") or f"lcphone-verify-{int(time.time())}-{attempt}",
                "locality": number.get("locality") or "", "region": number.get("region") or "",
            })
            purchase_values = self.builder.base_values(purchase_op)
            probe = self.builder.probe(purchase_op, "purchase: the first number found", purchase_values, body=request)
            _, bought = self.send(probe)
            if bought is None or bought.status_code >= 300:
                return
            # No replay of the purchase: on a target that is not idempotent it would buy (and charge) twice.
            self.result.purchases.append(str(number.get("phoneNumber")))
            active_op = contract.operations["listActiveNumbers"]
            listed_values = self.builder.base_values(active_op)
            listed_values["searchFilter"] = (active_op.parameter("searchFilter"), str(number.get("phoneNumber")))
            listing = self.builder.probe(active_op, "purchase: the bought number is listed", listed_values)
            _, listed = self.send(listing)
            if listed is not None and listed.status_code == 200 and number.get("phoneNumber") not in listed.text:
                self.result.findings.add(Finding(
                    "purchaseNumber", "state", "bought number not listed",
                    "a bought number is among the location's active numbers", "did not list it", listing, 200))


def verify(options: VerifyOptions, progress: Progress | None = None,
           transport: httpx.BaseTransport | None = None) -> VerifyResult:
    return Verifier(options, progress, transport=transport).run()

