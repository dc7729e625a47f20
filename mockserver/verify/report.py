"""The drift report: Markdown for people, JUnit XML for CI dashboards, a summary table for the terminal.

Each version is reported apart; what was not checked is listed with why, as skipped test cases in JUnit.
"""

from __future__ import annotations

import shlex
import time
import xml.etree.ElementTree as ET

import orjson

from ..journal import mask
from .findings import Finding
from .probes import Probe
from .runner import VerifyResult

MASK = "****"


def curl(probe: Probe, base_url: str) -> str:
    """A command that reproduces the request, with the token masked."""
    parts = ["curl", "-s", "-X", probe.operation.method]
    if probe.authorization is None:
        parts += ["-H", f"Authorization: Bearer {MASK}"]
    elif probe.authorization:
        parts += ["-H", f"Authorization: {probe.authorization}"]
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
    if drifts:
        return f"DRIFTED: {len(drifts)} drift(s) from the contract"
    if result.setup_problems:
        return f"could not check everything: {result.setup_problems[0]}"
    return "conforms to the contract"


def summary_table(result: VerifyResult) -> str:
    lines = []
    for version in result.options.versions:
        rows = result.per_operation(version)
        width = max(len("operation"), *map(len, rows))
        lines.append(f"Version {version}")
        lines.append(f"  {'operation':{width}}  {'requests':>8}  {'drifts':>6}  {'notes':>5}  {'not checked':>11}")
        for operation, row in rows.items():
            lines.append(
                f"  {operation:{width}}  {row['requests']:>8}  {row['drifts']:>6}  {row['notes']:>5}  "
                f"{row['not checked']:>11}"
            )
    return "\n".join(lines)


def _finding_markdown(finding: Finding, base_url: str) -> list[str]:
    seen = f"seen {finding.count} time{'s' if finding.count != 1 else ''}"
    return [
        f"#### {finding.title}",
        "",
        f"- **contract:** {finding.contract_says}",
        f"- **target:** {finding.target_did} (status {finding.example_status}, {seen}; "
        f"first in: {finding.example.label})",
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
    purchases = ", ".join(result.purchases) if result.purchases else "none"
    lines = [
        "# lcphone verify report",
        "",
        f"- **target:** {options.base_url} (location `{options.location_id}`, token `{mask(options.token)}`)",
        f"- **versions:** {', '.join(options.versions)}",
        f"- **run:** {_when(result.started)}, {len(result.exchanges)} requests in "
        f"{result.finished - result.started:.1f} s",
        f"- **purchases:** {purchases}" + ("" if options.allow_purchase else " (read-only run)"),
        f"- **verdict:** {verdict(result)}",
    ]
    lines += [f"- **set-up:** {problem}" for problem in result.setup_problems]
    if result.stopped_by_budget:
        lines.append(f"- **budget:** stopped after {options.budget_seconds:g} s; the rest was not checked")
    for version in options.versions:
        lines += [
            "",
            f"## Version {version}",
            "",
            "| operation | requests | drifts | notes | not checked |",
            "|---|---:|---:|---:|---:|",
        ]
        for operation, row in result.per_operation(version).items():
            lines.append(
                f"| {operation} | {row['requests']} | {row['drifts']} | {row['notes']} | {row['not checked']} |"
            )
        lines.append("")
        found = [f for f in drifts if f.version == version]
        if found:
            lines += ["### Drift", ""]
            for operation in sorted({f.operation_id for f in found}):
                lines += [f"#### {operation}", ""]
                for finding in sorted(
                    (f for f in found if f.operation_id == operation), key=lambda f: (f.kind, f.subject)
                ):
                    lines += _finding_markdown(finding, options.base_url)
        facts = [fact for fact in result.facts if fact.version == version]
        if facts:
            lines += ["### Wire forms of numberTypes", "", "| form | the target | status |", "|---|---|---:|"]
            for fact in facts:
                lines.append(f"| {fact.form} | {'accepts it' if fact.accepted else 'refuses it'} | {fact.status} |")
            lines.append("")
    gaps = result.coverage.not_checked()
    if gaps:
        lines += ["## Not checked", "", "| version | operation | rule | why |", "|---|---|---|---|"]
        for gap in gaps:
            lines.append(f"| {gap.version} | {gap.operation_id} | {gap.rule} | {gap.reason} |")
        lines.append("")
    if notes:
        lines += ["## Notes (not drift)", ""]
        for finding in sorted(notes, key=lambda f: f.key):
            lines.append(
                f"- {finding.version} {finding.operation_id}: {finding.title}: {finding.target_did} ({finding.count}x)"
            )
        lines.append("")
    return "\n".join(lines)


def junit_xml(result: VerifyResult) -> str:
    drifts = result.findings.drifts()
    suite = ET.Element(
        "testsuite",
        name="lcphone verify",
        tests="0",
        failures=str(len(drifts)),
        errors="1" if result.fatal or result.setup_problems else "0",
        skipped="0",
        timestamp=_when(result.started),
        time=f"{result.finished - result.started:.3f}",
    )
    cases = skipped = 0
    if result.fatal:
        case = ET.SubElement(suite, "testcase", classname="lcphone.verify", name="target reachable")
        ET.SubElement(case, "error", message=result.fatal).text = result.fatal
        cases += 1
    for problem in result.setup_problems:
        case = ET.SubElement(suite, "testcase", classname="lcphone.verify", name="set-up complete")
        ET.SubElement(case, "error", message=problem).text = problem
        cases += 1
    for version in result.options.versions:
        for operation in result.per_operation(version):
            classname = f"lcphone.verify.{version}.{operation}"
            found = [f for f in drifts if f.operation_id == operation and f.version == version]
            if not found and not result.fatal:
                ET.SubElement(suite, "testcase", classname=classname, name="conforms")
                cases += 1
            for finding in found:
                case = ET.SubElement(suite, "testcase", classname=classname, name=finding.title)
                failure = ET.SubElement(
                    case, "failure", message=f"{finding.title}: {finding.target_did}", type=finding.kind
                )
                failure.text = (
                    f"contract: {finding.contract_says}\ntarget: {finding.target_did}\n"
                    f"reproduce: {curl(finding.example, result.options.base_url)}"
                )
                cases += 1
    for gap in result.coverage.not_checked():
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"lcphone.verify.{gap.version}.{gap.operation_id}",
            name=f"not checked: {gap.rule}",
        )
        ET.SubElement(case, "skipped", message=gap.reason)
        cases += 1
        skipped += 1
    suite.set("tests", str(cases))
    suite.set("skipped", str(skipped))
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)
