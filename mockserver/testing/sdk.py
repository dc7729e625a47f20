"""The vendor's official Python SDK (`gohighlevel-api-client`), pointed at a sandbox or any base URL.

The SDK is an optional dependency: `pip install gohighlevel-api-client==3.0.0`.
Its client sends every phone-system call with the Version header of its class
attribute `API_VERSION` (it also sends the method's `version` argument as a
second header; the sandbox accepts both when they agree, D1), so a client for
the legacy version is a subclass with `API_VERSION = "2021-07-28"`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

from ..contract.versions import registry as version_registry

SDK_REQUIREMENT = "gohighlevel-api-client==3.0.0"


class SdkMissing(ImportError):
    """The vendor's SDK is not installed."""

    def __init__(self) -> None:
        super().__init__(f"the vendor's Python SDK is not installed: pip install {SDK_REQUIREMENT}")


def vendor_sdk(
    base_url: str,
    token: str,
    version: str | None = None,
    request_hooks: Sequence[Callable[[httpx.Request], Awaitable[None]]] = (),
    response_hooks: Sequence[Callable[[httpx.Response], Awaitable[None]]] = (),
) -> Any:
    """A `highlevel.HighLevel` client on `base_url` with a private integration token, at API `version` (the
    newest by default)."""
    try:
        from highlevel import HighLevel
    except ImportError:
        raise SdkMissing() from None

    class PointedHighLevel(HighLevel):  # the SDK's documented way to point it elsewhere: its class attributes
        BASE_URL = base_url.rstrip("/")
        API_VERSION = version or version_registry().newest.name

    client = PointedHighLevel(private_integration_token=token)
    hooks = client.http_client.event_hooks
    # Ours first: the SDK's own response hook raises on an error answer, and ours must see every answer.
    client.http_client.event_hooks = {
        "request": [*request_hooks, *hooks.get("request", [])],
        "response": [*response_hooks, *hooks.get("response", [])],
    }
    return client
