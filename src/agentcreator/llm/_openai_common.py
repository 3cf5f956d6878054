"""What both OpenAI-SDK providers share: building the client and translating SDK exceptions."""

from __future__ import annotations

from typing import Any

import httpx
import openai

from agentcreator.core.errors import BlockedDestination
from agentcreator.llm.errors import (
    ContextTooLong,
    ModelNotFound,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
)

OPENAI_BASE_URL = "https://api.openai.com/v1"
# Sent to OpenAI-compatible servers that need no key (Ollama, llama.cpp server): the SDK insists on one.
NO_KEY = "no-key-required"
RETRYABLE_UPSTREAM_CODES = frozenset({"server_error", "rate_limit_exceeded", "overloaded", "timeout"})


def make_client(*, api_key: str | None, base_url: str | None, timeout: float, max_retries: int,
                default_base_url: str | None = OPENAI_BASE_URL,
                http_client: httpx.AsyncClient | None = None) -> openai.AsyncOpenAI:
    """Values are always passed explicitly so the SDK never falls back to environment variables.

    The HTTP transport is the SDK's aiohttp one (``openai[aiohttp]``, ``DefaultAioHttpClient``): its
    C HTTP parser reads a streamed answer for about half the CPU of the default transport
    (docs/performance.md). ``http_client``: the SSRF guard's client for providers an administrator
    added (core/outbound; every connection checked), used instead."""
    url = base_url or default_base_url
    if url is None:
        raise ValueError("base_url is required for an OpenAI-compatible provider")
    return openai.AsyncOpenAI(api_key=api_key or NO_KEY, base_url=url, timeout=timeout, max_retries=max_retries,
                              http_client=http_client or openai.DefaultAioHttpClient(timeout=timeout))


class GuardRefusalTransport(httpx.AsyncBaseTransport):
    """Wraps the SSRF guard's transport for the SDK: a refused destination becomes an
    ``APIConnectionError`` (an ``OpenAIError``, which the SDK passes on at once instead of retrying),
    translated like any other into a ``ProviderError`` with code ``blocked_destination``."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._inner.handle_async_request(request)
        except BlockedDestination as exc:
            raise openai.APIConnectionError(message=exc.message, request=request) from exc

    async def aclose(self) -> None:
        await self._inner.aclose()


def _error_fields(body: Any) -> tuple[str | None, str | None]:
    """(code, message) from an OpenAI error body, which may or may not be wrapped in ``{"error": ...}``."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            code = inner.get("code") if inner.get("code") is not None else inner.get("type")
            message = inner.get("message")
            return (str(code) if code is not None else None, message if isinstance(message, str) else None)
        if isinstance(inner, str):
            return None, inner
    return None, None


def translate_openai_error(exc: openai.OpenAIError, provider: str) -> ProviderError:
    """Map an SDK exception to the typed :class:`ProviderError` (callers chain it with ``from exc``)."""
    label = f"Provider '{provider}'"
    if isinstance(exc, openai.APITimeoutError):
        refused = _connection_failure(exc)
        if refused is not None:  # the aiohttp transport reports a refused connection as a connect timeout
            return ProviderUnavailable(f"{label} is unreachable: {refused}", provider=provider)
        return ProviderUnavailable(f"{label} timed out", provider=provider)
    if isinstance(exc, openai.APIConnectionError):
        blocked = _blocked_destination(exc)
        if blocked is not None:
            return ProviderError(f"{label} is not reachable: {blocked.message}", provider=provider,
                                 code="blocked_destination")
        return ProviderUnavailable(f"{label} is unreachable: {exc.message}", provider=provider)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        code, detail = _error_fields(exc.body)
        detail = detail or exc.message
        suffix = f" ({code})" if code else ""
        kwargs: dict[str, Any] = {"provider": provider, "upstream_status": status}
        if status in (401, 403):
            return ProviderAuthError(f"{label} refused the credentials: {detail}{suffix}", **kwargs)
        if status == 404:
            return ModelNotFound(f"{label}: {detail}{suffix}", **kwargs)
        if status == 429:
            quota = code == "insufficient_quota"
            return ProviderRateLimited(f"{label} is rate limiting requests: {detail}{suffix}",
                                       retryable=not quota, **kwargs)
        if code == "context_length_exceeded":
            return ContextTooLong(f"{label}: {detail}", **kwargs)
        if status >= 500:
            return ProviderUnavailable(f"{label} failed with HTTP {status}: {detail}{suffix}", **kwargs)
        return ProviderError(f"{label} rejected the request (HTTP {status}): {detail}{suffix}", **kwargs)
    if isinstance(exc, openai.APIError):
        # An error object inside the stream (the SDK raises it for chunks carrying "error").
        code, detail = _error_fields(exc.body)
        return upstream_failure(provider, code, detail or exc.message)
    return ProviderError(f"{label}: {exc}", provider=provider)


def _blocked_destination(exc: BaseException) -> BlockedDestination | None:
    """The SSRF guard's refusal behind ``exc`` (the SDK wraps it in a connection error), if any."""
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, BlockedDestination):
            return cause
        cause = cause.__cause__
    return None


def _connection_failure(exc: BaseException) -> OSError | None:
    """The OS-level connection error (refused, unreachable, DNS) behind ``exc``, if that is what it was."""
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, OSError) and not isinstance(cause, TimeoutError):
            return cause
        cause = cause.__cause__
    return None


def upstream_failure(provider: str, code: str | None, message: str | None) -> ProviderError:
    """An error the provider reported inside a stream (``response.failed``, ``error`` events)."""
    text = f"Provider '{provider}' failed: {message or 'no message'}" + (f" ({code})" if code else "")
    if code == "rate_limit_exceeded":
        return ProviderRateLimited(text, provider=provider)
    if code == "context_length_exceeded":
        return ContextTooLong(text, provider=provider)
    return ProviderError(text, provider=provider, retryable=code in RETRYABLE_UPSTREAM_CODES)


def broken_stream(provider: str, exc: BaseException | None = None) -> ProviderError:
    detail = f": {exc}" if exc is not None else ""
    return ProviderUnavailable(f"Provider '{provider}' stream ended before the response was complete{detail}",
                               provider=provider)
