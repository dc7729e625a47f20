"""Who may use the admin API and the inspector page.

- On loopback without a key, anyone on the machine may: as with any local tool. Beyond loopback (or with a
  key), every request needs the admin key: in `X-Admin-Key`, or, for the inspector page, in a session cookie
  that a small form sets (HttpOnly, SameSite=Strict, scoped to /__admin), signed with the key and its time of
  issue, and good for `SESSION_SECONDS`.
- On loopback, only requests to a loopback name (localhost, 127.0.0.1, [::1]) or a name given with
  `--allowed-host` are answered: any web page can point a name of its own at 127.0.0.1 (DNS rebinding), and its
  requests would then be same-origin, with the name in `Host`.
- A web page of another origin may never use it: a browser request whose Origin is not the sandbox's own, or
  that says it is cross-site, is refused. So a page the developer happens to visit cannot reset their sandbox
  with a hidden form, key or no key; and no page may frame the inspector (`UNFRAMEABLE`).
- A change asked for with the cookie alone must carry the page's CSRF token in `X-Lcphone-Csrf` (a header
  no cross-site form can set).
- Wrong keys are throttled per client: after `WrongKeys.LIMIT` in a minute, 429 with `Retry-After`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from ..errors import ApiError
from .rendering import error_response

ADMIN_KEY_HEADER = "X-Admin-Key"
CSRF_HEADER = "X-Lcphone-Csrf"
SESSION_COOKIE = "lcphone_admin"
SESSION_SECONDS = 12 * 3600
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# On every admin answer and the inspector page: no page of any origin may frame them (clickjacking).
UNFRAMEABLE = {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"}


class Guarded(Protocol):
    """What the access rules need of a sandbox or a proxy."""

    admin_key: str | None
    allowed_hosts: tuple[str, ...] | None  # None: any Host (beyond loopback, where the key is required)


def _derive(admin_key: str, purpose: str) -> str:
    return hmac.new(admin_key.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def csrf_token(admin_key: str | None) -> str:
    return _derive(admin_key or "no admin key", "lcphone inspector csrf")


def cross_origin(request: Request) -> bool:
    """Whether a browser sent this from a page of another origin."""
    if request.headers.get("sec-fetch-site", "") == "cross-site":
        return True
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin == "null"
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc.lower() != host.lower()


def other_origin_refused(who: str) -> ApiError:
    """The answer to a page of another origin (403, in the API's error shape)."""
    return ApiError(403, f"{who} does not answer pages of another origin.", "Forbidden")


def host_name(host_header: str) -> str:
    """The name of a Host header, without its port: `[::1]:8080` -> `::1`, `Localhost:80` -> `localhost`."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def loopback_name(name: str) -> bool:
    """A name no page can point elsewhere: localhost (and *.localhost, which browsers keep on loopback) or a
    loopback address."""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class WrongKeys:
    """Wrong admin keys per client, in a sliding minute; past `LIMIT`, the client waits (bounded in clients)."""

    LIMIT = 10
    WINDOW = 60.0
    CLIENTS = 1024

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._misses: OrderedDict[str, deque[float]] = OrderedDict()

    def wait_for(self, client: str) -> float:
        """Seconds the client must wait before its next key is looked at (0: none)."""
        with self._lock:
            misses = self._misses.get(client)
            if not misses:
                return 0.0
            now = self._clock()
            while misses and now - misses[0] >= self.WINDOW:
                misses.popleft()
            return misses[0] + self.WINDOW - now if len(misses) >= self.LIMIT else 0.0

    def missed(self, client: str) -> None:
        with self._lock:
            misses = self._misses.setdefault(client, deque(maxlen=self.LIMIT))
            misses.append(self._clock())
            self._misses.move_to_end(client)
            while len(self._misses) > self.CLIENTS:
                self._misses.popitem(last=False)


class AdminAccess:
    """The access rules, for one sandbox or proxy: each check answers None (go on) or the refusal to send."""

    def __init__(self, guarded: Guarded, clock=time.time) -> None:
        self.guarded = guarded
        self.wrong_keys = WrongKeys()
        self._clock = clock

    @property
    def admin_key(self) -> str | None:
        return self.guarded.admin_key

    def place_refusal(self, request: Request, who: str) -> ApiError | None:
        """Refused for where the request comes from: another origin, or a Host that is not this sandbox's."""
        allowed = self.guarded.allowed_hosts
        if allowed is not None:
            host = request.headers.get("host", "")
            name = host_name(host)
            if not loopback_name(name) and name not in allowed:
                return ApiError(
                    403,
                    f"{who} answers only requests to a loopback name (localhost, 127.0.0.1, [::1]); this one was "
                    f"for {host[:100]!r}. Start lcphone with --allowed-host {name[:100] or 'NAME'} to allow it.",
                    "Forbidden",
                )
        if cross_origin(request):
            return other_origin_refused(who)
        return None

    def refusal(self, request: Request, who: str = "The admin API") -> ApiError | None:
        """For an admin API request: where it comes from, then its key (header, or session cookie and CSRF)."""
        refused = self.place_refusal(request, who)
        if refused is not None or self.admin_key is None:
            return refused
        sent = request.headers.get(ADMIN_KEY_HEADER)
        if sent is not None:
            return self.key_refusal(request, sent)
        if not self.session_valid(request.cookies.get(SESSION_COOKIE, "")):
            return ApiError(401, f"{who} needs the {ADMIN_KEY_HEADER} header.", "Unauthorized")
        csrf = request.headers.get(CSRF_HEADER, "")
        if request.method not in SAFE_METHODS and not hmac.compare_digest(csrf.encode(), self.csrf.encode()):
            return ApiError(401, f"A change needs the page's {CSRF_HEADER} header.", "Unauthorized")
        return None

    def key_refusal(self, request: Request, sent: str) -> ApiError | None:
        """None when `sent` is the key; else 401, or 429 once the client has guessed too often."""
        client = request.client.host if request.client else ""
        wait = self.wrong_keys.wait_for(client)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            return ApiError(
                429,
                f"Too many wrong admin keys: retry after {seconds} second(s).",
                "Too Many Requests",
                {"Retry-After": str(seconds)},
            )
        admin_key = self.admin_key or ""
        if hmac.compare_digest(sent.encode(), admin_key.encode()):
            return None
        self.wrong_keys.missed(client)
        return ApiError(401, f"Wrong {ADMIN_KEY_HEADER}.", "Unauthorized")

    @property
    def csrf(self) -> str:
        return csrf_token(self.admin_key)

    def new_session(self) -> str:
        """The cookie a valid key earns: its time of issue, signed with the key (a new key ends every session)."""
        issued = str(int(self._clock()))
        return f"{issued}.{_derive(self.admin_key or '', 'lcphone inspector session ' + issued)}"

    def session_valid(self, cookie: str) -> bool:
        if self.admin_key is None:
            return True
        issued, _, signature = cookie.partition(".")
        if not issued.isdigit() or len(issued) > 12:
            return False
        expected = _derive(self.admin_key, "lcphone inspector session " + issued)
        fresh = 0 <= self._clock() - int(issued) < SESSION_SECONDS
        return hmac.compare_digest(signature.encode(), expected.encode()) and fresh


Endpoint = Callable[[Request], Awaitable[Response]]


def unframed(endpoint: Endpoint) -> Endpoint:
    """The endpoint's every answer, refusals included, carries `UNFRAMEABLE`."""

    async def answer(request: Request) -> Response:
        response = await endpoint(request)
        response.headers.update(UNFRAMEABLE)
        return response

    return answer


def guarded_by(access: AdminAccess, endpoint: Endpoint) -> Endpoint:
    """Applies the access rules (`admin_access`), renders errors like the API's, and lets no page frame it."""

    async def guarded(request: Request) -> Response:
        refused = access.refusal(request)
        if refused is not None:
            return error_response(refused)
        try:
            return await endpoint(request)
        except ApiError as error:
            return error_response(error)

    return unframed(guarded)
