"""`lcphone serve` as a user starts it: a real process on a real port."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx


def test_serve_prints_what_is_needed_and_stops_cleanly_on_ctrl_c(serve) -> None:
    served = serve("--seed", "3")
    base_url, location, token = served.base_url, served.value("location id"), served.value("token")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base_url)
    curl = next(line.strip() for line in served.banner if line.strip().startswith("curl "))
    assert token in curl and location in curl and "Version: v3" in curl
    response = httpx.get(
        f"{base_url}/phone-system/numbers/location/{location}",
        headers={"Authorization": f"Bearer {token}", "Version": "v3"},
    )
    assert response.status_code == 200 and response.json()["status"] == "success"
    assert httpx.get(f"{base_url}/__admin/health").json()["seed"] == 3
    returncode, out, err = served.stop()  # Ctrl-C
    assert returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


def test_serve_with_a_scenario_file(serve, tmp_path) -> None:
    scenario = tmp_path / "mine.yaml"
    scenario.write_text("name: mine\nlocations:\n  - id: myLocation\n    tokens:\n      - value: pit-my-token-000001\n")
    served = serve("--scenario", str(scenario))
    assert served.value("location id") == "myLocation"
    assert served.value("token") == "pit-my-token-000001"


def test_serve_refuses_a_bad_scenario_clearly(tmp_path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("name: bad\nlocations: 3\n")
    result = subprocess.run(
        [sys.executable, "-m", "mockserver.cli", "serve", "--scenario", str(scenario)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "locations" in result.stderr and "Traceback" not in result.stderr


def test_help_describes_every_option() -> None:
    result = subprocess.run([sys.executable, "-m", "mockserver.cli", "serve", "--help"], capture_output=True, text=True)
    for option in ("--host", "--port", "--seed", "--scenario"):
        assert option in result.stdout


def test_a_misspelt_option_shows_its_commands_usage() -> None:
    for command in (["serve", "--prot"], ["proxy", "--target", "http://127.0.0.1:9", "--bogus"]):
        result = subprocess.run([sys.executable, "-m", "mockserver.cli", *command], capture_output=True, text=True)
        assert result.returncode == 2
        assert result.stderr.startswith(f"usage: lcphone {command[0]} ")
        assert result.stderr.rstrip().endswith(f"lcphone {command[0]}: error: unrecognized arguments: {command[-1]}")
