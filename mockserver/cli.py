"""The `lcphone` command: `lcphone serve` starts a standalone sandbox."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shlex
import sys
import tempfile
from pathlib import Path
from collections.abc import Sequence

from .drift import DRIFT_MODES
from .inventory import DEFAULT_NUMBERS_PER_TYPE
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
    serve.add_argument("--host", default="127.0.0.1",
                       help="interface to listen on (default: 127.0.0.1; beyond loopback the admin API needs a key)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on; 0 picks a free one (default: 8080)")
    serve.add_argument("--seed", type=int, default=DEFAULT_SEED,
                       help=f"seed of the generated inventory and ids (default: {DEFAULT_SEED})")
    serve.add_argument("--scenario", metavar="FILE",
                       help="scenario YAML file, or the name of a shipped one (default: the 'default' scenario)")
    serve.add_argument("--inventory", type=int, default=DEFAULT_NUMBERS_PER_TYPE, metavar="N",
                       help=f"numbers per country and type in the inventory (default {DEFAULT_NUMBERS_PER_TYPE}; "
                            "12 kinds in all)")
    serve.add_argument("--state", metavar="PATH",
                       help="keep all state in this SQLite file: it survives restarts and is shared by --workers")
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes, one sandbox (default 1; more than 1 needs --state, or uses a temporary one)")
    serve.add_argument("--rate-limit", action="store_true",
                       help="enforce the rate limits: 429 with Retry-After past the burst or daily limit")
    serve.add_argument("--rate-limit-burst", type=int, default=100, metavar="N", help="requests per window (default 100)")
    serve.add_argument("--rate-limit-window-ms", type=int, default=10_000, metavar="MS", help="burst window (default 10000)")
    serve.add_argument("--rate-limit-daily", type=int, default=200_000, metavar="N", help="requests per day (default 200000)")
    serve.add_argument("--fault", metavar="SPEC", action="append", default=[],
                       help="inject a fault (repeatable): [OPERATION:]key=value,... with latencyMs, status, drop, "
                            "truncate, times, ratio; e.g. purchaseNumber:status=503,times=2")
    serve.add_argument("--admin-key", default=os.environ.get("LCPHONE_ADMIN_KEY"),
                       help="key the admin API requires in X-Admin-Key (env LCPHONE_ADMIN_KEY); "
                            "generated when listening beyond loopback without one")
    serve.add_argument("--drift", metavar="MODE", action="append", default=[],
                       help="misbehave on purpose (repeatable): " + "; ".join(f"{k}: {v}" for k, v in DRIFT_MODES.items()))
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.set_defaults(run=_serve)


def _banner(base_url: str, location_id: str, token: str, seed: int, scenario: str, inventory: int,
            drift: list[str], extra: list[str]) -> str:
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
        *extra,
        "Try:",
        f"  {curl}",
        "Press Ctrl-C to stop.",
    ])


def _loop_factory():
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _serve_settings(args: argparse.Namespace):
    """The sandbox's settings from the command line (also what every worker process rebuilds it from)."""
    from .serving import ServeSettings, is_loopback

    admin_key = args.admin_key
    generated_key = False
    if admin_key is None and not is_loopback(args.host):
        admin_key, generated_key = secrets.token_urlsafe(24), True
    state = args.state
    if args.workers > 1 and not state:
        state = str(Path(tempfile.mkdtemp(prefix="lcphone-")) / "state.db")
    settings = ServeSettings(
        seed=args.seed, scenario=args.scenario, state=state, drift=tuple(args.drift), faults=tuple(args.fault),
        numbers_per_type=args.inventory,
        rate_limit={"enforce": args.rate_limit, "burst": args.rate_limit_burst, "window_ms": args.rate_limit_window_ms,
                    "daily": args.rate_limit_daily},
        admin_key=admin_key,
    )
    return settings, generated_key


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .drift import DriftError
    from .faults import FaultError
    from .sandbox import StateError
    from .scenario import ScenarioError
    from .serving import SETTINGS_VARIABLE, build_sandbox

    if args.workers < 1 or args.inventory < 1:
        print("lcphone serve: --workers and --inventory must be 1 or more", file=sys.stderr)
        return 2
    settings, generated_key = _serve_settings(args)
    try:
        sandbox = build_sandbox(settings)  # also prepares the state file before any worker starts
    except (ScenarioError, DriftError, FaultError, StateError) as error:
        print(f"lcphone serve: {error}", file=sys.stderr)
        return 2
    extra = []
    if settings.state:
        extra.append(f"  state        {settings.state}" + (" (temporary)" if not args.state else ""))
    if args.workers > 1:
        extra.append(f"  workers      {args.workers}")
    if settings.admin_key:
        shown = settings.admin_key if generated_key else "(the one given)"
        extra.append(f"  admin key    {shown}  (send it as X-Admin-Key)")
    if settings.rate_limit["enforce"]:
        extra.append(f"  rate limits  enforced: {args.rate_limit_burst} per {args.rate_limit_window_ms} ms, "
                     f"{args.rate_limit_daily} a day")
    if settings.faults:
        extra.append(f"  faults       {'; '.join(settings.faults)}")
    if args.workers > 1:
        os.environ[SETTINGS_VARIABLE] = settings.to_environment()
        config = uvicorn.Config("mockserver.serving:app_from_environment", factory=True, host=args.host, port=args.port,
                                workers=args.workers, log_level="warning", access_log=args.access_log, lifespan="off",
                                server_header=False)
    else:
        config = uvicorn.Config(sandbox.app, host=args.host, port=args.port, log_level="warning",
                                access_log=args.access_log, lifespan="off", server_header=False)
    server = uvicorn.Server(config)
    location_id, token = sandbox.default_credentials()

    def announce(port: int) -> None:
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(_banner(f"http://{host}:{port}", location_id, token, sandbox.seed, sandbox.scenario.name,
                      len(sandbox.catalog), args.drift, extra), flush=True)

    if args.workers > 1:
        from uvicorn.supervisors import Multiprocess

        sock = config.bind_socket()
        sock.listen(config.backlog)  # listening now: connections queue until a worker takes them
        announce(sock.getsockname()[1])
        try:
            Multiprocess(config, sockets=[sock]).run()
        except KeyboardInterrupt:
            pass
        print("lcphone sandbox stopped.", flush=True)
        return 0

    async def announce_when_ready() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.01)
        announce(server.servers[0].sockets[0].getsockname()[1])

    async def run() -> None:
        announcer = asyncio.create_task(announce_when_ready())
        await server.serve()
        announcer.cancel()

    try:
        # The event loop uvicorn would choose (uvloop when installed): `asyncio.run` would not.
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(run())
    except KeyboardInterrupt:
        pass  # uvicorn shut down gracefully, then re-raised the signal for us to end quietly
    if not server.started:
        print(f"lcphone serve: could not listen on {args.host}:{args.port}", file=sys.stderr)
        return 1
    print("lcphone sandbox stopped.", flush=True)
    return 0


def _add_verify(commands: argparse._SubParsersAction) -> None:
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
    verify.set_defaults(run=_verify)


def _verify(args: argparse.Namespace) -> int:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lcphone", description=DESCRIPTION)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_serve(commands)
    _add_verify(commands)
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
