"""lcphone's benchmarks, side by side in one run; writes bench/results.md.

    python bench/run.py [--quick] [--before CHECKOUT]

Every figure is set beside a baseline measured in the same run (absolute figures are printed too, never
asserted):
  1. every operation on every server: lcphone serve, the same-stack ceiling, Stoplight Prism, WireMock and
     Mockoon (requests/s, p50/p99, and the server's CPU time per request, which holds on a busy machine);
  2. lcphone's state: in memory, in SQLite and in PostgreSQL;
  3. where the time goes (py-spy), now and before the optimisations (bench/profile-before.md);
  4. the pytest fixtures' cost per test; 5. start-up; 6. scale with the inventory;
  7. the property suites; 8. the inspector page's first paint; 9. reliability: attacks and a soak;
  10. what `lcphone proxy` adds to an exchange, against the direct call; 11. the ASGI server (uvicorn, granian).
wrk, Java and PostgreSQL come from the distribution, the peers from the npm registry, granian from PyPI (each installed
when missing).
`--before CHECKOUT` adds a row for the lcphone of another checkout (an earlier commit).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(ROOT / "tests"))  # the throwaway PostgreSQL cluster of the tests

import attacks  # noqa: E402
import proxy_latency  # noqa: E402
import stubs  # noqa: E402
from operations import BY_KEY, OPERATIONS  # noqa: E402
from peers import PEERS, lcphone, prism  # noqa: E402
from throughput import PurchaseBodies, load_all  # noqa: E402
from tools import Background, LoadResult, ensure_npm_tool, ensure_wrk, free_port, wait_for  # noqa: E402

from mockserver.serve.process import ServeProcess  # noqa: E402

rows: list[str] = []
READ_TARGET, PURCHASE_TARGET, PRISM_TARGET = 0.60, 0.40, 3.0
CEILING_TARGETS = {"list": READ_TARGET, "search": READ_TARGET, "legacy-list": READ_TARGET, "purchase": PURCHASE_TARGET}


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)
    rows.extend(["", f"## {title}", ""])


def table(header: list[str], lines: list[list[str]]) -> None:
    rows.append("| " + " | ".join(header) + " |")
    rows.append("|" + "---|" * len(header))
    for line in lines:
        rows.append("| " + " | ".join(line) + " |")
        print("  " + "  ".join(f"{cell:>12}" if i else f"{cell:40}" for i, cell in enumerate(line)), flush=True)


def note(text: str) -> None:
    rows.append(text)
    print("  " + text, flush=True)


def load_row(label: str, result: LoadResult, relative: str) -> list[str]:
    """A table row of one load run, with its figure relative to the section's baseline."""
    return [label, f"{result.rps:,.0f}", f"{result.p50_ms:.2f}", f"{result.p99_ms:.2f}", f"{result.cpu_us:.0f}",
            relative, str(result.non_2xx + result.errors)]  # fmt: skip


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


# -- 1. every operation, every server ----------------------------------------------------------------


def _prism_loads(seconds: float, bodies: PurchaseBodies) -> dict[str, LoadResult]:
    """Prism mocks one contract at a time: v3's operations on one, the legacy list on another."""
    results: dict[str, LoadResult] = {}
    for version in ("v3", "2021-07-28"):
        chosen = [op for op in OPERATIONS if op.version == version]
        with prism(version) as running:
            results.update(load_all(running, seconds, bodies, chosen))
    return results


