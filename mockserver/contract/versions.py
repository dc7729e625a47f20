"""The version registry: every API version lcphone serves, newest first, read from `contracts/versions.yaml`.

An entry holds what sets a version apart: its contract document, the view that renders its wire shapes,
the fields of its success envelope, and the fields it renamed. Everything that differs by version asks the
registry; nothing else names a version.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import files


@dataclass(frozen=True, eq=False)  # one object per version: compared and hashed by identity
class ApiVersion:
    name: str  # the Version header's value
    contract: str  # its document in the contracts folder
    view: str  # the module of mockserver/views/ that renders its answers
    envelope: tuple[str, ...] = ()  # the success envelope's fields; () for bare answers
    envelope_answer: str = ""  # the envelope's field that holds the answer itself
    renamed: Mapping[str, str] = field(default_factory=dict)  # older name -> this version's name

    @property
    def legacy_names(self) -> dict[str, str]:
        """This version's name -> the older one it replaced (what a drifting API would still send)."""
        return {new: old for old, new in self.renamed.items()}

    def document(self) -> dict[str, Any]:
        """Its contract, bundled into one self-contained document (shared and read-only: cached)."""
        return files.bundled(self.contract)


class VersionRegistry:
    """The versions, newest first: `registry["v3"]`, `"v3" in registry`, `registry.names`, `registry.newest`."""

    def __init__(self, versions: list[ApiVersion]) -> None:
        if not versions:
            raise files.ContractFileError("the version registry names no version")
        self._versions = {version.name: version for version in versions}

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> VersionRegistry:
        return cls(
            [
                ApiVersion(
                    name=str(entry["name"]),
                    contract=entry["contract"],
                    view=entry["view"],
                    envelope=tuple(entry.get("envelope", {}).get("fields", ())),
                    envelope_answer=entry.get("envelope", {}).get("answer", ""),
                    renamed=dict(entry.get("renamed", {})),
                )
                for entry in document["versions"]
            ]
        )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._versions)

    @property
    def newest(self) -> ApiVersion:
        return next(iter(self._versions.values()))

    @property
    def oldest(self) -> ApiVersion:
        return list(self._versions.values())[-1]

    def __getitem__(self, name: str) -> ApiVersion:
        try:
            return self._versions[name]
        except KeyError:
            raise KeyError(f"no contract for version {name!r} (known: {', '.join(self._versions)})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._versions

    def __iter__(self) -> Iterator[ApiVersion]:
        return iter(self._versions.values())

    def __len__(self) -> int:
        return len(self._versions)

    def all_renamed(self) -> dict[str, str]:
        """Every renamed field of every version: older name -> newer name."""
        return {old: new for version in self for old, new in version.renamed.items()}


@functools.cache
def registry() -> VersionRegistry:
    """The versions the shipped contracts describe."""
    return VersionRegistry.from_document(files.read(files.VERSIONS_FILE))


def contract_document(version: str | None = None) -> dict[str, Any]:
    """One version's bundled contract (the newest by default), shared and read-only by convention."""
    versions = registry()
    return versions[version or versions.newest.name].document()


def load_contract(version: str | None = None) -> dict[str, Any]:
    """A private deep copy of one version's bundled contract (the newest by default), safe to change."""
    return copy.deepcopy(contract_document(version))
