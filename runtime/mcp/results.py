"""An MCP `CallToolResult` → the function response the model gets (a JSON object).

Structured content is kept as it is, text blocks are joined; an `isError` result becomes `{"error": ...}` as every
failed tool call does (`runtime.live.tools`). Images, audio and embedded resources cannot ride in a Live function
response: they are dropped, and a note tells the model so it does not claim to have seen them.
"""

from __future__ import annotations

from typing import Any

from mcp import types

__all__ = ["as_response"]


def as_response(result: types.CallToolResult) -> dict[str, Any]:
    texts = [block.text for block in result.content if isinstance(block, types.TextContent)]
    dropped = sorted({block.type for block in result.content if not isinstance(block, types.TextContent)})
    text = "\n".join(texts)
    if result.is_error:
        return {"error": text or "the MCP tool reported an error without a message"}
    response: dict[str, Any] = {}
    if result.structured_content is not None:
        structured = result.structured_content
        response.update(structured if isinstance(structured, dict) else {"result": structured})
    elif texts:
        response["result"] = text
    if dropped:
        response["note"] = f"content of type {', '.join(dropped)} was left out (not passed to the model)"
    return response