def throughput(seconds: float, before: Path | None, peers: tuple[str, ...] = ("prism", "wiremock", "mockoon")) -> None:
    section("1. Every operation on every server (one process each, wrk -t1 -c32 on loopback)")
    if ensure_wrk() is None:
        note("wrk could not be installed on this machine: skipped.")
        return
    bodies = PurchaseBodies()
    results: dict[str, dict[str, LoadResult]] = {}
    servers: dict[str, Callable[[], dict[str, LoadResult]]] = {
        "lcphone": lambda: _with(lcphone(), seconds, bodies),
        "ceiling": lambda: _with(PEERS["ceiling"](), seconds, bodies),
        "prism": lambda: _prism_loads(seconds, bodies),
        "wiremock": lambda: _with(PEERS["wiremock"](), seconds, bodies),
        "mockoon": lambda: _with(PEERS["mockoon"](), seconds, bodies),
    }
    for left_out in {"prism", "wiremock", "mockoon"} - set(peers):
        del servers[left_out]
    if before is not None:
        servers["lcphone (before)"] = lambda: _with(lcphone(source=before), seconds, bodies)
    missing = []
    for name, run in servers.items():
        print(f"  measuring {name} ...", flush=True)
        try:
            results[name] = run()
        except (LookupError, RuntimeError) as why:
            missing.append(f"{name}: {why}")
    bodies.close()
    lines = []
    for operation in OPERATIONS:
        mine = results["lcphone"][operation.key]
        for name, measured in results.items():
            r = measured[operation.key]
            ratio = "" if name == "lcphone" else f"{mine.rps / r.rps:.2f}x"
            lines.append(load_row(f"{operation.title}: {name}", r, ratio))
    table(["operation: server", "requests/s", "p50 ms", "p99 ms", "CPU us/request", "lcphone / this", "failed"], lines)
    rows.append("")
    sizes = {op.key: len((stubs.BODIES / f"{op.key}.json").read_bytes()) for op in OPERATIONS}
    note(
        "Every server sends lcphone's bytes (WireMock, Mockoon and the ceiling serve them as stubs, bench/stubs/) "
        "but Prism, which answers the contract's examples (smaller). lcphone serves a 120,000-number inventory "
        "and buys a different number on every purchase; every request is validated, journaled and rate-limit "
        f"counted. Answer sizes: {', '.join(f'{key} {size:,} B' for key, size in sizes.items())}. CPU is the "
        "server's own (user + system, from /proc) over the measured run, divided by the requests it served."
    )
    for why in missing:
        note(f"- not measured: {why}")
    rows.append("")
    rows.append("Targets (one worker, this run):")
    for operation in OPERATIONS:
        mine = results["lcphone"][operation.key]
        checks = []
        if "prism" in results:
            prism_rps = results["prism"][operation.key].rps
            ratio = mine.rps / prism_rps
            # What the target asks of this machine: the ceiling, which does nothing but answer, is so many Prisms.
            reach = results["ceiling"][operation.key].rps / prism_rps
            checks.append(
                f"{ratio:.2f}x Prism (target 3x: {verdict(ratio >= PRISM_TARGET)}; the ceiling is {reach:.2f}x Prism)"
            )
        for peer in ("wiremock", "mockoon"):
            if peer in results:
                ratio = mine.rps / results[peer][operation.key].rps
                checks.append(f"{ratio:.2f}x {peer} (target ahead: {verdict(ratio > 1)})")
        ceiling = mine.rps / results["ceiling"][operation.key].rps
        target = CEILING_TARGETS.get(operation.key)
        checks.append(
            f"{ceiling:.0%} of the ceiling"
            + (f" (target {target:.0%}: {verdict(ceiling >= target)})" if target else " (no target)")
        )
        checks.append(f"{mine.cpu_us:.0f} us CPU per request")
        note(f"- {operation.title}: " + "; ".join(checks))


def _with(context, seconds: float, bodies: PurchaseBodies) -> dict[str, LoadResult]:
    with context as running:
        return load_all(running, seconds, bodies)


# -- 2. state ---------------------------------------------------------------------------------------


STATE_TARGETS = {  # of memory's rate, one process each (issue 23)
    ("PostgreSQL", "list"): 0.50,
    ("PostgreSQL", "search"): 0.50,
    ("PostgreSQL", "purchase"): 0.25,
    ("SQLite", "purchase"): 0.50,
    ("SQLite", "list"): 0.70,
}
PURCHASE_P99_TARGET_MS = 30.0  # PostgreSQL's purchases
SCALING_TARGET = 1.6  # reads: two workers (SQLite) or two replicas (PostgreSQL) against one


