"""Function tools from an OpenAPI 3 document: one function config per operation.

The document is untrusted text (up to the request body limit). It is parsed as JSON, or as YAML with
the safe loader and without aliases (an alias bomb expands a few lines into millions of nodes); the
parts read are validated with pydantic. Local ``$ref``s are inlined with cycle detection (a recursive
schema becomes ``{"type": "object"}`` at the second visit) and a node budget per function, so neither
a reference loop nor a huge document can make the import run away. External references are not
fetched.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentcreator.core.errors import ValidationFailed
from agentcreator.tools.http_functions import check_url_template

METHODS = ("get", "post", "put", "patch", "delete")
MAX_FUNCTIONS = 100
MAX_OPERATIONS = 2000
NODE_BUDGET = 20_000  # schema nodes inlined per function
MAX_DEPTH = 32


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Server(_Loose):
    url: str


class _Document(_Loose):
    openapi: str = Field(pattern=r"^3\.[0-9]+(\.[0-9]+)?")
    servers: list[_Server] = []
    paths: dict[str, dict[str, Any]] = Field(default_factory=dict, max_length=MAX_OPERATIONS)


class _Parameter(_Loose):
    name: str = Field(min_length=1, max_length=200)
    in_: str = Field(alias="in", pattern="^(path|query|header|cookie)$")
    required: bool = False
    description: str = ""
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")


class _Operation(_Loose):
    operationId: str | None = None
    summary: str = ""
    description: str = ""
    parameters: list[dict[str, Any]] = []
    requestBody: dict[str, Any] | None = None


class _NoAliasLoader(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("YAML aliases (*name) are not accepted in an OpenAPI import")
        return super().compose_node(parent, index)


class _TooLarge(Exception):
    pass


def parse_document(text: str) -> dict[str, Any]:
    """The document as JSON data; ValidationFailed for anything else."""
    try:
        # _NoAliasLoader is a SafeLoader: plain data only, no Python objects.
        data = json.loads(text) if text.lstrip().startswith("{") else yaml.load(text, Loader=_NoAliasLoader)
    except (ValueError, yaml.YAMLError) as exc:
        raise _invalid(f"not valid JSON or YAML: {str(exc)[:300]}") from exc
    except RecursionError as exc:
        raise _invalid("the document is nested too deeply") from exc
    if not isinstance(data, dict):
        raise _invalid("an OpenAPI document is an object with 'openapi', 'info' and 'paths'")
    return data


def functions_from_openapi(text: str, base_url: str | None) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """``(function configs, skipped operations with a reason)``. Synchronous and CPU-bound: call it in
    a worker thread."""
    raw = parse_document(text)
    try:
        document = _Document.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise _invalid(f"{where}: {first['msg']}" if where else first["msg"]) from exc
    base = _base_url(base_url, document)
    functions: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    names: set[str] = set()
    for path, item in document.paths.items():
        if not isinstance(item, dict) or not path.startswith("/"):
            skipped.append({"operation": str(path)[:200], "reason": "not a path item"})
            continue
        shared = item.get("parameters") if isinstance(item.get("parameters"), list) else []
        for method in METHODS:
            if method not in item:
                continue
            label = f"{method.upper()} {path}"[:200]
            if len(functions) >= MAX_FUNCTIONS:
                skipped.append({"operation": label, "reason": f"more than {MAX_FUNCTIONS} operations"})
                continue
            try:
                function = _function(raw, base, path, method, item[method], shared, names)
            except (_Skip, ValidationError) as exc:
                reason = str(exc) if isinstance(exc, _Skip) else exc.errors()[0]["msg"]
                skipped.append({"operation": label, "reason": reason[:300]})
                continue
            names.add(function["name"])
            functions.append(function)
    return functions, skipped


class _Skip(Exception):
    pass


def _function(raw: dict[str, Any], base: str, path: str, method: str, operation_data: Any,
              shared: list[Any], taken: set[str]) -> dict[str, Any]:
    if not isinstance(operation_data, dict):
        raise _Skip("the operation is not an object")
    operation = _Operation.model_validate(operation_data)
    budget = [NODE_BUDGET]
    properties: dict[str, Any] = {}
    required: list[str] = []
    query: list[str] = []
    by_key = {}
    for entry in [*shared, *operation.parameters]:  # the operation's own override the path's
        param = _Parameter.model_validate(_resolve(raw, entry, budget))
        by_key[(param.name, param.in_)] = param
    for param in by_key.values():
        if param.in_ in ("header", "cookie"):
            if param.required:
                raise _Skip(f"needs the {param.in_} parameter {param.name}; add it as a header by hand")
            continue
        schema = _inline(raw, param.schema_, budget) or {"type": "string"}
        if param.description and isinstance(schema, dict):
            schema = {**schema, "description": param.description[:500]}
        properties[param.name] = schema
        if param.in_ == "query":
            query.append(param.name)
        if param.required or param.in_ == "path":
            required.append(param.name)
    if operation.requestBody is not None:
        _body_properties(raw, operation.requestBody, budget, properties, required)
    url = base + path
    try:
        placeholders = check_url_template(url)
    except ValueError as exc:
        raise _Skip(f"the URL {url[:200]} cannot be used: {exc}") from exc
    unknown = sorted(set(placeholders) - set(properties))
    if unknown:
        raise _Skip(f"path parameters not described: {', '.join(unknown)}")
    name = _name(operation.operationId or f"{method}_{path}", taken)
    description = (operation.summary or operation.description or f"{method.upper()} {path}").strip()
    endpoint: dict[str, Any] = {"method": method.upper(), "url": url, "headers": {}}
    if method in ("post", "put", "patch") and query:
        endpoint["query"] = query
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = sorted(set(required))
    return {"type": "function", "name": name, "description": description[:1024], "parameters": parameters,
            "endpoint": endpoint}


def _body_properties(raw: dict[str, Any], body_data: dict[str, Any], budget: list[int],
                     properties: dict[str, Any], required: list[str]) -> None:
    body = _resolve(raw, body_data, budget)
    content = body.get("content") if isinstance(body, dict) else None
    if not isinstance(content, dict) or not content:
        return
    media = next((v for k, v in content.items() if k.split(";")[0].strip() == "application/json"
                  or k.endswith("+json")), None)
    if not isinstance(media, dict):
        raise _Skip(f"the request body is {', '.join(list(content)[:3])}, not JSON")
    schema = _inline(raw, media.get("schema") or {}, budget)
    if not isinstance(schema, dict) or schema.get("type", "object") != "object" \
            or not isinstance(schema.get("properties", {}), dict):
        raise _Skip("the request body is not a JSON object")
    clash = sorted(set(schema.get("properties", {})) & set(properties))
    if clash:
        raise _Skip(f"body fields clash with parameters: {', '.join(clash)}")
    properties.update(schema.get("properties", {}))
    if body.get("required") and isinstance(schema.get("required"), list):
        required.extend(str(r) for r in schema["required"] if r in properties)


def _resolve(raw: dict[str, Any], node: Any, budget: list[int]) -> Any:
    """Follow a chain of ``$ref``s to the object it names (for parameters and request bodies)."""
    seen: set[str] = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if ref in seen:
            raise _Skip(f"reference loop at {ref[:200]}")
        seen.add(ref)
        node = _pointer(raw, ref)
    return node


def _inline(raw: dict[str, Any], node: Any, budget: list[int]) -> Any:
    try:
        return _inline_node(raw, node, budget, (), 0)
    except _TooLarge as exc:
        raise _Skip("the schema is too large once its references are inlined") from exc
    except RecursionError as exc:
        raise _Skip("the schema is nested too deeply") from exc


def _inline_node(raw: dict[str, Any], node: Any, budget: list[int], stack: tuple[str, ...], depth: int) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooLarge
    if depth > MAX_DEPTH:
        return {}
    if isinstance(node, list):
        return [_inline_node(raw, v, budget, stack, depth + 1) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        if ref in stack:
            return {"type": "object", "description": f"(recursive: {ref.rsplit('/', 1)[-1][:100]})"}
        try:
            target = _pointer(raw, ref)
        except _Skip:
            return {}
        return _inline_node(raw, target, budget, (*stack, ref), depth + 1)
    return {k: _inline_node(raw, v, budget, stack, depth + 1) for k, v in node.items()
            if k not in ("example", "examples", "xml", "externalDocs")}


def _pointer(raw: dict[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        raise _Skip(f"external reference {ref[:200]} is not fetched")
    node: Any = raw
    for token in ref[2:].split("/"):
        key = unquote(token).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            raise _Skip(f"reference {ref[:200]} points nowhere")
    return node


def _name(candidate: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-zA-Z0-9-]+", "_", candidate).strip("_")[:60] or "operation"
    name, suffix = base, 2
    while name in taken:
        name, suffix = f"{base}_{suffix}", suffix + 1
    return name


def _base_url(given: str | None, document: _Document) -> str:
    base = (given or next((s.url for s in document.servers if s.url.startswith(("http://", "https://"))), ""))
    base = base.rstrip("/")
    if not base:
        raise _invalid("give a base_url: the document names no absolute server URL", field="base_url")
    try:
        if check_url_template(base + "/"):
            raise ValueError("the base URL cannot hold {placeholders}")
    except ValueError as exc:
        raise _invalid(f"base URL {base[:200]}: {exc}", field="base_url") from exc
    return base


def _invalid(message: str, *, field: str = "document") -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", code="invalid_openapi",
                            details=[{"loc": ["body", field], "msg": message, "type": "invalid_openapi"}])
