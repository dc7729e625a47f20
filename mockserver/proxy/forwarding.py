"""The proxy's forwarding path: each API request to the target and its answer back unchanged, then both judged.

The request is checked by the one conformance check (the sandbox's), the answer by verify's answer checks and
the ledger's (`verify/traffic.py`); both verdicts go into one journal entry. The answer is sent back first and
the exchange is judged after, on the event loop once the client has its answer, so that judging adds nothing
to what a client waits for. A purchase passes the purchase gate before anything is sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from .. import errors
from ..contract.conformance import Conformance, Verdict
from ..contract.outcomes import Classifier
from ..contract.requests import MAX_BODY_BYTES, route_violation
from ..control.journal import AnswerCheck, AnswerProblem, Journal, RequestDetails
from ..http.gateway import BodyTooLarge, ClientGone, read_body
from ..http.rendering import send_json
from ..verify.traffic import TrafficJudge, TrafficJudgement
from .gate import PurchaseGate
from .upstream import Unanswered, Upstream

MAX_FORWARDED_BODY = 1024 * 1024  # a request body the proxy buffers and forwards (the contract allows 64 KiB)
MAX_ANSWER_BYTES = 32 * 1024 * 1024  # an answer the proxy buffers to pass back and judge
NO_ANSWER = "no answer"  # the verdict of an exchange the target did not answer
# Headers of one connection, not of the message: never forwarded either way (RFC 9110, 7.6.1).
HOP_BY_HOP = {
    b"connection",
    b"keep-alive",
    b"proxy-authenticate",
    b"proxy-authorization",
    b"proxy-connection",
    b"te",
    b"trailer",
    b"transfer-encoding",
    b"upgrade",
}


@dataclass
class Observed:
    """One exchange, as the proxy saw it: what the report and the recording are made from."""

    method: str
    path: str
    query: str
    verdict: Verdict
    status: int | None  # None: the target did not answer
    answer: Any  # the answer's JSON, or None
    judgement: TrafficJudgement | None
    elapsed_ms: float
    body: bytes | None = None  # the request's body, as sent
    problem: str = ""  # why there is no answer


Observer = Callable[[Observed], None]


@dataclass
class _Exchange:
    """One request on its way through the proxy."""

    method: str
    path: str
    query: str
    body: bytes | None
    verdict: Verdict
    started: float


class Forwarder:
    """The ASGI application of the API's paths: forwards, answers, then judges and records."""

    def __init__(
        self,
        upstream: Upstream,
        journal: Journal,
        gate: PurchaseGate,
        judge: TrafficJudge | None = None,
        conformance: Conformance | None = None,
        observers: list[Observer] | None = None,
    ) -> None:
        self.upstream = upstream
        self.journal = journal
        self.gate = gate
        self.judge = judge or TrafficJudge()
        self.conformance = conformance or Conformance()
        self.classifier = Classifier()
        self.observers = observers or []
        self.pending: set[asyncio.Task[None]] = set()  # exchanges answered, being judged

    async def __call__(self, scope, receive, send) -> None:
        started = time.perf_counter()
        method, path = scope["method"], scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        try:
            body = await read_body(scope, receive, MAX_FORWARDED_BODY)
        except BodyTooLarge:
            error = errors.error_for_status(413, f"lcphone proxy: request body larger than {MAX_FORWARDED_BODY} bytes")
            await send_json(send, error.status, error.to_body())
            exchange = _Exchange(method, path, query, None, self._verdict(scope, query, None, True), started)
            self._record(exchange, error.status, None)
            return
        except ClientGone:  # nothing to forward, no one to answer
            return
        exchange = _Exchange(method, path, query, body, self._verdict(scope, query, body), started)
        operation = exchange.verdict.operation
        if operation is not None and operation.spends_money:
            refusal = self.gate.admit(f"{method} {path}")
            if refusal is not None:
                await send_json(send, refusal.status, refusal.to_body(), refusal.headers)
                self._record(exchange, refusal.status, None, ("refused-by-proxy",))
                return
        raw_path = scope.get("raw_path") or path.encode()
        headers = [
            (name, value)
            for name, value in scope["headers"]
            if name not in HOP_BY_HOP and name not in (b"host", b"content-length")
        ]
        try:
            status, answer_headers, content = await self.upstream.send(
                method, raw_path.decode("latin-1") + (f"?{query}" if query else ""), headers, body
            )
        except Unanswered as failure:
            problem = str(failure)
            error = errors.error_for_status(
                504 if failure.timed_out else 502,
                f"lcphone proxy: the target {self.upstream.target} did not answer: {problem}",
            )
            await send_json(send, error.status, error.to_body())
            check = AnswerCheck((AnswerProblem.bounded(NO_ANSWER, "", "no answer", "an answer", problem),))
            self._record(exchange, error.status, check)
            self._tell(
                Observed(method, path, query, exchange.verdict, None, None, None, self._ms(started), body, problem)
            )
            return
        elapsed = self._ms(started)
        passed = [(name.lower(), value) for name, value in answer_headers if name.lower() not in HOP_BY_HOP]
        if not any(name == b"content-length" for name, _ in passed):
            passed.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": passed})
        await send({"type": "http.response.body", "body": content})
        # Judged once this cycle is over: a client on a kept-alive connection sends its next request meanwhile.
        task = asyncio.get_running_loop().create_task(self._judge(exchange, status, passed, content, elapsed))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def drain(self) -> None:
        """Waits until every exchange answered so far is judged and recorded."""
        while self.pending:
            await asyncio.gather(*self.pending, return_exceptions=True)

    @staticmethod
    def _ms(started: float) -> float:
        return (time.perf_counter() - started) * 1000

    def _verdict(self, scope, query: str, body: bytes | None, too_large: bool = False) -> Verdict:
        found = self.conformance.operations.match(scope["method"], scope["path"])
        if found is None:
            return self.conformance.verdict(scope["method"], scope["path"], query, scope["headers"], body)
        operation, path_params = found
        too_large = too_large or (body is not None and len(body) > MAX_BODY_BYTES)
        return self.conformance.check(operation, path_params, list(scope["headers"]), query, body, too_large)

    async def _judge(
        self, exchange: _Exchange, status: int, headers: list[tuple[bytes, bytes]], content: bytes, elapsed: float
    ) -> None:
        verdict = exchange.verdict
        named = {name.decode("latin-1"): value.decode("latin-1") for name, value in headers}
        judgement: TrafficJudgement | None = None
        try:
            judgement = self.judge.judge(verdict, status, named, decoded(named, content), elapsed)
            check = judgement.check if judgement is not None else None
        except Exception as crash:  # a bug of the checks must cost neither the client its answer, nor the proxy
            problem = f"the answer could not be checked ({type(crash).__name__}: {crash})"
            check = AnswerCheck((AnswerProblem.bounded(NO_ANSWER, "", "not checked", "a checked answer", problem),))
        answer = judgement.answer if judgement is not None else None
        outcomes: tuple[str, ...] = ()
        if verdict.operation is not None:
            outcomes = self.classifier.classify(
                verdict.operation.id,
                verdict.version,
                status,
                answer,
                verdict.request.params,
                verdict.request.body,
                verdict.location_id,
            )
        self._record(exchange, status, check, outcomes)
        self._tell(
            Observed(
                exchange.method,
                exchange.path,
                exchange.query,
                verdict,
                status,
                answer,
                judgement,
                elapsed,
                exchange.body,
            )
        )

    def _record(self, exchange: _Exchange, status: int, check: AnswerCheck | None, outcomes=()) -> None:
        verdict, method, path = exchange.verdict, exchange.method, exchange.path
        headers = verdict.headers
        violations = verdict.violations if verdict.operation is not None else [route_violation(method, path)]
        self.journal.record(
            method,
            path,
            exchange.query,
            verdict.operation.id if verdict.operation else None,
            status,
            violations,
            verdict.version,
            elapsed_ms=self._ms(exchange.started),
            location_id=verdict.location_id,
            request=RequestDetails.bounded(
                verdict.request.token,
                headers.get("version"),
                headers.get("content-type"),
                exchange.body,
                headers.get("x-lcphone-test"),
            ),
            outcomes=tuple(outcomes),
            answer=check,
        )

    def _tell(self, observed: Observed) -> None:
        for observer in self.observers:
            observer(observed)


def decoded(headers: dict[str, str], content: bytes) -> bytes:
    """The answer's body without its content encoding (gzip, deflate, br...), for the checks; as is without one."""
    encoding = headers.get("content-encoding", "").strip().lower()
    if not encoding or encoding == "identity":
        return content
    try:
        return httpx.Response(200, headers={"content-encoding": encoding}, content=content).content
    except httpx.DecodingError:
        return content  # judged as it came: the checks say it is not JSON