def _reads_on(runnings: list[object], seconds: float) -> LoadResult:
    """The list, on every server at once (wrk -c32 split between them), added up."""
    from concurrent.futures import ThreadPoolExecutor

    from tools import wrk

    operation = BY_KEY["list"]
    each = 32 // len(runnings)

    def one(running) -> LoadResult:
        return wrk(running.base_url + operation.path, seconds, operation.request_headers, running.server.pid,
                   connections=each)  # fmt: skip

    with ThreadPoolExecutor(len(runnings)) as pool:
        found = list(pool.map(one, runnings))
    requests = sum(r.requests for r in found)
    return LoadResult(
        requests=requests,
        rps=sum(r.rps for r in found),
        p50_ms=max(r.p50_ms for r in found),
        p99_ms=max(r.p99_ms for r in found),
        non_2xx=sum(r.non_2xx for r in found),
        errors=sum(r.errors for r in found),
        cpu_us=sum(r.cpu_us * r.requests for r in found) / max(requests, 1),
    )


def state(seconds: float) -> None:
    section("2. lcphone's state: memory, SQLite and PostgreSQL (one worker; every purchase committed before its 201)")
    from postgres_cluster import Cluster, NoPostgres

    if ensure_wrk() is None:
        note("wrk could not be installed on this machine: skipped.")
        return
    stores: dict[str, Callable[[], object]] = {"memory": lambda: None}
    folder = tempfile.TemporaryDirectory(prefix="lcphone-bench-state-")
    stores["SQLite"] = lambda: str(Path(folder.name) / f"state-{time.monotonic_ns()}.db")
    cluster = None
    try:
        cluster = Cluster.find().init()
        cluster.start()
        stores["PostgreSQL"] = lambda: f"{cluster.url()}?options=-csearch_path%3Dbench_{time.monotonic_ns()}"
    except (NoPostgres, RuntimeError) as why:
        note(f"PostgreSQL not measured: {why}")
    bodies = PurchaseBodies()
    chosen = [BY_KEY["list"], BY_KEY["search"], BY_KEY["purchase"]]
    results: dict[str, dict[str, LoadResult]] = {}
    scaling: dict[str, tuple[LoadResult, LoadResult]] = {}
    try:
        for name, make in stores.items():
            print(f"  measuring {name} ...", flush=True)
            with lcphone(state=make()) as running:  # type: ignore[arg-type]
                results[name] = load_all(running, seconds, bodies, chosen)
        if "SQLite" in stores:
            print("  measuring SQLite, one worker and two ...", flush=True)
            with lcphone(state=stores["SQLite"]()) as running:  # type: ignore[arg-type]
                one = _reads_on([running], seconds)
            with lcphone(state=stores["SQLite"](), workers=2) as running:  # type: ignore[arg-type]
                two = _reads_on([running], seconds)
            scaling["SQLite: --workers 2 against one worker"] = (one, two)
        if "PostgreSQL" in stores:
            print("  measuring PostgreSQL, one replica and two ...", flush=True)
            url = stores["PostgreSQL"]()
            with lcphone(state=url) as first:  # type: ignore[arg-type]
                one = _reads_on([first], seconds)
                with lcphone(state=url) as second:  # type: ignore[arg-type]
                    two = _reads_on([first, second], seconds)
            scaling["PostgreSQL: two replicas against one"] = (one, two)
    finally:
        bodies.close()
        if cluster is not None:
            cluster.destroy()
        folder.cleanup()
    memory = results["memory"]
    lines = []
    for operation in chosen:
        for name, measured in results.items():
            r = measured[operation.key]
            lines.append(load_row(f"{operation.title}: {name}", r, f"{r.rps / memory[operation.key].rps:.0%}"))
    table(["operation: state", "requests/s", "p50 ms", "p99 ms", "CPU us/request", "of memory", "failed"], lines)
    rows.append("")
    cores = os.cpu_count() or 0
    lines = []
    for label, (one, two) in scaling.items():
        lines.append(load_row(f"list, {label.split(':')[0]}: one", one, ""))
        lines.append(load_row(f"list, {label.split(':')[0]}: two", two, f"{two.rps / one.rps:.2f}x"))
    if lines:
        table(["reads: processes", "requests/s", "p50 ms", "p99 ms", "CPU us/request", "two / one", "failed"], lines)
        rows.append("")
    note("Targets (this run; ratios of requests/s in the same run):")
    for (name, key), target in STATE_TARGETS.items():
        if name not in results:
            note(f"- {name} {BY_KEY[key].title}: not measured")
            continue
        ratio = results[name][key].rps / memory[key].rps
        met = verdict(ratio >= target)
        note(f"- {name} {BY_KEY[key].title}: {ratio:.0%} of memory's rate (target {target:.0%}: {met})")
    if "PostgreSQL" in results:
        p99 = results["PostgreSQL"]["purchase"].p99_ms
        note(f"- PostgreSQL purchase p99: {p99:.1f} ms (target under {PURCHASE_P99_TARGET_MS:.0f} ms: "
             f"{verdict(p99 < PURCHASE_P99_TARGET_MS)})")  # fmt: skip
    for label, (one, two) in scaling.items():
        ratio = two.rps / one.rps
        note(f"- {label}, reads: {ratio:.2f}x (target {SCALING_TARGET}x: {verdict(ratio >= SCALING_TARGET)}), "
             f"on a machine with {cores} cores (the load generator shares them)")  # fmt: skip


