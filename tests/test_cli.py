"""`lcphone serve` as a user starts it: a real process on a real port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest


def start(*args: str) -> tuple[subprocess.Popen, list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("Press Ctrl-C"):
            return process, lines
    process.kill()
    raise AssertionError(f"no banner: {lines} {process.stderr.read()}")


def banner_value(lines: list[str], label: str) -> str:
    return next(re.split(r"\s{2,}", line.strip(), maxsplit=1)[1] for line in lines if line.strip().startswith(label))


def test_serve_prints_what_is_needed_and_stops_cleanly_on_ctrl_c() -> None:
    process, lines = start("--seed", "3")
    try:
        base_url, location, token = banner_value(lines, "base URL"), banner_value(lines, "location id"), banner_value(lines, "token")
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base_url)
        curl = next(line.strip() for line in lines if line.strip().startswith("curl "))
        assert token in curl and location in curl and "Version: v3" in curl
        response = httpx.get(f"{base_url}/phone-system/numbers/location/{location}",
                             headers={"Authorization": f"Bearer {token}", "Version": "v3"})
        assert response.status_code == 200 and response.json()["status"] == "success"
        assert httpx.get(f"{base_url}/__admin/health").json()["seed"] == 3
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


def test_serve_with_a_scenario_file(tmp_path) -> None:
    scenario = tmp_path / "mine.yaml"
    scenario.write_text("name: mine\nlocations:\n  - id: myLocation\n    tokens:\n      - value: pit-my-token-000001\n")
    process, lines = start("--scenario", str(scenario))
    try:
        assert banner_value(lines, "location id") == "myLocation"
        assert banner_value(lines, "token") == "pit-my-token-000001"
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=15)


def test_serve_refuses_a_bad_scenario_clearly(tmp_path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("name: bad\nlocations: 3\n")
    result = subprocess.run([sys.executable, "-m", "mockserver.cli", "serve", "--scenario", str(scenario)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "locations" in result.stderr and "Traceback" not in result.stderr


def test_help_describes_every_option() -> None:
    result = subprocess.run([sys.executable, "-m", "mockserver.cli", "serve", "--help"], capture_output=True, text=True)
    for option in ("--host", "--port", "--seed", "--scenario"):
        assert option in result.stdout
