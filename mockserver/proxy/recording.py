"""`--record PATH`: what the proxy saw of an account, written as a scenario that `lcphone serve` loads.

From the answers that passed through: each location's active numbers with their details (ids and dates
kept), its pools, whether it is under the LC account, its account status, its RCS senders and whether its phone
system is connected. Tokens and payment fields are never written: the sandbox generates its own tokens (the
banner of `lcphone serve` shows one). Numbers are written in dateAdded order, the order the API lists them in
(D12), so that the same list request answers the same numbers from the sandbox.

Whatever the sandbox cannot hold (a value its scenario schema refuses, a number that is not valid for its
country) is left out and named in the scenario's description, and the file is checked by loading it into a
sandbox before it is written.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..contract.versions import ApiVersion, VersionRegistry
from ..contract.versions import registry as version_registry
from ..domain.scenario import Scenario, ScenarioError
from ..errors import PROBLEM_SEPARATOR
from ..sandbox import Sandbox
from .forwarding import Observed

LOCATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
NUMBER_TYPES = {
    "local": "local",
    "toll-free": "tollFree",
    "tollFree": "tollFree",
    "mobile": "mobile",
    "national": "national",
}
NO_PHONE_SYSTEM = "phone system is not connected"
MAX_ROUNDS = 200  # at most this many fields are left out before the recording gives up on a location


@dataclass
class RecordedLocation:
    id: str
    fields: dict[str, Any] = field(default_factory=dict)  # isUnderLc, accountStatus, phoneSystemConnected...
    numbers: dict[str, dict[str, Any]] = field(default_factory=dict)  # phone number -> its scenario entry
    pools: dict[str, dict[str, Any]] = field(default_factory=dict)  # pool id -> its scenario entry
    pooled: dict[str, str] = field(default_factory=dict)  # a pool member -> its friendly name, as the pool said
    rcs_sender_ids: dict[str, dict[str, Any]] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": self.id, **self.fields}
        numbers = sorted(self.numbers.values(), key=lambda n: n.get("dateAdded") or "\uffff")  # stable: first seen
        # A pool's member that no list showed: what the pool said of it.
        numbers += [
            {"phoneNumber": number, "friendlyName": name}
            for number, name in self.pooled.items()
            if number not in self.numbers
        ]
        if numbers:
            entry["numbers"] = numbers
        if self.pools:
            entry["pools"] = list(self.pools.values())
        if self.rcs_sender_ids:
            entry["rcsSenderIds"] = list(self.rcs_sender_ids.values())
        return entry


class ScenarioRecorder:
    """Listens to the proxy's exchanges (an observer of the forwarder) and keeps what a scenario can hold."""

    def __init__(self, target: str, versions: VersionRegistry | None = None) -> None:
        self.target = target
        self.versions = versions or version_registry()
        self.locations: dict[str, RecordedLocation] = {}
        self.left_out: list[str] = []

    def observe(self, observed: Observed) -> None:
        verdict = observed.verdict
        location_id = verdict.location_id
        if (
            verdict.operation is None
            or verdict.version is None
            or not location_id
            or not LOCATION_ID.match(location_id)
        ):
            return
        status, answer = observed.status, observed.answer
        if status is None:
            return
        location = self.locations.get(location_id) or self.locations.setdefault(
            location_id, RecordedLocation(location_id)
        )
        message = answer.get("message") if isinstance(answer, dict) else None
        if status == 404 and isinstance(message, str) and NO_PHONE_SYSTEM in message.lower():
            location.fields["phoneSystemConnected"] = False
            return
        if not 200 <= status < 300 or not isinstance(answer, dict):
            return
        version = self.versions[verdict.version]
        spec = verdict.spec
        listed = answer.get(version.envelope_answer) if spec and spec.answers_in(version.envelope) else answer
        record = RECORDERS.get(verdict.operation.id)
        if record is not None:
            location.fields.setdefault("phoneSystemConnected", True)
            record(location, listed, version)

    # -- the scenario --------------------------------------------------------------------------------------
    def document(self, name: str) -> dict[str, Any]:
        document: dict[str, Any] = {
            "name": name,
            "description": f"Recorded by lcphone proxy from {self.target}: "
            f"{len(self.locations)} location(s). Tokens are not recorded: the sandbox makes its own.",
            "locations": [location.document() for location in self.locations.values()],
        }
        return copy.deepcopy(document)  # what leaving out changes is the document's, not the recording's

    def scenario(self, name: str) -> Scenario:
        """The recording as a scenario the sandbox loads: what it cannot hold left out, and named."""
        document = self.document(name)
        for _ in range(MAX_ROUNDS):
            try:
                scenario = Scenario.from_document(document)
                Sandbox(scenario=scenario, numbers_per_type=1)  # loads it whole, or says what it cannot hold
            except ScenarioError as error:
                if not any(_leave_out(document, problem, self.left_out) for problem in error.problems):
                    raise
                continue
            if self.left_out:
                shown = PROBLEM_SEPARATOR.join(self.left_out[:20])
                document["description"] = (document["description"] + f" Left out: {shown}")[:2000]
                scenario = Scenario.from_document(document)
            return scenario
        raise ScenarioError([f"the recording holds more than {MAX_ROUNDS} values the sandbox cannot hold"])

    def write(self, path: Path) -> Scenario:
        scenario = self.scenario(path.stem or "recorded")
        text = yaml.safe_dump(scenario.document, sort_keys=False, allow_unicode=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)  # all or nothing: a reader never sees half a scenario
        return scenario


