"""Renders docs/inspector.png, the README's picture of the inspector: a sandbox, a few requests (one that breaks
the contract, opened), in the system's headless Chromium.

    .venv/bin/python docs/screenshot.py [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the system's Chromium
import system_chromium
from mockserver import Sandbox
from mockserver.serve.thread import SandboxServer

LOCATION = "tDtDnQdgm2LXpyiqYvZ6"
TOKEN = "pit-acme-full-access-0000000001"


def requests(base: str) -> None:
    """What a client under development might send: good calls, a purchase, and one that breaks the contract."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Version": "v3"}
    httpx.get(f"{base}/phone-system/number-pools", params={"locationId": LOCATION}, headers=headers)
    search = {
        "firstPart": "415",
        "lastPart": "",
        "anywhere": "",
        "numberTypes": "local",
        "smsEnabled": "true",
        "mmsEnabled": "false",
        "voiceEnabled": "true",
        "countryCode": "US",
    }
    found = httpx.get(f"{base}/phone-system/numbers/location/{LOCATION}/available", params=search, headers=headers)
    number = found.json()["numbers"][0]
    purchase = {
        "phoneNumber": number["phoneNumber"],
        "addressSid": "AD" + "0" * 32,
        "bundleSid": "BU" + "0" * 32,
        "countryCode": "US",
        "numberType": "local",
        "paymentIntentId": "pi_3PmXq2LkdIwHu7ix0s1a2b3c",
        "stripeAccountId": "acct_1PmXq2LkdIwHu7ix",
        "paymentMethodId": "pm_1PmXq2LkdIwHu7ixAbCdEf",
        "locality": number["locality"],
        "region": number["region"],
        "fingerprintId": found.json()["fingerprintId"],
        "skipLocationKYC": False,
    }
    httpx.post(f"{base}/phone-system/numbers/location/{LOCATION}/purchase", headers=headers, json=purchase)
    httpx.get(
        f"{base}/phone-system/numbers/location/{LOCATION}",
        headers={"Authorization": f"Bearer {TOKEN}"},
        params={"pageSize": 5000},
    )
    httpx.get(f"{base}/phone-system/numbers/location/{LOCATION}", headers=headers, params={"pageSize": 20})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default=system_chromium.executable() or "/usr/bin/chromium")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("inspector.png"))
    args = parser.parse_args()
    with SandboxServer(Sandbox()) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=args.chromium, args=[*system_chromium.FLAGS, "--hide-scrollbars"]
        )
        page = browser.new_page(viewport={"width": 1360, "height": 900}, device_scale_factor=1)
        page.goto(f"{server.base_url}/__admin/ui")
        page.wait_for_selector("#journal-state:text('live')")
        requests(server.base_url)
        page.wait_for_selector("#journal-table tr.entry.broken").click()
        page.wait_for_selector("#journal-table tr.details")
        page.screenshot(path=str(args.out), full_page=False)
        browser.close()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
