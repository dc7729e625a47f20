"""The proxy's report: what it saw, each distinct problem once with how often, in Markdown and JUnit XML.

Three kinds of problem, each told apart by who must change:
- the client's: a request that broke the contract (the same violations the sandbox names);
- the target's, under the ledger's verdicts: vendor drift (it breaks what the vendor's documents promise) or a
  fidelity gap (it does otherwise than lcphone's sandbox, which says what it answers to the same request);
- no answer: the target did not answer (refused connection, timeout).
Tokens never appear: every curl line carries `Bearer ****`.
"""

from __future__ import annotations

import shlex
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass

from ..contract.behaviours import FIDELITY_GAP, VENDOR_DRIFT
from ..control.journal import MASK
from ..verify.findings import Findings
from ..verify.reference import Reference
from ..verify.report import WHAT_TO_DO, curl, finding_markdown, plural, when
from .forwarding import Observed
from .gate import PurchaseGate

CLIENT = "client"
NO_OPERATION = "(no operation)"
MAX_BODY_SHOWN = 2000


def observed_curl(observed: Observed, base_url: str) -> str:
    """A command that sends the request again, as the client sent it, with its token masked."""
    headers = observed.verdict.headers
    parts = ["curl", "-s", "-X", observed.method]
    authorization = headers.get("authorization")
    if authorization is not None:
        scheme, space, _ = authorization.partition(" ")
        parts += ["-H", f"Authorization: {scheme} {MASK}" if space else f"Authorization: {MASK}"]
    if "version" in headers:
        parts += ["-H", f"Version: {headers['version']}"]
    if observed.body:
        parts += ["-H", f"Content-Type: {headers.get('content-type', 'application/json')}"]
        parts += ["-d", observed.body[:MAX_BODY_SHOWN].decode("utf-8", "replace")]
    query = observed.query
    parts.append(base_url.rstrip("/") + observed.path + (f"?{query}" if query else ""))
    return " ".join(shlex.quote(part) for part in parts)


@dataclass
class Problem:
    """A problem of the client's request, or an exchange the target did not answer: once per kind, counted."""

    version: str
    operation_id: str
    title: str
    detail: str  # what the contract says, or what went wrong
    example: str  # a curl line of the first request it was seen in
    count: int = 1


