"""The control plane of a sandbox: the seeded inventory, the phone system's state, and every change to them.

Every change to the sandbox (reset, a scenario, tokens, numbers, pools, faults,
rate limits) goes through a method of `Sandbox`, whoever asks: the admin API,
the pytest fixture, the inspector page, a worker process. The settings live in
the store beside the state, so that every process sharing a store (workers on
one SQLite file, replicas on one PostgreSQL database) answers the same.

The `Sandbox` (`mockserver.sandbox`) is this control plane with the ASGI app
that serves it: in-process (httpx's ASGI transport), on a socket (`lcphone
serve`, the `lcphone_server` fixture), or both at once.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from .. import errors
from ..contract.behaviours import ledger
from ..contract.operations import OperationRegistry
from ..contract.operations import registry as operation_registry
from ..contract.outcomes import Classifier, Outcomes, outcomes
from ..contract.versions import registry as version_registry
from ..domain.inventory import DEFAULT_NUMBERS_PER_TYPE, build_inventory
from ..domain.models import ActiveNumber, Location, NumberPool, Token
from ..domain.phone_system import PhoneSystem
from ..domain.scenario import Scenario
from ..domain.store import MemoryStore, Store
from .drift import Drift
from .faults import FaultBook, FaultRule
from .journal import Journal, mask
from .rate_limits import RateLimiter, RateLimitPolicy

DEFAULT_SEED = 1
IDENTITY_KEY = "sandbox"  # the seed and inventory size the state was made with
SCENARIO_KEY = "scenario"
RATE_LIMITS_KEY = "rate_limits"
INITIAL_KEY = "initial"  # the faults and rate limits the sandbox was started with: what a reset restores
REPLICA = f"{socket.gethostname()}:{os.getpid()}"


class StateError(ValueError):
    """A state that does not fit the sandbox being started (another seed, scenario or inventory size)."""


def _as_scenario(scenario: Scenario | str | Path | None) -> Scenario | None:
    if scenario is None or isinstance(scenario, Scenario):
        return scenario
    return Scenario.from_file(scenario)


class ControlPlane:
    def __init__(
        self,
        seed: int | None = None,
        scenario: Scenario | str | Path | None = None,
        *,
        numbers_per_type: int | None = None,
        rate_limits: RateLimitPolicy | None = None,
        store: Store | None = None,
        drift: list[str] | tuple[str, ...] | None = None,
        faults: list[str] | tuple[str, ...] | None = None,
        admin_key: str | None = None,
        allowed_hosts: tuple[str, ...] | None = None,
        cors_origins: tuple[str, ...] = (),
        attach: bool = False,
        operations: OperationRegistry | None = None,
    ) -> None:
        """A sandbox over `store` (in memory when None).

        A store that already holds a sandbox's state is continued: the seed, inventory size and scenario are
        the stored ones, and naming different ones is a `StateError`. `attach=True` (a worker process, a
        replica) changes nothing at start; otherwise the faults and rate limits given here become the
        settings a reset restores. `operations`: the operations it serves (the shipped contracts' by default).
        """
        self.store: Store = store if store is not None else MemoryStore()
        self.attached = attach  # joined a state already set up, changing nothing at start
        self.drift = Drift.parse(drift)
        self.admin_key = admin_key  # required on admin requests when set (a sandbox exposed beyond loopback)
        # The Host names the admin API answers beyond loopback's own (None: any; `lcphone serve` on loopback
        # sets it, against DNS rebinding).
        self.allowed_hosts = tuple(h.lower() for h in allowed_hosts) if allowed_hosts is not None else None
        self.cors_origins = tuple(cors_origins)  # browser apps allowed to call the API
        self.operations = operations or operation_registry()
        self.seed, self.numbers_per_type = self._identity(seed, numbers_per_type)
        self.inventory = build_inventory(self.seed, self.numbers_per_type)
        stored = self._stored_scenario()
        chosen = _as_scenario(scenario)
        if stored is not None and chosen is not None and chosen.document != stored.document:
            raise StateError(
                f"the state holds scenario {stored.name!r}, not {chosen.name!r}: start without "
                "--scenario to continue it, or use another state"
            )
        self.phone_system = PhoneSystem(self.inventory, self.seed, stored or chosen or Scenario.default(), self.store)
        self.faults = FaultBook(self.store, self.seed)
        # Counted in the store while enforced where processes share it (workers, replicas): one limit for all.
        self.rate_limiter = RateLimiter(store=self.store if self.store.persistent else None)
        self.journal = Journal()
        # What each answer was (the outcomes a client should handle): recorded with it in the journal.
        catalogue = outcomes() if operations is None else Outcomes(self.operations, ledger())
        self.classifier = Classifier(catalogue)
        self.crashes: list[BaseException] = []
        self._initial_faults = [FaultRule.from_spec(spec, self.operations.ids) for spec in faults or ()]
        self._initial_rate_limits = rate_limits or RateLimitPolicy()
        if stored is None:
            self._start_from(self.phone_system.scenario)
        if not attach:
            self._save_initial_settings()
            self._restore_settings()
        self.refresh()

    # -- what the state was made with ------------------------------------------------
    def _identity(self, seed: int | None, numbers_per_type: int | None) -> tuple[int, int]:
        store = self.store
        with store.transaction():
            raw = store.get_meta(IDENTITY_KEY)
            if raw is None:
                identity = {
                    "seed": DEFAULT_SEED if seed is None else seed,
                    "inventory": numbers_per_type or DEFAULT_NUMBERS_PER_TYPE,
                }
                store.set_meta(IDENTITY_KEY, orjson.dumps(identity).decode())
                return identity["seed"], identity["inventory"]
        stored = orjson.loads(raw)
        for option, asked, made in (
            ("--seed", seed, stored["seed"]),
            ("--inventory", numbers_per_type, stored["inventory"]),
        ):
            if asked is not None and asked != made:
                raise StateError(
                    f"the state was made with {option} {made}, not {asked}: start with {option} {made} "
                    f"(or without {option}), or use another state"
                )
        return stored["seed"], stored["inventory"]

    def _stored_scenario(self) -> Scenario | None:
        raw = self.store.get_meta(SCENARIO_KEY)
        return Scenario.from_document(orjson.loads(raw)) if raw is not None else None

    def _start_from(self, scenario: Scenario) -> None:
        with self.store.transaction():
            self.phone_system.load(scenario)
            self.store.set_meta(SCENARIO_KEY, orjson.dumps(scenario.document).decode())

    # -- settings: in the store, cached here ---------------------------------------------
    def _save_initial_settings(self) -> None:
        initial = {
            "faults": [asdict(rule) for rule in self._initial_faults],
            "rateLimits": asdict(self._initial_rate_limits),
        }
        self.store.set_meta(INITIAL_KEY, orjson.dumps(initial).decode())

    def _restore_settings(self) -> None:
        """Faults and rate limits back to how the sandbox was started."""
        with self.store.transaction():
            raw = self.store.get_meta(INITIAL_KEY)
            initial: dict[str, Any] = (
                orjson.loads(raw) if raw else {"faults": [], "rateLimits": asdict(RateLimitPolicy())}
            )
            self.faults.set_rules([FaultRule(**rule) for rule in initial["faults"]])
            self.store.set_meta(RATE_LIMITS_KEY, orjson.dumps(initial["rateLimits"]).decode())
        self.rate_limiter.configure(RateLimitPolicy(**initial["rateLimits"]))

    def refresh(self) -> None:
        """Re-reads the settings from the store (another process may have changed them)."""
        scenario = self._stored_scenario()
        if scenario is not None and scenario.document != self.phone_system.scenario.document:
            self.phone_system.scenario = scenario
        raw = self.store.get_meta(RATE_LIMITS_KEY)
        policy = RateLimitPolicy(**orjson.loads(raw)) if raw else RateLimitPolicy()
        if policy != self.rate_limiter.policy:
            self.rate_limiter.configure(policy)
        self.faults.refresh()

    def sync(self) -> None:
        """Called before each request: picks up the settings other processes changed (a store that mirrors its
        database knows it from their changes, without a query)."""
        if self.store.changed_elsewhere():
            self.refresh()

    # -- the control plane -----------------------------------------------------------------
    @property
    def scenario(self) -> Scenario:
        return self.phone_system.scenario

    def reset(self) -> None:
        """Back to the scenario's starting state; faults, rate limits, the journal and counters start over too."""
        self.sync()
        with self.store.transaction():
            self.phone_system.load(self.phone_system.scenario)
            self._restore_settings()
        self.journal.clear()
        self.classifier.forget()
        self.crashes.clear()

    def load_scenario(self, scenario: Scenario | str | Path) -> None:
        """Start from another scenario; a scenario that cannot be loaded is refused whole (ScenarioError)."""
        chosen = _as_scenario(scenario)
        assert chosen is not None
        with self.store.transaction():
            self._start_from(chosen)
            self._restore_settings()
        self.journal.clear()
        self.classifier.forget()

    def mint_token(self, location_id: str | None, scopes: list[str] | None = None) -> Token:
        return self.phone_system.mint_token(location_id, scopes)

    def create_location(self, entry: dict[str, Any], new: bool = False) -> Location:
        """A location as a scenario describes it; `new`: refused with 409 if it exists already."""
        with self.store.transaction():
            if new and self.store.get_location(entry["id"]) is not None:
                raise errors.error_for_status(409, f"location {entry['id']} already exists")
            return self.phone_system.load_location(entry)

    def add_numbers(self, location_id: str, country: str, number_type: str, count: int) -> list[ActiveNumber]:
        return self.phone_system.add_numbers(location_id, country, number_type, count)

    def add_number(self, location_id: str, entry: dict[str, Any]) -> ActiveNumber:
        return self.phone_system.add_owned_number(location_id, entry)

    def add_pool(self, location_id: str, entry: dict[str, Any]) -> NumberPool:
        return self.phone_system.add_pool(location_id, entry)

    def add_pool_named(self, location_id: str, entry: dict[str, Any]) -> tuple[NumberPool, dict[str, str]]:
        """A new pool, and the friendly names of its location's numbers (what an answer shows beside it)."""
        with self.store.transaction():
            pool = self.phone_system.add_pool(location_id, entry)
            return pool, self.phone_system.friendly_names([pool])

    def set_rate_limits(self, **changes: Any) -> RateLimitPolicy:
        """Changes the rate-limit policy (fields: enforce, burst, window_ms, daily); the rest keeps its value."""
        with self.store.transaction():
            raw = self.store.get_meta(RATE_LIMITS_KEY)
            current = orjson.loads(raw) if raw else asdict(RateLimitPolicy())
            policy = RateLimitPolicy(**{**current, **changes})
            self.store.set_meta(RATE_LIMITS_KEY, orjson.dumps(asdict(policy)).decode())
        self.rate_limiter.configure(policy)
        return policy

    @property
    def rate_limit_policy(self) -> RateLimitPolicy:
        raw = self.store.get_meta(RATE_LIMITS_KEY)
        return RateLimitPolicy(**orjson.loads(raw)) if raw else RateLimitPolicy()

    def add_fault(self, rule: FaultRule | dict[str, Any]) -> FaultRule:
        if isinstance(rule, dict):
            rule = FaultRule.from_api(rule, self.operations.ids)
        return self.faults.add(rule)

    def clear_faults(self) -> None:
        self.faults.clear()

    def fault_rules(self) -> list[FaultRule]:
        return self.faults.rules

    def health(self) -> dict[str, Any]:
        store = self.store.health()
        return {
            "status": "ok" if store.get("ok") else "unavailable",
            "seed": self.seed,
            "scenario": self.scenario.name,
            "inventory": len(self.inventory),
            "versions": list(version_registry().names),
            "store": store,
            "replica": REPLICA,
        }

    def describe_locations(self) -> list[dict[str, Any]]:
        """Every location with its tokens (the value and a masked form), numbers and pools: what the admin API's
        `GET /__admin/locations` and the inspector show."""
        store = self.store
        with store.transaction():
            tokens = store.tokens()
            found = []
            for location_id in store.location_ids():
                location = store.get_location(location_id)
                if location is None:
                    continue
                numbers = store.active_numbers(location_id)
                found.append(
                    {
                        "id": location.id,
                        "name": location.name,
                        "accountStatus": location.account_status,
                        "isUnderLc": location.is_under_lc,
                        "phoneSystemConnected": location.phone_system_connected,
                        "tokens": [
                            {"value": t.value, "masked": mask(t.value), "scopes": sorted(t.scopes)}
                            for t in tokens
                            if t.location_id == location_id
                        ],
                        "numbers": [
                            {
                                "phoneNumber": n.phone_number,
                                "friendlyName": n.friendly_name,
                                "type": n.type,
                                "origin": n.origin,
                            }
                            for n in numbers
                        ],
                        "pools": [
                            {"id": p.id, "name": p.name, "numbers": list(p.numbers)} for p in store.pools(location_id)
                        ],
                    }
                )
        return found

    def default_credentials(self) -> tuple[str, str]:
        """(location id, token) of the scenario's first location with a full-access token, minting one if needed."""
        for entry in self.scenario.locations:
            for token in entry.get("tokens", []):
                if "scopes" not in token and "value" in token:
                    return entry["id"], token["value"]
        location_id = self.scenario.locations[0]["id"] if self.scenario.locations else "lcphoneSandbox0000001"
        return location_id, self.phone_system.mint_token(location_id).value
