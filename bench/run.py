"""lcphone's benchmarks, side by side in one run; writes bench/results.md.

    python bench/run.py [--quick]

Every figure is a ratio against a baseline measured in the same run (absolute
times are printed too, never asserted):
  1. throughput and latency of `lcphone serve` against Stoplight Prism mocking the same
     contract, and against the ceiling (bare Starlette, same server stack, same body size);
  2. the cost of the pytest fixtures per test;
  3. start-up: `import mockserver`, `lcphone serve` to its first 200, against Prism's;
  4. scale: search, purchase and listing latency against inventory size, and memory;
  5. property-suite time, in-process against over a socket.
Needs wrk (installed with apt-get when missing) and Node.js for Prism (installed into bench/.tools with npm).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import httpx

from mockserver.serve_process import ServeProcess

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

TOKEN = "pit-bench-token-000001"
LOCATION = "benchLocation"
LIST = f"/phone-system/numbers/location/{LOCATION}?pageSize=50"
# Prism treats an empty query value as missing, so the search both serve has every filter filled.
SEARCH = (
    f"/phone-system/numbers/location/{LOCATION}/available?firstPart=415&lastPart=1&anywhere=4"
    "&numberTypes=local,mobile&smsEnabled=false&mmsEnabled=false&voiceEnabled=false&countryCode=US"
)
HEADERS = ["-H", f"Authorization: Bearer {TOKEN}", "-H", "Version: v3"]
PRISM_VERSION = "5.14.2"
rows: list[str] = []


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)
    rows.extend(["", f"## {title}", ""])


def table(header: list[str], lines: list[list[str]]) -> None:
    rows.append("| " + " | ".join(header) + " |")
    rows.append("|" + "---|" * len(header))
    for line in lines:
        rows.append("| " + " | ".join(line) + " |")
        print("  " + "  ".join(f"{cell:>14}" if i else f"{cell:42}" for i, cell in enumerate(line)))


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


# -- tools -------------------------------------------------------------------------------------


def ensure_wrk() -> str | None:
    if shutil.which("wrk") is None and shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], capture_output=True)
        if shutil.which("wrk") is None:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], capture_output=True)
    return shutil.which("wrk")


def ensure_prism() -> Path | None:
    prism = HERE / ".tools" / "node_modules" / ".bin" / "prism"
    if not prism.exists() and shutil.which("npm"):
        (HERE / ".tools").mkdir(exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--prefix",
                str(HERE / ".tools"),
                "--no-audit",
                "--no-fund",
                "--silent",
                f"@stoplight/prism-cli@{PRISM_VERSION}",
            ],
            capture_output=True,
        )
    return prism if prism.exists() else None


class Background:
    """A server process, stopped with its whole process group."""

    def __init__(self, command: list[str], env: dict | None = None, cwd: Path | None = None) -> None:
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )

    def stop(self) -> None:
        import signal

        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)


def wait_for(url: str, headers: dict[str, str] | None = None, timeout: float = 60) -> float:
    """Seconds until `url` answers 200."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            if httpx.get(url, headers=headers, timeout=1).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.005)
    raise SystemExit(f"{url} did not answer 200 within {timeout} s")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wrk(base_url: str, path: str, seconds: int) -> dict[str, float]:
    subprocess.run(["wrk", "-t1", "-c32", "-d1s", *HEADERS, base_url + path], capture_output=True)  # warm-up
    out = subprocess.run(
        ["wrk", "-t1", "-c32", f"-d{seconds}s", "--latency", *HEADERS, base_url + path], capture_output=True, text=True
    ).stdout

    def millis(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": millis("50%"),
        "p99": millis("99%"),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }


# -- 1. throughput -------------------------------------------------------------------------------