class ProxyReport:
    """Collects what the forwarder saw (it is one of its observers) and writes it up at the end."""

    def __init__(self, target: str, gate: PurchaseGate) -> None:
        self.target = target
        self.gate = gate
        self.started = time.time()
        self.finished = self.started
        self.exchanges = 0
        self.clean = 0  # exchanges that kept the contract on both sides
        self.per_operation: Counter[tuple[str, str]] = Counter()
        self.requests: dict[tuple[str, str, str, str], Problem] = {}
        self.findings = Findings()
        self.unanswered: dict[tuple[str, str, str], Problem] = {}

    def observe(self, observed: Observed) -> None:
        verdict = observed.verdict
        version = verdict.version or "-"
        operation = verdict.operation.id if verdict.operation else NO_OPERATION
        self.exchanges += 1
        self.per_operation[(version, operation)] += 1
        clean = True
        for violation in verdict.violations:
            clean = False
            key = (version, operation, violation.field, violation.rule)
            if key in self.requests:
                self.requests[key].count += 1
            else:
                title = f"{violation.field}: {violation.message}"
                detail = f"[{violation.rule}] contract: {violation.pointer}"
                self.requests[key] = Problem(version, operation, title, detail, observed_curl(observed, self.target))
        if observed.status is None:
            clean = False
            kind = observed.problem.split(":", 1)[0]
            where = (version, operation, kind)
            if where in self.unanswered:
                self.unanswered[where].count += 1
            else:
                example = observed_curl(observed, self.target)
                self.unanswered[where] = Problem(version, operation, "no answer", observed.problem, example)
        elif observed.judgement is not None:
            for finding in observed.judgement.findings:
                clean = False
                self.findings.add(finding)
        self.clean += clean

    # -- the verdict -----------------------------------------------------------------------------------
    @property
    def failed(self) -> bool:
        return bool(self.requests or self.findings.drifts() or self.unanswered)

    def verdict(self) -> str:
        if not self.exchanges:
            return "no exchange seen"
        if not self.failed:
            return f"every exchange kept the contract on both sides ({plural(self.exchanges, 'exchange')})"
        counts = [
            plural(sum(p.count for p in self.requests.values()), "client violation"),
            plural(len(self.findings.vendor_drift()), "vendor drift"),
            plural(len(self.findings.fidelity_gaps()), "fidelity gap"),
        ]
        if self.unanswered:
            counts.append(plural(sum(p.count for p in self.unanswered.values()), "exchange") + " unanswered")
        return f"BROKEN: {', '.join(counts)} in {plural(self.exchanges, 'exchange')}"

    def explain(self, references: dict[str, Reference] | None = None) -> None:
        """For each fidelity gap, what lcphone's sandbox answers to the same request (set up where the target
        stands: the request's location, a token of the client's scopes)."""
        references = {} if references is None else references
        try:
            for finding in self.findings.fidelity_gaps():
                if finding.sandbox_did:
                    continue
                probe = finding.example
                location = probe.path_params.get("locationId") or dict(probe.query).get("locationId") or "location"
                if location not in references:
                    references[location] = Reference(location, "lcphone-proxy-client")
                answer = references[location].ask(probe)
                finding.sandbox_did = answer.brief() if answer else "no answer"
        finally:
            for reference in references.values():
                reference.close()

    # -- the terminal ----------------------------------------------------------------------------------
    def terminal(self) -> str:
        lines = [f"lcphone proxy: {self.verdict()}"]
        for problem in self.requests.values():
            lines.append(f"  CLIENT {problem.version} {problem.operation_id}: {problem.title} ({problem.count}x)")
        for finding in sorted(self.findings.drifts(), key=lambda f: f.key):
            name = "FIDELITY GAP" if finding.fidelity_gap else "VENDOR DRIFT"
            lines.append(
                f"  {name} {finding.version} {finding.operation_id}: {finding.title}: {finding.target_did} "
                f"({finding.count}x; ledger {finding.behaviour})"
            )
        for problem in self.unanswered.values():
            lines.append(f"  NO ANSWER {problem.version} {problem.operation_id}: {problem.detail} ({problem.count}x)")
        if self.gate.refused:
            lines.append(f"  purchases refused by the proxy: {len(self.gate.refused)} (--allow-purchase sends them)")
        return "\n".join(lines)

    # -- Markdown --------------------------------------------------------------------------------------
    def markdown(self) -> str:
        purchases = f"{self.gate.sent} sent" + (f", {len(self.gate.refused)} refused" if self.gate.refused else "")
        lines = [
            "# lcphone proxy report",
            "",
            f"- **target:** {self.target}",
            f"- **run:** {when(self.started)}, {plural(self.exchanges, 'exchange')} in "
            f"{self.finished - self.started:.1f} s; {self.clean} kept the contract on both sides",
            f"- **purchases:** {purchases}"
            + (f" (at most {self.gate.limit})" if self.gate.allowed else " (--allow-purchase not given)"),
            f"- **verdict:** {self.verdict()}",
        ]
        if self.requests:
            lines += [
                "",
                f"## The client's requests ({len(self.requests)})",
                "",
                "Requests that broke the contract: the client must change (the sandbox refuses them).",
                "",
            ]
            lines += self._problems_markdown(self.requests.values())
        by_verdict = {
            VENDOR_DRIFT: [f for f in self.findings.vendor_drift()],
            FIDELITY_GAP: [f for f in self.findings.fidelity_gaps()],
        }
        for name, findings in by_verdict.items():
            if not findings:
                continue
            lines += ["", f"## {name[0].upper()}{name[1:]} ({len(findings)})", "", WHAT_TO_DO[name], ""]
            for where in sorted(dict.fromkeys((f.version, f.operation_id) for f in findings)):
                lines += [f"### {where[0]}: {where[1]}", ""]
                for finding in sorted(
                    (f for f in findings if (f.version, f.operation_id) == where), key=lambda f: f.key
                ):
                    lines += finding_markdown(finding, self.target)
        if self.unanswered:
            lines += ["", f"## No answer ({len(self.unanswered)})", ""]
            lines += self._problems_markdown(self.unanswered.values())
        if self.gate.refused:
            lines += ["", "## Purchases refused by the proxy", ""]
            shown = Counter(self.gate.refused)
            lines += [f"- `{line}` ({count}x)" for line, count in shown.items()]
        if self.per_operation:
            lines += ["", "## Exchanges", "", "| version | operation | exchanges |", "|---|---|---:|"]
            lines += [f"| {v} | {o} | {n} |" for (v, o), n in sorted(self.per_operation.items())]
        return "\n".join(lines) + "\n"

    @staticmethod
    def _problems_markdown(problems) -> list[str]:
        lines: list[str] = []
        for problem in problems:
            lines += [
                f"#### {problem.version} {problem.operation_id}: {problem.title}",
                "",
                f"- {problem.detail} (seen {plural(problem.count, 'time')})",
                "- **reproduce:**",
                "",
                "  ```sh",
                f"  {problem.example}",
                "  ```",
                "",
            ]
        return lines

    # -- JUnit XML -------------------------------------------------------------------------------------
    def junit_xml(self) -> str:
        suite = ET.Element(
            "testsuite",
            name="lcphone proxy",
            tests="0",
            failures="0",
            errors="0",
            skipped="0",
            timestamp=when(self.started),
            time=f"{self.finished - self.started:.3f}",
        )
        failures = 0
        for problem in self.requests.values():
            failures += 1
            self._case(
                suite,
                f"lcphone.proxy.{problem.version}.{problem.operation_id}",
                f"{CLIENT}: {problem.title}",
                f"{CLIENT}: {problem.title} ({problem.count}x)",
                f"{problem.detail}\nreproduce: {problem.example}",
                "client",
            )
        for finding in sorted(self.findings.drifts(), key=lambda f: f.key):
            failures += 1
            sandbox = f"\nlcphone's sandbox: {finding.sandbox_did}" if finding.sandbox_did else ""
            self._case(
                suite,
                f"lcphone.proxy.{finding.version}.{finding.operation_id}",
                f"{finding.verdict}: {finding.title}",
                f"{finding.verdict}: {finding.title}: {finding.target_did} ({finding.count}x)",
                f"ledger: {finding.behaviour}\ncontract: {finding.contract_says}\ntarget: {finding.target_did}{sandbox}"
                f"\nreproduce: {curl(finding.example, self.target)}",
                finding.kind,
            )
        for problem in self.unanswered.values():
            failures += 1
            self._case(
                suite,
                f"lcphone.proxy.{problem.version}.{problem.operation_id}",
                "no answer",
                f"no answer: {problem.detail} ({problem.count}x)",
                f"reproduce: {problem.example}",
                "unanswered",
            )
        broken = {(c.get("classname") or "") for c in suite}
        for (version, operation), count in sorted(self.per_operation.items()):
            classname = f"lcphone.proxy.{version}.{operation}"
            if classname not in broken:
                ET.SubElement(suite, "testcase", classname=classname, name=f"conforms ({plural(count, 'exchange')})")
        suite.set("tests", str(len(suite)))
        suite.set("failures", str(failures))
        return ET.tostring(suite, encoding="unicode", xml_declaration=True)

    @staticmethod
    def _case(suite: ET.Element, classname: str, name: str, message: str, text: str, kind: str) -> None:
        case = ET.SubElement(suite, "testcase", classname=classname, name=name)
        ET.SubElement(case, "failure", message=message, type=kind).text = text
