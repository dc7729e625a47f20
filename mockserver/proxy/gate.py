"""What the proxy lets through that costs money: no purchase unless `--allow-purchase`, then at most
`--max-purchases` of them, sent or not by the proxy itself (the target never sees one it refuses)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ApiError

REFUSED_HEADER = "X-Lcphone-Proxy"


@dataclass
class PurchaseGate:
    allowed: bool = False
    limit: int = 1
    sent: int = 0
    refused: list[str] = field(default_factory=list)  # the request lines of the purchases refused

    def admit(self, request_line: str) -> ApiError | None:
        """None: send it (and count it); else the refusal the client gets instead, naming the option."""
        if self.allowed and self.sent < self.limit:
            self.sent += 1
            return None
        self.refused.append(request_line[:300])
        if not self.allowed:
            why = (
                "lcphone proxy did not send this purchase: purchases cost real money. Start the proxy with "
                "--allow-purchase to send them (at most --max-purchases, default 1)."
            )
        else:
            why = (
                f"lcphone proxy did not send this purchase: --max-purchases {self.limit} already sent. "
                "Restart the proxy with a higher --max-purchases to send more."
            )
        return ApiError(403, why, "Forbidden", {REFUSED_HEADER: "purchase-refused"})
