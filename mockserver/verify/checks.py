"""The checks that confirm the fidelity ledger's behaviours against a target, by name (`verify:` in the ledger).

Two kinds:
- answer checks judge each answer verify receives (its shape against the contract, what the sandbox always
  sends, who may call, what a refusal says, how fast);
- behaviour checks send requests of their own and say, per behaviour, whether it holds (which numbers a
  search answers, how pages split a list...). Each runs twice: against the target, and against a reference
  sandbox set up where the target stands, so that a fidelity gap says what the sandbox answers too.

A check that cannot tell (the target has no number to page through, the run may not buy) says why: it is
listed as not checked, never as drift. Nothing here buys a number; the purchase checks are `purchases.py`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import phonenumbers

from ..contract.model import OperationSpec
from ..contract.operations import OperationRegistry
from ..contract.versions import ApiVersion
from .probes import Probe, ProbeBuilder

SEARCH, LIST, POOLS = "searchAvailableNumbers", "listActiveNumbers", "listNumberPools"


@dataclass
class Answer:
    """What a target answered to one probe."""

    status: int
    headers: httpx.Headers
    body: Any  # the parsed JSON, or None
    text: str

    @classmethod
    def of(cls, response: httpx.Response) -> Answer:
        try:
            body = response.json()
        except ValueError:
            body = None
        return cls(response.status_code, response.headers, body, response.text)

    def brief(self, limit: int = 160) -> str:
        text = " ".join(self.text.split())
        return f"answers {self.status}: {text[:limit]}{'...' if len(text) > limit else ''}"


Ask = Callable[[Probe], "Answer | None"]


@dataclass
class Observation:
    """Whether one behaviour held in one instance (`key`), and what was seen."""

    behaviour: str  # its ledger id
    key: str  # which instance, so that the target's and the sandbox's can be set side by side
    holds: bool | None  # None: it could not be told (`summary` says why)
    probe: Probe
    summary: str
    status: int | None = None


@dataclass
class CheckContext:
    """What a behaviour check needs: where it asks, and the contract of the version it checks."""

    version: ApiVersion
    operations: OperationRegistry
    builder: ProbeBuilder
    ask: Ask
    versions: tuple[str, ...] = ()  # the versions of the run
    extra: dict[str, Any] = field(default_factory=dict)

    def spec(self, operation_id: str) -> OperationSpec | None:
        operation = self.operations.operations.get(operation_id)
        return operation.versions.get(self.version.name) if operation else None

    def probe(self, spec: OperationSpec, label: str, **values: Any) -> Probe:
        """The required parameters of `spec` at their examples, and `values` (None: left out)."""
        base = {name: value for name, value in self.builder.base_values(spec).items() if value[0].required}
        for name, value in values.items():
            parameter = spec.parameter(name)
            if parameter is None:
                continue
            if value is None:
                base.pop(name, None)
            else:
                base[name] = (parameter, value)
        return self.builder.probe(spec, label, base, rule=f"behaviours ({label.split(':')[0]})")

    def listed(self, body: Any, spec: OperationSpec) -> Any:
        """An answer's payload: inside the version's envelope where the operation answers in one."""
        version = self.version
        if spec.answers_in(version.envelope) and isinstance(body, dict):
            return body.get(version.envelope_answer)
        return body


BehaviourCheck = Callable[[CheckContext], Iterator[Observation]]
BEHAVIOUR_CHECKS: dict[str, BehaviourCheck] = {}
ONCE_PER_RUN: set[str] = set()  # checks that compare versions: run once, not at each version


def behaviour_check(name: str, once: bool = False) -> Callable[[BehaviourCheck], BehaviourCheck]:
    def register(check: BehaviourCheck) -> BehaviourCheck:
        BEHAVIOUR_CHECKS[name] = check
        if once:
            ONCE_PER_RUN.add(name)
        return check

    return register


# The checks that judge every answer (in runner.py and findings.py); named here so that the ledger can name them.
ANSWER_CHECKS = ("answer-schema", "sent-fields", "auth", "refusals", "wire-forms", "latency")


def known_checks() -> set[str]:
    """Every check a ledger entry may name (the purchase check registers itself from `purchases.py`)."""
    return {*ANSWER_CHECKS, *BEHAVIOUR_CHECKS}


def _national(e164: str) -> str:
    try:
        return str(phonenumbers.parse(e164).national_number)
    except phonenumbers.NumberParseException:
        return e164.lstrip("+")


def _numbers(answer: Answer | None) -> list[dict[str, Any]] | None:
    if answer is None or answer.status != 200 or not isinstance(answer.body, dict):
        return None
    numbers = answer.body.get("numbers")
    return [n for n in numbers if isinstance(n, dict)] if isinstance(numbers, list) else None


_INFINITIVES = {"begins": "begin", "ends": "end", "has": "have", "is": "be"}


def _must(wanted: str) -> str:
    """ "begins with 415, can send SMS and is local" as what each number must do: "begin with 415, ... be local"."""
    return " ".join(_INFINITIVES.get(word, word) for word in wanted.split(" "))


def _every(behaviour: str, key: str, probe: Probe, answer: Answer | None, test, wanted: str) -> Observation:
    """Whether every number of a search answer passes `test`; `wanted` says what each must be."""
    numbers = _numbers(answer)
    status = answer.status if answer else None
    if numbers is None:
        return Observation(behaviour, key, None, probe, f"no list of numbers to look at ({status})", status)
    if not numbers:
        return Observation(behaviour, key, None, probe, "it answered no number: nothing to tell", status)
    failing = [str(n.get("phoneNumber")) for n in numbers if not test(n)]
    if not failing:
        return Observation(behaviour, key, True, probe, f"each of its {len(numbers)} numbers {wanted}", status)
    shown = ", ".join(failing[:3]) + (" ..." if len(failing) > 3 else "")
    summary = f"{len(failing)} of its {len(numbers)} numbers do not: {shown} (each must {_must(wanted)})"
    return Observation(behaviour, key, False, probe, summary, status)


# -- search ----------------------------------------------------------------------------------------------
SEARCH_CASES: list[tuple[str, str, dict[str, Any], Callable[[dict[str, Any]], bool], str]] = [
    # (behaviour, key, the request's values, what each number must pass, in words)
    (
        "search.first-part",
        "firstPart=415",
        {"firstPart": "415"},
        lambda n: _national(str(n.get("phoneNumber"))).startswith("415"),
        "begins with 415",
    ),
    (
        "search.last-part",
        "lastPart=7",
        {"lastPart": "7"},
        lambda n: _national(str(n.get("phoneNumber"))).endswith("7"),
        "ends with 7",
    ),
    (
        "search.anywhere",
        "anywhere=55",
        {"anywhere": "55"},
        lambda n: "55" in _national(str(n.get("phoneNumber"))),
        "has 55 in it",
    ),
    (
        "search.number-types",
        "numberTypes=tollFree",
        {"numberTypes": ["tollFree"]},
        lambda n: (n.get("price") or {}).get("number_type") == "tollFree",
        "is a tollFree number",
    ),
    (
        "search.capabilities",
        "smsEnabled, mmsEnabled and voiceEnabled true",
        {"smsEnabled": True, "mmsEnabled": True, "voiceEnabled": True},
        lambda n: all((n.get("capabilities") or {}).get(c) is True for c in ("SMS", "MMS", "voice")),
        "can send SMS and MMS and take calls",
    ),
    ("search.country", "countryCode=CA", {"countryCode": "CA"}, lambda n: n.get("isoCountry") == "CA", "is of CA"),
    (
        "search.combined",
        "firstPart=415, smsEnabled, numberTypes=local",
        {"firstPart": "415", "smsEnabled": True, "numberTypes": ["local"]},
        lambda n: (
            _national(str(n.get("phoneNumber"))).startswith("415")
            and (n.get("capabilities") or {}).get("SMS") is True
            and (n.get("price") or {}).get("number_type") == "local"
        ),
        "begins with 415, can send SMS and is local",
    ),
]
NEUTRAL_SEARCH = {
    "firstPart": "",
    "lastPart": "",
    "anywhere": "",
    "numberTypes": ["local"],
    "smsEnabled": False,
    "mmsEnabled": False,
    "voiceEnabled": False,
    "countryCode": "US",
}


@behaviour_check("search-filters")
def search_filters(ctx: CheckContext) -> Iterator[Observation]:
    spec = ctx.spec(SEARCH)
    if spec is None:
        return
    for behaviour, key, values, test, wanted in SEARCH_CASES:
        probe = ctx.probe(spec, f"search: {key}", **{**NEUTRAL_SEARCH, **values})
        answer = ctx.ask(probe)
        yield _every(behaviour, key, probe, answer, test, wanted)
        if behaviour == "search.first-part":
            yield _every(
                "search.country", "countryCode=US", probe, answer, lambda n: n.get("isoCountry") == "US", "is of US"
            )
            yield _limit(probe, answer)
    yield from _no_match(ctx, spec)
    yield from _fingerprints(ctx, spec)


def _limit(probe: Probe, answer: Answer | None) -> Observation:
    numbers = _numbers(answer)
    status = answer.status if answer else None
    if numbers is None:
        return Observation("search.limit", "at most 20", None, probe, f"no list of numbers ({status})", status)
    holds = len(numbers) <= 20
    return Observation("search.limit", "at most 20", holds, probe, f"it answered {len(numbers)} numbers", status)


def _no_match(ctx: CheckContext, spec: OperationSpec) -> Iterator[Observation]:
    # No number of the US begins with 0 (NANP area codes do not): a search that can match nothing.
    probe = ctx.probe(
        spec, "search: firstPart=000, which no number of the US begins with", **{**NEUTRAL_SEARCH, "firstPart": "000"}
    )
    answer = ctx.ask(probe)
    numbers = _numbers(answer)
    status = answer.status if answer else None
    holds = status == 200 and numbers == []
    summary = "a 200 with an empty list" if holds else (answer.brief() if answer else "no answer")
    yield Observation("search.no-match", "firstPart=000", holds, probe, summary, status)


def _fingerprints(ctx: CheckContext, spec: OperationSpec) -> Iterator[Observation]:
    probe = ctx.probe(spec, "search: the same search twice", **NEUTRAL_SEARCH)
    prints = []
    for _ in range(2):
        answer = ctx.ask(probe)
        if answer is None or answer.status != 200 or not isinstance(answer.body, dict):
            yield Observation("search.fingerprint", "two searches", None, probe, "no search answered 200")
            return
        prints.append(answer.body.get("fingerprintId"))
    holds = all(isinstance(p, str) and p for p in prints) and prints[0] != prints[1]
    summary = "two searches carried two fingerprintIds" if holds else f"fingerprintIds {prints!r}"
    yield Observation("search.fingerprint", "two searches", holds, probe, summary, 200)


# -- active numbers ----------------------------------------------------------------------------------------
def _page(ctx: CheckContext, spec: OperationSpec, label: str, **values: Any) -> tuple[Probe, Answer | None, Any]:
    probe = ctx.probe(spec, label, **values)
    answer = ctx.ask(probe)
    listed = ctx.listed(answer.body, spec) if answer is not None and answer.status == 200 else None
    return probe, answer, listed if isinstance(listed, dict) else None


def _answer_fields(ctx: CheckContext, spec: OperationSpec) -> set[str]:
    """The fields the contract lists for the operation's success answer (inside the envelope, where there is one)."""
    schema = spec.success.schema if spec.success else None
    if isinstance(schema, dict) and spec.answers_in(ctx.version.envelope):
        schema = schema.get("properties", {}).get(ctx.version.envelope_answer)
    return set(schema.get("properties", {})) if isinstance(schema, dict) else set()


