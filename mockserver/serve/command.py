"""`lcphone serve`: a standalone sandbox on a socket, in one process or several workers sharing one state."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import errno
import os
import secrets
import shlex
import socket
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.supervisors import Multiprocess

from ..contract.admin import rate_limit_problems
from ..contract.versions import registry as version_registry
from ..control.drift import DRIFT_MODES, DriftError
from ..control.faults import FaultError
from ..control.plane import DEFAULT_SEED, REPLICA, StateError
from ..domain.scenario import ScenarioError
from ..errors import StateFileError, StoreUnavailable
from ..sandbox import Sandbox
from ..store import is_postgres_url
from . import protection
from .protection import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_KEEP_ALIVE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_HEADER_BYTES,
    GuardedProtocol,
)
from .settings import (
    MASTER_VARIABLE,
    SETTINGS_VARIABLE,
    ServeSettings,
    build_sandbox,
    is_loopback,
    settle_memory,
)

MAX_INVENTORY = 100_000
MAX_WORKERS = 64
WORKER_APP = "mockserver.serve.settings:app_from_environment"


class ServeError(Exception):
    """A problem that stops `lcphone serve` before it listens: one line, exit 2."""


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {low} to {high}, got {value}")
        return value

    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"expected more than 0 and at most 3600 seconds, got {text}")
    return value


DESCRIPTION = (
    "Start a local sandbox of the LC Phone API, serving every version ({versions}) from one state. Once it is "
    "ready it prints the base URL, a ready-to-use token and location id, the inspector page and an example curl "
    "line. Ctrl-C stops it."
)

# Every option: its flags and argparse's keywords. The help is the documentation: `lcphone serve --help`.
# On loopback, the admin API and the inspector answer only loopback names (DNS rebinding); `lcphone proxy` too.
ALLOWED_HOST_OPTION = (
    ("--allowed-host",),
    dict(
        metavar="NAME",
        action="append",
        default=[],
        help="on loopback, a Host name the admin API and the inspector also answer, besides localhost, 127.0.0.1 "
        "and [::1] (repeatable); any other is refused, so that no web page can reach them by pointing a name of "
        "its own at 127.0.0.1",
    ),
)


OPTIONS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (
        ("--host",),
        dict(
            default="127.0.0.1",
            help="interface to listen on (default: 127.0.0.1; beyond loopback the admin API needs a key)",
        ),
    ),
    (
        ("--port",),
        dict(
            type=_bounded_int(0, 65535),
            default=8080,
            help="port to listen on, 0 to 65535; 0 picks a free one (default: 8080)",
        ),
    ),
    (
        ("--seed",),
        dict(
            type=int,
            default=None,
            help=f"seed of the generated inventory and ids (default: {DEFAULT_SEED}, or the state's)",
        ),
    ),
    (
        ("--scenario",),
        dict(
            metavar="FILE",
            help="scenario YAML file, or the name of a shipped one (default: the 'default' scenario, or the state's)",
        ),
    ),
    (
        ("--inventory",),
        dict(
            type=_bounded_int(1, MAX_INVENTORY),
            default=None,
            metavar="N",
            help=f"numbers per country and type in the inventory, 1 to {MAX_INVENTORY} (default 200, or the "
            "state's; 12 kinds in all)",
        ),
    ),
    (
        ("--state",),
        dict(
            metavar="PATH_OR_URL",
            default=None,
            help="keep all state in this SQLite file, or in PostgreSQL (postgresql://USER@HOST:PORT/DB, with the "
            "postgres extra: pip install 'lcphone[postgres]'; env LCPHONE_STATE keeps a password off the command "
            "line): it survives restarts and is shared by --workers and by replicas",
        ),
    ),
    (
        ("--state-timeout",),
        dict(
            type=_positive_float,
            default=5.0,
            metavar="SECONDS",
            help="with PostgreSQL: the longest a request waits on the database, and a replica serves from memory "
            "without word from it, before requests get 503 (default 5)",
        ),
    ),
    (
        ("--workers",),
        dict(
            type=_bounded_int(1, MAX_WORKERS),
            default=1,
            help="worker processes, one sandbox (default 1; more than 1 uses --state, or a temporary one)",
        ),
    ),
    (
        ("--rate-limit",),
        dict(action="store_true", help="enforce the rate limits: 429 with Retry-After past the burst or daily limit"),
    ),
    (("--rate-limit-burst",), dict(type=int, default=100, metavar="N", help="requests per window (default 100)")),
    (("--rate-limit-window-ms",), dict(type=int, default=10_000, metavar="MS", help="burst window (default 10000)")),
    (("--rate-limit-daily",), dict(type=int, default=200_000, metavar="N", help="requests per day (default 200000)")),
    (
        ("--fault",),
        dict(
            metavar="SPEC",
            action="append",
            default=[],
            help="inject a fault (repeatable): [OPERATION:]key=value,... with latencyMs, status, drop, truncate, "
            "times, ratio; e.g. purchaseNumber:status=503,times=2",
        ),
    ),
    (
        ("--admin-key",),
        dict(
            default=None,
            help="key the admin API requires in X-Admin-Key (env LCPHONE_ADMIN_KEY); generated and printed once "
            "when listening beyond loopback without one; never empty",
        ),
    ),
    ALLOWED_HOST_OPTION,
    (
        ("--cors-origin",),
        dict(
            metavar="ORIGIN",
            action="append",
            default=[],
            help="let browser apps from this origin call the API (repeatable; * for any, with a warning)",
        ),
    ),
    (
        ("--drift",),
        dict(
            metavar="MODE",
            action="append",
            default=[],
            help="misbehave on purpose (repeatable): "
            + "; ".join(f"{name}: {mode.summary}" for name, mode in DRIFT_MODES.items()),
        ),
    ),
    (
        ("--max-connections",),
        dict(
            type=_bounded_int(1, 100_000),
            default=DEFAULT_MAX_CONNECTIONS,
            metavar="N",
            help=f"open connections per process; more get 503 (default {DEFAULT_MAX_CONNECTIONS})",
        ),
    ),
    (
        ("--header-timeout",),
        dict(
            type=_positive_float,
            default=DEFAULT_HEADER_TIMEOUT,
            metavar="SECONDS",
            help=f"close a connection whose request headers take longer (default {DEFAULT_HEADER_TIMEOUT:g})",
        ),
    ),
    (
        ("--body-timeout",),
        dict(
            type=_positive_float,
            default=DEFAULT_BODY_TIMEOUT,
            metavar="SECONDS",
            help=f"answer 408 to a request whose body takes longer (default {DEFAULT_BODY_TIMEOUT:g})",
        ),
    ),
    (
        ("--max-header-bytes",),
        dict(
            type=_bounded_int(1024, 1024 * 1024),
            default=DEFAULT_MAX_HEADER_BYTES,
            metavar="BYTES",
            help=f"answer 431 to a request line and headers larger than this (default {DEFAULT_MAX_HEADER_BYTES})",
        ),
    ),
    (
        ("--keep-alive-timeout",),
        dict(
            type=_positive_float,
            default=DEFAULT_KEEP_ALIVE_TIMEOUT,
            metavar="SECONDS",
            help=f"close an idle kept-alive connection after (default {DEFAULT_KEEP_ALIVE_TIMEOUT:g})",
        ),
    ),
    (("--access-log",), dict(action="store_true", help="print a line for every request")),
]


def add_parser(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser(
        "serve",
        help="start a local sandbox of the LC Phone API (every version it serves)",
        description=DESCRIPTION.format(versions=" and ".join(version_registry().names)),
    )
    for flags, keywords in OPTIONS:
        serve.add_argument(*flags, **keywords)
    # The environment as the command runs. An admin key set but empty (a CI secret that is missing) is refused.
    serve.set_defaults(
        state=os.environ.get("LCPHONE_STATE") or None, admin_key=os.environ.get("LCPHONE_ADMIN_KEY"), run=run
    )


def _rate_limit_settings(args: argparse.Namespace) -> dict[str, Any]:
    policy = {
        "enforce": args.rate_limit,
        "burst": args.rate_limit_burst,
        "windowMs": args.rate_limit_window_ms,
        "daily": args.rate_limit_daily,
    }
    options = {"burst": "--rate-limit-burst", "windowMs": "--rate-limit-window-ms", "daily": "--rate-limit-daily"}
    problems = rate_limit_problems(policy)
    if problems:
        first = problems[0]
        name = first.split(":", 1)[0]
        raise ServeError(f"{options.get(name, name)}: {first.split(':', 1)[-1].strip()}")
    return {
        "enforce": args.rate_limit,
        "burst": args.rate_limit_burst,
        "window_ms": args.rate_limit_window_ms,
        "daily": args.rate_limit_daily,
    }


def _admin_key(args: argparse.Namespace, loopback: bool) -> tuple[str | None, bool]:
    """The admin key, and whether it was generated here (then the banner shows it once)."""
    key = args.admin_key
    if key is not None and not key.strip():
        raise ServeError(
            "--admin-key (or LCPHONE_ADMIN_KEY) is empty: give a key, or leave both unset to have one generated"
        )
    if key is None and not loopback:
        return secrets.token_urlsafe(24), True
    return key, False


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio sets TCP_NODELAY only then
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise ServeError(
                f"--port {port}: the port is already in use on {host}; stop what uses it, or pick "
                "another port (--port 0 picks a free one)"
            ) from None
        if error.errno == errno.EADDRNOTAVAIL or isinstance(error, socket.gaierror):
            raise ServeError(f"--host {host}: not an address of this machine ({error.strerror})") from None
        raise ServeError(f"--host {host} --port {port}: cannot listen ({error.strerror})") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _reachable_address() -> str | None:
    """An address of this machine that other hosts can reach (for the banner of a sandbox on 0.0.0.0)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        address = probe.getsockname()[0]
        return None if address.startswith("127.") else address
    except OSError:
        return None
    finally:
        probe.close()


