"""A model of the LC Phone service, as a hypothesis state machine that drives any target over HTTP.

The model knows only what it saw: the active numbers each location had when the
run began, the offers searches made, the purchases it made. So the same machine
runs against a fresh sandbox or against a real API that already holds data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, multiple, precondition, rule

from mockserver.contract.operations import registry as operation_registry
from mockserver.contract.versions import ApiVersion
from mockserver.contract.versions import registry as version_registry
from mockserver.domain.models import NUMBER_TYPES
from mockserver.domain.numbering import INVENTORY_COUNTRIES
from mockserver.errors import NUMBER_NO_LONGER_AVAILABLE

ADDRESS_SID = "AD" + "7" * 32
BUNDLE_SID = "BU" + "7" * 32
NEWEST = version_registry().newest.name


def listed_numbers(body: Any, version: ApiVersion) -> dict[str, Any]:
    """An active-numbers answer's list part at `version`: inside its envelope where it has one, with the field
    names of that version (a renamed field under its new name at the version that renamed it, else the old)."""
    spec = operation_registry()["listActiveNumbers"].at(version.name)
    listed = body[version.envelope_answer] if spec.answers_in(version.envelope) else body
    for old, new in version_registry().all_renamed().items():
        if old in listed or new in listed:
            renamed_here = old in version.renamed
            assert (new in listed) == renamed_here and (old in listed) != renamed_here, sorted(listed)
    return listed


@dataclass(frozen=True)
class Account:
    location_id: str
    token: str


@dataclass(frozen=True)
class Offer:
    """A number a search offered to a location, with that search's fingerprint."""

    account: int
    number: dict[str, Any]
    fingerprint_id: str


@dataclass
class Purchase:
    account: int
    body: dict[str, Any]
    answer: bytes


@dataclass
class PhoneApi:
    """The four operations over HTTP, answers returned as they came."""

    client: httpx.Client

    def search(self, account: Account, country: str, types: list[str], sms: bool, voice: bool) -> httpx.Response:
        params = {
            "firstPart": "",
            "lastPart": "",
            "anywhere": "",
            "numberTypes": ",".join(types),
            "smsEnabled": str(sms).lower(),
            "mmsEnabled": "false",
            "voiceEnabled": str(voice).lower(),
            "countryCode": country,
        }
        return self.client.get(
            f"/phone-system/numbers/location/{account.location_id}/available",
            params=params,
            headers=self._auth(account),
        )

    def purchase(self, account: Account, body: dict[str, Any]) -> httpx.Response:
        return self.client.post(
            f"/phone-system/numbers/location/{account.location_id}/purchase", json=body, headers=self._auth(account)
        )

    def active_page(
        self, account: Account, page: int, page_size: int, skip_pool: bool = False, version: str = NEWEST
    ) -> httpx.Response:
        params: dict[str, str | int] = {"page": page, "pageSize": page_size, "skipNumberPool": str(skip_pool).lower()}
        return self.client.get(
            f"/phone-system/numbers/location/{account.location_id}", params=params, headers=self._auth(account, version)
        )

    def pools(self, account: Account) -> httpx.Response:
        return self.client.get(
            "/phone-system/number-pools", params={"locationId": account.location_id}, headers=self._auth(account)
        )

    def all_active(self, account: Account, skip_pool: bool = False, version: str = NEWEST) -> list[str]:
        """Every active number, at any version: one state, a shape per version."""
        response = self.active_page(account, 0, 1000, skip_pool, version)
        assert response.status_code == 200, response.text
        listed = listed_numbers(response.json(), version_registry()[version])
        return [n["phoneNumber"] for n in listed["numbers"]]

    @staticmethod
    def _auth(account: Account, version: str = NEWEST) -> dict[str, str]:
        return {"Authorization": f"Bearer {account.token}", "Version": version}


def purchase_body(offer: Offer, fingerprint_id: str) -> dict[str, Any]:
    number = offer.number
    return {
        "phoneNumber": number["phoneNumber"],
        "countryCode": number["isoCountry"],
        "numberType": number["price"]["number_type"],
        "addressSid": ADDRESS_SID,
        "bundleSid": BUNDLE_SID,
        "skipLocationKYC": False,
        "paymentIntentId": "pi_model",
        "stripeAccountId": "acct_model",
        "paymentMethodId": "pm_model",
        "locality": number["locality"] or "",
        "region": number["region"] or "",
        "fingerprintId": fingerprint_id,
    }


@dataclass
class Target:
    """What the machine needs of a target: a client, accounts (one or more locations), and the rules it may use."""

    api: PhoneApi
    accounts: Callable[[], list[Account]]  # called at the start of every run (a sandbox may reset here)
    can_purchase: bool
    countries: tuple[str, ...] = INVENTORY_COUNTRIES
    account_count: int = field(default=2)


def _can_purchase(machine: PhoneSystemModel) -> bool:
    return machine.target.can_purchase