def _phone_numbers(listed: Any) -> list[str] | None:
    if not isinstance(listed, dict) or not isinstance(listed.get("numbers"), list):
        return None
    return [str(n.get("phoneNumber")) for n in listed["numbers"] if isinstance(n, dict)]


def _everything(ctx: CheckContext, spec: OperationSpec, **values: Any) -> tuple[Probe, list[str] | None]:
    """Every active number of the location, in one page as large as the contract allows."""
    size = spec.parameter("pageSize")
    largest = size.schema.get("maximum", 1000) if size and isinstance(size.schema, dict) else 1000
    probe, _, listed = _page(ctx, spec, "list: every number", pageSize=largest, page=0, **values)
    return probe, _phone_numbers(listed)


@behaviour_check("pagination")
def pagination(ctx: CheckContext) -> Iterator[Observation]:
    spec = ctx.spec(LIST)
    if spec is None:
        return
    probe, everything = _everything(ctx, spec, skipNumberPool=False)
    if everything is None or len(everything) < 2:
        why = "the location holds fewer than 2 numbers" if everything is not None else "the list did not answer 200"
        for behaviour in ("active.page-size", "active.pages", "active.page-past-the-end", "active.total"):
            yield Observation(behaviour, "pages", None, probe, f"nothing to page through: {why}")
        return
    size = max(1, math.ceil(len(everything) / 3))
    pages, sizes_kept, echoes, totals = [], True, True, []
    for index in range(4):
        page_probe, _, listed = _page(
            ctx, spec, f"list: page {index} of {size}", pageSize=size, page=index, skipNumberPool=False
        )
        numbers = _phone_numbers(listed)
        if numbers is None:
            yield Observation("active.pages", "pages", None, page_probe, f"page {index} did not answer a list")
            return
        pages.append(numbers)
        sizes_kept &= len(numbers) <= size
        echoes &= listed.get("pageSize", size) == size and listed.get("page", index) == index
        if "total" in listed:
            totals.append(listed["total"])
    joined = [number for page in pages for number in page]
    where = f"{len(everything)} numbers in pages of {size}"
    yield Observation(
        "active.page-size",
        "pages",
        sizes_kept and echoes,
        page_probe,
        f"{where}: page sizes {[len(p) for p in pages]}" + ("" if echoes else ", pageSize or page not echoed as asked"),
    )
    yield Observation(
        "active.pages",
        "pages",
        joined == everything,
        page_probe,
        f"{where}: the pages together list each number once, in order"
        if joined == everything
        else f"{where}: the pages list {joined[: size * 2]}..., the whole list {everything[: size * 2]}...",
    )
    past = len(pages) + 1 + len(everything)
    past_probe, past_answer, listed = _page(
        ctx, spec, f"list: page {past}, past the end", pageSize=size, page=past, skipNumberPool=False
    )
    numbers = _phone_numbers(listed)
    yield Observation(
        "active.page-past-the-end",
        "past the end",
        numbers == [],
        past_probe,
        "a 200 with an empty list" if numbers == [] else (past_answer.brief() if past_answer else "no answer"),
    )
    if totals or "total" in _answer_fields(ctx, spec):
        holds = bool(totals) and all(total == len(everything) for total in totals)
        yield Observation("active.total", "pages", holds, page_probe, f"totals {totals} for {len(everything)} numbers")


