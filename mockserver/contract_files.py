"""The contract documents on disk: where they are, and each version bundled into one self-contained document.

The documents live in the checkout's `contracts/` folder and ship inside the
wheel as `mockserver/contracts/` (read here with `importlib.resources`). Each
version's document references the shared `lc-phone-common.yaml`; bundling
copies the shared components in, so that every consumer (the sandbox,
schemathesis, `GET /__admin/contracts/...`, any OpenAPI tool) gets one plain
document with local references only.
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from pathlib import Path
from typing import Any

VERSIONS: tuple[str, ...] = ("v3", "2021-07-28")
LATEST = VERSIONS[0]
LEGACY = VERSIONS[1]
COMMON_FILE = "lc-phone-common.yaml"
DOCUMENT_FILES = {version: f"lc-phone-{version}.openapi.yaml" for version in VERSIONS}
ADMIN_FILE = "admin.openapi.yaml"


class ContractFileError(RuntimeError):
    """A contract document that cannot be read or bundled (a packaging bug, not a user mistake)."""


def contracts_dir() -> Path:
    """The folder of the contract documents: inside the installed package, or `contracts/` of a checkout."""
    packaged = Path(str(resources.files("mockserver"))) / "contracts"
    if (packaged / COMMON_FILE).is_file():
        return packaged
    checkout = Path(__file__).resolve().parent.parent / "contracts"
    if (checkout / COMMON_FILE).is_file():
        return checkout
    raise ContractFileError(f"the contract documents are missing (looked in {packaged} and {checkout})")


def document_path(version: str) -> Path:
    if version not in DOCUMENT_FILES:
        raise KeyError(f"no contract for version {version!r} (known: {', '.join(VERSIONS)})")
    return contracts_dir() / DOCUMENT_FILES[version]


def decisions_path() -> Path:
    return contracts_dir() / "DECISIONS.md"


def deviations_path() -> Path:
    return contracts_dir() / "deviations.yaml"


def load_yaml(text: str | bytes) -> Any:
    import yaml  # loading the contracts is the only YAML work at start-up

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@functools.lru_cache(maxsize=8)
def _raw(name: str) -> dict[str, Any]:
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


@functools.lru_cache(maxsize=len(VERSIONS))
def _bundled(version: str) -> dict[str, Any]:
    return bundle(_raw(DOCUMENT_FILES[version]), _raw(COMMON_FILE))


def contract_document(version: str = LATEST) -> dict[str, Any]:
    """The bundled contract of one version, shared and read-only by convention (cached)."""
    if version not in DOCUMENT_FILES:
        raise KeyError(f"no contract for version {version!r} (known: {', '.join(VERSIONS)})")
    return _bundled(version)


def load_contract(version: str = LATEST) -> dict[str, Any]:
    """A private deep copy of one version's bundled contract, safe to mutate."""
    return copy.deepcopy(contract_document(version))


def admin_document() -> dict[str, Any]:
    """The admin API's own OpenAPI document."""
    return _raw(ADMIN_FILE)
