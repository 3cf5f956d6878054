"""MCP results as tool results: the cases a well-behaved test server does not send."""

from __future__ import annotations

import base64

import pytest
from mcp.types import AudioContent, BlobResourceContents, CallToolResult, EmbeddedResource, TextContent

from agentcreator.tools.mcp import McpToolError, to_tool_result


def convert(result: CallToolResult, max_image_bytes: int = 1000):  # type: ignore[no-untyped-def]
    return to_tool_result(result, server="srv", tool="t", max_image_bytes=max_image_bytes)


def test_structured_content_alone_is_the_output_and_is_kept_in_the_metadata() -> None:
    result = convert(CallToolResult(content=[], structured_content={"temp": 21.5, "unit": "°C"}))
    assert result.output == '{"temp": 21.5, "unit": "°C"}'
    assert result.metadata == {"mcp_server": "srv", "mcp_tool": "t",
                               "structured_content": {"temp": 21.5, "unit": "°C"}}


def test_an_error_result_raises_with_the_tools_message_or_a_default() -> None:
    with pytest.raises(McpToolError) as named:
        convert(CallToolResult(content=[TextContent(type="text", text="  quota exceeded \n")], is_error=True))
    assert named.value.message == "quota exceeded" and named.value.code == "mcp_tool_error"
    with pytest.raises(McpToolError) as silent:
        convert(CallToolResult(content=[], is_error=True))
    assert silent.value.message == "the tool t reported an error"


def test_audio_and_binary_resources_are_named_not_shown() -> None:
    blob = base64.b64encode(b"\x00\x01").decode()
    result = convert(CallToolResult(content=[
        AudioContent(type="audio", mime_type="audio/wav", data=blob),
        EmbeddedResource(type="resource", resource=BlobResourceContents(uri="file:///x.bin", blob=blob,
                                                                        mime_type="application/octet-stream")),
    ]))
    assert result.output.splitlines() == ["[audio (audio/wav) not shown]",
                                          "[resource file:///x.bin (application/octet-stream) not shown]"]
    assert result.parts == [] and not result.is_error