@dataclass
class Banner:
    """What the sandbox prints once it listens: where it is, and what to try first."""

    base_url: str
    location_id: str
    token: str
    seed: int
    scenario: str
    inventory: int
    drift: list[str]
    extra: list[str]
    elsewhere: str | None = None

    def text(self) -> str:
        newest = version_registry().newest.name
        curl = " ".join(
            [
                "curl -s",
                "-H",
                shlex.quote(f"Authorization: Bearer {self.token}"),
                "-H",
                shlex.quote(f"Version: {newest}"),
                shlex.quote(f"{self.base_url}/phone-system/numbers/location/{self.location_id}"),
            ]
        )
        base = self.base_url
        return "\n".join(
            [
                f"lcphone sandbox ready (seed {self.seed}, scenario {self.scenario}, {self.inventory} numbers in "
                "the inventory)",
                *([f"  DRIFTING ON PURPOSE: {', '.join(self.drift)}"] if self.drift else []),
                f"  base URL     {base}",
                *([f"  from others  {self.elsewhere}"] if self.elsewhere else []),
                f"  versions     {' and '.join(version_registry().names)} (the Version header picks)",
                f"  location id  {self.location_id}",
                f"  token        {self.token}",
                f"  inspector    {base}/__admin/ui",
                f"  admin API    {base}/__admin/health",
                f"  contracts    {base}/openapi.json (each version: {base}/__admin/contracts)",
                *self.extra,
                "Try:",
                f"  {curl}",
                "Press Ctrl-C to stop.",
            ]
        )


