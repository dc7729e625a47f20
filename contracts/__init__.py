"""The LC Phone API v3 contract: one OpenAPI 3.1 document, shipped as package data.

Everything in lcphone (the sandbox's routes and validation, the pytest plugin's
conformance check, the property suites, `lcphone verify`) loads this document;
nothing re-types it in code.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

CONTRACT_PATH: Path = Path(__file__).with_name("lc-phone-v3.openapi.yaml")
DECISIONS_PATH: Path = Path(__file__).with_name("DECISIONS.md")

__all__ = ["CONTRACT_PATH", "DECISIONS_PATH", "load_contract", "contract_document"]


@functools.lru_cache(maxsize=1)
def _parsed() -> dict[str, Any]:
    import yaml  # imported here: loading the contract is the only YAML work at start-up

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with CONTRACT_PATH.open("rb") as handle:
        return yaml.load(handle, Loader=loader)


def contract_document() -> dict[str, Any]:
    """The parsed contract, shared and read-only by convention (cached)."""
    return _parsed()


def load_contract() -> dict[str, Any]:
    """A private deep copy of the parsed contract, safe to mutate."""
    return copy.deepcopy(_parsed())
