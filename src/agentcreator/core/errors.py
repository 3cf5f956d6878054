"""The application's exception tree. Every error a client sees is one of these, as JSON:
``{"error": {"code": "...", "message": "...", "details": ...}}``.

AppError
├── BadRequest            400  bad_request
├── Unauthorized          401  unauthorized (invalid_token, invalid_credentials, ...)
├── PaymentRequired       402  payment_required (budget_exceeded)
├── Forbidden             403  forbidden (registration_closed, admin_required, ...)
├── NotFound              404  not_found
├── Conflict              409  conflict (email_taken, turn_in_progress, conversation_read_only, ...)
├── PayloadTooLarge       413  payload_too_large (file_too_large, quota_exceeded)
├── UnsupportedMediaType  415  unsupported_media_type (file_type_not_allowed, file_type_mismatch)
├── ValidationFailed      422  validation_error
├── RateLimited           429  rate_limited
├── ServiceUnavailable    503  unavailable
└── OutboundError         502  outbound_error: a fetch the platform made went wrong (core/outbound)
    ├── BlockedDestination    400  blocked_destination (scheme, credentials, non-public address)
    ├── TooManyRedirects      502  too_many_redirects
    ├── ResponseTooLarge      502  response_too_large
    ├── OutboundTimeout       504  upstream_timeout
    └── UpstreamUnreachable   502  upstream_unreachable (DNS, refused, reset, protocol errors)

Third-party errors are translated at the boundary with ``raise AppError(...) from exc``.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details
        self.headers = headers

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return {"error": body}


class BadRequest(AppError):
    status_code = 400
    code = "bad_request"


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str = "Not authenticated", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class PaymentRequired(AppError):
    """A budget would be exceeded; nothing was spent."""

    status_code = 402
    code = "payment_required"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class NotFound(AppError):
    status_code = 404
    code = "not_found"

    def __init__(self, what: str = "Resource", **kwargs: Any) -> None:
        super().__init__(f"{what} not found", **kwargs)


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "unsupported_media_type"


class ValidationFailed(AppError):
    status_code = 422
    code = "validation_error"


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, **kwargs: Any) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)}, **kwargs)
        self.retry_after = retry_after


class ServiceUnavailable(AppError):
    status_code = 503
    code = "unavailable"


class OutboundError(AppError):
    """A request the platform sent out (a tool, a page fetch, an image URL) failed."""

    status_code = 502
    code = "outbound_error"


class BlockedDestination(OutboundError):
    """The SSRF guard refused the URL: not http(s), credentials in it, or a non-public address."""

    status_code = 400
    code = "blocked_destination"


class TooManyRedirects(OutboundError):
    code = "too_many_redirects"


class ResponseTooLarge(OutboundError):
    code = "response_too_large"


class OutboundTimeout(OutboundError):
    status_code = 504
    code = "upstream_timeout"


class UpstreamUnreachable(OutboundError):
    code = "upstream_unreachable"
