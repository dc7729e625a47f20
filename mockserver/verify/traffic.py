"""Live traffic judged as verify judges its own probes: one client request and the answer a real API gave it.

The proxy (`lcphone proxy`) and the pytest plugin's remote mode ask here, so that an answer is judged the
same way whoever saw it. The request becomes a probe (what the contract expects of its answer follows from
the request's verdict: a malformed request must be refused naming what is wrong, one without a token must
get 401), and the probe's answer goes through verify's answer checks (`judge.py`). Beyond those, the ledger's
behaviours that one answer can show are checked too: every number of a search matches its filters, a page
holds at most pageSize numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import orjson

from ..contract.behaviours import ledger
from ..contract.conformance import Verdict
from ..contract.model import OperationSpec
from ..contract.requests import Violation
from ..contract.versions import ApiVersion, VersionRegistry
from ..contract.versions import registry as version_registry
from ..control.journal import MASK, AnswerCheck, AnswerProblem
from .checks import SEARCH, _national
from .findings import DRIFT, Finding
from .judge import judge
from .probes import ACCEPT, AUTH_MALFORMED, AUTH_NONE, REFUSALS, REJECT, UNAUTHORIZED, Probe

LIVE = "live traffic"
NO_LATENCY_LIMIT = 10**9
SEARCH_LIMIT = 20  # the most numbers a search answers (search.limit, D7)


def probe_of(verdict: Verdict, body: Any = None) -> Probe | None:
    """The request as a probe of its operation: what its answer must be follows from the request's verdict.

    In the sandbox's order (D1, D15, D4): a Version problem is refused first, then a missing or malformed
    token (401), then anything else malformed (400, naming it)."""
    spec = verdict.spec
    if spec is None:
        return None
    headers = verdict.headers
    authorization = headers.get("authorization")
    sent_headers = {"Version": headers["version"]} if "version" in headers else {}
    for parameter in spec.parameters:
        if parameter.location == "header" and parameter.name.lower() in headers and parameter.name != "Version":
            sent_headers[parameter.name] = headers[parameter.name.lower()]
    probe = Probe(
        spec,
        LIVE,
        dict(verdict.path_params),
        tuple(verdict.query),
        sent_headers,
        body if body is not None else verdict.request.body,
        authorization=_authorization(verdict.request.token, authorization),
    )
    security = [v for v in verdict.violations if v.rule == "security"]
    others = [v for v in verdict.violations if v.rule != "security"]
    version_problem = next((v for v in others if v.field == "header Version"), None)
    if verdict.refusal is not None and version_problem is not None:
        return _refused(probe, version_problem)
    if security:
        rule = AUTH_NONE if authorization is None else AUTH_MALFORMED
        return replace(probe, expect=UNAUTHORIZED, rule=rule, label=rule)
    if others:
        return _refused(probe, others[0])
    form = _list_form(spec, verdict.query)
    return replace(probe, form=form, label=f"numberTypes {form}" if form else LIVE) if form else probe


def _authorization(token: str | None, sent: str | None) -> str | None:
    """None: the client's own bearer token (masked wherever it is shown); "": it sent none; else masked."""
    if token is not None:
        return None
    if sent is None:
        return ""
    scheme, space, _ = sent.partition(" ")
    return f"{scheme} {MASK}" if space else MASK


def _refused(probe: Probe, violation: Violation) -> Probe:
    name = violation.field.removeprefix("header ")
    return replace(
        probe, expect=REJECT, rule=REFUSALS, refusal=violation.rule, names=name, label=f"{name} ({violation.rule})"
    )


def _list_form(spec: OperationSpec, query: list[tuple[str, str]]) -> str:
    """How the request sent numberTypes, when in a form other than one plain value (D27)."""
    if spec.operation_id != SEARCH:
        return ""
    keys = [name for name, _ in query]
    if "numberTypes[]" in keys:
        return "brackets"
    if keys.count("numberTypes") > 1:
        return "repeated"
    if any(name == "numberTypes" and "," in value for name, value in query):
        return "comma"
    return ""


# -- the ledger's behaviours one answer shows ------------------------------------------------------------
AnswerRule = Callable[[Mapping[str, Any], Any, ApiVersion, OperationSpec], Iterator[tuple[str, str]]]
ANSWER_RULES: dict[str, list[AnswerRule]] = {}


def answer_rule(operation_id: str) -> Callable[[AnswerRule], AnswerRule]:
    """Registers a check of the 200 answers of `operation_id`: it yields (ledger id, what the answer did)."""

    def register(rule: AnswerRule) -> AnswerRule:
        ANSWER_RULES.setdefault(operation_id, []).append(rule)
        return rule

    return register


def _listed(body: Any, version: ApiVersion, spec: OperationSpec) -> Any:
    if spec.answers_in(version.envelope) and isinstance(body, dict):
        return body.get(version.envelope_answer)
    return body


def _numbers(listed: Any) -> list[dict[str, Any]]:
    numbers = listed.get("numbers") if isinstance(listed, dict) else None
    return [n for n in numbers if isinstance(n, dict)] if isinstance(numbers, list) else []


def _failing(numbers: list[dict[str, Any]], test: Callable[[dict[str, Any]], bool], wanted: str) -> str | None:
    failing = [str(n.get("phoneNumber")) for n in numbers if not test(n)]
    if not failing:
        return None
    shown = ", ".join(failing[:3]) + (" ..." if len(failing) > 3 else "")
    return f"{len(failing)} of its {len(numbers)} numbers do not {wanted}: {shown}"


def _types(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part for part in value.split(",") if part]
    return [str(v) for v in value] if isinstance(value, list) else []


