"""One sandbox: the seeded catalog, the phone system's state, the journal and the ASGI app over them.

The same object serves in-process (httpx's ASGI transport), on a socket
(`lcphone serve`, the `lcphone_server` fixture), or both at once.
"""

from __future__ import annotations

import dataclasses

from pathlib import Path

from . import contract as contract_module
from .drift import Drift
from .faults import FaultBook, FaultRule
from .inventory import DEFAULT_NUMBERS_PER_TYPE, build_catalog
from .journal import Journal
from .phone_system import PhoneSystem
from .rate_limits import RateLimiter, RateLimitPolicy
from .scenario import Scenario
from .store import PersistentStore, Store

DEFAULT_SEED = 1


class StateError(ValueError):
    """A state file that does not fit the sandbox being started."""


class Sandbox:
    def __init__(
        self,
        seed: int = DEFAULT_SEED,
        scenario: Scenario | str | Path | None = None,
        *,
        numbers_per_type: int = DEFAULT_NUMBERS_PER_TYPE,
        rate_limits: RateLimitPolicy | None = None,
        store: Store | None = None,
        drift: list[str] | tuple[str, ...] | None = None,
        faults: list[str] | tuple[str, ...] | None = None,
        admin_key: str | None = None,
    ) -> None:
        self.seed = seed
        self.drift = Drift.parse(drift)
        self.contract = contract_module.load()
        self.catalog = build_catalog(seed, numbers_per_type)
        if scenario is None:
            scenario = Scenario.default()
        elif not isinstance(scenario, Scenario):
            scenario = Scenario.from_file(scenario)
        self.phone_system = PhoneSystem(self.catalog, seed, scenario, store, double_sell="double-sell" in self.drift)
        self._initial_rate_limits = rate_limits or RateLimitPolicy()
        self.rate_limiter = RateLimiter(self._initial_rate_limits)
        self._initial_faults = [FaultRule.from_spec(spec, list(self.contract.operations)) for spec in faults or ()]
        self.faults = FaultBook(seed)
        self.journal = Journal()
        self.crashes: list[BaseException] = []
        self._app = None
        self.admin_key = admin_key  # required on admin requests when set (a sandbox exposed beyond loopback)
        if isinstance(store, PersistentStore):
            self._check_seed(store)
        self.phone_system.start()
        self._restore_settings()

    def _check_seed(self, store: PersistentStore) -> None:
        with store.transaction():
            stored = store.get_meta("seed")
            if stored is None:
                store.set_meta("seed", str(self.seed))
            elif int(stored) != self.seed:
                raise StateError(f"the state file was made with seed {stored}, not {self.seed}: "
                                 f"start with --seed {stored}, or use another state file")

    def _restore_settings(self) -> None:
        """Rate limits and faults back to how the sandbox was started."""
        self.rate_limiter.configure(self._initial_rate_limits)
        self.faults.clear()
        for rule in self._initial_faults:
            self.faults.add(dataclasses.replace(rule, hits=0))  # add() gives the copy its own id

    @property
    def scenario(self) -> Scenario:
        return self.phone_system.scenario

    @property
    def app(self):
        """The Starlette application (built on first use)."""
        if self._app is None:
            from .app import create_app

            self._app = create_app(self)
        return self._app

    def reset(self) -> None:
        """Back to the scenario's starting state; the journal and rate-limit counters start over too."""
        self.phone_system.reset()
        self.journal.clear()
        self._restore_settings()
        self.crashes.clear()

    def load_scenario(self, scenario: Scenario | str | Path) -> None:
        if not isinstance(scenario, Scenario):
            scenario = Scenario.from_file(scenario)
        self.phone_system.reset(scenario)
        self.journal.clear()
        self._restore_settings()

    def default_credentials(self) -> tuple[str, str]:
        """(location id, token) of the scenario's first location with a full-access token, minting one if needed."""
        system = self.phone_system
        for entry in self.scenario.locations:
            for token in entry.get("tokens", []):
                if "scopes" not in token and "value" in token:
                    return entry["id"], token["value"]
        location_id = self.scenario.locations[0]["id"] if self.scenario.locations else "lcphoneSandbox0000001"
        return location_id, system.mint_token(location_id).value
