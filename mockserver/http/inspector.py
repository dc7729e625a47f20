"""The inspector page (`/__admin/ui`) and the contracts over HTTP (`/__admin/contracts`, `/openapi.json`).

The page is rendered here, from the sandbox's state, with one stylesheet and one small script shipped in the
package (`inspector_assets/`): no build step, nothing fetched from elsewhere, so it works offline. The script
keeps a live view of the journal and sends the admin actions; after an action the page is rendered again.
The page obeys the admin API's access rules (`admin_access`): beyond loopback, a form takes the key once.
"""

from __future__ import annotations

import functools
import html
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import yaml
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .. import errors
from ..contract import files as contract_files
from ..contract.versions import load_contract
from ..contract.versions import registry as version_registry
from .admin_access import SESSION_COOKIE, SESSION_SECONDS, AdminAccess, csrf_token, guarded_by, unframed
from .rendering import error_response, json_response

if TYPE_CHECKING:
    from ..control.plane import ControlPlane

UI_PATH = "/__admin/ui"


@functools.lru_cache(maxsize=4)
def asset(name: str) -> str:
    return (resources.files("mockserver.http") / "inspector_assets" / name).read_text(encoding="utf-8")


def base_url(request: Request) -> str:
    """The sandbox's own base URL, as the client reached it."""
    return f"{request.url.scheme}://{request.headers.get('host') or request.url.netloc}"


def served_contract(version: str, request: Request) -> dict[str, Any]:
    """One version's bundled contract, its `servers` set to this sandbox, so that a tool can call it directly."""
    document = load_contract(version)
    document["servers"] = [{"url": base_url(request), "description": "This lcphone sandbox"}]
    document.pop("x-rate-limit-headers", None)
    return document


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def page_html(title: str, body: str, csrf: str = "", base: str = "") -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<meta name=lcphone-csrf content='{_e(csrf)}'><meta name=lcphone-base content='{_e(base)}'>"
        f"<link rel=icon type='image/svg+xml' href='/favicon.ico'>"
        f"<title>{_e(title)}</title><style>{asset('inspector.css')}</style></head><body>{body}</body></html>"
    )


def journal_panel(locations: list[str], operations: list[str], answers: bool = False) -> str:
    """The live journal, its filters and, for a proxy, a column with the verdict on the target's answer."""
    return (
        "<section id=journal><h2>Journal <span id=journal-state class='muted mono'>connecting</span></h2>"
        "<div class=filters>"
        f"<select id=filter-location><option value=''>every location</option>"
        f"{''.join(f'<option>{_e(location)}</option>' for location in locations)}</select>"
        f"<select id=filter-operation><option value=''>every operation</option>"
        f"{''.join(f'<option>{_e(operation)}</option>' for operation in operations)}</select>"
        "<label><input type=checkbox id=filter-violations> violations only</label>"
        "<label><input type=checkbox id=show-tokens> show tokens in curl</label>"
        "<button id=clear-journal>Clear</button> <span id=journal-count class=muted></span></div>"
        "<table id=journal-table><thead><tr><th>time</th><th>method</th><th>path</th><th>version</th>"
        f"<th>status</th><th>{'request' if answers else 'contract'}</th>"
        f"{'<th class=answer>answer</th>' if answers else ''}</tr></thead><tbody></tbody></table></section>"
    )


def key_form(failed: bool = False) -> str:
    problem = "<p class=bad>That is not the admin key.</p>" if failed else ""
    return page_html(
        "lcphone inspector: admin key",
        (
            "<section class=keyform><h2>lcphone inspector</h2>"
            "<p>This sandbox listens beyond loopback: its admin key is needed once (it was printed in its banner, "
            "or given with <code>--admin-key</code>).</p>"
            f"{problem}<form method=post action='{UI_PATH}/session'>"
            "<input type=password name=key autocomplete=off autofocus placeholder='admin key' required> "
            "<button class=primary type=submit>Open</button></form></section>"
        ),
    )


