"""Which ASGI server serves lcphone fastest here: the same app (`served_app.py`) under uvicorn with httptools and
uvloop (what `lcphone serve` runs, without its guards) and under granian, each one worker, loaded in turns
(A, B, A, B) so that a change in the machine's load falls on both; the best of each server's rounds is kept.

    python bench/servers.py [--seconds 4] [--rounds 2]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from operations import BY_KEY, Operation
from peers import Running, _probe_headers, _ready
from throughput import PurchaseBodies, load_all
from tools import Background, LoadResult, ensure_wrk, free_port

HERE = Path(__file__).resolve().parent
GRANIAN = "granian>=2.8,<3"
OPERATIONS: list[Operation] = [BY_KEY["list"], BY_KEY["search"], BY_KEY["purchase"]]


def ensure_granian() -> bool:
    """granian in this environment (a benchmark's tool, not lcphone's dependency), installed when missing."""
    if shutil.which("granian", path=str(Path(sys.executable).parent)):
        return True
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", GRANIAN],
        capture_output=True,
    )
    return installed.returncode == 0


def _command(server: str, port: int) -> list[str]:
    if server == "uvicorn":
        return [sys.executable, "-m", "uvicorn", "served_app:app", "--port", str(port), "--loop", "uvloop",
                "--http", "httptools", "--lifespan", "off", "--no-access-log", "--log-level", "warning",
                "--no-server-header"]  # fmt: skip
    return [str(Path(sys.executable).parent / "granian"), "--interface", "asgi", "--host", "127.0.0.1",
            "--port", str(port), "--workers", "1", "--loop", "uvloop", "--http", "1", "--no-ws",
            "--log-level", "warning", "served_app:app"]  # fmt: skip


@contextmanager
def served(server: str) -> Iterator[Running]:
    port = free_port()
    with Background(_command(server, port), cwd=HERE) as process:
        yield _ready(server, process, port, BY_KEY["list"].path, **_probe_headers())


def compare(seconds: float, rounds: int) -> dict[str, dict[str, LoadResult]]:
    """The best result of each server on each operation, over `rounds` turns of each."""
    best: dict[str, dict[str, LoadResult]] = {"uvicorn": {}, "granian": {}}
    bodies = PurchaseBodies()
    try:
        for _ in range(rounds):
            for server in best:
                with served(server) as running:
                    for key, result in load_all(running, seconds, bodies, OPERATIONS).items():
                        if key not in best[server] or result.rps > best[server][key].rps:
                            best[server][key] = result
    finally:
        bodies.close()
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not ensure_granian() or ensure_wrk() is None:
        print("granian or wrk could not be installed", file=sys.stderr)
        return 2
    for server, results in compare(args.seconds, args.rounds).items():
        for key, result in results.items():
            print(f"{server:8} {key:10} {result.rps:10,.0f} req/s  p99 {result.p99_ms:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