@behaviour_check("skip-number-pool")
def skip_number_pool(ctx: CheckContext) -> Iterator[Observation]:
    spec = ctx.spec(LIST)
    if spec is None or spec.parameter("skipNumberPool") is None:
        return
    probe, skipped = _everything(ctx, spec, skipNumberPool=True)
    _, default = _everything(ctx, spec, skipNumberPool=None)
    _, kept = _everything(ctx, spec, skipNumberPool=False)
    if skipped is None or default is None or kept is None:
        yield Observation("active.skip-number-pool", "pools", None, probe, "a list did not answer 200")
        return
    pooled = set(_pooled(ctx))
    problems = []
    if default != skipped:
        problems.append("left out, it lists other numbers than skipNumberPool=true")
    if not set(skipped) <= set(kept):
        problems.append("skipNumberPool=false lists fewer numbers than true")
    if pooled & set(skipped):
        problems.append(f"skipNumberPool=true lists pooled numbers: {sorted(pooled & set(skipped))[:3]}")
    if not pooled <= set(kept):
        problems.append(f"skipNumberPool=false leaves out pooled numbers: {sorted(pooled - set(kept))[:3]}")
    seen = f"{len(kept)} numbers, {len(pooled)} of them in pools; skipNumberPool=true lists {len(skipped)}"
    yield Observation("active.skip-number-pool", "pools", not problems, probe, "; ".join(problems) or seen)


