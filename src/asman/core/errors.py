"""One error family for the whole project; the HTTP layer maps each to a status code and a JSON envelope."""

from __future__ import annotations


class AsmanError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(AsmanError):
    status_code = 400
    code = "invalid_input"


class ValidationFailed(AsmanError):
    status_code = 422
    code = "validation_failed"


class NotFound(AsmanError):
    status_code = 404
    code = "not_found"


class Conflict(AsmanError):
    status_code = 409
    code = "conflict"


class TooLarge(AsmanError):
    status_code = 413
    code = "too_large"


class RateLimited(AsmanError):
    status_code = 429
    code = "rate_limited"


class BackendUnavailable(AsmanError):
    status_code = 503
    code = "backend_unavailable"
