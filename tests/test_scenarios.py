"""Scenario files: the shipped ones load, mistakes are named, loading is deterministic."""

from __future__ import annotations

import pytest

from mockserver import Sandbox, Scenario, ScenarioError
from mockserver.domain.scenario import fixtures_dir

SHIPPED = sorted(fixtures_dir().glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenarios_load(path) -> None:
    sandbox = Sandbox(scenario=path)
    assert sandbox.scenario.name == path.stem
    assert sandbox.phone_system.store.location_ids()


def test_a_shipped_scenario_can_be_named_without_path() -> None:
    assert Scenario.from_file("default").name == "default"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("locations: []", "name"),
        ("name: x\nlocations:\n  - id: a\n  - id: a\n", "appears more than once"),
        ("name: x\nlocations:\n  - id: a/b\n", "locations.0.id"),
        (
            "name: x\nlocations:\n  - id: a\n    numbers:\n      - draw: {countryCode: US, numberType: local}\n",
            "locations.0.numbers.0",
        ),
        ("name: x\nlocations:\n  - id: a\n    tokens:\n      - scopes: [root]\n", "locations.0.tokens.0.scopes.0"),
        ("name: [unclosed", "not valid YAML"),
        ("- just a list", "mapping"),
    ],
)
def test_scenario_mistakes_are_named(text: str, named: str) -> None:
    with pytest.raises(ScenarioError) as raised:
        Scenario.from_yaml(text)
    assert named in str(raised.value)


def test_a_missing_scenario_file_is_named(tmp_path) -> None:
    with pytest.raises(ScenarioError, match="no file"):
        Scenario.from_file(tmp_path / "absent.yaml")


def test_impossible_scenario_content_is_refused_when_loaded() -> None:
    scenario = Scenario.from_yaml("name: x\nlocations:\n  - id: a\n    pools:\n      - {name: p, numbers: 3}\n")
    with pytest.raises(ScenarioError, match="outside pools"):
        Sandbox(scenario=scenario)


def test_a_scenario_refused_by_the_admin_api_leaves_the_old_one_in_place(http, api) -> None:
    impossible = {"name": "x", "locations": [{"id": "a", "pools": [{"name": "p", "numbers": 3}]}]}
    response = http.post("/__admin/scenario", json=impossible)
    assert response.status_code == 400 and "locations.0: pools.0: numbers" in response.json()["message"]
    assert http.get("/__admin/health").json()["scenario"] == "default"
    assert api.active().status_code == 200
