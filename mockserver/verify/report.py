"""The verify report: the terminal's summary, Markdown for people, JUnit XML for CI dashboards.

Each finding is under its verdict: vendor drift (the target breaks what the vendor's documents promise) or a
fidelity gap (the target does otherwise than lcphone's sandbox); each names its ledger entry, and says which
side must change. Then each version's counts, the wire forms the target takes, what was not checked and why,
and the notes (what is not drift).
"""

from __future__ import annotations

import shlex
import time
import xml.etree.ElementTree as ET

import orjson

from ..contract.behaviours import FIDELITY_GAP, VENDOR_DRIFT
from ..control.journal import MASK, mask
from .findings import Finding
from .probes import Probe
from .runner import VerifyResult

WHAT_TO_DO = {
    VENDOR_DRIFT: (
        "The target breaks what the vendor's documents promise. Tell the vendor; if the vendor's documents "
        "changed, lcphone's contract (and the sandbox) must follow: `lcphone contract diff` shows how."
    ),
    FIDELITY_GAP: (
        "The target does otherwise than lcphone's sandbox, where the vendor's documents promise nothing: a test "
        "that passes against lcphone may fail against the target. lcphone's sandbox, or the ledger entry "
        "(`contracts/behaviours.yaml`), must change; until then, do not let your tests rely on the behaviour."
    ),
}


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


def when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def verdict(result: VerifyResult) -> str:
    if result.fatal:
        return f"could not run: {result.fatal}"
    vendor, gaps = result.findings.vendor_drift(), result.findings.fidelity_gaps()
    if vendor or gaps:
        return f"DRIFTED: {plural(len(vendor), 'vendor drift')}, {plural(len(gaps), 'fidelity gap')}"
    if result.setup_problems:
        return f"could not check everything: {result.setup_problems[0]}"
    return "conforms to the contract"


def _by_verdict(result: VerifyResult) -> dict[str, list[Finding]]:
    ordered = sorted(result.findings.drifts(), key=lambda f: (f.version, f.operation_id, f.kind, f.subject))
    return {
        VENDOR_DRIFT: [f for f in ordered if not f.fidelity_gap],
        FIDELITY_GAP: [f for f in ordered if f.fidelity_gap],
    }


# -- the terminal ----------------------------------------------------------------------------------------
def summary_table(result: VerifyResult) -> str:
    """One line per version and operation: requests, findings by verdict, notes, rules not checked."""
    lines = []
    for version in result.options.versions:
        rows = result.per_operation(version)
        width = max(len("operation"), *map(len, rows)) if rows else len("operation")
        lines.append(f"Version {version}")
        lines.append(
            f"  {'operation':{width}}  {'requests':>8}  {'vendor drift':>12}  {'fidelity gaps':>13}  {'notes':>5}  "
            f"{'not checked':>11}"
        )
        for operation, row in rows.items():
            lines.append(
                f"  {operation:{width}}  {row['requests']:>8}  {row['vendor drift']:>12}  {row['fidelity gaps']:>13}  "
                f"{row['notes']:>5}  {row['not checked']:>11}"
            )
    return "\n".join(lines)


def terminal(result: VerifyResult, report_written: bool) -> str:
    """What the command prints: the findings first, under their verdicts; then the counts."""
    if result.fatal:
        return ""
    lines: list[str] = []
    for name, findings in _by_verdict(result).items():
        if not findings:
            continue
        lines.append(f"{name.upper()}: {len(findings)} ({WHAT_TO_DO[name].split('. ')[0].lower()})")
        for finding in findings:
            lines.append(f"  {finding.version} {finding.operation_id}: {finding.title}: {finding.target_did}")
            lines.append(f"      ledger: {finding.behaviour}")
            if finding.sandbox_did:
                lines.append(f"      lcphone's sandbox: {finding.sandbox_did}")
    for finding in sorted(result.findings.notes(), key=lambda f: f.key):
        lines.append(f"  note  {finding.version} {finding.operation_id}: {finding.title}")
    gaps = result.coverage.not_checked()
    if gaps:
        lines.append(
            f"not checked: {plural(len(gaps), 'rule')}" + (", each with why in the report" if report_written else "")
        )
        if not report_written:
            lines += [f"  {g.version} {g.operation_id}: {g.rule}: {g.reason}" for g in gaps]
    if result.purchases:
        lines.append(f"purchased: {'; '.join(result.purchases)}")
    lines.append(summary_table(result))
    return "\n".join(lines)


# -- Markdown --------------------------------------------------------------------------------------------
def finding_markdown(finding: Finding, base_url: str) -> list[str]:
    seen = f"seen {plural(finding.count, 'time')}"
    lines = [f"#### {finding.title}", "", f"- **ledger:** `{finding.behaviour}`"]
    if finding.fidelity_gap:
        lines.append(f"- **lcphone's sandbox:** {finding.sandbox_did or '(not asked)'}")
        status = f"status {finding.example_status}, " if finding.example_status is not None else ""
        lines.append(f"- **the target:** {finding.target_did} ({status}{seen})")
    else:
        lines.append(f"- **contract:** {finding.contract_says}")
        lines.append(
            f"- **target:** {finding.target_did} (status {finding.example_status}, {seen}; "
            f"first in: {finding.example.label})"
        )
    return [*lines, "- **reproduce:**", "", "  ```sh", f"  {curl(finding.example, base_url)}", "  ```", ""]


