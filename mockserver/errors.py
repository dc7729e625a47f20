"""Errors as values in the vendor's shape, raised from the domain and rendered in one place.

The vendor is a NestJS service: its errors are `{"statusCode", "message", "error"}`.
`message` is one string (the vendor documents it so, D4); when a request has
several problems, each is named in it, separated by "; ". A few vendor
answers have no `error` field (401 "Invalid JWT", 403 on another location's
token); those are reproduced as seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

PROBLEM_SEPARATOR = "; "
MAX_QUOTED = 200  # characters of any client-sent value an error message repeats


def quoted(value: object, limit: int = MAX_QUOTED) -> str:
    """`repr(value)`, cut to `limit` characters: error messages never echo a huge value whole."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


@dataclass
class ApiError(Exception):
    status: int
    message: str
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # each problem, when there are several

    def __post_init__(self) -> None:
        super().__init__(self.status, self.message)
        if not self.problems:
            self.problems = [self.message]

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"statusCode": self.status, "message": self.message}
        if self.error is not None:
            body["error"] = self.error
        return body


class StoreUnavailable(ApiError):
    """The state store cannot be reached right now (PostgreSQL restarting or unreachable, a timeout).

    Answered 503 in the error shape with `Retry-After` (DECISIONS.md, D34); `detail` says why, for logs and the
    health check. Nothing was acknowledged: a client that retries a purchase with its fingerprint is safe.
    """

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(
            503,
            f"The sandbox's state store is unavailable; retry after {retry_after} second(s).",
            "Service Unavailable",
            {"Retry-After": str(retry_after)},
        )
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


class StateFileError(ValueError):
    """A --state that cannot hold a sandbox's state (a folder, another kind of file or database, a damaged one,
    another format)."""


def _reason(status: int) -> str:
    return HTTPStatus(status).phrase


NUMBER_NO_LONGER_AVAILABLE = "Phone number is no longer available"  # the vendor's own words (D10)


def validation_error(problems: list[str]) -> ApiError:
    """400 naming each problem (D4)."""
    return ApiError(400, PROBLEM_SEPARATOR.join(problems), "Bad Request", problems=list(problems))


def bad_request(message: str) -> ApiError:
    return ApiError(400, message, "Bad Request")


def number_no_longer_available() -> ApiError:
    """A purchase of a number that was already sold, to any location (D10)."""
    return bad_request(NUMBER_NO_LONGER_AVAILABLE)


def invalid_token() -> ApiError:
    return ApiError(401, "Invalid JWT")


def missing_scope(scope: str) -> ApiError:
    return ApiError(401, f"The token is not authorized for this scope: {scope}", "Unauthorized")


def agency_token_refused() -> ApiError:
    return ApiError(
        401, "This route accepts location (sub-account) tokens only; an agency token was sent.", "Unauthorized"
    )


def no_location_access() -> ApiError:
    return ApiError(403, "The token does not have access to this location.")


def not_found(message: str) -> ApiError:
    return ApiError(404, message, "Not Found")


def phone_system_not_connected() -> ApiError:
    """The vendor's 404, without an error field as it documents it (D16)."""
    return ApiError(404, "Phone system is not connected to this account")


def error_for_status(status: int, message: str) -> ApiError:
    """An error of any status with the standard reason phrase as `error`."""
    return ApiError(status, message, _reason(status))
