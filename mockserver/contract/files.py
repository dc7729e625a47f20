"""The contract documents on disk: where they are, and a version's document bundled into one self-contained one.

The documents live in the checkout's `contracts/` folder and ship inside the
wheel as `mockserver/contracts/` (read here with `importlib.resources`). Each
version's document references the shared `lc-phone-common.yaml`; bundling
copies the shared components in, so that every consumer (the sandbox,
schemathesis, `GET /__admin/contracts/...`, any OpenAPI tool) gets one plain
document with local references only. Which versions exist, and which document
is whose, is the version registry's business (`versions.py`).
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from pathlib import Path
from typing import Any

COMMON_FILE = "lc-phone-common.yaml"
ADMIN_FILE = "admin.openapi.yaml"
VERSIONS_FILE = "versions.yaml"


class ContractFileError(RuntimeError):
    """A contract document that cannot be read or bundled (a packaging bug, not a user mistake)."""


def contracts_dir() -> Path:
    """The folder of the contract documents: inside the installed package, or `contracts/` of a checkout."""
    packaged = Path(str(resources.files("mockserver"))) / "contracts"
    if (packaged / COMMON_FILE).is_file():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "contracts"
    if (checkout / COMMON_FILE).is_file():
        return checkout
    raise ContractFileError(f"the contract documents are missing (looked in {packaged} and {checkout})")


def decisions_path() -> Path:
    return contracts_dir() / "DECISIONS.md"


def deviations_path() -> Path:
    return contracts_dir() / "deviations.yaml"


def load_yaml(text: str | bytes) -> Any:
    import yaml  # loading the contracts is the only YAML work at start-up

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@functools.lru_cache(maxsize=16)
def read(name: str) -> Any:
    """A YAML document of the contracts folder, parsed (shared and read-only by convention: cached)."""
    path = contracts_dir() / name
    try:
        return load_yaml(path.read_bytes())
    except OSError as error:
        raise ContractFileError(f"cannot read {path}: {error}") from None


def _localize(node: Any, external: str) -> Any:
    """A copy of `node` whose references into `external` point into the document itself."""
    if isinstance(node, dict):
        copied = {key: _localize(value, external) for key, value in node.items()}
        ref = copied.get("$ref")
        if isinstance(ref, str) and ref.startswith(external + "#"):
            copied["$ref"] = ref[len(external) :]
        return copied
    if isinstance(node, list):
        return [_localize(item, external) for item in node]
    return node


def bundle(document: dict[str, Any], common: dict[str, Any]) -> dict[str, Any]:
    """`document` with the components of `common` copied in and every reference made local."""
    bundled = _localize(document, COMMON_FILE)
    components = bundled.setdefault("components", {})
    for section, entries in common.get("components", {}).items():
        target = components.setdefault(section, {})
        for name, value in entries.items():
            if name in target:
                raise ContractFileError(
                    f"components/{section}/{name} is defined in both {COMMON_FILE} and the document"
                )
            target[name] = copy.deepcopy(value)
    return bundled


@functools.lru_cache(maxsize=8)
def bundled(name: str) -> dict[str, Any]:
    """The document `name` of the contracts folder, bundled with the shared components (cached, read-only)."""
    return bundle(read(name), read(COMMON_FILE))


def admin_document() -> dict[str, Any]:
    """The admin API's own OpenAPI document."""
    return read(ADMIN_FILE)
