"""Why a call to an MCP server failed, in two forms: a short reason that users and the model may read
(no paths, hosts, URLs or arguments: a stdio command and a server's address stay with admins), and the
full one, for the log and the admin's connection test."""

from __future__ import annotations

import os

import httpx2
from mcp import MCPError


def innermost(exc: BaseException) -> BaseException:
    """The first leaf of an (anyio) exception group."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def describe(exc: BaseException) -> str:
    """A short reason that names no path, host or argument."""
    leaf = innermost(exc)
    if isinstance(leaf, MCPError):
        return leaf.message[:300]  # the server's own words
    cause: BaseException | None = leaf
    for _ in range(5):  # an OSError under a transport error says what happened ("Connection refused")
        if isinstance(cause, OSError) and cause.errno:
            return os.strerror(cause.errno)  # not ``strerror``, which may hold the address
        if cause is None:
            break
        cause = cause.__cause__ or cause.__context__
    if isinstance(leaf, httpx2.TimeoutException):
        return "timed out"
    if isinstance(leaf, httpx2.ConnectError):
        return "could not connect"
    return type(leaf).__name__


def describe_in_full(exc: BaseException) -> str:
    """The exception's type and first line, for admins and the log."""
    leaf = innermost(exc)
    text = str(leaf).strip()
    return f"{type(leaf).__name__}: {text.splitlines()[0]}"[:500] if text else type(leaf).__name__
