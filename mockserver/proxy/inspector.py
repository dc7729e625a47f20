"""The proxy's inspector page (`/__admin/ui`): where to point the client, and each exchange with both verdicts.

The sandbox's page, its assets and its access rules, without what a proxy has not got (inventory, locations,
faults, the sandbox's actions): the journal gains a column, the verdict on the target's answer, and each row
opens on the violations of the request and the problems of the answer.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from starlette.requests import Request

from ..contract.operations import registry as operation_registry
from ..contract.versions import registry as version_registry
from ..http.admin_access import AdminAccess, csrf_token
from ..http.inspector import Inspector, asset, base_url, journal_panel, page_html

if TYPE_CHECKING:
    from .app import Proxy


class ProxyInspector(Inspector):
    def __init__(self, proxy: Proxy, access: AdminAccess) -> None:  # the sandbox's page, over a proxy's parts
        self.proxy = proxy
        self.access = access

    def render(self, request: Request) -> str:
        proxy = self.proxy
        base = base_url(request)
        target = html.escape(proxy.target, quote=True)
        health = proxy.health()
        purchases = health["purchases"]
        money = (
            f"sent to the target, at most {purchases['max']} ({purchases['sent']} so far)"
            if purchases["allowed"]
            else "refused by the proxy, never sent (start it with --allow-purchase to send them)"
        )
        locations = sorted({entry.location_id for entry in proxy.journal.entries() if entry.location_id})
        body = (
            f"<header><h1>lcphone proxy</h1><span class=where>{html.escape(base)}</span>"
            f"<span class=where>to {target}</span></header>"
            "<div id=message></div><main><div><section id=overview><h2>Overview</h2>"
            f"<p>Point your client at <code>{html.escape(base)}</code>: each request goes to <code>{target}</code> "
            "and its answer comes back unchanged; the request is checked as the sandbox checks it, the answer as "
            "<code>lcphone verify</code> does.</p><table>"
            f"<tr><th>target</th><td class=mono>{target}</td></tr>"
            f"<tr><th>versions</th><td>{html.escape(', '.join(version_registry().names))}</td></tr>"
            f"<tr><th>exchanges</th><td>{health['exchanges']} ({health['conforming']} kept the contract on both "
            "sides)</td></tr>"
            f"<tr><th>purchases</th><td>{html.escape(money)}</td></tr></table></section></div>"
            f"<div>{self.tabs()}{journal_panel(locations, operation_registry().ids, answers=True)}"
            f"{self.coverage_panel()}</div></main><script>{asset('inspector.js')}</script>"
        )
        return page_html("lcphone proxy", body, csrf_token(self.admin_key), base)