def _pooled(ctx: CheckContext) -> list[str]:
    spec = ctx.spec(POOLS)
    if spec is None:
        return []
    answer = ctx.ask(ctx.probe(spec, "pools: every pool"))
    if answer is None or answer.status != 200 or not isinstance(answer.body, dict):
        return []
    data = answer.body.get("data")
    pools: list[Any] = data if isinstance(data, list) else []
    return [
        str(n.get("phoneNumber"))
        for pool in pools
        if isinstance(pool, dict)
        for n in pool.get("numbers") or []
        if isinstance(n, dict)
    ]


@behaviour_check("search-filter")
def search_filter(ctx: CheckContext) -> Iterator[Observation]:
    spec = ctx.spec(LIST)
    if spec is None or spec.parameter("searchFilter") is None:
        return
    probe, everything = _everything(ctx, spec, skipNumberPool=False)
    if not everything:
        yield Observation("active.search-filter", "filters", None, probe, "the location holds no number to filter")
        return
    wanted = everything[0]
    digits = wanted[-4:]
    problems = []
    by_digits_probe, _, listed = _page(
        ctx, spec, f"list: searchFilter={digits}", searchFilter=digits, skipNumberPool=False, pageSize=1000
    )
    found = _phone_numbers(listed) or []
    if wanted not in found:
        problems.append(f"searchFilter={digits} did not list {wanted}")
    calling = "+" + str(phonenumbers.parse(wanted).country_code) if wanted.startswith("+") else ""
    absent = next(
        (
            code
            for code in ("+55", "+44", "+91", "+61", "+33", "+1")
            if not any(n.startswith(code) for n in everything) and any(code[1:] in n for n in everything)
        ),
        None,
    )
    if absent:
        plus_probe, _, listed = _page(
            ctx, spec, f"list: searchFilter={absent}", searchFilter=absent, skipNumberPool=False, pageSize=1000
        )
        wrong = _phone_numbers(listed) or []
        if wrong:
            by_digits_probe = plus_probe
            problems.append(f"searchFilter={absent} listed {wrong[:3]}, which do not begin {absent} (its + counts)")
    if calling:
        _, _, listed = _page(
            ctx, spec, f"list: searchFilter={calling}", searchFilter=calling, skipNumberPool=False, pageSize=1000
        )
        if set(_phone_numbers(listed) or []) != {n for n in everything if n.startswith(calling)}:
            problems.append(f"searchFilter={calling} did not list exactly the numbers that begin {calling}")
    seen = f"{digits} found {wanted}" + (f"; {absent} found none" if absent else "")
    yield Observation("active.search-filter", "filters", not problems, by_digits_probe, "; ".join(problems) or seen)