def _leave_out(document: dict[str, Any], problem: str, left_out: list[str]) -> bool:
    """Removes what `problem` names (a field, or the number or pool it belongs to); whether anything was."""
    where = problem.split(": ", 1)[0].removeprefix(f"scenario {document['name']!r}: ")
    parts = where.split(".")
    if len(parts) < 3 or parts[0] != "locations" or not parts[1].isdigit():
        return False
    node: Any = document
    path: list[Any] = []
    for part in parts:
        key: Any = int(part) if part.isdigit() and isinstance(node, list) else part
        if (
            isinstance(node, list)
            and isinstance(key, int)
            and key < len(node)
            or isinstance(node, dict)
            and key in node
        ):
            path.append((node, key))
            node = node[key]
        else:
            break
    # The deepest optional field; a number, pool or sender whose identity is wrong goes whole.
    while path:
        parent, key = path.pop()
        if isinstance(parent, dict) and key not in ("id", "phoneNumber", "name", "number", "numbers"):
            del parent[key]
            left_out.append(f"{where} ({problem.split(': ', 1)[-1][:120]})")
            return True
        if isinstance(parent, list):
            del parent[key]
            left_out.append(f"{where} ({problem.split(': ', 1)[-1][:120]})")
            return True
    return False


# -- what each operation's answer tells ------------------------------------------------------------------
def _active_numbers(location: RecordedLocation, listed: Any, version: ApiVersion) -> None:
    if not isinstance(listed, dict):
        return
    for name in ("isUnderLc", *(old for old, new in version.renamed.items() if new == "isUnderLc"), "isUnderGhl"):
        if isinstance(listed.get(name), bool):
            location.fields["isUnderLc"] = listed[name]
            break
    if listed.get("accountStatus") in ("active", "suspended", "closed"):
        location.fields["accountStatus"] = listed["accountStatus"]
    for record in listed.get("numbers") or []:
        if isinstance(record, dict) and isinstance(record.get("phoneNumber"), str):
            location.numbers[record["phoneNumber"]] = _owned_number(record)
    for sender in listed.get("rcsSenderIds") or []:
        if isinstance(sender, dict) and isinstance(sender.get("number"), str):
            entry = {key: sender[key] for key in ("number", "friendlyName", "rcsMeta") if sender.get(key) is not None}
            location.rcs_sender_ids[sender["number"]] = entry


def _owned_number(record: dict[str, Any]) -> dict[str, Any]:
    """An active number's record as a scenario's owned number (every detail the schema can hold)."""
    entry: dict[str, Any] = {"phoneNumber": record["phoneNumber"]}
    copied = (
        "sid",
        "friendlyName",
        "origin",
        "isDefaultNumber",
        "linkedUser",
        "linkedRingAllUsers",
        "forwardingNumber",
        "inboundCallService",
        "isGroupConversationEnabled",
        "addressSid",
        "bundleSid",
        "dateAdded",
    )
    for name in copied:
        if name in record:
            entry[name] = record[name]
    if record.get("type") in NUMBER_TYPES:
        entry["numberType"] = NUMBER_TYPES[record["type"]]
    capabilities = record.get("capabilities")
    if isinstance(capabilities, dict):
        entry["capabilities"] = {
            name: capabilities[name]
            for name in ("voice", "sms", "mms", "fax")
            if isinstance(capabilities.get(name), bool)
        }
    return entry


def _pools(location: RecordedLocation, listed: Any, version: ApiVersion) -> None:
    pools = listed.get("data") if isinstance(listed, dict) else None
    for pool in pools if isinstance(pools, list) else []:
        if not isinstance(pool, dict) or not isinstance(pool.get("id"), str) or not isinstance(pool.get("name"), str):
            continue
        members = [
            m for m in pool.get("numbers") or [] if isinstance(m, dict) and isinstance(m.get("phoneNumber"), str)
        ]
        entry: dict[str, Any] = {"id": pool["id"], "name": pool["name"], "numbers": [m["phoneNumber"] for m in members]}
        for name in (
            "forwardingNumber",
            "whisper",
            "whisperMessage",
            "callRecording",
            "isActive",
            "inboundCallService",
        ):
            if name in pool:
                entry[name] = pool[name]
        location.pools[pool["id"]] = entry
        for member in members:
            location.pooled[member["phoneNumber"]] = str(member.get("friendlyName") or member["phoneNumber"])


def _purchase(location: RecordedLocation, listed: Any, version: ApiVersion) -> None:
    if isinstance(listed, dict) and isinstance(listed.get("id"), str) and listed["id"]:
        location.fields["accountRecordId"] = listed["id"]  # the location's account document


RECORDERS = {
    "listActiveNumbers": _active_numbers,
    "listNumberPools": _pools,
    "purchaseNumber": _purchase,
}
