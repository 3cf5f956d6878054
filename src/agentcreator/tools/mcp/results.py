"""An MCP ``CallToolResult`` as a :class:`~agentcreator.tools.base.ToolResult`.

Text blocks become the output the model reads. Images become ``image`` parts (PNG, JPEG, GIF or WebP,
valid base64, at most ``max_image_bytes``; anything else is dropped with a note, so an SVG with a
script never reaches the browser). Resource links and embedded resources are named in the output
(embedded text is included). Structured content is kept in the metadata and is the output when the
tool sent no text. A result with ``isError`` raises :class:`McpToolError` with the tool's message.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from mcp.types import (
    AudioContent,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    TextResourceContents,
)

from agentcreator.tools.base import ToolResult
from agentcreator.tools.mcp.config import McpToolError

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def to_tool_result(result: CallToolResult, *, server: str, tool: str, max_image_bytes: int) -> ToolResult:
    texts: list[str] = []
    parts: list[dict[str, Any]] = []
    for block in result.content:
        if isinstance(block, TextContent):
            texts.append(block.text)
        elif isinstance(block, ImageContent):
            note, part = _image(block, max_image_bytes)
            texts.append(note)
            if part is not None:
                parts.append(part)
        elif isinstance(block, AudioContent):
            texts.append(f"[audio ({block.mime_type}) not shown]")
        elif isinstance(block, ResourceLink):
            texts.append(f"[resource {block.name}: {block.uri}]")
            parts.append({"type": "resource_link", "uri": str(block.uri), "name": block.name,
                          "mime_type": block.mime_type})
        elif isinstance(block, EmbeddedResource):
            resource = block.resource
            if isinstance(resource, TextResourceContents):
                texts.append(resource.text)
            else:
                texts.append(f"[resource {resource.uri} ({resource.mime_type or 'binary'}) not shown]")
    output = "\n".join(texts)
    structured = result.structured_content
    if structured is not None and not output.strip():
        output = json.dumps(structured, ensure_ascii=False)
    if result.is_error:
        raise McpToolError(output.strip() or f"the tool {tool} reported an error", code="mcp_tool_error")
    metadata: dict[str, Any] = {"mcp_server": server, "mcp_tool": tool}
    if structured is not None:
        metadata["structured_content"] = structured
    return ToolResult(output=output, parts=parts, metadata=metadata)


def _image(block: ImageContent, max_bytes: int) -> tuple[str, dict[str, Any] | None]:
    mime = block.mime_type.lower().strip()
    if mime not in IMAGE_TYPES:
        return f"[image of type {mime[:50]!r} not shown]", None
    try:
        size = len(base64.b64decode(block.data, validate=True))
    except (binascii.Error, ValueError):
        return "[image not shown: invalid base64 data]", None
    if size > max_bytes:
        return f"[image not shown: {size} bytes is over the {max_bytes} byte limit]", None
    return f"[image: {mime}, {size} bytes]", {"type": "image", "mime_type": mime, "data": block.data}