@behaviour_check("rcs-sender-ids")
def rcs_sender_ids(ctx: CheckContext) -> Iterator[Observation]:
    spec = ctx.spec(LIST)
    if spec is None or spec.parameter("includeRcsSenderIds") is None:
        return
    probe, _, asked = _page(ctx, spec, "list: includeRcsSenderIds=true", includeRcsSenderIds=True)
    _, _, plain = _page(ctx, spec, "list: includeRcsSenderIds=false", includeRcsSenderIds=False)
    if asked is None or plain is None:
        yield Observation("active.rcs-sender-ids", "rcs", None, probe, "a list did not answer 200")
        return
    holds = isinstance(asked.get("rcsSenderIds"), list) and "rcsSenderIds" not in plain
    summary = (
        f"true adds {len(asked['rcsSenderIds'])} rcsSenderIds; false leaves the field out"
        if holds
        else f"true: rcsSenderIds {'absent' if 'rcsSenderIds' not in asked else 'present'}; "
        f"false: {'present' if 'rcsSenderIds' in plain else 'absent'}"
    )
    yield Observation("active.rcs-sender-ids", "rcs", holds, probe, summary)


@behaviour_check("versions-agree", once=True)
def versions_agree(ctx: CheckContext) -> Iterator[Observation]:
    spec = ctx.spec(LIST)
    if spec is None or len(ctx.versions) < 2:
        return
    lists: dict[str, list[str] | None] = {}
    probe = None
    for version in ctx.versions:
        other = ctx.operations[LIST].versions.get(version)
        if other is None:
            continue
        at = CheckContext(ctx.extra["version registry"][version], ctx.operations, ctx.builder, ctx.ask, ctx.versions)
        probe, lists[version] = _everything(at, other, skipNumberPool=False)
    if probe is None or any(numbers is None for numbers in lists.values()):
        yield Observation(
            "active.same-state-at-every-version",
            "versions",
            None,
            probe or ctx.probe(spec, "list"),
            "a version's list did not answer 200",
        )
        return
    first = next(iter(lists.values()))
    holds = all(numbers == first for numbers in lists.values())
    summary = ", ".join(f"{version}: {len(numbers or [])} numbers" for version, numbers in lists.items())
    yield Observation(
        "active.same-state-at-every-version",
        "versions",
        holds,
        probe,
        summary + ("" if holds else " (not the same numbers in the same order)"),
    )


