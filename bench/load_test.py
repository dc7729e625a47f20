"""A bounded load test of the standalone sandbox on loopback: many concurrent clients, mixed requests.

    python bench/load_test.py [--requests 4000] [--clients 64] [--workers 2]

The sandbox runs as `lcphone serve --state FILE --workers N`. Clients list, search, buy (some racing for
the same numbers, some replaying a fingerprint) and send malformed requests. The run passes when there
is no 5xx, and every number answered 201 is active in exactly one location, exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from mockserver.serve.process import ServeProcess

SEARCH = {
    "firstPart": "",
    "lastPart": "",
    "anywhere": "",
    "numberTypes": "local,mobile,tollFree",
    "smsEnabled": "false",
    "mmsEnabled": "false",
    "voiceEnabled": "false",
}


async def run(base_url: str, requests: int, clients: int, seed: int) -> dict:
    rnd = random.Random(seed)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as http:
        accounts = []
        for i in range(4):
            location = f"load-location-{i}"
            token = (await http.post("/__admin/tokens", json={"locationId": location})).json()["token"]
            accounts.append((location, {"Authorization": f"Bearer {token}", "Version": "v3"}))
        offers: list[tuple[dict, str]] = []
        bought: list[tuple[str, str]] = []  # (number, location) of every 201
        statuses: Counter[int] = Counter()
        latencies: list[float] = []
        queue = list(range(requests))

        async def one(i: int) -> None:
            location, headers = rnd.choice(accounts)
            kind = rnd.random()
            started = time.perf_counter()
            if kind < 0.35:
                response = await http.get(
                    f"/phone-system/numbers/location/{location}",
                    headers=headers,
                    params={"pageSize": rnd.choice([1, 10, 50]), "skipNumberPool": "false"},
                )
            elif kind < 0.65 or not offers:
                country = rnd.choice(["US", "CA", "GB", "AU"])
                response = await http.get(
                    f"/phone-system/numbers/location/{location}/available",
                    headers=headers,
                    params={**SEARCH, "countryCode": country},
                )
                if response.status_code == 200:
                    found = response.json()
                    offers.extend((n, found["fingerprintId"]) for n in found["numbers"][:3])
            elif kind < 0.75:
                response = await http.get(
                    "/phone-system/number-pools", params={"locationId": location}, headers=headers
                )
            elif kind < 0.95:
                number, fingerprint = rnd.choice(offers[-30:])  # recent offers: several clients race for them
                body = {
                    "phoneNumber": number["phoneNumber"],
                    "countryCode": number["isoCountry"],
                    "numberType": number["price"]["number_type"],
                    "addressSid": "AD" + "1" * 32,
                    "bundleSid": "BU" + "1" * 32,
                    "skipLocationKYC": False,
                    "paymentIntentId": "pi_load",
                    "stripeAccountId": "acct_load",
                    "paymentMethodId": "pm_load",
                    "locality": "",
                    "region": "",
                    "fingerprintId": fingerprint if rnd.random() < 0.3 else f"load-{i}",
                }
                response = await http.post(
                    f"/phone-system/numbers/location/{location}/purchase", json=body, headers=headers
                )
                if response.status_code == 201:
                    bought.append((number["phoneNumber"], location))
            else:
                response = await http.get(
                    f"/phone-system/numbers/location/{location}", headers=headers, params={"pageSize": "5000"}
                )
            latencies.append(time.perf_counter() - started)
            statuses[response.status_code] += 1

        async def worker() -> None:
            while queue:
                await one(queue.pop())

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started

        owners: Counter[str] = Counter()
        for location, headers in accounts:
            listed = (
                await http.get(f"/phone-system/numbers/location/{location}", headers=headers, params={"pageSize": 1000})
            ).json()["data"]["numbers"]
            owners.update(n["phoneNumber"] for n in listed)
        distinct_bought = {number for number, _ in bought}
        replays = len(bought) - len(distinct_bought)
        return {
            "elapsed": elapsed,
            "statuses": statuses,
            "latencies": sorted(latencies),
            "bought": len(distinct_bought),
            "replayed_201": replays,
            "lost": sorted(distinct_bought - set(owners)),
            "duplicated": sorted(n for n, c in owners.items() if c > 1),
            "unexplained": sorted(set(owners) - distinct_bought),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        ServeProcess("--state", str(Path(tmp) / "state.db"), "--workers", str(args.workers)) as served,
    ):
        time.sleep(0.5)  # let the workers come up before the clock starts
        result = asyncio.run(run(served.base_url, args.requests, args.clients, args.seed))
    latencies = result["latencies"]
    server_errors = sum(c for s, c in result["statuses"].items() if s >= 500)
    print(f"{args.requests} requests from {args.clients} concurrent clients, {args.workers} workers, SQLite state")
    print(f"  wall time       {result['elapsed']:.2f} s ({args.requests / result['elapsed']:.0f} requests/s)")
    p50, p99 = latencies[len(latencies) // 2] * 1000, latencies[int(len(latencies) * 0.99)] * 1000
    print(f"  latency         p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(f"  statuses        {dict(sorted(result['statuses'].items()))}")
    print(f"  5xx             {server_errors}")
    print(f"  numbers bought  {result['bought']} (and {result['replayed_201']} replayed 201s that bought nothing)")
    print(
        f"  lost purchases  {len(result['lost'])}   duplicated: {len(result['duplicated'])}   "
        f"unexplained: {len(result['unexplained'])}"
    )
    ok = server_errors == 0 and not result["lost"] and not result["duplicated"] and not result["unexplained"]
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
