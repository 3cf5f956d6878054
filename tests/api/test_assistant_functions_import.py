"""POST /api/assistants/functions/import: OpenAPI 3 documents (JSON or YAML) to function configs, and
the documents meant to hurt (reference loops, alias bombs, exponential references, huge or deep)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.api.test_assistants_factories import make_assistant
from tests.conftest import UserSession

URL = "/api/assistants/functions/import"

PETSTORE = """
openapi: 3.0.3
info: {title: Pets, version: "1.0"}
servers:
  - url: https://pets.example/api/v1
paths:
  /pets:
    get:
      operationId: listPets
      summary: List pets
      parameters:
        - {name: limit, in: query, schema: {type: integer, maximum: 100}, description: How many}
        - {name: X-Trace, in: header, schema: {type: string}}
    post:
      operationId: createPet
      summary: Create a pet
      parameters:
        - {name: dry_run, in: query, schema: {type: boolean}}
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/NewPet'}
  /pets/{petId}:
    parameters:
      - $ref: '#/components/parameters/PetId'
    get:
      summary: Info for a pet
    delete:
      operationId: deletePet
  /pets/{petId}/photo:
    put:
      operationId: uploadPhoto
      parameters:
        - $ref: '#/components/parameters/PetId'
      requestBody:
        content:
          image/png: {schema: {type: string, format: binary}}
components:
  parameters:
    PetId: {name: petId, in: path, required: true, schema: {type: string}}
  schemas:
    NewPet:
      type: object
      required: [name]
      properties:
        name: {type: string}
        tag: {type: string}
        owner: {$ref: '#/components/schemas/Person'}
    Person:
      type: object
      properties:
        name: {type: string}
        friends: {type: array, items: {$ref: '#/components/schemas/Person'}}