def _loop_factory(waits_on_network: bool = False):
    """uvloop where installed (uvicorn[standard] brings it), the faster loop; asyncio's own where requests wait
    on a database across the network (PostgreSQL), since uvloop takes in one new connection per turn of its loop:
    the last of 32 connections opened at once waited 265 ms for its first answer (D50)."""
    if waits_on_network:
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _log_config(access_log: bool) -> dict[str, Any]:
    """uvicorn's logging, quiet but for warnings, and for one line per request with --access-log."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["uvicorn"]["level"] = "WARNING"
    config["loggers"]["uvicorn.error"] = {"level": "WARNING"}
    config["loggers"]["uvicorn.access"]["level"] = "INFO" if access_log else "WARNING"
    return config


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except ServeError as error:
        print(f"lcphone serve: {error}", file=sys.stderr)
        return 2


@dataclass
class Launch:
    """A sandbox ready to serve: what `lcphone serve` built from its options, before it listens."""

    args: argparse.Namespace
    settings: ServeSettings
    sandbox: Sandbox
    sock: socket.socket
    generated_key: bool  # the admin key was generated here: the banner shows it
    temporary_state: bool  # the state is a temporary file (workers without --state)


def _run(args: argparse.Namespace) -> int:
    loopback = is_loopback(args.host)
    admin_key, generated_key = _admin_key(args, loopback)
    if "*" in args.cors_origin:
        print("lcphone serve: warning: --cors-origin '*' lets any web page call this sandbox", file=sys.stderr)
    with contextlib.ExitStack() as cleanup:
        state, temporary = args.state, args.workers > 1 and not args.state
        if temporary:  # workers share one state: a temporary file when none is named
            state = str(Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="lcphone-"))) / "state.db")
        settings = _settings(args, state, admin_key)
        sandbox = _build(settings)
        cleanup.callback(sandbox.store.close)
        sock = _bind(args.host, args.port)
        cleanup.callback(sock.close)
        protection.configure(**settings.limits())
        _ = sandbox.app  # built before memory is settled, so that it is settled too
        settle_memory()
        launch = Launch(args, settings, sandbox, sock, generated_key, temporary)
        return _serve_workers(launch) if args.workers > 1 else _serve_one(launch)
    raise AssertionError("unreachable")  # ExitStack does not swallow exceptions


def _settings(args: argparse.Namespace, state: str | None, admin_key: str | None) -> ServeSettings:
    return ServeSettings(
        seed=args.seed,
        scenario=args.scenario,
        state=state,
        drift=tuple(args.drift),
        faults=tuple(args.fault),
        numbers_per_type=args.inventory,
        rate_limit=_rate_limit_settings(args),
        admin_key=admin_key,
        allowed_hosts=tuple(args.allowed_host) if is_loopback(args.host) else None,
        cors_origins=tuple(args.cors_origin),
        max_connections=args.max_connections,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        max_header_bytes=args.max_header_bytes,
        state_timeout=args.state_timeout,
    )


def _build(settings: ServeSettings) -> Sandbox:
    """The sandbox (which also prepares the state before any worker starts), or why not, in one line."""
    try:
        return build_sandbox(settings)
    except (StateFileError, StoreUnavailable) as error:
        raise ServeError(f"--state: {error}") from None
    except (ScenarioError, DriftError, FaultError, StateError) as error:
        raise ServeError(str(error)) from None
    except RuntimeError as error:  # an inventory the number ranges cannot hold
        raise ServeError(f"--inventory: {error}") from None


def _banner(launch: Launch) -> str:
    args, sandbox = launch.args, launch.sandbox
    port = launch.sock.getsockname()[1]
    shown_host, elsewhere = args.host, None
    if args.host in ("0.0.0.0", "::", "[::]"):
        shown_host = "127.0.0.1" if args.host == "0.0.0.0" else "[::1]"
        reachable = _reachable_address()
        elsewhere = f"http://{reachable}:{port}" if reachable else None
    elif ":" in args.host and not args.host.startswith("["):
        shown_host = f"[{args.host}]"
    location_id, token = sandbox.default_credentials()
    return Banner(
        f"http://{shown_host}:{port}",
        location_id,
        token,
        sandbox.seed,
        sandbox.scenario.name,
        len(sandbox.inventory),
        args.drift,
        _banner_extras(launch),
        elsewhere,
    ).text()


def _banner_extras(launch: Launch) -> list[str]:
    """The banner's lines about the options in force."""
    settings, sandbox, extra = launch.settings, launch.sandbox, []
    if settings.state:
        extra.append(f"  state        {sandbox.store.description}" + (" (temporary)" if launch.temporary_state else ""))
    if sandbox.store.shared:
        how = "joined the shared state as it was" if sandbox.attached else "set up the shared state"
        extra.append(f"  replica      {REPLICA}: {how} (its journal is its own; an enforced rate limit is shared)")
    if launch.args.workers > 1:
        extra.append(f"  workers      {launch.args.workers}")
    if settings.admin_key:
        shown = settings.admin_key if launch.generated_key else "(the one given)"
        extra.append(f"  admin key    {shown}  (send it as X-Admin-Key; the inspector asks for it once)")
    policy = sandbox.rate_limit_policy
    if policy.enforce:
        extra.append(f"  rate limits  enforced: {policy.burst} per {policy.window_ms} ms, {policy.daily} a day")
    if settings.faults:
        extra.append(f"  faults       {'; '.join(settings.faults)}")
    if settings.cors_origins:
        extra.append(f"  CORS         {', '.join(settings.cors_origins)}")
    return extra


