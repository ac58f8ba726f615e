"""The pure parts of MCP tools: schema conversion, which tools are kept under which names, result mapping."""

from __future__ import annotations

from mcp import types

from runtime.agentfile.spec import McpServer
from runtime.mcp.catalog import Listed, select
from runtime.mcp.results import as_response
from runtime.mcp.schema import declarable


def test_a_schema_the_live_api_takes_is_declared_as_it_is() -> None:
    schema = {"type": "object", "properties": {"room": {"type": "string", "enum": ["hall", "kitchen"]}},
              "required": ["room"], "$defs": {"Level": {"type": "integer", "minimum": 0}}}
    assert declarable(schema).schema == schema
    assert declarable(schema).changes == ()


def test_constructs_with_an_equivalent_are_converted_others_dropped_each_named() -> None:
    converted = declarable({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"mode": {"oneOf": [{"const": 1}, {"type": "string"}]},
                       "extra": {"type": "object", "patternProperties": {"^x": {"type": "string"}}}},
        "if": {"required": ["mode"]}, "then": {"required": ["extra"]},
    })
    assert converted.schema == {"type": "object", "properties": {
        "mode": {"anyOf": [{"enum": [1]}, {"type": "string"}]}, "extra": {"type": "object"}}}
    assert converted.changes == (
        "oneOf → anyOf at properties.mode.oneOf",
        "const → enum at properties.mode.oneOf[0].const",
        "patternProperties dropped at properties.extra.patternProperties",
        "if dropped at if",
        "then dropped at then",
    )


def test_a_root_that_is_no_object_becomes_one() -> None:
    converted = declarable({"type": "string"})
    assert converted.schema == {"type": "object", "properties": {}}
    assert converted.changes == ("root type 'string' → object",)


def test_prefix_include_and_overrides_shape_what_the_model_sees() -> None:
    server = McpServer.model_validate({
        "command": ["srv"], "prefix": "home_", "include": ["turn_on", "dim"], "timeout_s": 5,
        "behavior": "non_blocking", "scheduling": "when_idle",
        "overrides": {"dim": {"behavior": "blocking", "timeout_s": 30}},
    })
    listed = [Listed("turn_on", "On.", {"type": "object"}), Listed("dim", "Dim.", {"type": "object"}),
              Listed("reboot", "Reboot.", {"type": "object"})]
    tools, problems = select(server, listed)
    assert problems == []
    by_name = {tool.name: tool for tool in tools}
    assert sorted(by_name) == ["home_dim", "home_turn_on"]
    turn_on, dim = by_name["home_turn_on"].resolved.tool, by_name["home_dim"].resolved.tool
    assert (turn_on.behavior, turn_on.scheduling, turn_on.timeout_s) == ("non_blocking", "when_idle", 5)
    assert (dim.behavior, dim.scheduling, dim.timeout_s) == ("blocking", None, 30)
    assert by_name["home_dim"].server_name == "dim"


def test_a_name_the_model_would_refuse_is_left_out_and_said() -> None:
    tools, problems = select(McpServer(command=["srv"]), [Listed("turn-on", "", {"type": "object"})])
    assert tools == []
    assert problems == ["tool 'turn-on' left out: 'turn-on' is not a valid function name"]


def text(value: str) -> types.TextContent:
    return types.TextContent(type="text", text=value)


def test_results_become_function_responses() -> None:
    assert as_response(types.CallToolResult(content=[text("on"), text("done")])) == {"result": "on\ndone"}
    structured = types.CallToolResult(content=[text("{}")], structured_content={"level": 3})
    assert as_response(structured) == {"level": 3}
    failed = types.CallToolResult(content=[text("no such room")], is_error=True)
    assert as_response(failed) == {"error": "no such room"}
    image = types.ImageContent(type="image", data="AAAA", mime_type="image/png")
    assert as_response(types.CallToolResult(content=[image])) == {
        "note": "content of type image was left out (not passed to the model)"}
