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
from typing import Any

from ..contract.operations import registry as operation_registry
from ..contract.versions import registry as version_registry

DESCRIPTION = (
    "Check that the token reaches the location with the scopes each check needs; then, at each version, check "
    "the behaviours of lcphone's fidelity ledger (contracts/behaviours.yaml: what searches answer, how pages "
    "split a list, what refusals say...) and send requests derived from the contract (valid ones, edge cases, "
    "malformed ones, requests without or with a bad token, every wire form of numberTypes) to a real "
    "environment. Each finding is reported once, as vendor drift (the target breaks what the vendor's documents "
    "promise) or a fidelity gap (it does otherwise than lcphone's sandbox), with what was not checked and why. "
    "Exit 0: the target conforms; 1: vendor drift or a fidelity gap; 2: verify could not run or could not check "
    "everything it should (unreachable, token refused, a scope missing...). Nothing is bought unless "
    "--allow-purchase is given."
)


OPERATIONS = operation_registry().ids
# Every option: its flags and argparse's keywords (the operations and versions come from the registries).
OPTIONS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (
        ("--base-url",),
        dict(help="the target, e.g. https://services.leadconnectorhq.com (env LCPHONE_BASE_URL)"),
    ),
    (("--token",), dict(default=None, help="bearer token (better: env LCPHONE_TOKEN, kept off command lines)")),
    (("--location",), dict(default=None, help="location id the token belongs to (env LCPHONE_LOCATION)")),
    (
        ("--api-version",),
        dict(
            choices=[*version_registry().names, "all"],
            default="all",
            help="which version's contract to hold the target to (default: all, each reported apart)",
        ),
    ),
    (
        ("--other-location",),
        dict(metavar="ID", help="a location the token must not reach: requests there must be refused with 403"),
    ),
    (
        ("--limited-token",),
        dict(
            default=None,
            metavar="TOKEN",
            help="a token of the same location with fewer scopes (env LCPHONE_LIMITED_TOKEN): each operation "
            "it lacks the scope of must refuse it with 401",
        ),
    ),
    (
        ("--limited-token-scopes",),
        dict(
            default="",
            metavar="SCOPES",
            help="the scopes the limited token holds, comma-separated (e.g. numberpools.read)",
        ),
    ),
    (
        ("--skip-operation",),
        dict(
            action="append",
            default=[],
            choices=OPERATIONS,
            metavar="OPERATION",
            help="do not check this operation, on purpose (repeatable): e.g. when the token lacks its scope; "
            f"one of {', '.join(OPERATIONS)}",
        ),
    ),
    (("--allow-purchase",), dict(action="store_true", help="also buy numbers (real money on a real API)")),
    (
        ("--max-purchases",),
        dict(
            type=int,
            default=1,
            help="at most this many attempts that can buy, in the whole run (default 1): 1 buys a number; 2 also "
            "replays that purchase (it must buy nothing); 3 also asks for the number again (it must be refused); "
            "4 also reuses the fingerprint for another number (it must be refused)",
        ),
    ),
    (("--report",), dict(metavar="PATH", help="write the Markdown report here")),
    (("--junit-xml",), dict(metavar="PATH", help="write a JUnit XML report here")),
    (("--budget",), dict(type=float, metavar="SECONDS", help="stop sending new requests after this long")),
    (
        ("--generated",),
        dict(
            type=int,
            default=10,
            metavar="N",
            help="generated valid requests per operation, on top of the edge cases (default 10)",
        ),
    ),
    (
        ("--max-latency",),
        dict(
            type=int,
            default=5000,
            metavar="MS",
            help="an answer slower than this is reported as drift (default 5000)",
        ),
    ),
    (
        ("--timeout",),
        dict(type=float, default=15.0, metavar="SECONDS", help="per-request timeout (default 15)"),
    ),
]


def add_parser(commands: argparse._SubParsersAction) -> None:
    verify = commands.add_parser(
        "verify",
        help="check a real environment (staging...) against the contract and report its drift",
        description=DESCRIPTION,
    )
    for flags, keywords in OPTIONS:
        verify.add_argument(*flags, **keywords)
    verify.set_defaults(base_url=os.environ.get("LCPHONE_BASE_URL"), run=run)  # the environment when it runs


TARGET_VARIABLES = ("LCPHONE_BASE_URL", "LCPHONE_TOKEN", "LCPHONE_LOCATION")


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
    from .runner import VerifyOptions

    empty = [name for name in TARGET_VARIABLES if os.environ.get(name) == ""]
    if empty:
        raise CannotRun(
            f"{', '.join(empty)} {'is' if len(empty) == 1 else 'are'} set but empty (a CI secret that is missing?): "
            "give each a value, or unset it and pass the option"
        )
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
        versions=version_registry().names if args.api_version == "all" else (args.api_version,),
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
        why = str(reason)
    except ImportError as error:
        why = f"{error.name or error} is not installed: pip install lcphone"
    except Exception as error:
        why = f"internal error: {type(error).__name__}: {error}"
    print(f"lcphone verify: could not run: {why}", file=sys.stderr)
    _reports_of_a_run_that_could_not_run(args, why)
    return 2


def _reports_of_a_run_that_could_not_run(args: argparse.Namespace, why: str) -> None:
    """The reports, saying why, where they can be written: a job that keeps them shows why it failed."""
    from .report import could_not_run_junit, could_not_run_markdown

    for option, path, text in (
        ("--report", args.report, could_not_run_markdown),
        ("--junit-xml", args.junit_xml, could_not_run_junit),
    ):
        if path is None:
            continue
        try:
            _writable(option, path)
            Path(path).write_text(text(why, args.base_url or "(none given)"), encoding="utf-8")
        except (CannotRun, OSError):
            continue  # the reason already says so, or there is nowhere to write it


def _run(args: argparse.Namespace, transport) -> int:
    from ..control.journal import mask
    from .report import junit_xml, markdown, terminal, verdict
    from .runner import verify

    options = _options(args)
    print(
        f"lcphone verify: {options.base_url} (location {options.location_id}, token {mask(options.token)}, "
        f"versions {', '.join(options.versions)})",
        file=sys.stderr,
    )
    if options.allow_purchase and options.max_purchases:
        print(
            f"!!! PURCHASES ALLOWED: verify will BUY up to {options.max_purchases} number(s) in this run on "
            f"{options.base_url}. On a real environment this costs real money. !!!",
            file=sys.stderr,
            flush=True,
        )
    result = verify(options, _progress(sys.stderr.isatty()), transport=transport)
    if args.report:
        Path(args.report).write_text(markdown(result), encoding="utf-8")
    if args.junit_xml:
        Path(args.junit_xml).write_text(junit_xml(result), encoding="utf-8")
    printed = terminal(result, report_written=bool(args.report))
    if printed:
        print(printed)
    print(f"lcphone verify: {verdict(result)}", file=sys.stderr if result.exit_code == 2 else sys.stdout)
    return result.exit_code


def _progress(interactive: bool):
    def progress(done: int, total: int, probe) -> None:
        line = f"[{probe.version} {done}/{total}] {probe.operation_id}: {probe.label}"
        if interactive:
            print(f"\r\033[K{line[:120]}", end="" if done < total else "\n", file=sys.stderr, flush=True)
        elif done == 1 or done % 50 == 0 or done == total:
            print(line, file=sys.stderr, flush=True)

    return progress
