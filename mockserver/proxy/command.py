"""`lcphone proxy`: a reverse proxy to a real API that checks both sides of every exchange, reports at the end.

Exit 0: every exchange kept the contract on both sides; 1: a request or an answer did not (or the target did
not answer one); 2: the proxy could not run (a bad option, the target unreachable at start, a port in use, a
report that cannot be written), with the reason on one line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..contract.versions import registry as version_registry
from ..serve.command import ALLOWED_HOST_OPTION

DESCRIPTION = (
    "Forward each request of a client to a real API (staging, say) and its answer back unchanged, and check "
    "both against the contract of the version the request asked for: the request as the sandbox would (the "
    "same violations), the answer as lcphone verify does (vendor drift and fidelity gaps told apart). The "
    "journal (/__admin/journal) and the inspector (/__admin/ui) show both verdicts of each exchange. Purchases "
    "are refused by the proxy itself unless --allow-purchase is given. Ctrl-C (or SIGTERM) stops it and writes "
    "the reports. Exit 0: every exchange conformed on both sides; 1: one did not; 2: it could not run."
)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError(f"expected more than 0 and at most 600 seconds, got {text}")
    return value


def _count(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {low} to {high}, got {value}")
        return value

    return parse


OPTIONS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (
        ("--target",),
        dict(
            metavar="URL",
            help="the real API to forward to, e.g. https://services.leadconnectorhq.com (env LCPHONE_TARGET)",
        ),
    ),
    (("--host",), dict(default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")),
    (
        ("--port",),
        dict(type=_count(0, 65535), default=8090, help="port to listen on; 0 picks a free one (default 8090)"),
    ),
    (("--report",), dict(metavar="PATH", help="write the Markdown report here when the proxy stops")),
    (("--junit-xml",), dict(metavar="PATH", help="write a JUnit XML report here when the proxy stops")),
    (
        ("--allow-purchase",),
        dict(
            action="store_true",
            help="send purchases to the target (real money on a real API); without it the "
            "proxy refuses each with 403, naming this option",
        ),
    ),
    (
        ("--max-purchases",),
        dict(
            type=_count(0, 1000),
            default=1,
            metavar="N",
            help="with --allow-purchase: send at most this many purchases (default 1); later ones are refused",
        ),
    ),
    (
        ("--record",),
        dict(
            metavar="PATH",
            help="write what the proxy saw of the account (locations, active numbers, pools, "
            "account status; no tokens) as a scenario file for lcphone serve --scenario PATH",
        ),
    ),
    (
        ("--timeout",),
        dict(
            type=_seconds,
            default=30.0,
            metavar="SECONDS",
            help="the longest an exchange waits on the target before the client gets 504 (default 30)",
        ),
    ),
    (
        ("--max-latency",),
        dict(
            type=_count(1, 600_000),
            default=None,
            metavar="MS",
            help="report an answer slower than this as drift (default: latency is not judged)",
        ),
    ),
    (
        ("--admin-key",),
        dict(
            default=None,
            help="key the admin API and the inspector require (env LCPHONE_ADMIN_KEY); generated "
            "and printed once when listening beyond loopback without one",
        ),
    ),
    ALLOWED_HOST_OPTION,
    (("--access-log",), dict(action="store_true", help="print a line for every request")),
]


def add_parser(commands: argparse._SubParsersAction) -> None:
    proxy = commands.add_parser(
        "proxy",
        help="forward a client's traffic to a real API, checking requests and answers against the contract",
        description=DESCRIPTION,
    )
    for flags, keywords in OPTIONS:
        proxy.add_argument(*flags, **keywords)
    proxy.set_defaults(target=os.environ.get("LCPHONE_TARGET"), admin_key=os.environ.get("LCPHONE_ADMIN_KEY"), run=run)


class CannotRun(Exception):
    """Why the proxy cannot run: one line, exit 2."""


def _target(url: str | None) -> str:
    if url is None:
        raise CannotRun("--target is required (or env LCPHONE_TARGET): the real API to forward to")
    if not url.strip():
        raise CannotRun("--target (or LCPHONE_TARGET) is empty: give the real API's base URL")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CannotRun(
            f"--target {url!r}: expected an http:// or https:// URL, e.g. https://services.leadconnectorhq.com"
        )
    if parts.query or parts.fragment:
        raise CannotRun(f"--target {url!r}: a base URL has no query or fragment")
    return url.strip().rstrip("/")


def _writable(option: str, path: str | None) -> Path | None:
    """Checked before the proxy listens: a report that cannot be written must not cost a whole session."""
    if path is None:
        return None
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise CannotRun(f"{option} {path}: is a folder; give a file name")
    if not folder.is_dir():
        raise CannotRun(f"{option} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise CannotRun(f"{option} {path}: the folder {folder} is not writable")
    return target


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except CannotRun as error:
        print(f"lcphone proxy: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from ..serve.command import ServeError, _bind  # the same listening socket, and its one-line errors
    from ..serve.settings import is_loopback
    from .app import Proxy, reachable

    target = _target(args.target)
    paths = {
        option: _writable(option, getattr(args, name))
        for option, name in (("--report", "report"), ("--junit-xml", "junit_xml"), ("--record", "record"))
    }
    if args.admin_key is not None and not args.admin_key.strip():
        raise CannotRun("--admin-key (or LCPHONE_ADMIN_KEY) is empty: give a key, or leave both unset")
    problem = reachable(target, args.timeout)
    if problem:
        raise CannotRun(f"the target {target} is not reachable: {problem}")
    admin_key = args.admin_key
    generated = False
    if admin_key is None and not is_loopback(args.host):
        import secrets

        admin_key, generated = secrets.token_urlsafe(24), True
    try:
        sock = _bind(args.host, args.port)
    except ServeError as error:
        raise CannotRun(str(error)) from None
    proxy = Proxy(
        target,
        allow_purchase=args.allow_purchase,
        max_purchases=args.max_purchases,
        timeout=args.timeout,
        max_latency_ms=args.max_latency,
        record=paths["--record"] is not None,
        admin_key=admin_key,
        allowed_hosts=tuple(args.allowed_host) if is_loopback(args.host) else None,
    )
    port = sock.getsockname()[1]
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    base = f"http://{shown_host}:{port}"
    try:
        _serve(proxy, sock, args, _banner(proxy, base, args, admin_key if generated else None))
    finally:
        sock.close()
    return _finish(proxy, paths)


def _banner(proxy, base: str, args: argparse.Namespace, shown_key: str | None) -> str:
    newest = version_registry().newest.name
    purchases = (
        f"sent, at most {args.max_purchases}"
        if args.allow_purchase
        else "refused by the proxy (--allow-purchase sends them)"
    )
    lines = [
        f"lcphone proxy ready: forwarding to {proxy.target}",
        f"  base URL     {base}  (point your client's base URL here)",
        f"  target       {proxy.target}",
        f"  versions     {' and '.join(version_registry().names)} (the Version header picks; none: {newest})",
        f"  purchases    {purchases}",
        f"  inspector    {base}/__admin/ui",
        f"  journal      {base}/__admin/journal",
    ]
    if args.record:
        lines.append(f"  recording    {args.record} (written when the proxy stops)")
    if args.report or args.junit_xml:
        lines.append(f"  reports      {', '.join(p for p in (args.report, args.junit_xml) if p)} (when it stops)")
    if shown_key:
        lines.append(f"  admin key    {shown_key}  (send it as X-Admin-Key; the inspector asks for it once)")
    lines.append("Press Ctrl-C to stop and write the reports.")
    return "\n".join(lines)


def _serve(proxy, sock, args: argparse.Namespace, banner: str) -> None:
    import uvicorn

    from ..serve.command import _log_config, _loop_factory
    from ..serve.protection import GuardedProtocol

    options: dict[str, Any] = {}
    if GuardedProtocol is not None:  # the sandbox's guards: connection cap, header and body deadlines, 431
        options["http"] = GuardedProtocol
    config = uvicorn.Config(
        proxy.app,
        log_config=_log_config(args.access_log),
        log_level=None,
        access_log=args.access_log,
        lifespan="off",
        server_header=False,
        date_header=False,  # the target's Server and Date pass through
        **options,
    )
    server = uvicorn.Server(config)

    async def announce_when_ready() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.01)
        print(banner, flush=True)

    async def main() -> None:
        announcer = asyncio.create_task(announce_when_ready())
        try:
            await server.serve(sockets=[sock])
        finally:
            announcer.cancel()
            await proxy.aclose()

    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(main())
    except KeyboardInterrupt:
        pass  # uvicorn shut down gracefully, then re-raised the signal for us to end quietly


def _finish(proxy, paths: dict[str, Path | None]) -> int:
    """The reports and the recording, the summary, and the exit code."""
    report = proxy.finish()
    written = []
    for option, text in (("--report", report.markdown), ("--junit-xml", report.junit_xml)):
        path = paths[option]
        if path is not None:
            path.write_text(text(), encoding="utf-8")
            written.append(str(path))
    record = paths["--record"]
    if record is not None:
        from ..domain.scenario import ScenarioError

        try:
            scenario = proxy.recorder.write(record)
        except ScenarioError as error:
            print(f"lcphone proxy: --record {record}: not written: {error}", file=sys.stderr)
        else:
            numbers = sum(len(loc.get("numbers", [])) for loc in scenario.locations)
            print(
                f"lcphone proxy: recorded {len(scenario.locations)} location(s), {numbers} number(s) to {record}; "
                f"serve it with: lcphone serve --scenario {record}"
            )
    print(report.terminal(), flush=True)
    if written:
        print(f"lcphone proxy: reports written to {', '.join(written)}", flush=True)
    return 1 if report.failed else 0