"""


async def do_import(user: UserSession, document: str, base_url: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"document": document}
    if base_url is not None:
        body["base_url"] = base_url
    return await user.client.post(URL, json=body, headers=user.headers)


async def test_a_yaml_document_becomes_one_function_per_operation(client: httpx.AsyncClient,
                                                                  alice: UserSession) -> None:
    response = await do_import(alice, PETSTORE)
    assert response.status_code == 200, response.text
    body = response.json()
    by_name = {f["name"]: f for f in body["data"]}
    assert body["count"] == 4 and set(by_name) == {"listPets", "createPet", "get_pets_petId", "deletePet"}
    assert body["skipped"] == [{"operation": "PUT /pets/{petId}/photo", "reason": "the request body is image/png, not JSON"}]
    assert by_name["listPets"] == {
        "type": "function", "name": "listPets", "description": "List pets",
        "parameters": {"type": "object", "properties": {
            "limit": {"type": "integer", "maximum": 100, "description": "How many"}}},
        "endpoint": {"method": "GET", "url": "https://pets.example/api/v1/pets", "headers": {}, "query": []}}
    create = by_name["createPet"]
    assert create["endpoint"]["query"] == ["dry_run"] and create["endpoint"]["method"] == "POST"
    assert create["parameters"]["required"] == ["name"]
    friends = create["parameters"]["properties"]["owner"]["properties"]["friends"]
    assert friends["items"] == {"type": "object", "description": "(recursive: Person)"}  # the loop is cut
    pet = by_name["get_pets_petId"]
    assert pet["endpoint"]["url"] == "https://pets.example/api/v1/pets/{petId}"
    assert pet["parameters"]["required"] == ["petId"] and pet["description"] == "Info for a pet"


async def test_imported_functions_can_be_saved_on_an_assistant(client: httpx.AsyncClient, alice: UserSession) -> None:
    functions = (await do_import(alice, PETSTORE, base_url="https://other.example/v2/")).json()["data"]
    assert functions[0]["endpoint"]["url"] == "https://other.example/v2/pets"
    functions[0]["endpoint"]["headers"] = {"Authorization": "Bearer pets-key"}
    created = await make_assistant(alice, tools=functions)
    assert [t["name"] for t in created["tools"]] == [f["name"] for f in functions]
    assert created["tools"][0]["endpoint"]["headers"] == {"Authorization": "********"}


async def test_json_documents_and_the_base_url_rules(client: httpx.AsyncClient, alice: UserSession) -> None:
    document = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
                "paths": {"/ping": {"get": {"operationId": "ping"}}}}
    response = await do_import(alice, json.dumps(document))
    assert response.status_code == 422 and "base_url" in response.json()["error"]["message"]
    for bad in ["ftp://x.example", "https://u:p@x.example", "https://{tenant}.example"]:
        response = await do_import(alice, json.dumps(document), base_url=bad)
        assert response.status_code == 422, bad
    response = await do_import(alice, json.dumps(document), base_url="http://127.0.0.1:9/")
    assert response.status_code == 200  # the guard decides at call time (an allow-listed local API)
    assert response.json()["data"][0]["endpoint"]["url"] == "http://127.0.0.1:9/ping"


async def test_what_is_not_openapi_3_is_refused(client: httpx.AsyncClient, alice: UserSession) -> None:
    cases = {
        "swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n": "openapi",
        "just text": "OpenAPI document is an object",
        "{not json": "not valid JSON or YAML",
        "openapi: 3.0.0\npaths: [1, 2]\n": "paths",
        "[" * 50_000 + "]" * 50_000: "nested too deeply",
        '{"openapi": "3.0.0", "paths": {}, "x": ' + "[" * 100_000 + "]" * 100_000 + "}": "nested too deeply",
        "- !!python/object/apply:os.system ['true']\n": "not valid JSON or YAML",
    }
    for document, message in cases.items():
        response = await do_import(alice, document)
        assert response.status_code == 422, (document[:40], response.text)
        assert message in response.json()["error"]["message"], (document[:40], response.text)


async def test_a_yaml_alias_bomb_is_refused(client: httpx.AsyncClient, alice: UserSession) -> None:
    lines = ["openapi: 3.0.0", "info: {title: t, version: '1'}", "paths: {}", 'a: &a ["x","x","x","x","x","x","x","x"]']
    for level in "bcdefghij":
        prev = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]")
    response = await do_import(alice, "\n".join(lines))
    assert response.status_code == 422 and "aliases" in response.json()["error"]["message"]


async def test_reference_loops_and_blow_ups_skip_the_operation(client: httpx.AsyncClient, alice: UserSession) -> None:
    schemas: dict[str, Any] = {"L0": {"type": "string"}}
    for i in range(1, 10):  # each level references the one below 16 times: 16^9 nodes once inlined
        schemas[f"L{i}"] = {"type": "object", "properties": {
            f"p{k}": {"$ref": f"#/components/schemas/L{i - 1}"} for k in range(16)}}
    document = {
        "openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "servers": [{"url": "https://x.example"}],
        "components": {"schemas": schemas, "parameters": {
            "A": {"$ref": "#/components/parameters/B"}, "B": {"$ref": "#/components/parameters/A"}}},
        "paths": {
            "/loop": {"get": {"operationId": "loop", "parameters": [{"$ref": "#/components/parameters/A"}]}},
            "/bomb": {"post": {"operationId": "bomb", "requestBody": {"content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/L9"}}}}}},
            "/external": {"get": {"operationId": "external",
                                  "parameters": [{"$ref": "https://evil.example/param.json"}]}},
            "/fine": {"get": {"operationId": "fine"}},
        }}
    response = await do_import(alice, json.dumps(document))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [f["name"] for f in body["data"]] == ["fine"]
    reasons = {s["operation"]: s["reason"] for s in body["skipped"]}
    assert reasons["GET /loop"].startswith("reference loop")
    assert reasons["POST /bomb"] == "the schema is too large once its references are inlined"
    assert reasons["GET /external"].startswith("external reference")


async def test_many_operations_are_capped(client: httpx.AsyncClient, alice: UserSession) -> None:
    paths = {f"/r{i}": {"get": {"operationId": f"op{i}"}} for i in range(130)}
    document = {"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": paths}
    body = (await do_import(alice, json.dumps(document), base_url="https://x.example")).json()
    assert body["count"] == 100 and len(body["skipped"]) == 30
    assert body["skipped"][0] == {"operation": "GET /r100", "reason": "more than 100 operations"}


async def test_a_huge_document_is_refused_and_the_import_needs_a_user(client: httpx.AsyncClient,
                                                                      alice: UserSession) -> None:
    huge = "openapi: 3.0.0\n" + "#" * 1_100_000
    response = await do_import(alice, huge)
    assert response.status_code == 413
    response = await client.post(URL, json={"document": "openapi: 3.0.0"})
    assert response.status_code == 401