# -- pools and rate limits ----------------------------------------------------------------------------------
@behaviour_check("pools")
def pools(ctx: CheckContext) -> Iterator[Observation]:
    spec = ctx.spec(POOLS)
    if spec is None:
        return
    probe = ctx.probe(spec, "pools: every pool")
    answer = ctx.ask(probe)
    if answer is None or answer.status != 200 or not isinstance(answer.body, dict):
        yield Observation("pools.total", "pools", None, probe, "the pools did not answer 200")
        return
    data = answer.body.get("data")
    count = len(data) if isinstance(data, list) else None
    total = answer.body.get("total")
    yield Observation("pools.total", "pools", total == count, probe, f"total {total!r} for {count} pools", 200)
    members = set(_pooled(ctx))
    list_spec = ctx.spec(LIST)
    if list_spec is None:
        return
    _, everything = _everything(ctx, list_spec, skipNumberPool=False)
    if everything is None:
        return
    strangers = sorted(members - set(everything))
    yield Observation(
        "pools.members",
        "pools",
        not strangers,
        probe,
        f"pools hold {len(members)} numbers"
        + (f", {strangers[:3]} not the location's" if strangers else ", every one the location's"),
    )


@behaviour_check("rate-limit-arithmetic", once=True)
def rate_limit_arithmetic(ctx: CheckContext) -> Iterator[Observation]:
    spec = ctx.spec(POOLS) or ctx.spec(LIST)
    if spec is None:
        return
    probe = ctx.probe(spec, "rate limits: three requests in a row")
    seen: list[tuple[int, int, int]] = []
    for _ in range(3):
        answer = ctx.ask(probe)
        if answer is None:
            return
        try:
            seen.append(
                tuple(
                    int(answer.headers[name])
                    for name in ("X-RateLimit-Remaining", "X-RateLimit-Max", "X-RateLimit-Daily-Remaining")  # type: ignore[arg-type]
                )
            )
        except (KeyError, ValueError):
            yield Observation(
                "answers.rate-limit-arithmetic",
                "counts",
                None,
                probe,
                "the answers do not carry the rate-limit headers (reported apart)",
            )
            return
    remaining = [r for r, _, _ in seen]
    daily = [d for _, _, d in seen]
    within = all(r <= m for r, m, _ in seen)
    # A window may start afresh between two requests: at least one step must go down, none may go up twice.
    falls = sum(1 for a, b in zip(remaining, remaining[1:], strict=False) if b < a)
    holds = (
        within and falls >= 1 and daily[-1] < daily[0] and all(b <= a for a, b in zip(daily, daily[1:], strict=False))
    )
    summary = f"X-RateLimit-Remaining {remaining}, X-RateLimit-Daily-Remaining {daily} over three requests"
    yield Observation("answers.rate-limit-arithmetic", "counts", holds, probe, summary)
