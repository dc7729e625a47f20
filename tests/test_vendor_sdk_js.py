"""The vendor's official JS SDK (@gohighlevel/api-client 3.1.0) as a real client of the sandbox, through Node.js.

The SDK is installed from the npm registry into `.cache/js-sdk/` on first use (once, whichever xdist worker gets
there first); the test is skipped, saying why, where Node.js or the registry cannot be had.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import LEGACY, V3

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "js-sdk"
PACKAGE = "@gohighlevel/api-client@3.1.0"
SCRIPT = Path(__file__).resolve().parent / "js" / "sdk_calls.js"


@pytest.fixture(scope="session")
def js_sdk() -> Path:
    """node_modules holding the vendor's JS SDK, installed once."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed: the JS SDK cannot run here")
    CACHE.mkdir(parents=True, exist_ok=True)
    modules = CACHE / "node_modules"
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers install it once
        if not (modules / "@gohighlevel" / "api-client" / "package.json").is_file():
            installed = subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--no-save", "--prefix", str(CACHE), PACKAGE],
                capture_output=True,
                text=True,
                timeout=300,
            )
            if installed.returncode != 0:
                pytest.skip(f"npm could not install {PACKAGE}: {installed.stderr.strip()[-300:]}")
    return modules


def run_sdk(modules: Path, base_url: str, token: str, location_id: str) -> dict:
    environment = {
        **os.environ,
        "NODE_PATH": str(modules),
        "LCPHONE_BASE_URL": base_url,
        "LCPHONE_TOKEN": token,
        "LCPHONE_LOCATION": location_id,
    }
    done = subprocess.run(["node", str(SCRIPT)], capture_output=True, text=True, timeout=120, env=environment)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.lcphone_allow_violations  # one call leaves the client's default Version (2023-02-21) on purpose
def test_the_js_sdk_does_every_call_at_both_versions(lcphone, js_sdk: Path) -> None:
    results = run_sdk(js_sdk, lcphone.base_url, lcphone.token, lcphone.location_id)
    failed = {name: result for name, result in results.items() if not result["ok"] and name != "defaultVersion"}
    assert not failed, failed
    # An array for numberTypes goes out as numberTypes[]=...; a comma-joined string as is: both are understood.
    assert {n["price"]["number_type"] for n in results["bracketsSearch"]["body"]["numbers"]} == {"tollFree"}
    assert {n["price"]["number_type"] for n in results["commaSearch"]["body"]["numbers"]} == {"mobile"}
    bought = results["purchase"]["body"]
    assert bought["status"] == "success" and bought["data"]["underLcAccount"] is True
    active = results["active"]["body"]["data"]
    assert bought["data"]["number"] in [n["phoneNumber"] for n in active["numbers"]]
    assert results["pools"]["body"]["success"] is True
    # The client-wide default Version is not one these paths serve: refused, naming the supported ones.
    default = results["defaultVersion"]
    assert default["status"] == 400 and "Version: v3 or Version: 2021-07-28" in json.dumps(default)
    # At 2021-07-28: the legacy shapes the SDK's own types describe.
    account = results["legacyPurchase"]["body"]
    assert account["under_ghl_account"] is True and account["location_id"] == lcphone.location_id
    legacy_active = results["legacyActive"]["body"]
    assert "isUnderGhl" in legacy_active and set(account["numbers"]) == {
        n["phoneNumber"] for n in legacy_active["numbers"]
    }
    assert results["legacyPools"]["body"]["data"][0]["locationId"] == lcphone.location_id  # its own location (D29)
    versions = {entry.operation_id: entry.version for entry in lcphone.journal if entry.status < 400}
    assert set(versions.values()) <= {V3, LEGACY}
    broken = [(entry.request_line, v.field) for entry, v in lcphone.violations]
    assert broken == [(f"GET /phone-system/numbers/location/{lcphone.location_id}", "header Version")]
