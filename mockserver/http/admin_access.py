"""Who may use the admin API and the inspector page.

- On loopback without a key, anyone on the machine may: as with any local tool. Beyond loopback (or with a
  key), every request needs the admin key: in `X-Admin-Key`, or, for the inspector page, in a session cookie
  that a small form sets once (HttpOnly, SameSite=Strict, scoped to /__admin).
- A web page of another origin may never use it: a browser request whose Origin is not the sandbox's own, or
  that says it is cross-site, is refused. So a page the developer happens to visit cannot reset their sandbox
  with a hidden form, key or no key.
- A change asked for with the cookie alone must carry the page's CSRF token in `X-Lcphone-Csrf` (a header
  no cross-site form can set).
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from starlette.requests import Request

from ..errors import ApiError

ADMIN_KEY_HEADER = "X-Admin-Key"
CSRF_HEADER = "X-Lcphone-Csrf"
SESSION_COOKIE = "lcphone_admin"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _derive(admin_key: str, purpose: str) -> str:
    return hmac.new(admin_key.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def session_value(admin_key: str) -> str:
    """The cookie a valid key earns: derived from it, so it stops working when the key changes."""
    return _derive(admin_key, "lcphone inspector session")


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


def key_accepted(admin_key: str | None, request: Request) -> bool:
    """Whether the request may use the admin API: no key needed, the key sent, or the session cookie (+ CSRF)."""
    if admin_key is None:
        return True
    sent = request.headers.get(ADMIN_KEY_HEADER)
    if sent is not None:
        return hmac.compare_digest(sent.encode(), admin_key.encode())
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if not hmac.compare_digest(cookie.encode(), session_value(admin_key).encode()):
        return False
    return request.method in SAFE_METHODS or hmac.compare_digest(
        request.headers.get(CSRF_HEADER, "").encode(), csrf_token(admin_key).encode()
    )