@answer_rule(SEARCH)
def search_matches_its_filters(params, body, version, spec) -> Iterator[tuple[str, str]]:
    numbers = _numbers(_listed(body, version, spec))
    digits = {
        "firstPart": ("search.first-part", str.startswith, "begin with"),
        "lastPart": ("search.last-part", str.endswith, "end with"),
        "anywhere": ("search.anywhere", str.__contains__, "have"),
    }
    for name, (behaviour, test, words) in digits.items():
        wanted = params.get(name)
        if isinstance(wanted, str) and wanted:
            matches = lambda n, test=test, wanted=wanted: test(_national(str(n.get("phoneNumber"))), wanted)
            found = _failing(numbers, matches, f"{words} {wanted}")
            if found:
                yield behaviour, found
    types = _types(params.get("numberTypes"))
    if types:
        found = _failing(
            numbers, lambda n: (n.get("price") or {}).get("number_type") in types, f"have a type of {types}"
        )
        if found:
            yield "search.number-types", found
    capabilities = [
        c
        for name, c in (("smsEnabled", "SMS"), ("mmsEnabled", "MMS"), ("voiceEnabled", "voice"))
        if params.get(name) is True
    ]
    if capabilities:
        found = _failing(
            numbers,
            lambda n: all((n.get("capabilities") or {}).get(c) is True for c in capabilities),
            "have " + " and ".join(capabilities),
        )
        if found:
            yield "search.capabilities", found
    country = params.get("countryCode")
    if isinstance(country, str) and country:
        found = _failing(numbers, lambda n: n.get("isoCountry") == country, f"belong to {country}")
        if found:
            yield "search.country", found
    if len(numbers) > SEARCH_LIMIT:
        yield "search.limit", f"it answered {len(numbers)} numbers"


@answer_rule("listActiveNumbers")
def page_holds_at_most_page_size(params, body, version, spec) -> Iterator[tuple[str, str]]:
    listed = _listed(body, version, spec)
    size = params.get("pageSize")
    numbers = _numbers(listed)
    if isinstance(size, (int, float)) and len(numbers) > size:
        yield "active.page-size", f"a page of pageSize={size:g} held {len(numbers)} numbers"
    elif isinstance(listed, dict) and isinstance(size, (int, float)) and listed.get("pageSize", size) != size:
        yield "active.page-size", f"asked for pageSize={size:g}, it echoed pageSize={listed.get('pageSize')!r}"


# -- the judge -------------------------------------------------------------------------------------------
class LiveAnswer:
    """An answer as the checks read it (`judge.Received`): its body parsed once, on first use."""

    __slots__ = ("status_code", "headers", "content", "_json", "_parsed")

    def __init__(self, status: int, headers: Mapping[str, str], content: bytes) -> None:
        self.status_code = status
        self.headers = headers
        self.content = content
        self._parsed = False
        self._json: Any = None

    def json(self) -> Any:
        if not self._parsed:
            self._parsed = True
            try:
                self._json = orjson.loads(self.content)
            except orjson.JSONDecodeError:
                self._json = _NOT_JSON
        if self._json is _NOT_JSON:
            raise ValueError("the answer is not JSON")
        return self._json


_NOT_JSON = object()


@dataclass
class TrafficJudgement:
    check: AnswerCheck  # what the journal keeps of it
    findings: list[Finding]  # what the reports count (each distinct one once)
    answer: Any = None  # the answer's JSON, or None


class TrafficJudge:
    """Judges answers to live requests against the contract of the version each asked for, and the ledger."""

    def __init__(self, versions: VersionRegistry | None = None, max_latency_ms: int | None = None) -> None:
        self.versions = versions or version_registry()
        self.max_latency_ms = max_latency_ms if max_latency_ms is not None else NO_LATENCY_LIMIT

    def judge(
        self, verdict: Verdict, status: int, headers: Mapping[str, str], content: bytes, elapsed_ms: float = 0.0
    ) -> TrafficJudgement | None:
        """The answer's judgement; None where no operation of the contract serves the request. `headers` by
        lowercased name; `content` decoded (no content encoding left)."""
        probe = probe_of(verdict)
        if probe is None or verdict.version is None:
            return None
        version = self.versions[verdict.version]
        answer = LiveAnswer(status, headers, content)
        found = judge(probe, answer, elapsed_ms, version, self.max_latency_ms, notes=False).findings
        findings = [finding for finding in found if finding.severity == DRIFT]
        if 200 <= status < 300 and probe.expect == ACCEPT:
            findings += self._behaviours(probe, verdict, answer, version)
        try:
            body = answer.json()
        except ValueError:
            body = None
        return TrafficJudgement(AnswerCheck(tuple(map(_problem, findings))), findings, body)

    @staticmethod
    def _behaviours(probe: Probe, verdict: Verdict, answer: LiveAnswer, version: ApiVersion) -> list[Finding]:
        rules = ANSWER_RULES.get(probe.operation_id)
        if not rules:
            return []
        try:
            body = answer.json()
        except ValueError:
            return []
        found = []
        entries = ledger()
        for rule in rules:
            for behaviour, did in rule(verdict.request.params, body, version, probe.operation):
                entry = entries[behaviour]
                found.append(
                    Finding(
                        probe.operation_id,
                        "behaviour",
                        behaviour,
                        entry.sees,
                        did,
                        probe,
                        answer.status_code,
                        behaviour=behaviour,
                    )
                )
        return found


def _problem(finding: Finding) -> AnswerProblem:
    return AnswerProblem.bounded(
        finding.verdict, finding.behaviour, finding.title, finding.contract_says, finding.target_did
    )
