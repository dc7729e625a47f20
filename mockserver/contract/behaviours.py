"""The fidelity ledger (`contracts/behaviours.yaml`): every behaviour of the sandbox a client can observe.

The contracts say what answers look like; the ledger says what they mean. Loaded like the contracts and
read by `lcphone verify` (which confirms each entry against a real API, or says why it cannot), by lcphone's
own tests (each entry names the test that proves the sandbox does it), and by the contract coverage of a
client's tests.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import files

LEDGER_FILE = "behaviours.yaml"
FIELDS = {"id", "operations", "versions", "sees", "decision", "promised", "sandbox"}
OPTIONAL = {"verify", "runs_with", "not_verified", "drift", "outcome"}

VENDOR_DRIFT = "vendor drift"  # the target breaks what the vendor's documents promise: the vendor must change
FIDELITY_GAP = "fidelity gap"  # the target does otherwise than the sandbox: lcphone's sandbox must change


@dataclass(frozen=True)
class Outcome:
    """An answer a client should handle: what `--lcphone-coverage` counts (see contracts/behaviours.yaml)."""

    name: str
    status: str  # "400"; "5XX" for any of a class; "any"; "none" for no answer (a dropped connection)
    when: tuple[str, str] | None  # how it is told apart from the other answers of its status: (test, argument)
    hint: str  # how a test provokes it

    def has_status(self, status: int | None) -> bool:
        if self.status == "any":
            return True
        if self.status == "none" or status is None:
            return self.status == "none" and status is None
        return self.status == str(status) or (self.status.endswith("XX") and self.status[0] == str(status)[0])


@dataclass(frozen=True)
class Behaviour:
    id: str
    operations: tuple[str, ...] | None  # None: every operation
    versions: tuple[str, ...] | None  # None: every version
    sees: str  # what a client sees, in one sentence
    decision: str  # its DECISIONS.md entry
    promised: bool  # whether the vendor's documents promise it
    sandbox: str  # the test that proves the sandbox does it
    verify: str | None = None  # the verify check that confirms it against a real API
    runs_with: str | None = None  # what that check needs beyond a token and a location
    not_verified: str | None = None  # why no check can run, when none does
    drift: tuple[str, ...] = ()  # the drift modes that break it
    outcome: Outcome | None = None  # when it is an answer a client should handle

    @property
    def verdict(self) -> str:
        """What a real API that breaks it is guilty of."""
        return VENDOR_DRIFT if self.promised else FIDELITY_GAP

    def concerns(self, operation_id: str, version: str) -> bool:
        return (self.operations is None or operation_id in self.operations) and (
            self.versions is None or version in self.versions
        )


def _names(value: Any) -> tuple[str, ...] | None:
    return None if value == "all" else tuple(str(item) for item in value)


def _behaviour(entry: dict[str, Any]) -> Behaviour:
    missing, unknown = FIELDS - set(entry), set(entry) - FIELDS - OPTIONAL
    if missing or unknown or ("verify" in entry) == ("not_verified" in entry):
        raise files.ContractFileError(
            f"{LEDGER_FILE}: entry {entry.get('id')!r}: missing {sorted(missing)}, unknown {sorted(unknown)}; "
            "it names either a verify check or why there is none"
        )
    return Behaviour(
        id=entry["id"],
        operations=_names(entry["operations"]),
        versions=_names(entry["versions"]),
        sees=entry["sees"],
        decision=entry["decision"],
        promised=bool(entry["promised"]),
        sandbox=entry["sandbox"],
        verify=entry.get("verify"),
        runs_with=entry.get("runs_with"),
        not_verified=entry.get("not_verified"),
        drift=tuple(entry.get("drift", ())),
        outcome=_outcome(entry["outcome"]) if "outcome" in entry else None,
    )


def _outcome(entry: dict[str, Any]) -> Outcome:
    when = entry.get("when")
    if when is not None and len(when) != 1:
        raise files.ContractFileError(f"{LEDGER_FILE}: outcome {entry.get('name')!r}: `when` has one test")
    return Outcome(
        name=entry["name"],
        status=str(entry["status"]),
        when=next(iter(when.items())) if when else None,
        hint=entry["hint"],
    )


class Ledger:
    def __init__(self, behaviours: list[Behaviour]) -> None:
        self.behaviours = {behaviour.id: behaviour for behaviour in behaviours}
        if len(self.behaviours) != len(behaviours):
            raise files.ContractFileError(f"{LEDGER_FILE}: an id is used twice")

    def __iter__(self) -> Iterator[Behaviour]:
        return iter(self.behaviours.values())

    def __getitem__(self, behaviour_id: str) -> Behaviour:
        return self.behaviours[behaviour_id]

    def __contains__(self, behaviour_id: object) -> bool:
        return behaviour_id in self.behaviours

    def __len__(self) -> int:
        return len(self.behaviours)

    def checked_by(self, check: str) -> list[Behaviour]:
        """The behaviours a verify check confirms."""
        return [behaviour for behaviour in self if behaviour.verify == check]

    def broken_by(self, drift_mode: str) -> list[Behaviour]:
        """The behaviours a drift mode breaks."""
        return [behaviour for behaviour in self if drift_mode in behaviour.drift]


@functools.cache
def ledger() -> Ledger:
    """The shipped ledger."""
    return Ledger([_behaviour(entry) for entry in files.read(LEDGER_FILE)["behaviours"]])
