"""The outcomes of each operation: every answer a client should handle, derived from the contract and the ledger.

For each operation at each version: its success (the contract's success status), and each outcome of the
fidelity ledger whose status the contract documents there (a sold number, a reused fingerprint, a 401 for an
unknown token, an empty search, a page past the end, an injected fault...). `Classifier` names the outcome of
one answer, from what the answer and its request say, so that the sandbox, the proxy and the pytest plugin's
remote mode tell outcomes apart the same way; coverage (`--lcphone-coverage`, `/__admin/coverage`) is which of
them a session received.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .behaviours import Behaviour, Ledger, Outcome, ledger
from .operations import OperationRegistry
from .operations import registry as operation_registry

SUCCESS = "success"
SUCCESS_HINT = "call it as the contract's example does"
REMEMBERED_PURCHASES = 100_000  # fingerprints a classifier keeps to tell a replay, at most


@dataclass(frozen=True)
class KnownOutcome:
    """One outcome of one operation at one version."""

    operation: str
    version: str
    status: str  # "201", "5XX", "none" (no answer)...
    outcome: str
    hint: str
    behaviour: str | None = None  # the ledger entry it comes from (None: the contract's success)


class Outcomes:
    """Every outcome of every operation of a registry, at every version that serves it."""

    def __init__(self, operations: OperationRegistry, behaviours: Ledger) -> None:
        self.known: list[KnownOutcome] = []
        self._rules: dict[tuple[str, str], list[tuple[Outcome, str]]] = {}
        self._by_status: dict[tuple[str, str, int | None], tuple[Outcome, ...]] = {}
        for operation in operations:
            for version, spec in operation.versions.items():
                success = spec.success.status if spec.success else "200"
                self.known.append(KnownOutcome(operation.id, version, success, SUCCESS, SUCCESS_HINT))
                for behaviour in behaviours:
                    outcome = behaviour.outcome
                    if outcome is not None and self._applies(behaviour, outcome, operation.id, version, spec.responses):
                        self.known.append(
                            KnownOutcome(
                                operation.id, version, outcome.status, outcome.name, outcome.hint, behaviour.id
                            )
                        )
                        self._rules.setdefault((operation.id, version), []).append((outcome, success))
        for rules in self._rules.values():
            rules.sort(key=lambda rule: rule[0].when is None)  # the specific ones first; a status's default last
        # Outcomes of injected faults: given beside what the answer is, not instead.
        self.fault_names = frozenset(
            b.outcome.name
            for b in behaviours
            if b.outcome is not None and b.outcome.when and b.outcome.when[0] == "fault"
        )

    @staticmethod
    def _applies(behaviour: Behaviour, outcome: Outcome, operation_id: str, version: str, documented) -> bool:
        """The ledger's outcome, where its entry concerns the operation and the contract documents its status."""
        if not behaviour.concerns(operation_id, version):
            return False
        if outcome.when is not None and outcome.when[0] == "fault":
            return True  # the sandbox can inject a fault on any operation
        return outcome.status in documented

    def of(self, operation: str, version: str) -> list[KnownOutcome]:
        return [known for known in self.known if known.operation == operation and known.version == version]

    def rules(self, operation: str, version: str, status: int | None) -> tuple[Outcome, ...]:
        """The outcomes an answer of `status` may be, most specific first (looked up once per status)."""
        key = (operation, version, status)
        found = self._by_status.get(key)
        if found is None:
            rules = self._rules.get((operation, version), [])
            found = self._by_status[key] = tuple(outcome for outcome, _ in rules if outcome.has_status(status))
        return found


@functools.cache
def outcomes() -> Outcomes:
    """The outcomes of the shipped contracts and ledger."""
    return Outcomes(operation_registry(), ledger())


def _message(answer: Any) -> str:
    message = answer.get("message") if isinstance(answer, Mapping) else None
    if isinstance(message, list):
        message = "; ".join(map(str, message))
    return message.lower() if isinstance(message, str) else ""


def _listed(answer: Any, name: str) -> Any:
    """A list field of an answer, at its top or inside its envelope's `data`."""
    if not isinstance(answer, Mapping):
        return None
    if name in answer:
        return answer[name]
    data = answer.get("data")
    return data.get(name) if isinstance(data, Mapping) else None


class Classifier:
    """Names the outcome of each answer. It remembers the purchases it saw succeed, to tell a replay (bounded);
    `forget()` when the state they were made in is gone (a sandbox's reset)."""

    def __init__(self, catalogue: Outcomes | None = None) -> None:
        self.catalogue = catalogue or outcomes()
        self._bought: dict[tuple[str | None, str], None] = {}

    def forget(self) -> None:
        self._bought.clear()

    def classify(
        self,
        operation: str,
        version: str | None,
        status: int | None,
        answer: Any = None,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        location: str | None = None,
        faults: Iterable[str] = (),
    ) -> tuple[str, ...]:
        """The outcomes one answer gives: what it is (`success`, `sold`, `no-match`...) and the faults injected."""
        if version is None:
            return ()
        fault_names = self.catalogue.fault_names
        found: list[str] = []
        what = None  # what the answer is: the first outcome that fits it
        for outcome in self.catalogue.rules(operation, version, status):
            if outcome.name in fault_names:
                if faults and self._matches(outcome, answer, params, body, location, faults):
                    found.append(outcome.name)
            elif what is None and (outcome.when is None or self._matches(outcome, answer, params, body, location, ())):
                what = outcome.name
        succeeded = status is not None and 200 <= status < 300
        if succeeded:
            if what is None:
                what = SUCCESS
            if body is not None:
                self._remember(body, location)
        if not found:
            return (what,) if what is not None else ()
        return (what, *found) if what is not None else tuple(found)

    def _matches(self, outcome: Outcome, answer, params, body, location, faults) -> bool:
        if outcome.when is None:
            return True
        test, argument = outcome.when
        if test == "message":
            return argument.lower() in _message(answer)
        if test == "empty":
            return _listed(answer, argument) == []
        if test == "past-the-end":
            page = (params or {}).get("page") or 0
            return _listed(answer, argument) == [] and isinstance(page, (int, float)) and page > 0
        if test == "replayed":
            fingerprint = body.get(argument) if isinstance(body, Mapping) else None
            return isinstance(fingerprint, str) and (location, fingerprint) in self._bought
        if test == "fault":
            return argument in faults
        return False

    def _remember(self, body: Any, location: str | None) -> None:
        fingerprint = body.get("fingerprintId") if isinstance(body, Mapping) else None
        if isinstance(fingerprint, str):
            if len(self._bought) >= REMEMBERED_PURCHASES:
                self._bought.clear()
            self._bought[(location, fingerprint)] = None
