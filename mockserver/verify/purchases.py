"""The purchase check: what only buying a number shows. It runs with `--allow-purchase` only, and spends at
most `--max-purchases` attempts in the whole run, across versions.

Following the contract's links: the operation that leads to the purchase (the search) offers a number; it is
bought (1 attempt); the operation the purchase leads to (the list) must show it. Then, while attempts are
left: the same purchase again, which must answer the same and buy nothing (2); the number again with a new
fingerprint, which must be refused as sold (3); another number with the first fingerprint, which must be
refused naming it (4). Each later step counts as an attempt because a target that gets it wrong buys.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..contract.model import OperationSpec
from ..errors import NUMBER_NO_LONGER_AVAILABLE
from .checks import Answer, CheckContext, Observation, _phone_numbers, behaviour_check
from .probes import PURCHASE, Probe

STEPS = ("purchase.listed", "purchase.idempotent-replay", "purchase.sold-once", "purchase.fingerprint-reused")


@dataclass
class PurchaseBudget:
    """The attempts a run may make that can cost money, and what they bought."""

    left: int | None  # None: no limit (the reference sandbox)
    bought: list[str] = field(default_factory=list)  # "number (version): why"

    def spend(self) -> bool:
        if self.left is None:
            return True
        if self.left <= 0:
            return False
        self.left -= 1
        return True


@dataclass
class Purchase:
    ctx: CheckContext
    spec: OperationSpec
    budget: PurchaseBudget

    def probe(self, label: str, body: dict[str, Any]) -> Probe:
        builder = self.ctx.builder
        return builder.probe(self.spec, label, builder.base_values(self.spec), rule=PURCHASE, body=body)

    def send(self, label: str, body: dict[str, Any], why: str) -> tuple[Probe, Answer | None]:
        probe = self.probe(label, body)
        answer = self.ctx.ask(probe)
        if answer is not None and 200 <= answer.status < 300:
            self.budget.bought.append(f"{body.get('phoneNumber')} ({self.spec.version}): {why}")
        return probe, answer


def _offers(ctx: CheckContext, spending: str) -> tuple[list[dict[str, Any]], str | None] | None:
    """The numbers a search without digit filters offers, and its fingerprint."""
    leading = [op for op in ctx.operations.leading_to(ctx.operations[spending]) if ctx.version.name in op.versions]
    if not leading:
        return None
    spec = leading[0].at(ctx.version.name)
    probe = ctx.probe(spec, "purchase: search", firstPart="", lastPart="", anywhere="")
    answer = ctx.ask(probe)
    if answer is None or answer.status != 200 or not isinstance(answer.body, dict):
        return None
    numbers = [n for n in answer.body.get("numbers") or [] if isinstance(n, dict)]
    return numbers, answer.body.get("fingerprintId")


def purchase_body(spec: OperationSpec, number: dict[str, Any], fingerprint: str) -> dict[str, Any]:
    """The contract's example body, for a number a search offered."""
    body = dict(spec.body_example or {})
    body.update(
        {
            "phoneNumber": number.get("phoneNumber"),
            "countryCode": number.get("isoCountry"),
            "numberType": (number.get("price") or {}).get("number_type", "local"),
            "fingerprintId": fingerprint,
        }
    )
    listed = spec.body_schema.get("properties", {}) if isinstance(spec.body_schema, dict) else {}
    if "locality" in body or "locality" in listed:
        body.update({"locality": number.get("locality") or "", "region": number.get("region") or ""})
    return body


def _not_told(ctx: CheckContext, steps: tuple[str, ...], probe: Probe, why: str) -> Iterator[Observation]:
    for behaviour in steps:
        yield Observation(behaviour, "purchase", None, probe, why)


@behaviour_check("purchase")
def purchase(ctx: CheckContext) -> Iterator[Observation]:
    budget: PurchaseBudget | None = ctx.extra.get("budget")
    spending = [op for op in ctx.operations.spending if ctx.version.name in op.versions]
    if budget is None or not spending:
        return
    spec = spending[0].at(ctx.version.name)
    placeholder = ctx.builder.probe(spec, "purchase", ctx.builder.base_values(spec), rule=PURCHASE)
    offers = _offers(ctx, spending[0].id)
    if not offers or not offers[0]:
        yield from _not_told(ctx, STEPS, placeholder, "the search offered no number to buy")
        return
    numbers, fingerprint = offers
    fingerprint = fingerprint or f"lcphone-verify-{int(time.time())}"
    buying = Purchase(ctx, spec, budget)
    if not budget.spend():
        yield from _not_told(ctx, STEPS, placeholder, "no purchase left: --max-purchases was spent")
        return
    body = purchase_body(spec, numbers[0], fingerprint)
    probe, bought = buying.send("purchase: the first number found", body, "bought")
    if bought is None or not 200 <= bought.status < 300:
        if bought is not None and bought.status in (401, 403):
            ctx.extra.setdefault("setup problems", []).append(
                f"the token may not purchase ({ctx.version.name}: answered {bought.status}); it needs scope "
                f"{', '.join(spec.scopes)}"
            )
        yield from _not_told(
            ctx, STEPS, probe, f"the purchase was not made ({bought.brief() if bought else 'no answer'})"
        )
        return
    yield _listed(ctx, spec, str(body["phoneNumber"]), probe)
    yield from _after_buying(buying, body, bought, numbers[1:])


