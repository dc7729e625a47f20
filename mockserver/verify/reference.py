"""The reference: lcphone's own sandbox, set up where the target stands, to say what it answers to a probe.

When the target does otherwise than the sandbox (a fidelity gap), the report sets the two answers side by
side. The reference holds the target's location id (as the default scenario's first location: its numbers,
its pool, its RCS senders), the other location verify was given, and tokens with the scopes verify's tokens
have, so that every probe means the same to it as to the target.
"""

from __future__ import annotations

import copy

import httpx
import orjson

from ..contract.operations import OperationRegistry
from ..domain.scenario import Scenario
from ..http.transport import SyncASGITransport
from ..sandbox import Sandbox
from .checks import Answer
from .probes import Probe

REFERENCE_URL = "http://lcphone.reference"


class Reference:
    def __init__(
        self,
        location_id: str,
        run_token: str,
        limited_token: str | None = None,
        limited_scopes: frozenset[str] = frozenset(),
        operations: OperationRegistry | None = None,
    ) -> None:
        document = copy.deepcopy(Scenario.default().document)
        first = document["locations"][0]
        document["locations"] = [first, *(entry for entry in document["locations"][1:] if entry["id"] != location_id)]
        first["id"] = location_id
        first["tokens"] = []
        self.sandbox = Sandbox(scenario=Scenario.from_document(document), operations=operations)
        self.tokens = {run_token: self.sandbox.mint_token(location_id).value}
        if limited_token:
            self.tokens[limited_token] = self.sandbox.mint_token(location_id, sorted(limited_scopes)).value
        self.run_token = run_token
        self.client = httpx.Client(transport=SyncASGITransport(self.sandbox.app), base_url=REFERENCE_URL)

    def _authorization(self, probe: Probe) -> str | None:
        sent = f"Bearer {self.run_token}" if probe.authorization is None else probe.authorization
        if not sent:
            return None
        scheme, _, token = sent.partition(" ")
        return f"{scheme} {self.tokens.get(token, token)}" if token else sent

    def ask(self, probe: Probe) -> Answer | None:
        headers = dict(probe.headers)
        authorization = self._authorization(probe)
        if authorization is not None:
            headers["Authorization"] = authorization
        content = None
        if probe.body is not None:
            content = orjson.dumps(probe.body)
            headers["Content-Type"] = "application/json"
        try:
            response = self.client.request(
                probe.operation.method, probe.path(), params=list(probe.query), headers=headers, content=content
            )
        except httpx.HTTPError:
            return None
        return Answer.of(response)

    def close(self) -> None:
        self.client.close()
