"""Faults on demand, for testing a client's retries and timeouts.

A fault rule says which operation it hits (or `*`), what it does (added latency,
a given status, a dropped connection, a truncated body) and how often (the next
N calls, or a share of calls). Rules come from the admin API, the CLI
(`--fault`), or one request's `X-Lcphone-Fault` header.

Rules live in the sandbox's store, so that every worker process applies the
same ones: the next N calls are counted across workers, and a share of calls is
drawn from the seed and the rule's own count of calls, so that runs repeat.
Applied by an ASGI middleware outside the app (`mockserver.http.faults`), so
that a dropped connection really is one.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import asdict, dataclass, replace
from typing import Any

import orjson

from ..contract.admin import fault_problems
from ..domain.store import Store

FAULTS_KEY = "faults"


class FaultError(ValueError):
    """A fault rule that cannot be understood; `problems` names each field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class FaultRule:
    operation_id: str = "*"
    latency_ms: int = 0
    status: int | None = None
    drop: bool = False
    truncate: bool = False
    times: int | None = None  # the next N matching calls, then the rule is spent
    ratio: float | None = None  # or a share of matching calls (0..1)
    id: int = 0
    hits: int = 0  # matching calls it fired on
    seen: int = 0  # matching calls it was drawn for

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "operationId": self.operation_id,
            "latencyMs": self.latency_ms,
            "status": self.status,
            "drop": self.drop,
            "truncate": self.truncate,
            "times": self.times,
            "ratio": self.ratio,
            "hits": self.hits,
        }

    def applies_to(self, operation_id: str) -> bool:
        return self.operation_id in ("*", operation_id)

    @classmethod
    def from_api(cls, data: Any, operations: list[str]) -> FaultRule:
        """A rule from the admin API's JSON (its shape is checked by the admin contract first)."""
        if not isinstance(data, dict):
            raise FaultError(["fault: expected a JSON object"])
        problems = []
        operation = data.get("operationId", "*")
        if operation != "*" and operation not in operations:
            problems.append(
                f"operationId: {str(operation)[:60]!r} is not an operation of the contract "
                f"({', '.join(operations)} or *)"
            )
        times, ratio = data.get("times"), data.get("ratio")
        if times is not None and ratio is not None:
            problems.append("times, ratio: give one or the other")
        if not (data.get("latencyMs") or data.get("status") or data.get("drop") or data.get("truncate")):
            problems.append("fault: say what it does: latencyMs, status, drop or truncate")
        if problems:
            raise FaultError(problems)
        return cls(
            operation,
            int(data.get("latencyMs", 0)),
            data.get("status"),
            bool(data.get("drop")),
            bool(data.get("truncate")),
            times,
            float(ratio) if ratio is not None else None,
        )

    @classmethod
    def from_spec(cls, spec: str, operations: list[str]) -> FaultRule:
        """`[OPERATION:]key=value,...`, e.g. `purchaseNumber:status=503,times=2` or `latencyMs=200,ratio=0.5`."""
        operation, _, settings = spec.rpartition(":") if ":" in spec else ("*", "", spec)
        data: dict[str, Any] = {"operationId": operation or "*"}
        for item in filter(None, (part.strip() for part in settings.split(","))):
            key, _, value = item.partition("=")
            key = {"latency": "latencyMs"}.get(key, key)
            if not value and key in ("drop", "truncate"):
                data[key] = True
            elif value.lower() in ("true", "false"):
                data[key] = value.lower() == "true"
            else:
                try:
                    data[key] = int(value)
                except ValueError:
                    try:
                        data[key] = float(value)
                    except ValueError:
                        raise FaultError([f"{key[:40]}: {value[:40]!r} is not a number"]) from None
        problems = fault_problems(data)  # the admin contract's rules, also for the CLI and the header
        if problems:
            raise FaultError(problems)
        return cls.from_api(data, operations)


def _chance(seed: int, rule_id: int, call: int) -> float:
    """A number in [0, 1) for the `call`-th call a rule is drawn for: the same in every run and every worker."""
    digest = hashlib.blake2b(f"{seed}:fault:{rule_id}:{call}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class FaultBook:
    """The fault rules in force, kept in the store; applied in order, the first that fires wins."""

    def __init__(self, store: Store, seed: int) -> None:
        self.store = store
        self.seed = seed
        # Whether any rule may be in force (refreshed with the sandbox's settings): a request without a fault
        # header skips the store when not.
        self.active = False
        self._header_calls = itertools.count(1)

    # -- the stored list ------------------------------------------------------------
    def _load(self) -> tuple[int, list[FaultRule]]:
        raw = self.store.get_meta(FAULTS_KEY)
        if raw is None:
            return 0, []
        data = orjson.loads(raw)
        return data["nextId"], [FaultRule(**rule) for rule in data["rules"]]

    def _save(self, next_id: int, rules: list[FaultRule]) -> None:
        self.store.set_meta(FAULTS_KEY, orjson.dumps({"nextId": next_id, "rules": [asdict(r) for r in rules]}).decode())
        self.active = bool(rules)

    def refresh(self) -> None:
        self.active = bool(self._load()[1])

    @property
    def rules(self) -> list[FaultRule]:
        return self._load()[1]

    def add(self, rule: FaultRule) -> FaultRule:
        with self.store.transaction():
            next_id, rules = self._load()
            added = replace(rule, id=next_id + 1, hits=0, seen=0)
            self._save(next_id + 1, [*rules, added])
            return added

    def set_rules(self, rules: list[FaultRule]) -> None:
        """Replaces every rule (numbered afresh from 1): what a reset does with the rules the sandbox started with."""
        with self.store.transaction():
            self._save(len(rules), [replace(rule, id=n, hits=0, seen=0) for n, rule in enumerate(rules, 1)])

    def clear(self) -> None:
        self.set_rules([])

    def draw(self, operation_id: str) -> FaultRule | None:
        if not self.active:
            return None
        with self.store.transaction():
            next_id, rules = self._load()
            fired = None
            for rule in rules:
                if not rule.applies_to(operation_id):
                    continue
                rule.seen += 1
                if rule.ratio is not None and _chance(self.seed, rule.id, rule.seen) >= rule.ratio:
                    continue
                rule.hits += 1
                fired = replace(rule)
                if rule.times is not None and rule.hits >= rule.times:
                    rules.remove(rule)
                break
            self._save(next_id, rules)
            return fired

    def from_header(self, spec: str, operation_id: str, operations: list[str]) -> FaultRule | None:
        """A one-request fault from `X-Lcphone-Fault`, if it applies to this operation (and its share draws it).

        A header that cannot be understood is a `FaultError`: the test that sent it meant a fault, and a typo
        must not pass as a request served normally.
        """
        rule = FaultRule.from_spec(spec, operations)
        if not rule.applies_to(operation_id):
            return None
        if rule.ratio is not None and _chance(self.seed, 0, next(self._header_calls)) >= rule.ratio:
            return None
        return rule
