from __future__ import annotations

import httpx


async def test_liveness(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readiness_reports_database_and_migrations(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "migrations": "ok"}


async def test_unknown_api_route_is_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_spa_fallback_serves_html_for_client_routes(client: httpx.AsyncClient) -> None:
    response = await client.get("/assistants/123")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]


async def test_body_over_limit_is_413_before_parsing(client: httpx.AsyncClient, app_state) -> None:
    too_big = b"x" * (app_state.settings.limits.max_body_bytes + 1)
    response = await client.post("/api/auth/login", content=too_big,
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_openapi_document_available(client: httpx.AsyncClient) -> None:
    # No Swagger/ReDoc pages: they need inline and CDN scripts, which the CSP forbids (docs/security.md).
    assert (await client.get("/docs")).status_code == 404
    spec = (await client.get("/openapi.json")).json()
    assert spec["info"]["title"] == "Agent Creator"