# -- 3. where the time goes --------------------------------------------------------------------------


def where_time_goes(seconds: float) -> None:
    section("3. Where the time goes (py-spy on lcphone serve under wrk, each operation)")
    import hotspots

    rows.extend(
        [
            "Own time: the function on top of the stack; inclusive: lcphone's functions with what they call (the",
            "frames every request passes through are left out). Shares of the samples of the server's busy time.",
            "",
            "### Now",
            "",
        ]
    )
    found = hotspots.report(seconds)
    rows.extend(found)
    print("\n".join("  " + line for line in found if line), flush=True)
    before = HERE / "profile-before.md"
    if before.is_file():
        rows.extend(
            [
                "### Before (the same run on the lcphone of commit ab1ca80, kept in bench/profile-before.md)",
                "",
                "What changed: a purchase copied every number of its account (73% of its time); verdicts on "
                "bodiless requests are now remembered, bodies get a quick check before jsonschema, a search "
                "keeps its first matches, a list reads its page rather than filtering the whole list, friendly "
                "names come from block templates, the garbage collector is settled after start-up.",
                "",
                *before.read_text(encoding="utf-8").splitlines(),
            ]
        )


# -- 4. fixtures --------------------------------------------------------------------------------------


def fixtures(tests: int) -> None:
    section(f"4. Fixture cost ({tests} tests per variant, best of 2 runs)")
    from fixture_cost import measure

    results = measure(tests, 2)
    baseline = results[0][1]
    lines = [
        [name, f"{elapsed:.2f}", f"{(elapsed - baseline) / tests * 1000:.2f}", f"{elapsed / baseline:.2f}x"]
        for name, elapsed in results
    ]
    table(["variant", "wall s", "added ms/test", "x baseline"], lines)
    added = (results[1][1] - baseline) / tests * 1000
    counted = (results[3][1] - results[2][1]) / tests * 1000
    rows.append("")
    note(f"- `lcphone` adds {added:.2f} ms per test (target under 3 ms: {verdict(added < 3)})")
    note(f"- `--lcphone-coverage` adds {counted:.2f} ms per test to that (the plugin's whole cost stays under 3 ms: "
         f"{verdict(added + max(0.0, counted) < 3)})")  # fmt: skip


# -- 5. start-up --------------------------------------------------------------------------------------


