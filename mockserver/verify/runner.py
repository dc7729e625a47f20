"""Runs verify against a target: preflight, then the probes of every version, every answer checked against that
version's contract, the drift collected once, and what was not checked written down with why.

Exit codes: 0 the target conforms; 1 it drifted; 2 verify could not run, or could not check everything it
should have (a token without a scope it needs, unless `--skip-operation` says so): never reported as drift.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from ..contract import Contract, OperationSpec, load
from ..contract_files import LATEST, VERSIONS
from ..journal import mask
from ..response_validation import check_response
from .coverage import Coverage
from .findings import (
    NOTE,
    Finding,
    Findings,
    auth_not_enforced,
    classify,
    extra_fields,
    not_enforced,
    slow,
    wire_form_refused,
)
from .probes import (
    AUTH_LOCATION,
    AUTH_RULES,
    AUTH_SCOPE,
    FORBIDDEN,
    PURCHASE,
    READ_RULES,
    REFUSALS,
    REJECT,
    UNAUTHORIZED,
    WIRE_FORMS,
    Probe,
    ProbeBuilder,
    generated,
)

READ_OPERATIONS = ("listNumberPools", "searchAvailableNumbers", "listActiveNumbers")
OPERATIONS = (*READ_OPERATIONS, "purchaseNumber")
ENVELOPED = ("purchaseNumber", "listActiveNumbers")  # at v3

CONFORMS, DRIFTED, COULD_NOT_RUN = 0, 1, 2


@dataclass(frozen=True)
class VerifyOptions:
    base_url: str
    token: str
    location_id: str
    versions: tuple[str, ...] = VERSIONS
    other_location: str | None = None  # a location the token must not reach: 403 expected there
    skip_operations: tuple[str, ...] = ()  # operations not to check, on purpose (e.g. the token lacks their scope)
    limited_token: str | None = None  # a token of the location with only `limited_scopes`: scopes must be enforced
    limited_scopes: frozenset[str] = frozenset()
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


@dataclass(frozen=True)
class WireFact:
    version: str
    operation_id: str
    form: str
    accepted: bool
    status: int | None


@dataclass
class VerifyResult:
    options: VerifyOptions
    exchanges: list[Exchange] = field(default_factory=list)
    findings: Findings = field(default_factory=Findings)
    coverage: Coverage = field(default_factory=Coverage)
    facts: list[WireFact] = field(default_factory=list)
    purchases: list[str] = field(default_factory=list)
    setup_problems: list[str] = field(default_factory=list)  # what kept parts of the contract unchecked
    stopped_by_budget: bool = False
    fatal: str = ""  # why verify could not run at all
    started: float = field(default_factory=time.time)
    finished: float = 0.0

    @property
    def exit_code(self) -> int:
        if self.fatal:
            return COULD_NOT_RUN
        if self.findings.drifts():
            return DRIFTED
        return COULD_NOT_RUN if self.setup_problems else CONFORMS

    def per_operation(self, version: str) -> dict[str, dict[str, int]]:
        table = {operation: {"requests": 0, "drifts": 0, "notes": 0, "not checked": 0} for operation in OPERATIONS}
        for exchange in self.exchanges:
            if exchange.probe.version == version:
                table[exchange.probe.operation_id]["requests"] += 1
        for finding in self.findings.by_key.values():
            if finding.version == version:
                table[finding.operation_id]["notes" if finding.severity == NOTE else "drifts"] += 1
        for gap in self.coverage.not_checked():
            if gap.version == version:
                table[gap.operation_id]["not checked"] += 1
        return table


Progress = Callable[[int, int, Probe], None]


class Verifier:
    def __init__(
        self, options: VerifyOptions, progress: Progress | None = None, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.options = options
        self.progress = progress or (lambda done, total, probe: None)
        self.result = VerifyResult(options)
        self.client = httpx.Client(
            base_url=options.base_url.rstrip("/"),
            timeout=options.timeout_seconds,
            transport=transport,
            follow_redirects=False,
        )
        self._deadline = (time.monotonic() + options.budget_seconds) if options.budget_seconds else None
        self.lacking: dict[str, str] = {}  # operation -> the scope the token lacks for it

    def builder(self, version: str) -> ProbeBuilder:
        newest = load(LATEST).operations.values()
        optional = frozenset(op.operation_id for op in newest if op.version_header is None)
        return ProbeBuilder(load(version), self.options.location_id, optional)

    # -- sending -------------------------------------------------------------------
    def send(self, probe: Probe) -> tuple[Exchange, httpx.Response | None]:
        headers = dict(probe.headers)
        if probe.authorization is None:
            headers["Authorization"] = f"Bearer {self.options.token}"
        elif probe.authorization:
            headers["Authorization"] = probe.authorization
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
        self.result.coverage.exercised(probe.version, probe.operation_id, probe.rule)
        self.judge(probe, response, exchange.elapsed_ms)
        return exchange, response

    def judge(self, probe: Probe, response: httpx.Response, elapsed_ms: float) -> None:
        findings = self.result.findings
        operation = probe.operation
        status = response.status_code
        problems = check_response(operation, status, response.headers, response.content)
        enveloped = operation.version == LATEST and operation.operation_id in ENVELOPED
        for finding in classify(probe, status, problems, enveloped):
            findings.add(finding)
        if probe.expect == REJECT and status < 400:
            findings.add(not_enforced(probe, status))
        expected = {UNAUTHORIZED: 401, FORBIDDEN: 403}.get(probe.expect)
        if expected is not None and status != expected:
            findings.add(auth_not_enforced(probe, status, expected))
        if probe.form:
            self.result.facts.append(
                WireFact(probe.version, probe.operation_id, probe.form, 200 <= status < 300, status)
            )
            if status >= 400:
                findings.add(wire_form_refused(probe, status))
        if elapsed_ms > self.options.max_latency_ms:
            findings.add(slow(probe, status, elapsed_ms, self.options.max_latency_ms))
        spec = operation.response(status)
        if spec is not None and spec.schema is not None and not problems:
            try:
                body = response.json()
            except ValueError:
                return
            for name in sorted(extra_fields(spec.schema, body)):
                findings.add(
                    Finding(
                        operation.operation_id,
                        "extra-field",
                        name,
                        "does not list it (extra fields are allowed)",
                        f"sent `{name}`",
                        probe,
                        status,
                        severity=NOTE,
                    )
                )

    def out_of_budget(self) -> bool:
        if self._deadline is not None and time.monotonic() > self._deadline:
            self.result.stopped_by_budget = True
            return True
        return False

    # -- preflight: does the token reach the location, with the scopes each check needs? ----------
    def preflight(self) -> bool:
        result, options = self.result, self.options
        version = options.versions[0]
        builder = self.builder(version)
        answers: dict[str, tuple[int, str]] = {}
        for operation_id in READ_OPERATIONS:
            if operation_id in options.skip_operations:
                continue
            operation = load(version).operations[operation_id]
            probe = builder.probe(
                operation, "preflight: the example request", builder.base_values(operation), rule="preflight"
            )
            exchange, response = self.send(probe)
            for _ in range(2):  # a passing 5xx is drift to report, not a reason to give up: ask again
                if response is None or response.status_code < 500:
                    break
                time.sleep(0.2)
                exchange, response = self.send(probe)
            if response is None:
                result.fatal = f"could not reach {options.base_url}: {exchange.error}"
                return False
            answers[operation_id] = (response.status_code, response.text[:200].replace("\n", " "))
        if not answers:
            return True
        token = mask(options.token)
        where = f"location {options.location_id}"
        refused = {op: answer for op, answer in answers.items() if answer[0] == 403}
        if refused:
            op, (status, body) = next(iter(refused.items()))
            result.fatal = f"the token {token} does not reach {where}: {op} answered {status} {body}"
            return False
        unauthorized = {op: answer for op, answer in answers.items() if answer[0] == 401}
        if len(unauthorized) == len(answers):
            op, (status, body) = next(iter(unauthorized.items()))
            result.fatal = f"the target refused the token {token} for {where}: every check answered 401 ({op}: {body})"
            return False
        for op, (status, body) in answers.items():
            if status >= 500:
                result.fatal = f"the target answered {status} to a valid request ({op}): {body}"
                return False
            if status == 404 and op != "listNumberPools":
                result.fatal = f"{where} has no phone system connected: {op} answered 404 {body}"
                return False
        for op in unauthorized:
            self.lacking[op] = ", ".join(load(version).operations[op].scopes)
        if unauthorized:
            ops = ", ".join(unauthorized)
            scopes = ", ".join(dict.fromkeys(self.lacking.values()))
            result.setup_problems.append(
                f"the token {token} lacks scope {scopes} for {where} ({ops} answered 401 "
                f"{next(iter(unauthorized.values()))[1]}); pass --skip-operation for each to check without them"
            )
        return True

    # -- the plan ------------------------------------------------------------------------
    def plan(self, version: str) -> list[Probe]:
        options, coverage = self.options, self.result.coverage
        builder = self.builder(version)
        contract: Contract = load(version)
        probes: list[Probe] = []
        for operation_id in OPERATIONS:
            operation = contract.operations[operation_id]
            rules = (
                [*READ_RULES, *AUTH_RULES, PURCHASE] if operation_id == "purchaseNumber" else [*READ_RULES, *AUTH_RULES]
            )
            if operation_id in options.skip_operations:
                for rule in rules:
                    coverage.skip(version, operation_id, rule, "skipped on purpose (--skip-operation)")
                continue
            probes += list(builder.auth(operation, options.other_location))
            if not options.other_location:
                coverage.skip(version, operation_id, AUTH_LOCATION, "no --other-location given")
            if options.limited_token:
                probes += list(builder.scopes(operation, options.limited_token, options.limited_scopes))
            else:
                coverage.skip(version, operation_id, AUTH_SCOPE, "no --limited-token given")
            if operation_id in self.lacking:
                for rule in READ_RULES:
                    coverage.skip(version, operation_id, rule, f"the token lacks scope {self.lacking[operation_id]}")
                continue
            if operation_id == "purchaseNumber":
                probes += list(builder.invalid(operation))
                if not options.allow_purchase:
                    coverage.skip(version, operation_id, PURCHASE, "read-only run (--allow-purchase not given)")
                for rule in (*READ_RULES[:2], READ_RULES[3]):
                    coverage.skip(
                        version,
                        operation_id,
                        rule,
                        "a valid purchase buys a number: only with --allow-purchase, and then one real purchase",
                    )
                continue
            probes += list(builder.valid(operation))
            probes += list(builder.invalid(operation))
            probes += generated(operation, builder, options.generated_per_operation)
            probes += list(builder.wire_forms(operation))
        return probes

    def run(self) -> VerifyResult:
        result = self.result
        try:
            if not self.preflight():
                return result
            for version in self.options.versions:
                probes = self.plan(version)
                for done, probe in enumerate(probes, 1):
                    if self.out_of_budget():
                        for rest in probes[done - 1 :]:
                            result.coverage.skip(
                                rest.version,
                                rest.operation_id,
                                rest.rule,
                                f"the budget ({self.options.budget_seconds:g} s) ran out",
                            )
                        break
                    self.progress(done, len(probes), probe)
                    self.send(probe)
                if self.options.allow_purchase and not result.stopped_by_budget:
                    self.purchase(version)
            self._judge_run()
        finally:
            self.client.close()
            result.finished = time.time()
        return result

    def _judge_run(self) -> None:
        result = self.result
        if not [e for e in result.exchanges if e.status is not None]:
            result.fatal = f"no request to {self.options.base_url} was answered"

    def purchase(self, version: str) -> None:
        """Buys at most --max-purchases numbers: search, buy the first, check it is listed."""
        contract = load(version)
        builder = self.builder(version)
        search_op = contract.operations["searchAvailableNumbers"]
        values = builder.base_values(search_op)
        for key in ("firstPart", "lastPart", "anywhere"):
            if key in values:
                values[key] = (values[key][0], "")
        search = builder.probe(search_op, "purchase: search", values)
        spent = 0
        for attempt in range(self.options.max_purchases):
            if self.out_of_budget() or spent >= self.options.max_purchases:
                return
            _, found = self.send(search)
            if found is None or found.status_code != 200:
                return
            body = found.json() if found.headers.get("content-type", "").startswith("application/json") else {}
            numbers = body.get("numbers") if isinstance(body, dict) else None
            if not numbers or not isinstance(numbers, list):
                self.result.coverage.skip(version, "purchaseNumber", PURCHASE, "the search offered no number to buy")
                return
            number = numbers[0]
            purchase_op = contract.operations["purchaseNumber"]
            request = dict(purchase_op.body_example or {})
            request.update(
                {
                    "phoneNumber": number.get("phoneNumber"),
                    "countryCode": number.get("isoCountry"),
                    "numberType": (number.get("price") or {}).get("number_type", "local"),
                    "fingerprintId": body.get("fingerprintId") or f"lcphone-verify-{int(time.time())}-{attempt}",
                }
            )
            if "locality" in request or version == LATEST:
                request.update({"locality": number.get("locality") or "", "region": number.get("region") or ""})
            probe = builder.probe(
                purchase_op,
                "purchase: the first number found",
                builder.base_values(purchase_op),
                rule=PURCHASE,
                body=request,
            )
            _, bought = self.send(probe)
            if bought is None or bought.status_code >= 300:
                if bought is not None and bought.status_code in (401, 403):
                    self.result.setup_problems.append(
                        f"the token {mask(self.options.token)} may not purchase ({version}: answered "
                        f"{bought.status_code}); it needs scope {', '.join(purchase_op.scopes)}"
                    )
                return
            # No replay of the purchase: on a target that is not idempotent it would buy (and charge) twice.
            self.result.purchases.append(f"{number.get('phoneNumber')} ({version})")
            self._check_listed(version, str(number.get("phoneNumber")))
            spent += 1
            if spent < self.options.max_purchases:
                spent += 1  # the attempt counts as a purchase: a target that sells twice charges twice
                self._buy_again(version, builder, probe, request)

    def _buy_again(self, version: str, builder: ProbeBuilder, bought: Probe, request: dict[str, Any]) -> None:
        """The number just bought, asked for again with a new fingerprint: a number is sold once (D10)."""
        again = {**request, "fingerprintId": f"{request.get('fingerprintId')}-again"}
        probe = builder.probe(
            bought.operation,
            "purchase: the same number again, a new fingerprint",
            builder.base_values(bought.operation),
            rule=PURCHASE,
            body=again,
        )
        _, answer = self.send(probe)
        if answer is not None and 200 <= answer.status_code < 300:
            self.result.purchases.append(f"{request.get('phoneNumber')} again ({version})")
            self.result.findings.add(
                Finding(
                    "purchaseNumber",
                    "state",
                    "a sold number was sold again",
                    "refuses a number already bought with 400 (D10)",
                    f"answered {answer.status_code}",
                    probe,
                    answer.status_code,
                )
            )

    def _check_listed(self, version: str, phone_number: str) -> None:
        active_op = load(version).operations["listActiveNumbers"]
        builder = self.builder(version)
        values = builder.base_values(active_op)
        search_filter = active_op.parameter("searchFilter")
        assert search_filter is not None
        values["searchFilter"] = (search_filter, phone_number)
        listing = builder.probe(active_op, "purchase: the bought number is listed", values, rule=PURCHASE)
        _, listed = self.send(listing)
        if listed is not None and listed.status_code == 200 and phone_number not in listed.text:
            self.result.findings.add(
                Finding(
                    "purchaseNumber",
                    "state",
                    "bought number not listed",
                    "a bought number is among the location's active numbers",
                    "did not list it",
                    listing,
                    200,
                )
            )


def operations_of(version: str) -> dict[str, OperationSpec]:
    return load(version).operations


def verify(
    options: VerifyOptions, progress: Progress | None = None, transport: httpx.BaseTransport | None = None
) -> VerifyResult:
    return Verifier(options, progress, transport=transport).run()


__all__ = ["COULD_NOT_RUN", "CONFORMS", "DRIFTED", "REFUSALS", "VerifyOptions", "VerifyResult", "WIRE_FORMS", "verify"]
