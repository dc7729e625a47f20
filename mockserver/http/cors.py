"""Browser apps as clients (`--cors-origin`): preflights answered for the headers this API's clients send.

Starlette's CORS middleware does the work; a refused preflight is answered in the API's error shape, naming
what was refused, rather than as plain text.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from .. import errors
from .rendering import error_response

# What a browser app may send: the headers clients of this API send (and the sandbox's own fault header).
ALLOWED_HEADERS = ["Authorization", "Version", "Content-Type", "X-Lcphone-Fault"]
# What it may read beyond the CORS-safelisted headers: the rate-limit headers.
EXPOSED_HEADERS = [
    "X-RateLimit-Limit-Daily",
    "X-RateLimit-Daily-Remaining",
    "X-RateLimit-Interval-Milliseconds",
    "X-RateLimit-Max",
    "X-RateLimit-Remaining",
    "Retry-After",
]
ALLOWED_METHODS = ["GET", "POST"]


class ApiShapedCors(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        answer = super().preflight_response(request_headers)
        if answer.status_code < 400:
            return answer
        refused = []
        origin = request_headers["origin"]
        if not self.is_allowed_origin(origin=origin):
            refused.append(f"origin {errors.quoted(origin)} (allowed: {', '.join(self.allow_origins)})")
        method = request_headers["access-control-request-method"]
        if method not in self.allow_methods:
            refused.append(f"method {errors.quoted(method)} (allowed: {', '.join(ALLOWED_METHODS)})")
        asked = [h.strip() for h in request_headers.get("access-control-request-headers", "").split(",") if h.strip()]
        if unknown := [h for h in asked if h.lower() not in self.allow_headers]:
            refused.append(
                f"headers {', '.join(errors.quoted(h) for h in unknown)} (allowed: {', '.join(ALLOWED_HEADERS)})"
            )
        if "access-control-request-private-network" in request_headers:
            refused.append("private network access")
        error = errors.ApiError(400, "CORS preflight refused: " + "; ".join(refused), "Bad Request")
        headers = {k: v for k, v in answer.headers.items() if k.lower().startswith("access-control-")}
        return error_response(error, headers)


def with_cors(app, origins: tuple[str, ...]):
    """Browser apps of `origins` (or any, with "*") may call the API: preflights answered, answers readable."""
    return ApiShapedCors(
        app,
        allow_origins=list(origins),
        allow_methods=ALLOWED_METHODS,
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        max_age=600,
    )
