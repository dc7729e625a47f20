"""What the sandbox always sends beyond what the vendor promises: the contract's `x-lcphone-sends` (D25), the
fidelity ledger's `answers.sent-fields`. Every kind of answer, success or refusal, at each version."""

from __future__ import annotations

import httpx

from helpers import (
    LEGACY,
    UNCONNECTED_LOCATION,
    UNCONNECTED_TOKEN,
    Api,
    auth,
    contract_problems,
)
from mockserver.contract.conformance import conformance
from mockserver.contract.responses import check_response


def test_every_answer_carries_what_the_sandbox_always_sends(raw_http: httpx.Client) -> None:
    api = Api(raw_http)
    _, bought = api.buy_first()
    answers = [
        api.pools(),
        api.search(),
        bought,
        api.active(),
        api.active(version=LEGACY),
        api.search(version=LEGACY),
        api.active(token="not-a-token"),  # 401
        api.active(pageSize=5000),  # 400
        api.active(UNCONNECTED_LOCATION, UNCONNECTED_TOKEN),  # 404
        api.purchase({}),  # 400
        raw_http.get("/phone-system/numbers/location/tDtDnQdgm2LXpyiqYvZ6", headers=auth(version="1999-01-01")),
    ]
    stricter = 0
    for answer in answers:
        assert contract_problems(answer) == [], (answer.request.url, answer.text)
        # What the sandbox promises itself is more than what the vendor promises: for errors, statusCode and
        # message, which the vendor's error documents do not require.
        spec = (
            conformance().verdict(answer.request.method, answer.request.url.path, "", answer.request.headers.raw).spec
        )
        assert spec is not None
        bare = answer.json()
        bare.pop("statusCode", None)
        body = httpx.Response(answer.status_code, json=bare).content
        promised = check_response(spec, answer.status_code, answer.headers, body)
        sandbox = check_response(spec, answer.status_code, answer.headers, body, "sandbox")
        stricter += len(sandbox) > len(promised)
    assert stricter >= 5  # every refusal, at least