def throughput(seconds: int) -> None:
    section("1. Throughput and latency of the standalone sandbox (one worker, wrk -t1 -c32 on loopback)")
    if ensure_wrk() is None:
        rows.append("wrk is not available on this machine: skipped.")
        return
    prism = ensure_prism()
    results: dict[tuple[str, str], dict[str, float]] = {}
    sizes: dict[str, int] = {}
    with ServeProcess("--scenario", str(HERE / "bench-scenario.yaml"), "--inventory", "5000") as served:
        for name, path in (("list active numbers", LIST), ("search", SEARCH)):
            sizes[name] = len(
                httpx.get(served.base_url + path, headers={"Authorization": f"Bearer {TOKEN}", "Version": "v3"}).content
            )
            results[("lcphone", name)] = wrk(served.base_url, path, seconds)
    for name, path in (("list active numbers", LIST), ("search", SEARCH)):
        port = free_port()
        ceiling = Background(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "ceiling_app:app",
                "--port",
                str(port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--lifespan",
                "off",
                "--no-access-log",
                "--log-level",
                "warning",
                "--no-server-header",
            ],
            env={"CEILING_BODY_BYTES": str(sizes[name])},
            cwd=HERE,
        )
        try:
            wait_for(f"http://127.0.0.1:{port}/x")
            results[("ceiling", name)] = wrk(f"http://127.0.0.1:{port}", path, seconds)
        finally:
            ceiling.stop()
    if prism is not None:
        port = free_port()
        server = Background(
            [str(prism), "mock", str(ROOT / "contracts" / "lc-phone-v3.openapi.yaml"), "-p", str(port), "-v", "error"]
        )
        try:
            wait_for(f"http://127.0.0.1:{port}{LIST}", {"Authorization": f"Bearer {TOKEN}", "Version": "v3"})
            for name, path in (("list active numbers", LIST), ("search", SEARCH)):
                results[("prism", name)] = wrk(f"http://127.0.0.1:{port}", path, seconds)
        finally:
            server.stop()
    lines = []
    for name in ("list active numbers", "search"):
        mine = results[("lcphone", name)]
        for server in ("lcphone", "prism", "ceiling"):
            if (server, name) not in results:
                continue
            r = results[(server, name)]
            lines.append(
                [
                    f"{name}: {server}",
                    f"{r['rps']:.0f}",
                    f"{r['p50']:.2f}",
                    f"{r['p99']:.2f}",
                    f"{mine['rps'] / r['rps']:.2f}x" if server != "lcphone" else "",
                    str(int(r["errors"])),
                ]
            )
    table(["request: server", "requests/s", "p50 ms", "p99 ms", "lcphone / this", "non-2xx"], lines)
    rows.append("")
    rows.append(
        f"lcphone serves an inventory of 60,000 numbers (`--inventory 5000`). Body sizes: list "
        f"{sizes['list active numbers']} bytes (50 numbers), search {sizes['search']} bytes (20 numbers) from "
        "lcphone; the ceiling answers the same sizes; Prism answers the contract's examples, smaller."
    )
    for name in ("list active numbers", "search"):
        mine = results[("lcphone", name)]["rps"]
        if ("prism", name) in results:
            ratio = mine / results[("prism", name)]["rps"]
            rows.append(f"- {name}: {ratio:.2f}x Prism's requests/s (target 3x: {verdict(ratio >= 3)})")
        ratio = mine / results[("ceiling", name)]["rps"]
        rows.append(f"- {name}: {ratio:.0%} of the ceiling (target 60%: {verdict(ratio >= 0.6)})")


# -- 2. fixtures ---------------------------------------------------------------------------------


def fixtures(tests: int) -> None:
    section(f"2. Fixture cost ({tests} tests per variant, best of 2 runs)")
    from fixture_cost import measure

    results = measure(tests, 2)
    baseline = results[0][1]
    lines = [
        [name, f"{elapsed:.2f}", f"{(elapsed - baseline) / tests * 1000:.2f}", f"{elapsed / baseline:.2f}x"]
        for name, elapsed in results
    ]
    table(["variant", "wall s", "added ms/test", "x baseline"], lines)
    added = (results[1][1] - baseline) / tests * 1000
    rows.append("")
    rows.append(f"- `lcphone` adds {added:.2f} ms per test (target under 3 ms: {verdict(added < 3)})")


# -- 3. start-up ---------------------------------------------------------------------------------


