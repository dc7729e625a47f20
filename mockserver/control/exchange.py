"""One request as the sandbox serves it, from the contract's verdict to the answer sent.

The gateway fills it in step by step (who sent it, the location it acts on, the domain's answer, the rendered
payload); drift modes read and change it through their hooks; the journal records it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..contract.conformance import Verdict
from ..contract.model import OperationSpec
from ..contract.requests import CheckedRequest
from ..domain.models import Location, Token
from ..domain.phone_system import PhoneSystem
from ..errors import ApiError
from ..views import View


@dataclass(slots=True)
class Exchange:
    verdict: Verdict
    spec: OperationSpec  # the operation at the version served
    view: View  # that version's view
    system: PhoneSystem
    request: CheckedRequest  # its typed values and violations (the verdict's)
    location_id: str | None  # the location the request names (as sent, valid or not)
    token: Token | None = None  # who sent it, once authenticated
    problem: ApiError | None = None  # what refuses it before its scope is checked (a Version or token problem)
    location: Location | None = None  # the location it acts on, once access to it is granted
    result: Any = None  # the domain's answer, before the view renders it
    status: int = 0
    payload: Any = None  # the answer's body, before it is serialized
    headers: dict[str, str] = field(default_factory=dict)  # the answer's headers (rate limits, Retry-After)

    @property
    def version(self) -> str:
        return self.spec.version
