"""The requests the benchmarks send, the same to every server: each operation of the API, and the legacy
version's list. Purchase bodies each name a different number of the inventory, so that lcphone's state really
changes on every request (the peers answer a static stub)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOKEN = "pit-bench-token-000001"
LOCATION = "benchLocation"
SCENARIO = HERE / "bench-scenario.yaml"
INVENTORY = 10_000  # numbers per country and type: 120,000 in all
SEED = 1
PURCHASE_SCRIPT = HERE / "purchase.lua"


@dataclass(frozen=True)
class Operation:
    key: str  # a short name, for files
    title: str
    method: str
    path: str  # with its query
    version: str = "v3"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def request_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}", "Version": self.version, **self.headers}

    @property
    def route(self) -> str:
        return self.path.split("?", 1)[0]


# Prism treats an empty query value as missing, so the search all servers get has every filter filled; its list
# parameter is sent as repeated keys, the form the contract documents (and the vendor's Python SDK sends).
SEARCH_QUERY = (
    "firstPart=415&lastPart=1&anywhere=4&numberTypes=local&numberTypes=mobile&smsEnabled=false&mmsEnabled=false"
    "&voiceEnabled=false&countryCode=US"
)
OPERATIONS = [
    Operation("list", "list active numbers", "GET", f"/phone-system/numbers/location/{LOCATION}?pageSize=50"),
    Operation("search", "search", "GET", f"/phone-system/numbers/location/{LOCATION}/available?{SEARCH_QUERY}"),
    Operation(
        "purchase",
        "purchase",
        "POST",
        f"/phone-system/numbers/location/{LOCATION}/purchase",
        status=201,
        headers={"Content-Type": "application/json"},
    ),  # fmt: skip
    Operation("pools", "number pools", "GET", f"/phone-system/number-pools?locationId={LOCATION}"),
    Operation(
        "legacy-list",
        "list active numbers (2021-07-28)",
        "GET",
        f"/phone-system/numbers/location/{LOCATION}?pageSize=50",
        version="2021-07-28",
    ),  # fmt: skip
]
BY_KEY = {operation.key: operation for operation in OPERATIONS}


def purchase_bodies(count: int, skip: int = 0) -> list[str]:
    """`count` purchase bodies, each for a different number of the inventory that the bench scenario leaves
    for sale (the `skip` first ones left out), in a fixed order: the same on every run."""
    from mockserver import Sandbox
    from mockserver.domain.inventory import build_inventory

    sandbox = Sandbox(seed=SEED, scenario=SCENARIO, numbers_per_type=INVENTORY)
    owned = {n.phone_number for n in sandbox.store.active_numbers(LOCATION)}
    inventory = build_inventory(SEED, INVENTORY)
    bodies = []
    for_sale = (
        n
        for n in inventory.by_number.values()
        if n.phone_number not in owned and n.address_requirements == "none" and not n.bundle_required
    )
    for index, number in enumerate(for_sale):
        if index < skip:
            continue
        if len(bodies) == count:
            break
        bodies.append(
            json.dumps(
                {
                    "phoneNumber": number.phone_number,
                    "addressSid": "",
                    "bundleSid": "",
                    "countryCode": number.country,
                    "numberType": number.number_type,
                    "paymentIntentId": "pi_bench",
                    "stripeAccountId": "acct_bench",
                    "paymentMethodId": "pm_bench",
                    "locality": "",
                    "region": "",
                    "fingerprintId": f"bench-{skip + len(bodies)}",
                    "skipLocationKYC": False,
                },
                separators=(",", ":"),
            )
        )
    return bodies


def write_bodies(path: Path, bodies: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(bodies) + "\n", encoding="utf-8")
    return path
