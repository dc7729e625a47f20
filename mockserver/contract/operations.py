"""The operation registry: every operation of the API, built from the contracts of every version.

One entry per operationId, with its method and path, the scopes it needs, whether it spends money
(`x-lcphone-spends-money`: a purchase), and its spec at each version that serves it (newest first). The
sandbox's routes, its handlers, `lcphone verify`'s plan, the pytest plugin's purchase guard, the admin API's
fault rules and the inspector all take their list of operations from here. It is also the one router:
`match(method, path)` finds the operation a concrete request is for.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from .model import Contract, OperationSpec, load
from .versions import VersionRegistry
from .versions import registry as version_registry


def compile_path(template: str) -> re.Pattern[str]:
    """A path template (`/numbers/location/{locationId}`) as a pattern of concrete paths, one group per parameter."""
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts))


@dataclass(frozen=True, eq=False)  # one object per operation: compared and hashed by identity
class Operation:
    """One operation of the API, at every version that serves it."""

    id: str
    method: str
    path: str  # the template
    versions: Mapping[str, OperationSpec]  # version -> its spec there, newest first

    # Worked out once: the contract does not change while it is served.
    @functools.cached_property
    def newest(self) -> OperationSpec:
        return next(iter(self.versions.values()))

    @functools.cached_property
    def scopes(self) -> tuple[str, ...]:
        return self.newest.scopes

    @functools.cached_property
    def spends_money(self) -> bool:
        return any(spec.spends_money for spec in self.versions.values())

    @functools.cached_property
    def takes_body(self) -> bool:
        return any(spec.body_schema is not None for spec in self.versions.values())

    def at(self, version: str) -> OperationSpec:
        return self.versions[version]

    @functools.cached_property
    def leads_to(self) -> frozenset[str]:
        """The operations the links of its success answers lead to, at any version (the contract's next steps)."""
        return frozenset(linked for spec in self.versions.values() if spec.success for linked in spec.success.links)


class OperationRegistry:
    """Every operation of a set of contracts (one per version of `versions`, newest first)."""

    def __init__(self, contracts: Mapping[str, Contract], versions: VersionRegistry | None = None) -> None:
        self.versions = versions or version_registry()
        by_id: dict[str, dict[str, OperationSpec]] = {}
        for version, contract in contracts.items():
            for spec in contract.operations.values():
                by_id.setdefault(spec.operation_id, {})[version] = spec
        self.operations: dict[str, Operation] = {}
        for operation_id, specs in by_id.items():
            first = next(iter(specs.values()))
            if any((spec.method, spec.path) != (first.method, first.path) for spec in specs.values()):
                raise ValueError(f"operation {operation_id} has another method or path at another version")
            self.operations[operation_id] = Operation(operation_id, first.method, first.path, specs)
        self._patterns = [(operation, compile_path(operation.path)) for operation in self.operations.values()]

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.operations.values())

    def __getitem__(self, operation_id: str) -> Operation:
        return self.operations[operation_id]

    def __contains__(self, operation_id: object) -> bool:
        return operation_id in self.operations

    def __len__(self) -> int:
        return len(self.operations)

    @property
    def ids(self) -> list[str]:
        return list(self.operations)

    @property
    def scopes(self) -> tuple[str, ...]:
        """Every scope an operation needs: what a token gets when it is given no scopes of its own."""
        return tuple(dict.fromkeys(scope for operation in self for scope in operation.scopes))

    @property
    def spending(self) -> list[Operation]:
        """The operations that cost real money."""
        return [operation for operation in self if operation.spends_money]

    def leading_to(self, operation: Operation) -> list[Operation]:
        """The operations whose success answers link to `operation` (for a purchase: the search that offers it)."""
        return [other for other in self if operation.id in other.leads_to]

    def following(self, operation: Operation) -> list[Operation]:
        """The operations the success answers of `operation` link to (after a purchase: the list that shows it)."""
        return [self.operations[linked] for linked in sorted(operation.leads_to) if linked in self.operations]

    def at(self, version: str) -> list[OperationSpec]:
        """The operations a version serves, as that version's specs."""
        return [operation.versions[version] for operation in self if version in operation.versions]

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """The operation that serves `method path` (a concrete path), with the path's parameters."""
        for operation, pattern in self._patterns:
            if operation.method == method:
                matched = pattern.fullmatch(path)
                if matched:
                    return operation, matched.groupdict()
        return None

    def methods_for(self, path: str) -> list[str]:
        """The methods served on a concrete path (empty for an unknown path)."""
        return [operation.method for operation, pattern in self._patterns if pattern.fullmatch(path)]

    @classmethod
    def of(cls, versions: VersionRegistry) -> OperationRegistry:
        """The operations of the contracts a version registry names."""
        return cls({version.name: Contract(version.document(), version.name) for version in versions}, versions)


@functools.cache
def registry() -> OperationRegistry:
    """The operations of the shipped contracts."""
    versions = version_registry()
    return OperationRegistry({version.name: load(version.name) for version in versions}, versions)