def best_of(runs: int, command: list[str]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return min(times)


def startup() -> None:
    section("3. Start-up")
    bare = best_of(7, [sys.executable, "-c", "pass"])
    imported = best_of(7, [sys.executable, "-c", "import mockserver"])
    built = best_of(3, [sys.executable, "-c", "import mockserver; mockserver.Sandbox()"])
    serve_times = []
    for _ in range(3):
        port = free_port()
        server = Background([sys.executable, "-m", "mockserver.cli", "serve", "--port", str(port)])
        try:
            serve_times.append(wait_for(f"http://127.0.0.1:{port}/__admin/health"))
        finally:
            server.stop()
    serve = min(serve_times)
    lines = [
        ["python -c pass (baseline)", f"{bare * 1000:.0f}", "1.00x"],
        ["import mockserver (minus the baseline)", f"{(imported - bare) * 1000:.0f}", f"{imported / bare:.2f}x"],
        ["import + default Sandbox() (minus the baseline)", f"{(built - bare) * 1000:.0f}", f"{built / bare:.2f}x"],
        ["lcphone serve: launch to first 200", f"{serve * 1000:.0f}", f"{serve / bare:.2f}x"],
    ]
    prism = ensure_prism()
    prism_time = None
    if prism is not None:
        port = free_port()
        server = Background(
            [str(prism), "mock", str(ROOT / "contracts" / "lc-phone-v3.openapi.yaml"), "-p", str(port), "-v", "error"]
        )
        try:
            prism_time = wait_for(
                f"http://127.0.0.1:{port}{LIST}", {"Authorization": f"Bearer {TOKEN}", "Version": "v3"}
            )
        finally:
            server.stop()
        lines.append(["prism mock: launch to first 200", f"{prism_time * 1000:.0f}", f"{prism_time / bare:.2f}x"])
    table(["what", "ms", "x baseline"], lines)
    rows.append("")
    rows.append(
        f"- `import mockserver`: {(imported - bare) * 1000:.0f} ms (target under 300 ms: "
        f"{verdict(imported - bare < 0.3)})"
    )
    rows.append(
        f"- `lcphone serve` to first 200: {serve * 1000:.0f} ms (target under 1 s: {verdict(serve < 1)})"
        + (f"; Prism takes {prism_time / serve:.1f}x as long" if prism_time else "")
    )


# -- 4. scale ------------------------------------------------------------------------------------


def median_us(call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def scale(sizes: list[int]) -> None:
    section("4. Scale: latency against inventory size (in-process, the domain objects, median)")
    from mockserver import Sandbox
    from mockserver.inventory import SearchQuery, build_catalog

    lines, figures = [], {}
    memory_line = None
    for size in sizes:
        per_type = size // 12 + 1
        tracemalloc.start()
        started = time.perf_counter()
        catalog = build_catalog(1, per_type)
        build_seconds = time.perf_counter() - started
        memory = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        if size == 100_000:
            memory_line = memory / (len(catalog) / 100_000) / 2**20
        sandbox = Sandbox(numbers_per_type=per_type)
        system = sandbox.phone_system
        location = system.store.get_location("tDtDnQdgm2LXpyiqYvZ6")
        is_available = system.is_available
        queries = {
            "search, no filter": SearchQuery("US", frozenset({"local"})),
            "search, firstPart=415": SearchQuery("US", frozenset({"local"}), first_part="415"),
            "search, lastPart=42": SearchQuery("US", frozenset({"local", "mobile"}), last_part="42"),
        }
        row = {
            name: median_us(lambda q=q, c=catalog, a=is_available: c.search(q, a), 200) for name, q in queries.items()
        }
        offers = [n.available for n in catalog.search(SearchQuery("US", frozenset({"local"})), is_available, 200)]
        bodies = iter(
            [
                {
                    "phoneNumber": n["phoneNumber"],
                    "addressSid": "",
                    "bundleSid": "",
                    "countryCode": "US",
                    "numberType": "local",
                    "paymentIntentId": "pi",
                    "stripeAccountId": "acct",
                    "paymentMethodId": "pm",
                    "locality": "",
                    "region": "",
                    "fingerprintId": f"bench-{i}",
                    "skipLocationKYC": False,
                }
                for i, n in enumerate(offers)
            ]
        )
        row["purchase"] = median_us(lambda s=system, at=location, b=bodies: s.purchase(at, next(b)), 150)
        figures[size] = row
        lines.append([f"{len(catalog):,} numbers", f"{build_seconds:.1f}"] + [f"{v:.0f}" for v in row.values()])
        sandbox = system = location = catalog = None  # free this size before building the next
        build_catalog.cache_clear()
    table(["inventory", "build s", *[f"{k} (us)" for k in figures[sizes[0]]]], lines)
    small, large = figures[sizes[0]], figures[sizes[-1]]
    growth = {name: large[name] / small[name] for name in small}
    rows.append("")
    import math

    log_ratio = math.log(sizes[-1]) / math.log(sizes[0])
    for name, factor in growth.items():
        rows.append(
            f"- {name}: x{factor:.2f} from {sizes[0]:,} to {sizes[-1]:,} numbers "
            f"(logarithmic growth would be x{log_ratio:.2f}: {verdict(factor <= log_ratio * 1.25)})"
        )
    if memory_line is not None:
        rows.append(f"- memory: {memory_line:.1f} MiB per 100,000 numbers in the inventory")

    per_type = sizes[-1] // 12 + 1
    held = min(10_000, per_type // 2)
    sandbox = Sandbox(numbers_per_type=per_type)
    system = sandbox.phone_system
    system.add_numbers("bigLocation", "US", "local", held)
    big = system.store.get_location("bigLocation")
    first = median_us(lambda: system.active_numbers(big, page=0, page_size=50), 200)
    last = median_us(lambda: system.active_numbers(big, page=held // 50 - 1, page_size=50), 200)
    filtered = median_us(lambda: system.active_numbers(big, page=0, page_size=50, search_filter="415"), 50)
    rows.append(
        f"- list active numbers of a location holding {held:,} numbers: first page {first:.0f} us, "
        f"last page {last:.0f} us, with searchFilter {filtered:.0f} us (a filter reads every number)"
    )
    print(f"  list of {held:,}: first page {first:.0f} us, last page {last:.0f} us, filtered {filtered:.0f} us")


# -- 5. property suites -------------------------------------------------------------------------


def suites(examples: int) -> None:
    section(f"5. Property suites ({examples} schemathesis examples per operation, model {examples} runs)")
    env = {
        **os.environ,
        "LCPHONE_SUITE_EXAMPLES": str(examples),
        "LCPHONE_MODEL_EXAMPLES": str(examples),
        "LCPHONE_SUITE_SHRINK": "0",
    }
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pyargs", "mockserver.suites"]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        subprocess.run(command, env=env, cwd=tmp, capture_output=True)
        in_process = time.perf_counter() - started
        with ServeProcess() as served:
            location, token = served.value("location id"), served.value("token")
            started = time.perf_counter()
            subprocess.run(
                [
                    *command,
                    "--lcphone-base-url",
                    served.base_url,
                    "--lcphone-token",
                    token,
                    "--lcphone-location",
                    location,
                    "--lcphone-allow-purchase",
                ],
                env=env,
                cwd=tmp,
                capture_output=True,
            )
            socket_time = time.perf_counter() - started
    # 4 operations + the linked sequences + the model, each with the same budget of examples
    per_100 = 100 / (examples * 6)
    table(
        ["target", "wall s", "s per 100 examples", "x in-process"],
        [
            ["in-process (ASGI)", f"{in_process:.1f}", f"{in_process * per_100:.2f}", "1.00x"],
            [
                "over a socket (lcphone serve)",
                f"{socket_time:.1f}",
                f"{socket_time * per_100:.2f}",
                f"{socket_time / in_process:.2f}x",
            ],
        ],
    )


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores; {platform.system()} {platform.release()}; Python {platform.python_version()}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs and smaller sizes (for trying it out)")
    args = parser.parse_args()
    rows.extend(
        [
            "# lcphone benchmark results",
            "",
            f"Last run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, on {machine()}.",
            "Regenerate with `python bench/run.py`. Ratios are measured against baselines in the same run.",
        ]
    )
    throughput(2 if args.quick else 5)
    fixtures(100 if args.quick else 500)
    startup()
    scale([10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000])
    suites(5 if args.quick else 10)
    if not args.quick:
        (HERE / "results.md").write_text("\n".join(rows) + "\n", encoding="utf-8")
        print(f"\nwrote {HERE / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
