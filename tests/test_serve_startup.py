"""`lcphone serve` refusing to start, clearly: one line naming the problem and the option, exit 2, no traceback.

Every case here stops before the sandbox listens, so the command runs in-process.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mockserver import Sandbox
from mockserver.cli import main
from mockserver.domain.scenario import Scenario, ScenarioError
from mockserver.store.sqlite import SqliteStore


def serve(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    try:
        code = main(["serve", "--port", "0", *args])
    except SystemExit as exit:  # argparse refuses a malformed option itself
        code = int(exit.code or 0)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.strip()


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith(("lcphone serve:", "usage:")) is False]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("key", ["", "   "])
def test_an_empty_admin_key_is_refused(capsys, monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    code, err = serve(capsys, "--host", "0.0.0.0", "--admin-key", key)
    assert code == 2 and err == (
        "lcphone serve: --admin-key (or LCPHONE_ADMIN_KEY) is empty: give a key, or leave "
        "both unset to have one generated"
    )
    monkeypatch.setenv("LCPHONE_ADMIN_KEY", key)
    assert serve(capsys, "--host", "0.0.0.0")[0] == 2  # a CI secret that is missing


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--port", "99999"], "--port"),
        (["--port", "-1"], "--port"),
        (["--inventory", "100000000"], "--inventory"),
        (["--inventory", "0"], "--inventory"),
        (["--workers", "0"], "--workers"),
        (["--header-timeout", "0"], "--header-timeout"),
    ],
)
def test_out_of_range_options_are_refused_by_the_parser(capsys, args: list[str], named: str) -> None:
    code, err = serve(capsys, *args)
    assert code == 2 and named in err.splitlines()[-1]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--rate-limit-burst", "0"], "--rate-limit-burst"),
        (["--rate-limit-window-ms", "-5"], "--rate-limit-window-ms"),
        (["--rate-limit-daily", "0"], "--rate-limit-daily"),
    ],
)
def test_rate_limits_are_checked_like_the_admin_api_checks_them(capsys, args: list[str], named: str) -> None:
    code, err = serve(capsys, *args)
    assert code == 2 and err.startswith(f"lcphone serve: {named}:") and "minimum" in err


def test_a_missing_scenario_path_never_loads_a_shipped_scenario_of_the_same_name(capsys, tmp_path: Path) -> None:
    code, err = serve(capsys, "--scenario", str(tmp_path / "nowhere" / "default"))
    assert code == 2 and "no file" in err and "shipped scenarios: default" in err


@pytest.mark.parametrize("make", ["folder", "no-folder", "text", "corrupt"])
def test_a_state_path_that_cannot_be_a_state_file_is_named(capsys, tmp_path: Path, make: str) -> None:
    path = tmp_path / "state.db"
    if make == "folder":
        path.mkdir()
    elif make == "no-folder":
        path = tmp_path / "absent" / "state.db"
    elif make == "text":
        path.write_text("this is not a database\n" * 100)
    else:
        SqliteStore(path).close()
        data = bytearray(path.read_bytes())
        data[100:4096] = b"\xff" * (4096 - 100)  # keep the header, ruin the pages
        path.write_bytes(bytes(data))
    code, err = serve(capsys, "--state", str(path))
    assert code == 2 and err.startswith("lcphone serve: --state:"), err
    assert len(err.splitlines()) == 1


def test_a_state_file_of_another_seed_scenario_or_inventory_is_refused(capsys, tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    Sandbox(seed=7, store=SqliteStore(path), numbers_per_type=50).store.close()
    assert "made with --seed 7, not 1" in serve(capsys, "--state", str(path), "--seed", "1")[1]
    assert "made with --inventory 50, not 200" in serve(capsys, "--state", str(path), "--inventory", "200")[1]
    other = tmp_path / "other.yaml"
    other.write_text("name: other\nlocations:\n  - id: elsewhere\n")
    code, err = serve(capsys, "--state", str(path), "--scenario", str(other))
    assert code == 2 and "holds scenario 'default', not 'other'" in err
    # Left out, the state's own settings are used (the same ones given again are fine too).
    continued = Sandbox(store=SqliteStore(path))
    assert (continued.seed, continued.numbers_per_type) == (7, 50)
    continued.store.close()


def test_a_busy_port_is_named(capsys) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, err = main(["serve", "--port", str(port)]), capsys.readouterr().err
    assert code == 2 and err.strip().startswith(f"lcphone serve: --port {port}: the port is already in use")


# -- scenario mistakes: the field path, never the whole object ---------------------------------------------

NUMBERS = "name: s\nlocations:\n  - id: a\n    numbers:\n"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (
            "name: s\nlocations:\n  - id: a\n    numbers:\n      - {phoneNumber: '+14155550123', origin: mars}\n",
            "locations.0.numbers.0.origin",
        ),
        (
            NUMBERS + "      - draw: {countryCode: US, numberType: landline, count: 1}\n",
            "locations.0.numbers.0.draw.numberType",
        ),
        (
            NUMBERS + "      - draw: {countryCode: US, numberType: local, count: 0}\n",
            "locations.0.numbers.0.draw.count",
        ),
    ],
)
def test_a_scenario_mistake_names_its_field_path(text: str, field: str) -> None:
    with pytest.raises(ScenarioError) as refused:
        Scenario.from_yaml(text)
    [problem] = refused.value.problems
    assert problem.startswith(f"{field}:") and "{" not in problem and len(problem) < 200, problem


@pytest.mark.parametrize(
    ("draw", "field", "says"),
    [
        ("{countryCode: US, numberType: local, count: 5000}", "locations.0: numbers.0: count", "only 200 are left"),
        (
            "{countryCode: FR, numberType: local, count: 1}",
            "locations.0: numbers.0: countryCode",
            "no local numbers of FR",
        ),
    ],
)
def test_what_the_inventory_cannot_honour_is_named_with_its_field(draw: str, field: str, says: str) -> None:
    scenario = Scenario.from_yaml(f"name: s\nlocations:\n  - id: a\n    numbers:\n      - draw: {draw}\n")
    with pytest.raises(ScenarioError) as refused:
        Sandbox(scenario=scenario)
    [problem] = refused.value.problems
    assert field in problem and says in problem and "{" not in problem


def test_the_same_token_on_two_locations_is_refused() -> None:
    with pytest.raises(ScenarioError, match="'pit-shared-token-0001' is given to more than one location"):
        Scenario.from_yaml(
            "name: s\nlocations:\n  - id: a\n    tokens: [{value: pit-shared-token-0001}]\n"
            "  - id: b\n    tokens: [{value: pit-shared-token-0001}]\n"
        )


def test_yaml_aliases_and_huge_scenarios_are_refused_before_they_expand() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9)
    )
    with pytest.raises(ScenarioError, match="aliases"):
        Scenario.from_yaml(bomb)
    with pytest.raises(ScenarioError, match="larger than"):
        Scenario.from_yaml("name: s\n" + "#" * 600_000)


def test_a_scenario_file_that_does_not_parse_says_where(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: s\nlocations:\n  - id: [unclosed\n")
    with pytest.raises(ScenarioError) as refused:
        Scenario.from_file(path)
    assert refused.value.problems[0].startswith(f"scenario {path}: not valid YAML at line 4")
    started = subprocess.run(
        [sys.executable, "-m", "mockserver.cli", "serve", "--scenario", str(path), "--port", "0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert started.returncode == 2 and f"{path}: not valid YAML at line 4" in started.stderr
    assert "Traceback" not in started.stderr


def test_sqlite_state_is_sound_after_a_refused_start(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    Sandbox(store=SqliteStore(path)).store.close()
    with pytest.raises(ValueError):
        Sandbox(seed=9, store=SqliteStore(path))
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_postgresql_state_without_the_postgres_extra_says_what_to_install(tmp_path) -> None:
    """Over a real `lcphone serve`, psycopg hidden as if only the plain install had been run: one line, exit 2."""
    hide = tmp_path / "sitecustomize.py"
    hide.write_text("import sys\nsys.modules['psycopg'] = None\nsys.modules['psycopg_pool'] = None\n")
    done = subprocess.run(
        [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0", "--state", "postgresql://u@127.0.0.1:9/db"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "lcphone serve: --state: a PostgreSQL state needs the postgres extra (psycopg is not installed): "
        "pip install 'lcphone[postgres]'"
    )
