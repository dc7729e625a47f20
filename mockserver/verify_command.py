"""`lcphone verify`: hold a real environment to the contract and report its drift."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    verify = commands.add_parser(
        "verify",
        help="check a real environment (staging...) against the contract and report its drift",
        description=(
            "Send read-only requests (valid, edge-case and malformed, derived from the contract) to a real "
            "environment, check every answer against the contract, and report each drift once. Exit 0: the "
            "target conforms; 1: it drifted; 2: verify could not run (unreachable, token refused...). "
            "Nothing is bought unless --allow-purchase is given."
        ),
    )
    verify.add_argument("--base-url", default=os.environ.get("LCPHONE_BASE_URL"),
                        help="the target, e.g. https://services.leadconnectorhq.com (env LCPHONE_BASE_URL)")
    verify.add_argument("--token", default=None, help="bearer token (better: env LCPHONE_TOKEN, kept off command lines)")
    verify.add_argument("--location", default=None, help="location id the token belongs to (env LCPHONE_LOCATION)")
    verify.add_argument("--allow-purchase", action="store_true", help="also buy numbers (real money on a real API)")
    verify.add_argument("--max-purchases", type=int, default=1, help="at most this many purchases (default 1)")
    verify.add_argument("--report", metavar="PATH", help="write the Markdown report here")
    verify.add_argument("--junit-xml", metavar="PATH", help="write a JUnit XML report here")
    verify.add_argument("--budget", type=float, metavar="SECONDS", help="stop sending new requests after this long")
    verify.add_argument("--generated", type=int, default=10, metavar="N",
                        help="generated valid requests per operation, on top of the edge cases (default 10)")
    verify.add_argument("--max-latency", type=int, default=5000, metavar="MS",
                        help="an answer slower than this is reported as drift (default 5000)")
    verify.add_argument("--timeout", type=float, default=15.0, metavar="SECONDS", help="per-request timeout (default 15)")
    verify.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .verify import VerifyOptions, verify
    from .verify.report import junit_xml, markdown, summary_table, verdict

    token = args.token or os.environ.get("LCPHONE_TOKEN")
    location = args.location or os.environ.get("LCPHONE_LOCATION")
    missing = [name for name, value in (("--base-url", args.base_url), ("--token", token), ("--location", location))
               if not value]
    if missing:
        print(f"lcphone verify: missing {', '.join(missing)} (or LCPHONE_BASE_URL, LCPHONE_TOKEN, LCPHONE_LOCATION)",
              file=sys.stderr)
        return 2
    if args.max_purchases < 0:
        print("lcphone verify: --max-purchases must be 0 or more", file=sys.stderr)
        return 2
    options = VerifyOptions(
        base_url=args.base_url, token=token, location_id=location, allow_purchase=args.allow_purchase,
        max_purchases=args.max_purchases, budget_seconds=args.budget, generated_per_operation=args.generated,
        max_latency_ms=args.max_latency, timeout_seconds=args.timeout,
    )
    print(f"lcphone verify: {options.base_url} (location {location}, token ****)", file=sys.stderr)
    if options.allow_purchase and options.max_purchases:
        print(f"!!! PURCHASES ALLOWED: verify will BUY up to {options.max_purchases} number(s) on {options.base_url}."
              " On a real environment this costs real money. !!!", file=sys.stderr, flush=True)
    interactive = sys.stderr.isatty()

    def progress(done: int, total: int, probe) -> None:
        line = f"[{done}/{total}] {probe.operation_id}: {probe.label}"
        if interactive:
            print(f"\r\033[K{line[:120]}", end="", file=sys.stderr, flush=True)
        elif done == 1 or done % 25 == 0 or done == total:
            print(line, file=sys.stderr, flush=True)

    result = verify(options, progress)
    if interactive:
        print(file=sys.stderr)
    if args.report:
        Path(args.report).write_text(markdown(result), encoding="utf-8")
    if args.junit_xml:
        Path(args.junit_xml).write_text(junit_xml(result), encoding="utf-8")
    print(summary_table(result))
    for finding in result.findings.drifts():
        print(f"  DRIFT {finding.operation_id}: {finding.title}: {finding.target_did}")
    for finding in result.findings.notes():
        print(f"  note  {finding.operation_id}: {finding.title}")
    if result.purchases:
        print(f"purchased: {', '.join(result.purchases)}")
    print(f"lcphone verify: {verdict(result)}")
    return result.exit_code
