"""Errors of the model layer, part of the application's tree (``agentcreator.core.errors``).

AppError
└── ProviderError          502  provider_error        (upstream said no, or an unexpected answer)
    ├── ProviderUnavailable    503  provider_unavailable  retryable (connection, timeout, 5xx, broken stream)
    ├── ProviderAuthError      502  provider_auth         the configured credentials were refused (401/403)
    ├── ProviderRateLimited    429  provider_rate_limited retryable unless the quota is exhausted
    ├── ModelNotFound          404  model_not_found       unknown "provider/model", or the upstream has no such model
    ├── CapabilityError        422  model_capability      the request needs vision/tools the model lacks
    └── ContextTooLong         422  context_too_long      the prompt does not fit the model's context

``status_code`` is what *our* API answers; ``upstream_status`` is what the provider answered.
Third-party exceptions are translated where they are caught (``raise ProviderError(...) from exc``);
once a stream has started, errors travel as ``Failed`` events built with :meth:`ProviderError.to_info`.
"""

from __future__ import annotations

from typing import Any

from agentcreator.core.errors import AppError
from agentcreator.llm.types import ProviderErrorInfo


class ProviderError(AppError):
    status_code = 502
    code = "provider_error"
    retryable = False

    def __init__(self, message: str, *, provider: str | None = None, upstream_status: int | None = None,
                 retryable: bool | None = None, code: str | None = None, details: Any = None) -> None:
        super().__init__(message, code=code, details=details)
        self.provider = provider
        self.upstream_status = upstream_status
        if retryable is not None:
            self.retryable = retryable

    def to_info(self) -> ProviderErrorInfo:
        return ProviderErrorInfo(code=self.code, message=self.message, retryable=self.retryable,
                                 status=self.upstream_status)

    @classmethod
    def from_info(cls, info: ProviderErrorInfo) -> ProviderError:
        """Rebuild the typed error a ``Failed`` event carries (used when draining a stream)."""
        error_class = _BY_CODE.get(info.code, ProviderError)
        return error_class(info.message, upstream_status=info.status, retryable=info.retryable, code=info.code)


class ProviderUnavailable(ProviderError):
    status_code = 503
    code = "provider_unavailable"
    retryable = True


class ProviderAuthError(ProviderError):
    status_code = 502
    code = "provider_auth"


class ProviderRateLimited(ProviderError):
    status_code = 429
    code = "provider_rate_limited"
    retryable = True


class ModelNotFound(ProviderError):
    status_code = 404
    code = "model_not_found"


class CapabilityError(ProviderError):
    status_code = 422
    code = "model_capability"


class ContextTooLong(ProviderError):
    status_code = 422
    code = "context_too_long"


_BY_CODE: dict[str, type[ProviderError]] = {
    cls.code: cls
    for cls in (ProviderUnavailable, ProviderAuthError, ProviderRateLimited, ModelNotFound,
                CapabilityError, ContextTooLong)
}