def _uvicorn_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = dict(
        log_config=_log_config(args.access_log),
        log_level=None,
        access_log=args.access_log,
        lifespan="off",
        server_header=False,
        timeout_keep_alive=args.keep_alive_timeout,
        loop="asyncio" if _waits_on_network(args) else "auto",  # the workers' loop, as `_loop_factory` chooses
    )
    if GuardedProtocol is not None:
        options["http"] = GuardedProtocol
    return options


def _waits_on_network(args: argparse.Namespace) -> bool:
    return bool(args.state) and is_postgres_url(args.state)


def _serve_workers(launch: Launch) -> int:
    """Several worker processes on one socket, each with its own app over the shared state."""
    os.environ[SETTINGS_VARIABLE] = launch.settings.to_environment()
    os.environ[MASTER_VARIABLE] = str(os.getpid())
    config = uvicorn.Config(WORKER_APP, factory=True, workers=launch.args.workers, **_uvicorn_options(launch.args))
    supervisor = Multiprocess(config, sockets=[launch.sock])
    try:
        print(_banner(launch), flush=True)
        supervisor.run()
    except KeyboardInterrupt:  # Ctrl-C before the supervisor took over the signal: stop what was started
        supervisor.terminate_all()
        supervisor.join_all()
    print("lcphone sandbox stopped.", flush=True)
    return 0


def _serve_one(launch: Launch) -> int:
    """One process: the banner once uvicorn listens, until Ctrl-C."""
    server = uvicorn.Server(uvicorn.Config(launch.sandbox.app, **_uvicorn_options(launch.args)))
    text = _banner(launch)

    async def announce_when_ready() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.01)
        print(text, flush=True)

    async def main() -> None:
        announcer = asyncio.create_task(announce_when_ready())
        await server.serve(sockets=[launch.sock])
        announcer.cancel()

    try:
        # The event loop uvicorn would choose (uvloop when installed): `asyncio.run` would not.
        with asyncio.Runner(loop_factory=_loop_factory(_waits_on_network(launch.args))) as runner:
            runner.run(main())
    except KeyboardInterrupt:
        pass  # uvicorn shut down gracefully, then re-raised the signal for us to end quietly
    print("lcphone sandbox stopped.", flush=True)
    return 0
