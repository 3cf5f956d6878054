"""Schemathesis fuzzes every operation of the OpenAPI document against the real server, as two users
(an administrator and an ordinary user who owns data of their own): no 5xx, and every status code
the server answers is declared in the document."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error, status_code_conformance

from tests.api.chat_helpers import make_chat
from tests.conftest import UserSession
from tests.llm.openai_double import OpenAIDouble

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
# These end the fuzzing user's own session or account (every later request would be a 401).
SKIPPED = {"auth_logout", "auth_logout_all", "auth_change_password", "admin_update_user"}


def _fuzz(base_url: str, document: dict[str, Any], token: str) -> list[str]:
    """In a worker thread (the server runs on the test's event loop): every operation, ``EXAMPLES``
    generated cases each; returns the failures."""
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.definition.raw.get("operationId") in SKIPPED:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=base_url, headers={"Authorization": f"Bearer {token}"},
                                   checks=[not_a_server_error, status_code_conformance], timeout=30)

        try:
            run()
        except BaseException as exc:  # collected and reported together below
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    return failures


@pytest.mark.parametrize("who", ["admin", "user"])
async def test_fuzzing_the_openapi_document_finds_no_server_error_and_no_undeclared_status(
        live_client: httpx.AsyncClient, live_server: str, alice: UserSession, bob: UserSession,
        openai_double: OpenAIDouble, who: str) -> None:
    await make_chat(live_client, alice)
    await make_chat(live_client, bob)
    document = (await live_client.get("/openapi.json")).json()
    user = alice if who == "admin" else bob
    failures = await asyncio.to_thread(_fuzz, live_server, document, user.access_token)
    assert failures == [], "\n\n".join(failures)
