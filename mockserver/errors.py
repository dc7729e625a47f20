"""Errors as values in the vendor's shape, raised from the domain and rendered in one place.

The vendor is a NestJS service: its errors are `{"statusCode", "message", "error"}`,
where `message` is one string, or a list with one string per problem for
validation errors. A few vendor answers have no `error` field (401 "Invalid JWT",
403 on another location's token); those are reproduced as seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any


@dataclass
class ApiError(Exception):
    status: int
    message: str | list[str]
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.status, self.message)

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"statusCode": self.status, "message": self.message}
        if self.error is not None:
            body["error"] = self.error
        return body

    @property
    def problems(self) -> list[str]:
        return list(self.message) if isinstance(self.message, list) else [self.message]


def _reason(status: int) -> str:
    return HTTPStatus(status).phrase


def validation_error(problems: list[str]) -> ApiError:
    """400 with one message per problem, each naming the offending field."""
    return ApiError(400, list(problems), "Bad Request")


def bad_request(message: str) -> ApiError:
    return ApiError(400, message, "Bad Request")


def invalid_token() -> ApiError:
    return ApiError(401, "Invalid JWT")


def missing_scope(scope: str) -> ApiError:
    return ApiError(401, f"The token is not authorized for this scope: {scope}", "Unauthorized")


def no_location_access() -> ApiError:
    return ApiError(403, "The token does not have access to this location.")


def forbidden(message: str) -> ApiError:
    return ApiError(403, message, "Forbidden")


def not_found(message: str) -> ApiError:
    return ApiError(404, message, "Not Found")


def conflict(message: str) -> ApiError:
    return ApiError(409, message, "Conflict")


def unprocessable(message: str) -> ApiError:
    return ApiError(422, message, "Unprocessable Entity")


def error_for_status(status: int, message: str | list[str]) -> ApiError:
    """An error of any status with the standard reason phrase as `error`."""
    return ApiError(status, message, _reason(status))
