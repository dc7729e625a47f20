"""`lcphone verify`: hold a real environment to the contract and report its drift.

Exit 0: the target conforms; 1: it drifted; 2: verify could not run, or could not check all it should have.
verify never reports its own failure (a missing setting, an unwritable report, an internal error) as drift:
that is always exit 2, with the reason on one line.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .contract_files import VERSIONS

OPERATIONS = ("listNumberPools", "searchAvailableNumbers", "purchaseNumber", "listActiveNumbers")


def add_parser(commands: argparse._SubParsersAction) -> None:
    verify = commands.add_parser(
        "verify",
        help="check a real environment (staging...) against the contract and report its drift",
        description=(
            "Check that the token reaches the location with the scopes each check needs, then send requests "
            "derived from the contract of each version (valid ones, edge cases, malformed ones, requests without "
            "or with a bad token, every wire form of numberTypes) to a real environment, check every answer "
            "against that version's contract, and report each drift once, with what was not checked and why. "
            "Exit 0: the target conforms; 1: it drifted; 2: verify could not run or could not check everything "
            "it should (unreachable, token refused, a scope missing...). Nothing is bought unless "
            "--allow-purchase is given."
        ),
    )
    verify.add_argument(
        "--base-url",
        default=os.environ.get("LCPHONE_BASE_URL"),
        help="the target, e.g. https://services.leadconnectorhq.com (env LCPHONE_BASE_URL)",
    )
    verify.add_argument(
        "--token", default=None, help="bearer token (better: env LCPHONE_TOKEN, kept off command lines)"
    )
    verify.add_argument("--location", default=None, help="location id the token belongs to (env LCPHONE_LOCATION)")
    verify.add_argument(
        "--api-version",
        choices=[*VERSIONS, "all"],
        default="all",
        help="which version's contract to hold the target to (default: all, each reported apart)",
    )
    verify.add_argument(
        "--other-location",
        metavar="ID",
        help="a location the token must not reach: requests there must be refused with 403",
    )
    verify.add_argument(
        "--limited-token",
        default=None,
        metavar="TOKEN",
        help="a token of the same location with fewer scopes (env LCPHONE_LIMITED_TOKEN): each "
        "operation it lacks the scope of must refuse it with 401",
    )
    verify.add_argument(
        "--limited-token-scopes",
        default="",
        metavar="SCOPES",
        help="the scopes the limited token holds, comma-separated (e.g. numberpools.read)",
    )
    verify.add_argument(
        "--skip-operation",
        action="append",
        default=[],
        choices=OPERATIONS,
        metavar="OPERATION",
        help="do not check this operation, on purpose (repeatable): e.g. when the token lacks its "
        f"scope; one of {', '.join(OPERATIONS)}",
    )
    verify.add_argument("--allow-purchase", action="store_true", help="also buy numbers (real money on a real API)")
    verify.add_argument(
        "--max-purchases",
        type=int,
        default=1,
        help="at most this many purchases per version (default 1); from 2, the number bought is also asked "
        "for again, to see it refused (the attempt counts as a purchase)",
    )
    verify.add_argument("--report", metavar="PATH", help="write the Markdown report here")
    verify.add_argument("--junit-xml", metavar="PATH", help="write a JUnit XML report here")
    verify.add_argument("--budget", type=float, metavar="SECONDS", help="stop sending new requests after this long")
    verify.add_argument(
        "--generated",
        type=int,
        default=10,
        metavar="N",
        help="generated valid requests per operation, on top of the edge cases (default 10)",
    )
    verify.add_argument(
        "--max-latency",
        type=int,
        default=5000,
        metavar="MS",
        help="an answer slower than this is reported as drift (default 5000)",
    )
    verify.add_argument(
        "--timeout", type=float, default=15.0, metavar="SECONDS", help="per-request timeout (default 15)"
    )
    verify.set_defaults(run=run)


class CannotRun(Exception):
    """Why verify cannot run: printed on one line, exit 2."""


def _writable(option: str, path: str | None) -> None:
    """Checked before the first request: a report that cannot be written must not cost a whole run."""
    if path is None:
        return
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise CannotRun(f"{option} {path}: is a folder, not a file")
    if not folder.is_dir():
        raise CannotRun(f"{option} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise CannotRun(f"{option} {path}: cannot be written (permission denied)")


def _options(args: argparse.Namespace):
    from .verify import VerifyOptions

    token: str = args.token or os.environ.get("LCPHONE_TOKEN") or ""
    location: str = args.location or os.environ.get("LCPHONE_LOCATION") or ""
    missing = [
        name
        for name, value in (("--base-url", args.base_url), ("--token", token), ("--location", location))
        if not value
    ]
    if missing:
        raise CannotRun(f"missing {', '.join(missing)} (or LCPHONE_BASE_URL, LCPHONE_TOKEN, LCPHONE_LOCATION)")
    if args.max_purchases < 0:
        raise CannotRun("--max-purchases must be 0 or more")
    limited = args.limited_token or os.environ.get("LCPHONE_LIMITED_TOKEN") or None
    scopes = frozenset(s.strip() for s in args.limited_token_scopes.split(",") if s.strip())
    if args.limited_token_scopes and not limited:
        raise CannotRun("--limited-token-scopes needs --limited-token (or LCPHONE_LIMITED_TOKEN)")
    _writable("--report", args.report)
    _writable("--junit-xml", args.junit_xml)
    return VerifyOptions(
        base_url=args.base_url,
        token=token,
        location_id=location,
        versions=VERSIONS if args.api_version == "all" else (args.api_version,),
        other_location=args.other_location,
        skip_operations=tuple(args.skip_operation),
        limited_token=limited,
        limited_scopes=scopes,
        allow_purchase=args.allow_purchase,
        max_purchases=args.max_purchases,
        budget_seconds=args.budget,
        generated_per_operation=args.generated,
        max_latency_ms=args.max_latency,
        timeout_seconds=args.timeout,
    )


def run(args: argparse.Namespace, transport=None) -> int:
    """The command; `transport` (an httpx transport) lets tests drive it against an in-process sandbox."""
    try:
        return _run(args, transport)
    except CannotRun as reason:
        print(f"lcphone verify: could not run: {reason}", file=sys.stderr)
        return 2
    except ImportError as error:
        print(
            f"lcphone verify: could not run: {error.name or error} is not installed: pip install lcphone",
            file=sys.stderr,
        )
        return 2
    except Exception as error:
        print(f"lcphone verify: could not run: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, transport) -> int:
    from .journal import mask
    from .verify import verify
    from .verify.report import junit_xml, markdown, summary_table, verdict

    options = _options(args)
    print(
        f"lcphone verify: {options.base_url} (location {options.location_id}, token {mask(options.token)}, "
        f"versions {', '.join(options.versions)})",
        file=sys.stderr,
    )
    if options.allow_purchase and options.max_purchases:
        print(
            f"!!! PURCHASES ALLOWED: verify will BUY up to {options.max_purchases} number(s) per version on "
            f"{options.base_url}. On a real environment this costs real money. !!!",
            file=sys.stderr,
            flush=True,
        )
    interactive = sys.stderr.isatty()

    def progress(done: int, total: int, probe) -> None:
        line = f"[{probe.version} {done}/{total}] {probe.operation_id}: {probe.label}"
        if interactive:
            print(f"\r\033[K{line[:120]}", end="", file=sys.stderr, flush=True)
        elif done == 1 or done % 50 == 0 or done == total:
            print(line, file=sys.stderr, flush=True)

    result = verify(options, progress, transport=transport)
    if interactive:
        print(file=sys.stderr)
    if args.report:
        Path(args.report).write_text(markdown(result), encoding="utf-8")
    if args.junit_xml:
        Path(args.junit_xml).write_text(junit_xml(result), encoding="utf-8")
    print(summary_table(result))
    for finding in result.findings.drifts():
        print(f"  DRIFT {finding.version} {finding.operation_id}: {finding.title}: {finding.target_did}")
    for finding in result.findings.notes():
        print(f"  note  {finding.version} {finding.operation_id}: {finding.title}")
    for fact in result.facts:
        print(
            f"  fact  {fact.version} {fact.operation_id}: numberTypes as {fact.form}: "
            f"{'accepted' if fact.accepted else 'refused'} ({fact.status})"
        )
    gaps = result.coverage.not_checked()
    if gaps:
        print(
            f"  not checked: {len(gaps)} rule(s), listed with why in the report"
            if args.report
            else "  not checked:\n" + "\n".join(f"    {g.version} {g.operation_id}: {g.rule}: {g.reason}" for g in gaps)
        )
    if result.purchases:
        print(f"purchased: {', '.join(result.purchases)}")
    line = f"lcphone verify: {verdict(result)}"
    print(line, file=sys.stderr if result.exit_code == 2 else sys.stdout)
    return result.exit_code
