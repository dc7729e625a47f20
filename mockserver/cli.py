"""The `lcphone` command: `lcphone serve` starts a standalone sandbox."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from collections.abc import Sequence

from .drift import DRIFT_MODES
from .sandbox import DEFAULT_SEED

DESCRIPTION = "lcphone: a contract-testing sandbox for the LC Phone API v3."


def _add_serve(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser(
        "serve",
        help="start a local sandbox of the LC Phone API v3",
        description=(
            "Start a local LC Phone API v3 sandbox. Once it is ready it prints the base URL, a ready-to-use "
            "token and location id, and an example curl line. Ctrl-C stops it."
        ),
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on; 0 picks a free one (default: 8080)")
    serve.add_argument("--seed", type=int, default=DEFAULT_SEED,
                       help=f"seed of the generated inventory and ids (default: {DEFAULT_SEED})")
    serve.add_argument("--scenario", metavar="FILE",
                       help="scenario YAML file, or the name of a shipped one (default: the 'default' scenario)")
    serve.add_argument("--drift", metavar="MODE", action="append", default=[],
                       help="misbehave on purpose (repeatable): " + "; ".join(f"{k}: {v}" for k, v in DRIFT_MODES.items()))
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.set_defaults(run=_serve)


def _banner(base_url: str, location_id: str, token: str, seed: int, scenario: str, inventory: int,
            drift: list[str]) -> str:
    curl = " ".join([
        "curl -s",
        "-H", shlex.quote(f"Authorization: Bearer {token}"),
        "-H", shlex.quote("Version: v3"),
        shlex.quote(f"{base_url}/phone-system/numbers/location/{location_id}"),
    ])
    return "\n".join([
        f"lcphone sandbox ready (seed {seed}, scenario {scenario}, {inventory} numbers in the inventory)",
        *([f"  DRIFTING ON PURPOSE: {', '.join(drift)}"] if drift else []),
        f"  base URL     {base_url}",
        f"  location id  {location_id}",
        f"  token        {token}",
        f"  admin API    {base_url}/__admin/health",
        "Try:",
        f"  {curl}",
        "Press Ctrl-C to stop.",
    ])


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .drift import DriftError
    from .sandbox import Sandbox
    from .scenario import ScenarioError

    try:
        sandbox = Sandbox(seed=args.seed, scenario=args.scenario, drift=args.drift)
    except ScenarioError as error:
        print(f"lcphone serve: cannot load the scenario: {error}", file=sys.stderr)
        return 2
    except DriftError as error:
        print(f"lcphone serve: {error}", file=sys.stderr)
        return 2
    config = uvicorn.Config(
        sandbox.app, host=args.host, port=args.port, log_level="warning",
        access_log=args.access_log, lifespan="off", server_header=False,
    )
    server = uvicorn.Server(config)

    async def announce_when_ready() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.01)
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        shown_host = f"[{host}]" if ":" in host else host
        location_id, token = sandbox.default_credentials()
        print(_banner(f"http://{shown_host}:{port}", location_id, token, sandbox.seed, sandbox.scenario.name,
                      len(sandbox.catalog), args.drift), flush=True)

    async def run() -> None:
        announcer = asyncio.create_task(announce_when_ready())
        await server.serve()
        announcer.cancel()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass  # uvicorn shut down gracefully, then re-raised the signal for us to end quietly
    if not server.started:
        print(f"lcphone serve: could not listen on {args.host}:{args.port}", file=sys.stderr)
        return 1
    print("lcphone sandbox stopped.", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lcphone", description=DESCRIPTION)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_serve(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
