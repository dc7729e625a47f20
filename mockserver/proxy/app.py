"""A proxy: its parts (forwarder, purchase gate, journal, report, recording) and the ASGI app that serves them.

    proxy = Proxy("https://staging.example")   # tests reach every part without HTTP
    proxy.app                                  # the ASGI app: the API's paths forwarded, /__admin/ answered here
    report = proxy.finish()                    # the report, once the traffic is over

The admin surface is the sandbox's, for what applies to a proxy: health, the journal, the contract coverage
of the traffic, the inspector page, the contracts.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import httpx

from ..control.journal import Journal
from ..verify.traffic import TrafficJudge
from .admin import ADMIN_PATHS, admin_app
from .forwarding import MAX_ANSWER_BYTES, Forwarder, Observer
from .gate import PurchaseGate
from .recording import ScenarioRecorder
from .report import ProxyReport
from .upstream import Upstream


class Proxy:
    def __init__(
        self,
        target: str,
        *,
        allow_purchase: bool = False,
        max_purchases: int = 1,
        timeout: float = 30.0,
        max_latency_ms: int | None = None,
        record: bool = False,
        admin_key: str | None = None,
        allowed_hosts: tuple[str, ...] | None = None,
    ) -> None:
        self.target = target.rstrip("/")
        self.admin_key = admin_key
        # On loopback: the Host names its admin surface answers besides loopback's (None: any).
        self.allowed_hosts = tuple(h.lower() for h in allowed_hosts) if allowed_hosts is not None else None
        self.journal = Journal()
        self.gate = PurchaseGate(allow_purchase, max_purchases)
        self.report = ProxyReport(self.target, self.gate)
        self.recorder = ScenarioRecorder(self.target) if record else None
        observers: list[Observer] = [self.report.observe]
        if self.recorder is not None:
            observers.append(self.recorder.observe)
        self.upstream = Upstream(self.target, timeout, MAX_ANSWER_BYTES)
        self.forwarder = Forwarder(
            self.upstream, self.journal, self.gate, TrafficJudge(max_latency_ms=max_latency_ms), observers=observers
        )

    @property
    def classifier(self):
        return self.forwarder.classifier

    @functools.cached_property
    def app(self) -> Any:
        admin = admin_app(self)
        forwarder = self.forwarder

        async def app(scope, receive, send) -> None:
            if scope["type"] != "http":
                return
            path = scope["path"]
            if path.startswith(ADMIN_PATHS):
                await admin(scope, receive, send)
            else:
                await forwarder(scope, receive, send)

        return app

    def health(self) -> dict[str, Any]:
        report = self.report
        return {
            "status": "ok",
            "mode": "proxy",
            "target": self.target,
            "exchanges": report.exchanges,
            "conforming": report.clean,
            "purchases": {
                "allowed": self.gate.allowed,
                "sent": self.gate.sent,
                "refused": len(self.gate.refused),
                "max": self.gate.limit,
            },
        }

    def finish(self) -> ProxyReport:
        """The report, once the traffic is over: what the sandbox answers beside each fidelity gap."""
        self.report.finished = time.time()
        self.report.explain()
        return self.report

    async def aclose(self) -> None:
        """Once the traffic is over: every exchange judged, the connections to the target closed."""
        await self.forwarder.drain()
        await self.upstream.aclose()


def reachable(target: str, timeout: float) -> str | None:
    """None when the target answers HTTP at all (any status); else why not, in a few words."""
    try:
        httpx.get(target + "/", timeout=min(timeout, 10.0), follow_redirects=False)
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return None