class Inspector:
    def __init__(self, sandbox: ControlPlane, access: AdminAccess) -> None:
        self.sandbox = sandbox
        self.access = access

    @property
    def admin_key(self) -> str | None:
        return self.access.admin_key

    # -- routes -------------------------------------------------------------------
    async def page(self, request: Request) -> Response:
        refused = self.access.refusal(request, "The inspector")
        if refused is not None and refused.status == 401:  # no key yet, or the session is over: the form
            return HTMLResponse(key_form(), status_code=401)
        if refused is not None:
            return error_response(refused)
        return HTMLResponse(self.render(request))

    async def session(self, request: Request) -> Response:
        """The key form: a valid key earns the session cookie."""
        refused = self.access.place_refusal(request, "The inspector")
        if refused is not None:
            return error_response(refused)
        raw = await request.body()
        key = parse_qs(raw[:4096].decode("utf-8", "replace")).get("key", [""])[0]  # a urlencoded form
        if self.admin_key is None:
            return RedirectResponse(UI_PATH, status_code=303)
        refused = self.access.key_refusal(request, key)
        if refused is not None and refused.status == 401:
            return HTMLResponse(key_form(failed=True), status_code=401)
        if refused is not None:  # too many wrong keys
            return error_response(refused)
        response = RedirectResponse(UI_PATH, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            self.access.new_session(),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            path="/__admin",
        )
        return response

    async def favicon(self, request: Request) -> Response:
        """Browsers ask every origin for one; answered here so that it never reaches the journal as a stray call."""
        return Response(asset("favicon.svg"), media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})

    async def contracts(self, request: Request) -> Response:
        return json_response(
            200,
            {
                "versions": [
                    {"version": v, "yaml": f"/__admin/contracts/{v}.yaml", "json": f"/__admin/contracts/{v}.json"}
                    for v in version_registry().names
                ],
                "admin": "/__admin/contracts/admin.json",
            },
        )

    async def contract(self, request: Request) -> Response:
        name, _, kind = request.path_params["name"].rpartition(".")
        if name == "admin" and kind == "json":
            return json_response(200, contract_files.admin_document())
        names = version_registry().names
        if name not in names or kind not in ("json", "yaml"):
            served = ", ".join(f"{v}.yaml, {v}.json" for v in names)
            raise errors.not_found(f"No contract {request.path_params['name']!r}: {served}")
        document = served_contract(name, request)
        if kind == "json":
            return json_response(200, document)
        return Response(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), media_type="application/yaml")

    async def openapi(self, request: Request) -> Response:
        """`/openapi.json` and `/openapi.yaml`: the newest version's contract, where tools look first."""
        request.path_params["name"] = f"{version_registry().newest.name}.{request.url.path.rsplit('.', 1)[1]}"
        return await self.contract(request)

    # -- the page -----------------------------------------------------------------
    def render(self, request: Request) -> str:
        base = base_url(request)
        body = (
            f"<header><h1>lcphone inspector</h1><span class=where>{_e(base)}</span>"
            f"<span class=where>versions {_e(', '.join(version_registry().names))}</span></header>"
            "<div id=message></div><main><div>"
            f"{self._overview()}{self._actions()}</div><div>{self.tabs()}{self._journal()}{self.coverage_panel()}"
            f"{self._locations()}</div></main>"
            f"<script>{asset('inspector.js')}</script>"
        )
        return page_html("lcphone inspector", body, csrf_token(self.admin_key), base)

    def _overview(self) -> str:
        sandbox = self.sandbox
        health = sandbox.health()
        counts = sandbox.inventory.counts()
        types = sorted({t for row in counts.values() for t in row})
        inventory = "".join(
            f"<tr><td>{_e(country)}</td>" + "".join(f"<td>{row.get(t, 0)}</td>" for t in types) + "</tr>"
            for country, row in counts.items()
        )
        policy = sandbox.rate_limit_policy
        rules = sandbox.fault_rules()
        faults = (
            "".join(
                f"<li><code>{_e(r.operation_id)}</code> {_e(self._describe_fault(r))} "
                f"<span class=muted>({r.hits} hit{'s' if r.hits != 1 else ''})</span></li>"
                for r in rules
            )
            or "<li class=muted>none</li>"
        )
        drift = ", ".join(sandbox.drift.names)
        return (
            "<section id=overview><h2>Overview</h2><table>"
            f"<tr><th>seed</th><td>{sandbox.seed}</td></tr>"
            f"<tr><th>scenario</th><td>{_e(sandbox.scenario.name)}</td></tr>"
            f"<tr><th>versions</th><td>{_e(', '.join(version_registry().names))}</td></tr>"
            f"<tr><th>state</th><td class=mono>{_e(health['store']['store'])}</td></tr>"
            f"<tr><th>replica</th><td class=mono>{_e(health['replica'])}</td></tr>"
            + (f"<tr><th>drifting</th><td class=bad>{_e(drift)}</td></tr>" if drift else "")
            + "<tr><th>rate limits</th><td>"
            f"{'enforced' if policy.enforce else 'counted, not enforced'}: {policy.burst} per {policy.window_ms} ms,"
            f" {policy.daily} a day</td></tr></table>"
            f"<h3>Inventory</h3><table><tr><th>country</th>{''.join(f'<th>{_e(t)}</th>' for t in types)}</tr>"
            f"{inventory}</table><h3>Faults in force</h3><ul id=faults>{faults}</ul></section>"
        )

    @staticmethod
    def _describe_fault(rule) -> str:
        effects = [
            f"status {rule.status}" if rule.status else "",
            f"+{rule.latency_ms} ms" if rule.latency_ms else "",
            "drop" if rule.drop else "",
            "truncate" if rule.truncate else "",
        ]
        how_often = f"next {rule.times}" if rule.times else f"{rule.ratio:.0%} of calls" if rule.ratio else "every call"
        return f"{', '.join(e for e in effects if e)}, {how_often}"

    def _actions(self) -> str:
        operations = "".join(f"<option>{_e(o)}</option>" for o in ["*", *self.sandbox.operations.ids])
        scopes = "".join(
            f"<label><input type=checkbox name=scopes value='{_e(s)}' checked> {_e(s)}</label>"
            for s in self.sandbox.operations.scopes
        )
        locations = "".join(f"<option>{_e(loc['id'])}</option>" for loc in self.sandbox.describe_locations())
        return (
            "<section id=actions><h2>Actions</h2>"
            "<p><button id=reset class=danger>Reset to the scenario</button> "
            "<button id=clear-faults>Clear faults</button></p>"
            "<h3>Add a fault</h3><form id=fault-form class=inline>"
            f"<select name=operationId>{operations}</select>"
            "<input type=number name=status placeholder=status min=400 max=599 style='width:6em'>"
            "<input type=number name=latencyMs placeholder='latency ms' min=0 style='width:7em'>"
            "<label><input type=checkbox name=drop> drop</label>"
            "<input type=number name=times placeholder=times min=1 value=1 style='width:5em'>"
            "<button class=primary type=submit>Add</button></form>"
            "<h3>Mint a token</h3><form id=token-form class=inline>"
            f"<input type=text name=locationId list=location-ids placeholder='location id' required>"
            f"<datalist id=location-ids>{locations}</datalist>{scopes}"
            "<button class=primary type=submit>Mint</button></form>"
            "<h3>Load a scenario</h3><form id=scenario-form>"
            "<textarea name=scenario placeholder='name: my-scenario&#10;locations:&#10;  - id: myLocation'></textarea>"
            "<p class=inline><input type=file accept='.yaml,.yml,.json'> "
            "<button class=primary type=submit>Load</button></p></form>"
            f"<p class=muted>Contracts: {' '.join(self._contract_links())}</p></section>"
        )

    @staticmethod
    def _contract_links() -> list[str]:
        return [
            f"<a href='/__admin/contracts/{v}.{k}'>{v}.{k}</a>"
            for v in version_registry().names
            for k in ("yaml", "json")
        ]

    @staticmethod
    def tabs() -> str:
        return (
            "<nav class=tabs><button class='tab on' data-tab=journal>Journal</button>"
            "<button class=tab data-tab=coverage>Coverage</button></nav>"
        )

    @staticmethod
    def coverage_panel() -> str:
        """Which of the API's outcomes the journal's requests received (filled in from /__admin/coverage)."""
        return (
            "<section id=coverage hidden><h2>Contract coverage <span id=coverage-percent class=muted></span></h2>"
            "<p class=muted>The answers a client should handle, per operation and version, and whether a request "
            "of the journal received each; how to provoke those it did not.</p>"
            "<table id=coverage-table><thead><tr><th>operation</th><th>version</th><th>status</th><th>outcome</th>"
            "<th>received</th><th>how to provoke it</th></tr></thead><tbody></tbody></table></section>"
        )

    def _journal(self) -> str:
        locations = [location["id"] for location in self.sandbox.describe_locations()]
        return journal_panel(locations, self.sandbox.operations.ids)

    def _locations(self) -> str:
        rows = []
        for location in self.sandbox.describe_locations():
            tokens = "".join(
                f"<div><code>{_e(t['masked'])}</code> <span class=muted>{_e(', '.join(t['scopes']))}</span> "
                f"<button data-copy='{_e(t['value'])}'>copy</button></div>"
                for t in location["tokens"]
            )
            pools = (
                "".join(
                    f"<div>{_e(p['name'])} <span class=muted>({len(p['numbers'])})</span></div>"
                    for p in location["pools"]
                )
                or "<span class=muted>none</span>"
            )
            status = location["accountStatus"]
            rows.append(
                f"<tr><td><code>{_e(location['id'])}</code><div class=muted>{_e(location['name'])}</div></td>"
                f"<td class='{'ok' if status == 'active' else 'warn'}'>{_e(status)}"
                f"{'' if location['phoneSystemConnected'] else '<div class=bad>no phone system</div>'}"
                f"{'' if location['isUnderLc'] else '<div class=muted>not under LC</div>'}</td>"
                f"<td>{tokens or '<span class=muted>none</span>'}</td>"
                f"<td><details><summary>{len(location['numbers'])}</summary>"
                + "".join(f"<div class=mono>{_e(n['phoneNumber'])}</div>" for n in location["numbers"])
                + f"</details></td><td>{pools}</td></tr>"
            )
        return (
            "<section id=locations><h2>Locations</h2><table><tr><th>location</th><th>account</th><th>tokens</th>"
            f"<th>numbers</th><th>pools</th></tr>{''.join(rows)}</table></section>"
        )


def inspector_routes(sandbox: ControlPlane, access: AdminAccess) -> list[Route]:
    """The page and its form (their own access handling), and the contracts (the admin API's rules)."""
    return page_routes(Inspector(sandbox, access), access)


def page_routes(inspector: Inspector, access: AdminAccess) -> list[Route]:
    """The routes of an inspector page, a sandbox's or a proxy's."""
    return [
        Route(UI_PATH, endpoint=unframed(inspector.page), methods=["GET"]),
        Route(f"{UI_PATH}/session", endpoint=unframed(inspector.session), methods=["POST"]),
        Route("/__admin/contracts", endpoint=guarded_by(access, inspector.contracts), methods=["GET"]),
        Route("/__admin/contracts/{name}", endpoint=guarded_by(access, inspector.contract), methods=["GET"]),
        Route("/openapi.json", endpoint=inspector.openapi, methods=["GET"]),
        Route("/openapi.yaml", endpoint=inspector.openapi, methods=["GET"]),
        Route("/favicon.ico", endpoint=inspector.favicon, methods=["GET"]),
    ]
