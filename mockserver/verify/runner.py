"""Runs verify against a target: preflight, then the probes of every version, every answer checked against that
version's contract, the drift collected once, and what was not checked written down with why.

Exit codes: 0 the target conforms; 1 it drifted; 2 verify could not run, or could not check everything it
should have (a token without a scope it needs, unless `--skip-operation` says so): never reported as drift.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from ..contract.behaviours import Ledger, ledger
from ..contract.model import OperationSpec
from ..contract.operations import Operation, OperationRegistry
from ..contract.operations import registry as operation_registry
from ..contract.versions import VersionRegistry
from ..contract.versions import registry as version_registry
from ..control.journal import mask
from . import purchases  # noqa: F401  (registers the purchase check)
from .checks import BEHAVIOUR_CHECKS, ONCE_PER_RUN, Answer, CheckContext, Observation
from .coverage import Coverage
from .findings import NOTE, Finding, Findings
from .judge import WireFact, judge
from .probes import (
    AUTH_LOCATION,
    AUTH_RULES,
    AUTH_SCOPE,
    EDGES,
    EXAMPLE,
    GENERATED,
    PURCHASE,
    READ_RULES,
    REFUSALS,
    WIRE_FORMS,
    Probe,
    ProbeBuilder,
    generated,
)
from .purchases import PurchaseBudget
from .reference import Reference

CONFORMS, DRIFTED, COULD_NOT_RUN = 0, 1, 2
RETRY_CAP_SECONDS = 15.0  # the longest verify waits on a 429's Retry-After before it asks again


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("retry-after", "1")))
    except ValueError:
        return 1.0


@dataclass(frozen=True)
class VerifyOptions:
    base_url: str
    token: str
    location_id: str
    versions: tuple[str, ...] = field(default_factory=lambda: version_registry().names)
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


@dataclass
class VerifyResult:
    options: VerifyOptions
    operations: OperationRegistry = field(default_factory=operation_registry)
    exchanges: list[Exchange] = field(default_factory=list)
    findings: Findings = field(default_factory=Findings)
    coverage: Coverage = field(default_factory=Coverage)
    facts: list[WireFact] = field(default_factory=list)
    purchases: list[str] = field(default_factory=list)  # each number bought: "number (version): why"
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
        operations = [operation.id for operation in self.operations if version in operation.versions]
        table = {
            operation: {"requests": 0, "vendor drift": 0, "fidelity gaps": 0, "notes": 0, "not checked": 0}
            for operation in operations
        }
        for exchange in self.exchanges:
            if exchange.probe.version == version:
                table[exchange.probe.operation_id]["requests"] += 1
        for finding in self.findings.by_key.values():
            if finding.version == version:
                column = (
                    "notes" if finding.severity == NOTE else "fidelity gaps" if finding.fidelity_gap else "vendor drift"
                )
                table[finding.operation_id][column] += 1
        for gap in self.coverage.not_checked():
            if gap.version == version:
                table[gap.operation_id]["not checked"] += 1
        return table


Progress = Callable[[int, int, Probe], None]


class Verifier:
    def __init__(
        self,
        options: VerifyOptions,
        progress: Progress | None = None,
        transport: httpx.BaseTransport | None = None,
        operations: OperationRegistry | None = None,
        versions: VersionRegistry | None = None,
    ) -> None:
        self.options = options
        self.operations = operations or operation_registry()
        self.versions = versions or version_registry()
        self.progress = progress or (lambda done, total, probe: None)
        self.result = VerifyResult(options, self.operations)
        self.client = httpx.Client(
            base_url=options.base_url.rstrip("/"),
            timeout=options.timeout_seconds,
            transport=transport,
            follow_redirects=False,
        )
        self._deadline = (time.monotonic() + options.budget_seconds) if options.budget_seconds else None
        self.lacking: dict[str, str] = {}  # operation -> the scope the token lacks for it

    def builder(self, version: str) -> ProbeBuilder:
        optional = frozenset(operation.id for operation in self.operations if operation.newest.version_header is None)
        return ProbeBuilder(self.options.location_id, optional)

    def served(self, version: str) -> list[Operation]:
        """The operations `version` serves, in the registry's order."""
        return [operation for operation in self.operations if version in operation.versions]

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
            if response.status_code == 429 and probe.expect != "rate-limited":
                # verify's own pace met the target's rate limit: wait as told (briefly), and ask again once.
                time.sleep(min(RETRY_CAP_SECONDS, _retry_after(response)))
                started = time.perf_counter()
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
        """The answer checks (`judge.py`); a fidelity gap also says what the sandbox answers to the same request."""
        judgement = judge(probe, response, elapsed_ms, self.versions[probe.version], self.options.max_latency_ms)
        self.result.facts += judgement.facts
        for finding in judgement.findings:
            if finding.fidelity_gap and finding.key not in self.result.findings.by_key:
                answer = self.reference.ask(probe)
                finding.sandbox_did = answer.brief() if answer else "no answer"
            self.result.findings.add(finding)

    @functools.cached_property
    def reference(self) -> Reference:
        """lcphone's sandbox where the target stands: what it answers, set beside a fidelity gap."""
        options = self.options
        return Reference(options.location_id, options.token, options.limited_token, options.limited_scopes)

    def out_of_budget(self) -> bool:
        if self._deadline is not None and time.monotonic() > self._deadline:
            self.result.stopped_by_budget = True
            return True
        return False

    # -- preflight: does the token reach the location, with the scopes each check needs? ----------
    def preflight(self) -> bool:
        """The example request of every operation that spends nothing: whether the run can go on."""
        version = self.options.versions[0]
        answers: dict[str, tuple[int, str]] = {}
        for operation in self.served(version):
            if operation.spends_money or operation.id in self.options.skip_operations:
                continue
            answer = self._preflight_answer(operation.at(version))
            if answer is None:
                return False
            answers[operation.id] = answer
        return self._judge_preflight(version, answers) if answers else True

    def _preflight_answer(self, spec: OperationSpec) -> tuple[int, str] | None:
        builder = self.builder(spec.version)
        probe = builder.probe(spec, "preflight: the example request", builder.base_values(spec), rule="preflight")
        exchange, response = self.send(probe)
        for _ in range(2):  # a passing 5xx is drift to report, not a reason to give up: ask again
            if response is None or response.status_code < 500:
                break
            time.sleep(0.2)
            exchange, response = self.send(probe)
        if response is None:
            self.result.fatal = f"could not reach {self.options.base_url}: {exchange.error}"
            return None
        return response.status_code, response.text[:200].replace("\n", " ")

    def _judge_preflight(self, version: str, answers: dict[str, tuple[int, str]]) -> bool:
        result, options = self.result, self.options
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
            if status == 404 and "404" in self.operations[op].at(version).responses:
                result.fatal = f"{where} has no phone system connected: {op} answered 404 {body}"
                return False
        for op in unauthorized:
            self.lacking[op] = ", ".join(self.operations[op].scopes)
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
        """Every probe of every operation the version serves, each rule not probed written down with why."""
        probes: list[Probe] = []
        for operation in self.served(version):
            probes += self._plan_operation(operation.at(version), operation.spends_money)
        return probes

    def _plan_operation(self, spec: OperationSpec, spends_money: bool) -> list[Probe]:
        options, coverage, builder = self.options, self.result.coverage, self.builder(spec.version)
        version, operation_id = spec.version, spec.operation_id
        if operation_id in options.skip_operations:
            for rule in (*READ_RULES, *AUTH_RULES, *([PURCHASE] if spends_money else [])):
                coverage.skip(version, operation_id, rule, "skipped on purpose (--skip-operation)")
            return []
        probes = list(builder.auth(spec, options.other_location))
        if not options.other_location:
            coverage.skip(version, operation_id, AUTH_LOCATION, "no --other-location given")
        if options.limited_token:
            probes += list(builder.scopes(spec, options.limited_token, options.limited_scopes))
        else:
            coverage.skip(version, operation_id, AUTH_SCOPE, "no --limited-token given")
        if operation_id in self.lacking:
            for rule in READ_RULES:
                coverage.skip(version, operation_id, rule, f"the token lacks scope {self.lacking[operation_id]}")
            return probes
        if spends_money:
            # Only requests it must refuse: a valid one would buy a number.
            if not options.allow_purchase:
                coverage.skip(version, operation_id, PURCHASE, "read-only run (--allow-purchase not given)")
            for rule in (EXAMPLE, EDGES, GENERATED):
                reason = "a valid purchase buys a number: only with --allow-purchase, and then one real purchase"
                coverage.skip(version, operation_id, rule, reason)
            return probes + list(builder.invalid(spec))
        probes += list(builder.valid(spec))
        probes += list(builder.invalid(spec))
        probes += generated(spec, builder, options.generated_per_operation)
        probes += list(builder.wire_forms(spec))
        return probes

    def run(self) -> VerifyResult:
        result = self.result
        try:
            if not self.preflight():
                return result
            for index, version in enumerate(self.options.versions):
                # The ledger's behaviours first: the rate-limit counters are fresh then.
                self.behaviours(version, first=index == 0)
                self._send_all(self.plan(version))
            self.not_verified()
            self._judge_run()
        finally:
            self.client.close()
            if "reference" in self.__dict__:
                self.reference.close()
            result.finished = time.time()
        return result

    def _send_all(self, probes: list[Probe]) -> None:
        for done, probe in enumerate(probes, 1):
            if self.out_of_budget():
                for rest in probes[done - 1 :]:
                    reason = f"the budget ({self.options.budget_seconds:g} s) ran out"
                    self.result.coverage.skip(rest.version, rest.operation_id, rest.rule, reason)
                return
            self.progress(done, len(probes), probe)
            self.send(probe)

    def _judge_run(self) -> None:
        result = self.result
        if not [e for e in result.exchanges if e.status is not None]:
            result.fatal = f"no request to {self.options.base_url} was answered"
        result.purchases = list(self.purchase_budget.bought)
        result.setup_problems += self._target_extra.get("setup problems", [])

    # -- the ledger's behaviours -------------------------------------------------------------
    @functools.cached_property
    def purchase_budget(self) -> PurchaseBudget:
        """The attempts that may cost money, for the whole run, across versions."""
        return PurchaseBudget(self.options.max_purchases if self.options.allow_purchase else 0)

    @functools.cached_property
    def _target_extra(self) -> dict[str, Any]:
        return {"budget": self.purchase_budget, "version registry": self.versions}

    def _context(self, version: str, ask, extra: dict[str, Any]) -> CheckContext:
        return CheckContext(
            self.versions[version], self.operations, self.builder(version), ask, self.options.versions, extra
        )

    def _ask_target(self, probe: Probe) -> Answer | None:
        _, response = self.send(probe)
        return Answer.of(response) if response is not None else None

    def behaviours(self, version: str, first: bool) -> None:
        """Every behaviour check of the ledger, against the target and the reference sandbox, side by side."""
        target = self._context(version, self._ask_target, self._target_extra)
        reference = self._context(
            version, self.reference.ask, {"budget": PurchaseBudget(None), "version registry": self.versions}
        )
        # Once-a-run checks first (the rate-limit counters are fresh then), then the rest in the registry's order.
        for name, check in sorted(BEHAVIOUR_CHECKS.items(), key=lambda item: item[0] not in ONCE_PER_RUN):
            if (name in ONCE_PER_RUN and not first) or not self._runs(name, version):
                continue
            if self.out_of_budget():
                return
            seen = list(check(target))
            sandbox = {(o.behaviour, o.key): o for o in check(reference)}
            for observation in seen:
                self._observed(version, observation, sandbox.get((observation.behaviour, observation.key)))

    def _runs(self, check: str, version: str) -> bool:
        """Whether a check can run here; if not, each behaviour it confirms is written down as not checked."""
        why = None
        if check == "purchase" and not self.options.allow_purchase:
            why = "read-only run (--allow-purchase not given)"
        for behaviour in self.ledger.checked_by(check):
            operations = behaviour.operations or [op.id for op in self.served(version)]
            skipped = [op for op in operations if op in self.options.skip_operations or op in self.lacking]
            if skipped and why is None:
                why = f"{', '.join(skipped)} not checked (--skip-operation, or the token lacks its scope)"
            if why is not None:
                for operation_id in operations:
                    if behaviour.concerns(operation_id, version):
                        self.result.coverage.skip(version, operation_id, f"behaviour {behaviour.id}", why)
        return why is None

    def _observed(self, version: str, observation: Observation, sandbox: Observation | None) -> None:
        behaviour = self.ledger.behaviours.get(observation.behaviour)
        rule, operation_id = f"behaviour {observation.behaviour}", observation.probe.operation_id
        if observation.holds is None:
            self.result.coverage.skip(version, operation_id, rule, observation.summary)
            return
        self.result.coverage.exercised(version, operation_id, rule)
        if observation.holds or behaviour is None:
            return
        self.result.findings.add(
            Finding(
                operation_id,
                "behaviour",
                observation.behaviour,
                behaviour.sees,
                observation.summary,
                observation.probe,
                observation.status,
                behaviour=observation.behaviour,
                sandbox_did=sandbox.summary if sandbox is not None else "",
            )
        )

    @functools.cached_property
    def ledger(self) -> Ledger:
        return ledger()

    def not_verified(self) -> None:
        """The behaviours no check can confirm against a real API, with why: listed as not checked."""
        for behaviour in self.ledger:
            if behaviour.verify is not None:
                continue
            versions = ", ".join(behaviour.versions) if behaviour.versions else "every version"
            operations = ", ".join(behaviour.operations) if behaviour.operations else "every operation"
            self.result.coverage.skip(versions, operations, f"behaviour {behaviour.id}", str(behaviour.not_verified))


def verify(
    options: VerifyOptions, progress: Progress | None = None, transport: httpx.BaseTransport | None = None
) -> VerifyResult:
    return Verifier(options, progress, transport=transport).run()


__all__ = ["COULD_NOT_RUN", "CONFORMS", "DRIFTED", "REFUSALS", "VerifyOptions", "VerifyResult", "WIRE_FORMS", "verify"]