def _head(result: VerifyResult) -> list[str]:
    options = result.options
    purchases = "; ".join(result.purchases) if result.purchases else "none"
    lines = [
        "# lcphone verify report",
        "",
        f"- **target:** {options.base_url} (location `{options.location_id}`, token `{mask(options.token)}`)",
        f"- **versions:** {', '.join(options.versions)}",
        f"- **run:** {when(result.started)}, {len(result.exchanges)} requests in "
        f"{result.finished - result.started:.1f} s",
        f"- **purchases:** {purchases}"
        + ("" if options.allow_purchase else " (read-only run)")
        + (f" (at most {options.max_purchases})" if options.allow_purchase else ""),
        f"- **verdict:** {verdict(result)}",
    ]
    lines += [f"- **set-up:** {problem}" for problem in result.setup_problems]
    if result.stopped_by_budget:
        lines.append(f"- **budget:** stopped after {options.budget_seconds:g} s; the rest was not checked")
    return lines


def _findings_markdown(result: VerifyResult) -> list[str]:
    lines: list[str] = []
    for name, findings in _by_verdict(result).items():
        if not findings:
            continue
        lines += ["", f"## {name[0].upper()}{name[1:]} ({len(findings)})", "", WHAT_TO_DO[name], ""]
        for where in dict.fromkeys((f.version, f.operation_id) for f in findings):
            lines += [f"### {where[0]}: {where[1]}", ""]
            for finding in (f for f in findings if (f.version, f.operation_id) == where):
                lines += finding_markdown(finding, result.options.base_url)
    return lines


def _versions_markdown(result: VerifyResult) -> list[str]:
    lines = ["", "## By version"]
    for version in result.options.versions:
        lines += [
            "",
            f"### Version {version}",
            "",
            "| operation | requests | vendor drift | fidelity gaps | notes | not checked |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for operation, row in result.per_operation(version).items():
            lines.append(
                f"| {operation} | {row['requests']} | {row['vendor drift']} | {row['fidelity gaps']} | "
                f"{row['notes']} | {row['not checked']} |"
            )
        facts = [fact for fact in result.facts if fact.version == version]
        if facts:
            lines += ["", "Wire forms of numberTypes:", "", "| form | the target | status |", "|---|---|---:|"]
            for fact in facts:
                lines.append(f"| {fact.form} | {'accepts it' if fact.accepted else 'refuses it'} | {fact.status} |")
    return lines


def markdown(result: VerifyResult) -> str:
    lines = _head(result)
    if not result.fatal:
        lines += _findings_markdown(result) + _versions_markdown(result)
    gaps = result.coverage.not_checked()
    if gaps:
        lines += ["", "## Not checked", "", "| version | operation | rule | why |", "|---|---|---|---|"]
        lines += [f"| {gap.version} | {gap.operation_id} | {gap.rule} | {gap.reason} |" for gap in gaps]
    notes = result.findings.notes()
    if notes:
        lines += ["", "## Notes (not drift)", ""]
        for finding in sorted(notes, key=lambda f: f.key):
            lines.append(
                f"- {finding.version} {finding.operation_id}: {finding.title}: {finding.target_did} ({finding.count}x)"
            )
    return "\n".join(lines) + "\n"


# -- JUnit XML -------------------------------------------------------------------------------------------
def _error_case(suite: ET.Element, name: str, message: str) -> None:
    case = ET.SubElement(suite, "testcase", classname="lcphone.verify", name=name)
    ET.SubElement(case, "error", message=message).text = message


def junit_xml(result: VerifyResult) -> str:
    drifts = result.findings.drifts()
    suite = ET.Element(
        "testsuite",
        name="lcphone verify",
        tests="0",
        failures=str(len(drifts)),
        errors="1" if result.fatal or result.setup_problems else "0",
        skipped="0",
        timestamp=when(result.started),
        time=f"{result.finished - result.started:.3f}",
    )
    if result.fatal:
        _error_case(suite, "target reachable", result.fatal)
    for problem in result.setup_problems:
        _error_case(suite, "set-up complete", problem)
    for version in result.options.versions:
        for operation in result.per_operation(version):
            classname = f"lcphone.verify.{version}.{operation}"
            found = [f for f in drifts if f.operation_id == operation and f.version == version]
            if not found and not result.fatal:
                ET.SubElement(suite, "testcase", classname=classname, name="conforms")
            for finding in found:
                case = ET.SubElement(suite, "testcase", classname=classname, name=f"{finding.verdict}: {finding.title}")
                failure = ET.SubElement(
                    case, "failure", message=f"{finding.verdict}: {finding.title}: {finding.target_did}",
                    type=finding.kind,
                )  # fmt: skip
                sandbox = f"\nlcphone's sandbox: {finding.sandbox_did}" if finding.sandbox_did else ""
                failure.text = (
                    f"ledger: {finding.behaviour}\ncontract: {finding.contract_says}\ntarget: {finding.target_did}"
                    f"{sandbox}\nreproduce: {curl(finding.example, result.options.base_url)}"
                )
    for gap in result.coverage.not_checked():
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"lcphone.verify.{gap.version}.{gap.operation_id}",
            name=f"not checked: {gap.rule}",
        )
        ET.SubElement(case, "skipped", message=gap.reason)
    suite.set("tests", str(len(suite)))
    suite.set("skipped", str(len(result.coverage.not_checked())))
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


# -- a run that could not run -------------------------------------------------------------------------------
def could_not_run_markdown(why: str, base_url: str) -> str:
    return "\n".join([
        "# lcphone verify report", "", f"- **target:** {base_url}", f"- **run:** {when(time.time())}",
        f"- **verdict:** could not run: {why}", "",
        "Nothing was checked: fix what the verdict names (a setting, a secret, the target) and run again.", "",
    ])  # fmt: skip


def could_not_run_junit(why: str, base_url: str) -> str:
    suite = ET.Element("testsuite", name="lcphone verify", tests="1", failures="0", errors="1", skipped="0",
                       timestamp=when(time.time()), time="0.000")  # fmt: skip
    _error_case(suite, "verify could run", f"could not run against {base_url}: {why}")
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)
