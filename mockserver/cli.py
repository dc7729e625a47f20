"""The `lcphone` command: `serve`, `verify`, `proxy`, `contract diff`, `--version`.

Each command lives in a module of its own; this one only builds the parser and dispatches.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .contract import command as contract_command
from .proxy import command as proxy_command
from .serve import command as serve_command
from .verify import command as verify_command

DESCRIPTION = "lcphone: a contract-testing sandbox and test harness for the LC Phone API (every version it serves)."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lcphone", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"lcphone {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    serve_command.add_parser(commands)
    verify_command.add_parser(commands)
    proxy_command.add_parser(commands)
    contract_command.add_parser(commands)
    _remember_each_parser(parser)
    return parser


def _remember_each_parser(parser: argparse.ArgumentParser) -> None:
    """Each command's parser is in the namespace it parses, so that an error names that command's usage."""
    parser.set_defaults(parser_of_command=parser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                _remember_each_parser(command)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # told by the command that was asked for, with its usage, not the top level's
        args.parser_of_command.error(f"unrecognized arguments: {' '.join(unknown)}")
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