def best_of(runs: int, command: list[str]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return min(times)


def startup() -> None:
    section("5. Start-up")
    bare = best_of(7, [sys.executable, "-c", "pass"])
    imported = best_of(7, [sys.executable, "-c", "import mockserver"])
    built = best_of(3, [sys.executable, "-c", "import mockserver; mockserver.Sandbox()"])
    serve_times = []
    for _ in range(3):
        port = free_port()
        with Background([sys.executable, "-m", "mockserver.cli", "serve", "--port", str(port)]):
            serve_times.append(wait_for(f"http://127.0.0.1:{port}/__admin/health"))
    serve = min(serve_times)
    lines = [
        ["python -c pass (baseline)", f"{bare * 1000:.0f}", "1.00x"],
        ["import mockserver (minus the baseline)", f"{(imported - bare) * 1000:.0f}", f"{imported / bare:.2f}x"],
        ["import + default Sandbox() (minus the baseline)", f"{(built - bare) * 1000:.0f}", f"{built / bare:.2f}x"],
        ["lcphone serve: launch to first 200", f"{serve * 1000:.0f}", f"{serve / bare:.2f}x"],
    ]
    peers = {}
    for name, start in (("prism mock", PEERS["prism"]), ("wiremock", PEERS["wiremock"]), ("mockoon", PEERS["mockoon"])):
        try:
            started = time.perf_counter()
            with start():
                peers[name] = time.perf_counter() - started
        except (LookupError, RuntimeError):
            continue
        lines.append([f"{name}: launch to first 200", f"{peers[name] * 1000:.0f}", f"{peers[name] / bare:.2f}x"])
    table(["what", "ms", "x baseline"], lines)
    rows.append("")
    note(
        f"- `import mockserver`: {(imported - bare) * 1000:.0f} ms "
        f"(target under 300 ms: {verdict(imported - bare < 0.3)})"
    )
    note(
        f"- `lcphone serve` to first 200: {serve * 1000:.0f} ms (target under 1 s: {verdict(serve < 1)})"
        + "".join(f"; {name} takes {seconds / serve:.1f}x as long" for name, seconds in peers.items())
    )


# -- 6. scale -----------------------------------------------------------------------------------------


def median_us(call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def scale(sizes: list[int]) -> None:
    section("6. Scale: latency against inventory size (in-process, the domain objects, median)")
    from mockserver import Sandbox
    from mockserver.domain.inventory import SearchQuery, build_inventory

    lines, figures = [], {}
    memory_line = None
    for size in sizes:
        per_type = size // 12 + 1
        tracemalloc.start()
        started = time.perf_counter()
        inventory = build_inventory(1, per_type)
        build_seconds = time.perf_counter() - started
        memory = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        if size == 100_000:
            memory_line = memory / (len(inventory) / 100_000) / 2**20
        sandbox = Sandbox(numbers_per_type=per_type)
        system = sandbox.phone_system
        location = system.store.get_location("tDtDnQdgm2LXpyiqYvZ6")
        assert location is not None
        is_available = system.is_available
        queries = {
            "search, no filter": SearchQuery("US", frozenset({"local"})),
            "search, firstPart=415": SearchQuery("US", frozenset({"local"}), first_part="415"),
            "search, lastPart=42": SearchQuery("US", frozenset({"local", "mobile"}), last_part="42"),
        }
        row = {
            name: median_us(lambda q=q, c=inventory, a=is_available: c.search(q, a), 200) for name, q in queries.items()
        }
        from mockserver.domain.phone_system import PurchaseOrder

        offers = inventory.search(SearchQuery("US", frozenset({"local"})), is_available, 200)
        orders = iter(
            PurchaseOrder(n.phone_number, f"digest-{i}", "US", "local", fingerprint_id=f"bench-{i}")
            for i, n in enumerate(offers)
        )
        row["purchase"] = median_us(lambda s=system, at=location, o=orders: s.purchase(at, next(o)), 150)
        figures[size] = row
        lines.append([f"{len(inventory):,} numbers", f"{build_seconds:.1f}"] + [f"{v:.0f}" for v in row.values()])
        sandbox = system = inventory = None  # type: ignore[assignment]
        build_inventory.cache_clear()
    table(["inventory", "build s", *[f"{k} (us)" for k in figures[sizes[0]]]], lines)
    small, large = figures[sizes[0]], figures[sizes[-1]]
    rows.append("")
    log_ratio = math.log(sizes[-1]) / math.log(sizes[0])
    for name in small:
        factor = large[name] / small[name]
        note(
            f"- {name}: x{factor:.2f} from {sizes[0]:,} to {sizes[-1]:,} numbers "
            f"(logarithmic growth would be x{log_ratio:.2f}: {verdict(factor <= log_ratio * 1.25)})"
        )
    if memory_line is not None:
        note(f"- memory: {memory_line:.1f} MiB per 100,000 numbers in the inventory")


# -- 7. property suites -------------------------------------------------------------------------------


def suites(examples: int) -> None:
    section(f"7. Property suites ({examples} schemathesis examples per operation, model {examples} runs)")
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
    per_100 = 100 / (examples * 6)  # operations, sequences and the model, each with the same budget
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


# -- 8. the inspector ---------------------------------------------------------------------------------


def inspector(loads: int) -> None:
    section("8. The inspector page with a full journal (headless Chromium, median of fresh page loads)")
    import inspector_paint

    figures = inspector_paint.run(loads)
    if figures is None:
        note("No Chromium or Playwright on this machine: not measured.")
        return
    empty, full = figures
    table(
        ["journal", "first contentful paint ms", "journal drawn ms", "x empty"],
        [
            [
                f"{p.entries:,} entries",
                f"{p.first_paint_ms:.0f}",
                f"{p.journal_shown_ms:.0f}",
                f"{p.first_paint_ms / empty.first_paint_ms:.2f}x",
            ]
            for p in figures
        ],
    )
    rows.append("")
    target = inspector_paint.TARGET_MS
    note(
        f"- first paint with {full.entries:,} entries: {full.first_paint_ms:.0f} ms "
        f"(target under {target} ms: {verdict(full.first_paint_ms < target)}); its newest 500 drawn at "
        f"{full.journal_shown_ms:.0f} ms"
    )


# -- 9. reliability -----------------------------------------------------------------------------------


def reliability(soak_seconds: float) -> None:
    section("9. Reliability: known attacks, then a soak (2 workers on SQLite, loopback)")
    options = ["--workers", "2", "--max-connections", "100", "--header-timeout", "2"]
    with tempfile.TemporaryDirectory() as folder, ServeProcess(*options, "--state", f"{folder}/state.db") as served:
        pid = served.process.pid
        outcomes, acknowledged, listed = attacks.replay(pid, served.base_url, scale=1.0, hold=3)
        table(
            ["attack", "requests", "seconds", "RSS before MiB", "RSS after", "slowest canary s", "canary fails"],
            [
                [
                    o.name,
                    str(o.requests),
                    f"{o.seconds:.1f}",
                    f"{o.rss_before:.0f}",
                    f"{o.rss_after:.0f}",
                    f"{o.slowest_canary:.2f}",
                    str(len(o.canary_failures)),
                ]
                for o in outcomes
            ],
        )
        rows.append("")
        lost = acknowledged - listed
        note(f"- purchases acknowledged: {len(acknowledged)}, lost: {len(lost)} (target 0: {verdict(not lost)})")
        samples = attacks.soak(pid, served.base_url, soak_seconds, sample_every=max(5.0, soak_seconds / 6))
    rows.append("")
    table(["soak elapsed s", "RSS MiB"], [[f"{t:.0f}", f"{rss:.1f}"] for t, rss in samples])
    rows.append("")
    growth = samples[-1][1] - samples[1][1] if len(samples) > 2 else 0.0
    note(
        f"- mixed and hostile traffic for {soak_seconds:.0f} s: RSS from {samples[0][1]:.0f} to {samples[-1][1]:.0f} "
        f"MiB; after the first sample it moved {growth:+.1f} MiB (target: bounded, under 25 MiB: "
        f"{verdict(growth < 25)})"
    )


# -----------------------------------------------------------------------------------------------------


# -- 10. the proxy's added latency ---------------------------------------------------------------------
def proxy(requests: int) -> None:
    section("10. lcphone proxy: what it adds to an exchange")
    note(
        f"{requests} requests per operation, one at a time on a kept-alive connection, straight to `lcphone serve` "
        "and through `lcphone proxy` in front of it, interleaved in rounds. The proxy checks both sides of each."
    )
    found = proxy_latency.measure(requests)
    table(
        ["operation", "direct p50 ms", "proxied p50 ms", "added p50 ms", "direct p99 ms", "proxied p99 ms",
         "proxy CPU ms/exchange"],
        [[f.operation, f"{f.direct_p50:.2f}", f"{f.proxied_p50:.2f}", f"{f.added_p50:.2f}", f"{f.direct_p99:.2f}",
          f"{f.proxied_p99:.2f}", f"{f.proxy_cpu_ms:.2f}"] for f in found],
    )  # fmt: skip
    worst = max(f.added_p50 for f in found)
    note(
        f"Target: the proxy adds under {proxy_latency.TARGET_ADDED_P50_MS:g} ms at p50 on loopback: "
        f"{verdict(worst < proxy_latency.TARGET_ADDED_P50_MS)} (at most {worst:.2f} ms)."
    )


# -- 11. the ASGI server ------------------------------------------------------------------------------------


def servers(seconds: float, rounds: int) -> None:
    section("11. The ASGI server: lcphone's app under uvicorn (httptools, uvloop) and under granian, one worker each")
    import servers as compared

    if ensure_wrk() is None or not compared.ensure_granian():
        note("wrk or granian could not be installed on this machine: skipped.")
        return
    best = compared.compare(seconds, rounds)
    lines = []
    for operation in compared.OPERATIONS:
        uvicorn, granian = best["uvicorn"][operation.key], best["granian"][operation.key]
        lines.append(load_row(f"{operation.title}: uvicorn", uvicorn, ""))
        lines.append(load_row(f"{operation.title}: granian", granian, f"{uvicorn.rps / granian.rps:.2f}x"))
    table(["operation: server", "requests/s", "p50 ms", "p99 ms", "CPU us/request", "uvicorn / this", "failed"], lines)
    rows.append("")
    note(
        f"The same app (bench/served_app.py), the best of {rounds} alternating rounds of each. `lcphone serve` stays "
        "on uvicorn: its guards (the connection cap that makes room from the slowest connections, the header and "
        "body timeouts, the header-size bound) are built on uvicorn's HTTP protocol, and granian has no hook for "
        "them (contracts/DECISIONS.md, D40)."
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
    parser.add_argument("--quick", action="store_true", help="shorter runs, smaller sizes; results.md is not written")
    parser.add_argument("--before", type=Path, help="a checkout whose lcphone gets a row of its own in section 1")
    parser.add_argument(
        "--sections",
        type=lambda text: {int(n) for n in text.split(",")},
        default=set(range(1, 12)),
        metavar="N,N",
        help="run only these sections (e.g. 1,2); results.md is written only when all run",
    )
    args = parser.parse_args()
    quick, sections = args.quick, args.sections
    stubs.write()
    # --quick is for a look in a minute or two: no JVM or Node peer to start but Prism, the 3x target's.
    peers = ("prism",) if quick else ("prism", "wiremock", "mockoon")
    if 1 in sections:
        for peer in peers:
            ensure_npm_tool(peer)
    rows.extend(
        [
            "# lcphone benchmark results",
            "",
            f"Last run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, on {machine()}.",
            "Regenerate with `./dev bench` (`python bench/run.py`). Ratios are measured against baselines in the "
            "same run; absolute figures depend on the machine.",
        ]
    )
    steps: list[Callable[[], None]] = [
        lambda: throughput(1 if quick else 5, args.before, peers),
        lambda: state(1 if quick else 5),
        lambda: where_time_goes(1 if quick else 4),
        lambda: fixtures(50 if quick else 500),
        startup,
        lambda: scale([10_000] if quick else [10_000, 100_000, 1_000_000]),
        lambda: suites(3 if quick else 10),
        lambda: inspector(1 if quick else 5),
        lambda: reliability(10 if quick else 180),
        lambda: proxy(200 if quick else 2000),
        lambda: servers(1 if quick else 4, 1 if quick else 2),
    ]
    for number, step in enumerate(steps, 1):
        if number in sections:
            step()
    if not quick and sections >= set(range(1, len(steps) + 1)):
        (HERE / "results.md").write_text("\n".join(rows) + "\n", encoding="utf-8")
        print(f"\nwrote {HERE / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
