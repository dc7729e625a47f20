"""`lcphone contract`: the contract's own commands. `diff` compares it with vendor documents."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .versions import registry

if TYPE_CHECKING:
    from .vendor_diff import DiffResult


def add_parser(commands: argparse._SubParsersAction) -> None:
    contract = commands.add_parser(
        "contract",
        help="compare the contract with the vendor's published documents",
        description="Commands about the contract lcphone is built on.",
    )
    actions = contract.add_subparsers(title="actions", metavar="ACTION")
    diff = actions.add_parser(
        "diff",
        help="compare the contract with vendor OpenAPI documents",
        description=(
            "Compare the contract of the same version with each vendor OpenAPI document (a file or a URL): "
            "operations, parameters, required flags, types, enums, body and response fields, required lists and "
            "statuses. Each difference is reported once. Exit 0: every difference is a listed deviation "
            "(contracts/deviations.yaml, with its reason); 1: a difference is not listed (the vendor changed its "
            "documented contract, or ours drifted from it); 2: a document could not be read."
        ),
    )
    diff.add_argument("documents", nargs="+", metavar="VENDOR_DOC", help="vendor OpenAPI document: a path or a URL")
    diff.add_argument(
        "--version", choices=registry().names, help="the version the documents describe (default: read from each)"
    )
    diff.add_argument("--deviations", metavar="FILE", help="deviations file (default: the contract's own)")
    diff.add_argument("--json", action="store_true", help="print the result as JSON")
    diff.add_argument("--verbose", action="store_true", help="also list the differences that are listed deviations")
    diff.set_defaults(run=run_diff)
    contract.set_defaults(run=lambda args: contract.print_help() or 2)


def run_diff(args: argparse.Namespace) -> int:
    from .vendor_diff import VendorDocumentError, diff, load_deviations

    try:
        deviations = load_deviations(Path(args.deviations)) if args.deviations else None
    except (OSError, KeyError, TypeError) as error:
        print(f"lcphone contract diff: --deviations {args.deviations}: cannot be read ({error})", file=sys.stderr)
        return 2
    results = []
    for document in args.documents:
        try:
            results.append(diff(document, args.version, deviations))
        except VendorDocumentError as error:
            print(f"lcphone contract diff: {error}", file=sys.stderr)
            return 2
    failed = any(result.unlisted() for result in results)
    if args.json:
        print(json.dumps([_as_json(result) for result in results], indent=2))
    else:
        for result in results:
            _print_result(result, args.verbose)
        print(
            "lcphone contract diff: "
            + ("differences not listed as deviations (exit 1)" if failed else "every difference is a listed deviation")
        )
    return 1 if failed else 0


def _as_json(result: DiffResult) -> dict[str, Any]:
    return {
        "document": result.source,
        "version": result.version,
        "unlisted": [d.describe() for d in result.unlisted()],
        "listed": [
            {"difference": d.describe(), "reason": dev.reason, "decision": dev.decision} for d, dev in result.listed()
        ],
        "staleDeviations": [f"{dev.version} {dev.operation} {dev.at}: {dev.kind}" for dev in result.stale()],
        "notCompared": result.silent,
    }


def _print_result(result: DiffResult, verbose: bool) -> None:
    unlisted, listed = result.unlisted(), result.listed()
    print(
        f"{result.source} (version {result.version}): {len(result.differences)} difference(s), "
        f"{len(listed)} listed as deviations, {len(unlisted)} not listed"
    )
    for difference in unlisted:
        print(f"  NOT LISTED  {difference.describe()}")
    if verbose:
        for difference, deviation in listed:
            print(f"  listed      {difference.key} ({deviation.decision}: {deviation.reason.splitlines()[0]})")
    for deviation in result.stale():
        print(
            f"  note        deviation no longer seen: {deviation.version} {deviation.operation} "
            f"{deviation.at}: {deviation.kind}"
        )
    if result.silent and verbose:
        print(f"  not compared (the vendor documents no schema): {', '.join(result.silent)}")