class PhoneSystemModel(RuleBasedStateMachine):
    """The rules of the service, checked against a target (`build_machine` binds one). Rules draw indexes
    into the target's accounts and countries, so that the same rules run over one location or several."""

    target: ClassVar[Target]
    offers = Bundle("offers")
    purchases = Bundle("purchases")

    def __init__(self) -> None:
        super().__init__()
        self.api = self.target.api
        self.accounts = self.target.accounts()
        assert len(self.accounts) == self.target.account_count
        # What each location owns, in the order the service lists it (date added, then number).
        self.owned: list[list[str]] = [self.api.all_active(a) for a in self.accounts]
        self.sold: set[str] = {n for numbers in self.owned for n in numbers}
        self.fingerprints = 0

    def _account(self, index: int) -> int:
        return index % len(self.accounts)

    def _fresh_fingerprint(self) -> str:
        self.fingerprints += 1
        return f"model-{id(self)}-{self.fingerprints}"

    # -- searching ---------------------------------------------------------
    @rule(
        target=offers,
        account=st.integers(min_value=0, max_value=7),
        country=st.integers(min_value=0, max_value=15),
        types=st.lists(st.sampled_from(NUMBER_TYPES), min_size=1, max_size=3, unique=True),
        sms=st.booleans(),
        voice=st.booleans(),
    )
    def search(self, account: int, country: int, types: list[str], sms: bool, voice: bool):
        account = self._account(account)
        countries = self.target.countries
        wanted = countries[country % len(countries)]
        response = self.api.search(self.accounts[account], wanted, types, sms, voice)
        assert response.status_code == 200, response.text
        body = response.json()
        for number in body["numbers"]:
            # A number is never both available and active.
            assert number["phoneNumber"] not in self.sold, f"{number['phoneNumber']} is sold yet offered"
            assert number["isoCountry"] == wanted and number["price"]["number_type"] in types
            assert (number["capabilities"]["SMS"] or not sms) and (number["capabilities"]["voice"] or not voice)
        return multiple(*[Offer(account, n, body["fingerprintId"]) for n in body["numbers"][:3]])

    # -- buying ------------------------------------------------------------
    @precondition(_can_purchase)
    @rule(target=purchases, offer=offers)
    def purchase(self, offer: Offer):
        body = purchase_body(offer, self._fresh_fingerprint())
        phone_number = body["phoneNumber"]
        response = self.api.purchase(self.accounts[offer.account], body)
        if phone_number in self.sold:
            assert response.status_code == 400, f"{phone_number} was sold twice: {response.status_code} {response.text}"
            assert response.json()["message"] == NUMBER_NO_LONGER_AVAILABLE, response.text
            return multiple()
        assert response.status_code == 201, response.text
        data = response.json()["data"]
        assert data["number"] == phone_number and data["locationId"] == self.accounts[offer.account].location_id
        self.sold.add(phone_number)
        self.owned[offer.account].append(phone_number)
        return Purchase(offer.account, body, response.content)

    @precondition(_can_purchase)
    @rule(purchase=purchases)
    def replay_buys_nothing(self, purchase: Purchase):
        before = list(self.owned[purchase.account])
        response = self.api.purchase(self.accounts[purchase.account], purchase.body)
        assert response.status_code == 201 and response.content == purchase.answer, response.text
        assert self.api.all_active(self.accounts[purchase.account]) == before

    @precondition(_can_purchase)
    @rule(purchase=purchases, account=st.integers(min_value=0, max_value=7))
    def a_sold_number_is_sold_once(self, purchase: Purchase, account: int):
        body = {**purchase.body, "fingerprintId": self._fresh_fingerprint()}
        response = self.api.purchase(self.accounts[self._account(account)], body)
        phone_number = body["phoneNumber"]
        assert response.status_code == 400, f"{phone_number} was sold twice: {response.status_code} {response.text}"
        assert response.json()["message"] == NUMBER_NO_LONGER_AVAILABLE, response.text

    @precondition(_can_purchase)
    @rule(purchase=purchases, offer=consumes(offers))
    def fingerprint_reused_for_another_body_is_refused(self, purchase: Purchase, offer: Offer):
        if offer.number["phoneNumber"] == purchase.body["phoneNumber"] or offer.account != purchase.account:
            return
        body = purchase_body(offer, purchase.body["fingerprintId"])
        response = self.api.purchase(self.accounts[purchase.account], body)
        assert response.status_code == 400 and "fingerprintId" in response.json()["message"], response.text
        assert self.api.all_active(self.accounts[purchase.account]) == self.owned[purchase.account]  # nothing bought

    # -- reading -----------------------------------------------------------
    @rule(account=st.integers(min_value=0, max_value=7), page_size=st.integers(min_value=1, max_value=7))
    def pages_cover_the_list_exactly_once(self, account: int, page_size: int):
        account = self._account(account)
        seen, page = [], 0
        while True:
            response = self.api.active_page(self.accounts[account], page, page_size)
            assert response.status_code == 200, response.text
            data = response.json()["data"]
            assert data["total"] == len(self.owned[account])
            if not data["numbers"]:
                break
            assert len(data["numbers"]) <= page_size
            seen += [n["phoneNumber"] for n in data["numbers"]]
            page += 1
        assert seen == self.owned[account]

    @rule(account=st.integers(min_value=0, max_value=7))
    def pools_hold_only_the_locations_numbers(self, account: int):
        account = self._account(account)
        response = self.api.pools(self.accounts[account])
        assert response.status_code == 200, response.text
        pooled = {n["phoneNumber"] for pool in response.json()["data"] for n in pool["numbers"]}
        assert pooled <= set(self.owned[account])
        outside_pools = self.api.all_active(self.accounts[account], skip_pool=True)
        assert set(outside_pools) == set(self.owned[account]) - pooled

    @rule(account=st.integers(min_value=0, max_value=7))
    def every_version_lists_the_same_numbers(self, account: int):
        account = self._account(account)
        for version in version_registry().names:
            assert self.api.all_active(self.accounts[account], version=version) == self.owned[account]

    @invariant()
    def active_lists_match_the_model_and_never_overlap(self):
        listed = [self.api.all_active(account) for account in self.accounts]
        assert listed == self.owned
        for i, numbers in enumerate(listed):
            for j, others in enumerate(listed):
                if i < j:
                    assert not set(numbers) & set(others), "one location sees another's numbers"


def build_machine(target: Target) -> type[PhoneSystemModel]:
    """The model, bound to a target."""
    return type("PhoneSystemModel", (PhoneSystemModel,), {"target": target})