def _after_buying(
    buying: Purchase, body: dict[str, Any], bought: Answer, others: list[dict[str, Any]]
) -> Iterator[Observation]:
    budget, placeholder = buying.budget, buying.probe("purchase", body)
    steps: list[tuple[str, Any]] = [
        ("purchase.idempotent-replay", lambda: _replay(buying, body, bought)),
        ("purchase.sold-once", lambda: _again(buying, body)),
        ("purchase.fingerprint-reused", lambda: _reused(buying, body, others)),
    ]
    for index, (behaviour, step) in enumerate(steps):
        if not budget.spend():
            needed = index + 2
            yield Observation(
                behaviour,
                "purchase",
                None,
                placeholder,
                f"needs --max-purchases {needed} or more (each attempt may buy)",
            )
            continue
        yield step()


def _listed(ctx: CheckContext, bought: OperationSpec, phone_number: str, probe: Probe) -> Observation:
    following = [
        op for op in ctx.operations.following(ctx.operations[bought.operation_id]) if bought.version in op.versions
    ]
    if not following:
        return Observation("purchase.listed", "purchase", None, probe, "no operation lists what was bought")
    spec = following[0].at(bought.version)
    listing = ctx.probe(spec, "purchase: the bought number is listed", searchFilter=phone_number)
    answer = ctx.ask(listing)
    listed = ctx.listed(answer.body, spec) if answer is not None and answer.status == 200 else None
    found = phone_number in (_phone_numbers(listed) or [])
    summary = f"the list shows {phone_number}" if found else "bought number not listed: the list does not show it"
    return Observation("purchase.listed", "purchase", found, listing, summary, answer.status if answer else None)


def _replay(buying: Purchase, body: dict[str, Any], first: Answer) -> Observation:
    probe, again = buying.send("purchase: the same purchase again (same fingerprint, same body)", body, "replayed")
    holds = again is not None and again.status == first.status and again.body == first.body
    summary = (
        "it answered the first purchase's answer again"
        if holds
        else f"it answered otherwise than the first time: {again.brief() if again else 'no answer'}"
    )
    return Observation("purchase.idempotent-replay", "purchase", holds, probe, summary, again.status if again else None)


def _again(buying: Purchase, body: dict[str, Any]) -> Observation:
    again = {**body, "fingerprintId": f"{body.get('fingerprintId')}-again"}
    probe, answer = buying.send("purchase: the same number again, a new fingerprint", again, "bought AGAIN")
    status = answer.status if answer else None
    message = answer.body.get("message") if answer and isinstance(answer.body, dict) else None
    if answer is not None and 200 <= answer.status < 300:
        return Observation(
            "purchase.sold-once",
            "purchase",
            False,
            probe,
            f"a sold number was sold again: answered {answer.status}",
            status,
        )
    holds = status == 400 and message == NUMBER_NO_LONGER_AVAILABLE
    summary = f"refused: {message!r}" if holds else (answer.brief() if answer else "no answer")
    return Observation("purchase.sold-once", "purchase", holds, probe, summary, status)


def _reused(buying: Purchase, body: dict[str, Any], others: list[dict[str, Any]]) -> Observation:
    placeholder = buying.probe("purchase", body)
    if not others:
        return Observation(
            "purchase.fingerprint-reused", "purchase", None, placeholder, "the search offered only one number"
        )
    other = purchase_body(buying.spec, others[0], str(body.get("fingerprintId")))
    probe, answer = buying.send(
        "purchase: another number with the first fingerprint", other, "bought with a reused fingerprint"
    )
    status = answer.status if answer else None
    message = answer.body.get("message") if answer and isinstance(answer.body, dict) else None
    holds = status == 400 and isinstance(message, str) and "fingerprintId" in message
    summary = f"refused: {message!r}" if holds else (answer.brief() if answer else "no answer")
    return Observation("purchase.fingerprint-reused", "purchase", holds, probe, summary, status)
