"""The drift report: Markdown for people, JUnit XML for CI dashboards, a summary table for the terminal."""

from __future__ import annotations

import shlex
import time
import xml.etree.ElementTree as ET

import orjson

from .findings import Finding
from .probes import Probe
from .runner import VerifyResult

MASK = "****"


def curl(probe: Probe, base_url: str) -> str:
    """A command that reproduces the request, with the token masked."""
    parts = ["curl", "-s", "-X", probe.operation.method]
    if not probe.omit_auth:
        parts += ["-H", f"Authorization: Bearer {MASK}"]
    for name, value in probe.headers.items():
        parts += ["-H", f"{name}: {value}"]
    if probe.body is not None:
        parts += ["-H", "Content-Type: application/json", "-d", orjson.dumps(probe.body).decode()]
    parts.append(probe.url(base_url))
    return " ".join(shlex.quote(part) for part in parts)


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def verdict(result: VerifyResult) -> str:
    if result.fatal:
        return f"could not run: {result.fatal}"
    drifts = result.findings.drifts()
    return f"DRIFTED: {len(drifts)} drift(s) from the contract" if drifts else "conforms to the contract"


def summary_table(result: VerifyResult) -> str:
    rows = result.per_operation()
    width = max([len("operation"), *map(len, rows)])
    lines = [f"{'operation':{width}}  {'requests':>8}  {'drifts':>6}  {'notes':>5}"]
    for operation, row in sorted(rows.items()):
        lines.append(f"{operation:{width}}  {row['requests']:>8}  {row['drifts']:>6}  {row['notes']:>5}")
    return "\n".join(lines)


def _finding_markdown(finding: Finding, base_url: str) -> list[str]:
    seen = f"seen {finding.count} time{'s' if finding.count != 1 else ''}"
    return [
        f"#### {finding.title}",
        "",
        f"- **contract:** {finding.contract_says}",
        f"- **target:** {finding.target_did} (status {finding.example_status}, {seen}; first in: {finding.example.label})",
        "- **reproduce:**",
        "",
        "  ```sh",
        f"  {curl(finding.example, base_url)}",
        "  ```",
        "",
    ]


def markdown(result: VerifyResult) -> str:
    options = result.options
    drifts, notes = result.findings.drifts(), result.findings.notes()
    lines = [
        "# lcphone verify report",
        "",
        f"- **target:** {options.base_url} (location `{options.location_id}`)",
        f"- **run:** {_when(result.started)}, {len(result.exchanges)} requests in {result.finished - result.started:.1f} s",
        f"- **purchases:** {', '.join(result.purchases) if result.purchases else 'none'}"
        + ("" if options.allow_purchase else " (read-only run)"),
        f"- **verdict:** {verdict(result)}",
    ]
    if result.stopped_by_budget:
        lines.append(f"- **budget:** stopped after {options.budget_seconds:g} s; the rest was not checked")
    lines += ["", "## Summary", "", "| operation | requests | drifts | notes |", "|---|---:|---:|---:|"]
    for operation, row in sorted(result.per_operation().items()):
        lines.append(f"| {operation} | {row['requests']} | {row['drifts']} | {row['notes']} |")
    lines.append("")
    if drifts:
        lines += ["## Drift", ""]
        for operation in sorted({f.operation_id for f in drifts}):
            lines += [f"### {operation}", ""]
            for finding in sorted((f for f in drifts if f.operation_id == operation), key=lambda f: (f.kind, f.subject)):
                lines += _finding_markdown(finding, options.base_url)
    if notes:
        lines += ["## Notes (not drift)", ""]
        for finding in sorted(notes, key=lambda f: f.key):
            lines.append(f"- {finding.operation_id}: {finding.title}: {finding.target_did} ({finding.count}x)")
        lines.append("")
    return "\n".join(lines)


def junit_xml(result: VerifyResult) -> str:
    drifts = result.findings.drifts()
    suite = ET.Element("testsuite", name="lcphone verify", tests="0", failures=str(len(drifts)),
                       errors="1" if result.fatal else "0", timestamp=_when(result.started),
                       time=f"{result.finished - result.started:.3f}")
    cases = 0
    if result.fatal:
        case = ET.SubElement(suite, "testcase", classname="lcphone.verify", name="target reachable")
        ET.SubElement(case, "error", message=result.fatal).text = result.fatal
        cases += 1
    for operation, row in sorted(result.per_operation().items()):
        found = [f for f in drifts if f.operation_id == operation]
        if not found:
            ET.SubElement(suite, "testcase", classname=f"lcphone.verify.{operation}", name="conforms")
            cases += 1
        for finding in found:
            case = ET.SubElement(suite, "testcase", classname=f"lcphone.verify.{operation}", name=finding.title)
            failure = ET.SubElement(case, "failure", message=f"{finding.title}: {finding.target_did}", type=finding.kind)
            failure.text = (f"contract: {finding.contract_says}\ntarget: {finding.target_did}\n"
                            f"reproduce: {curl(finding.example, result.options.base_url)}")
            cases += 1
    suite.set("tests", str(cases))
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)
