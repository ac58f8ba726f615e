"""`runtime tools AGENT.yaml`: every tool the model will get, as it will get it: the agent's functions, the
tools of its MCP servers (started for the listing, stopped after it) and Gemini's built-in tools.

Exit 0 when every MCP server answered, 1 when the file is invalid or a server did not come up."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.agentfile.loader import LoadedAgent
    from runtime.mcp.toolset import McpToolset

EXIT_OK, EXIT_FAILED = 0, 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("agent_file", type=Path, metavar="AGENT.yaml", help="the agent file")
    parser.add_argument("--json", action="store_true", help="print a JSON list of objects")
    parser.add_argument("--secrets-dir", type=Path, metavar="DIR",
                        help="where ${secret:NAME} files live (default: $RUNTIME_SECRETS_DIR or /etc/runtime/secrets)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log the servers' start and stop")


def run(args: argparse.Namespace) -> int:
    import logging

    import anyio

    from runtime.agentfile.loader import ConfigErrors, load_agent
    from runtime.errors import RuntimeConfigError

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        agent = load_agent(args.agent_file, secrets_dir=args.secrets_dir)
    except (ConfigErrors, RuntimeConfigError) as errors:
        print(errors.render(), file=sys.stderr)
        return EXIT_FAILED
    listed, down = anyio.run(_listing, agent)
    print(json.dumps(listed, indent=2) if args.json else _text(listed))
    for server in down:
        print(f"runtime tools: MCP server {server} did not come up (see the log above)", file=sys.stderr)
    return EXIT_FAILED if down else EXIT_OK


async def _listing(agent: LoadedAgent) -> tuple[list[dict[str, Any]], list[str]]:
    import anyio

    from runtime.live.mcp_link import mcp_toolset

    listed = [_function(tool.name, tool.tool.description, tool.parameters, _source(tool.tool))
              for tool in agent.tools]
    toolset = mcp_toolset(agent.spec, agent.path.resolve().parent, agent.name, [tool.name for tool in agent.tools])
    down: list[str] = []
    if toolset is not None:
        async with anyio.create_task_group() as group:
            await group.start(toolset.run)
            listed += _mcp(toolset)
            down = [server.name for server in toolset.servers if not server.up]
            group.cancel_scope.cancel()
    listed += [{"name": name, "kind": "built_in", "description": _BUILT_IN[name], "parameters": None,
                "source": "Gemini (runs on Google's side)"} for name in agent.spec.builtin_tools()]
    return listed, down


_BUILT_IN = {
    "google_search": "Grounds answers in Google Search results.",
    "code_execution": "Writes and runs Python code to answer.",
}


def _mcp(toolset: McpToolset) -> list[dict[str, Any]]:
    listed = []
    for tool in toolset.tools():
        owner = toolset.owner(tool.name)
        server = owner[0].name if owner else "?"
        entry = _function(tool.name, tool.resolved.tool.description, tool.resolved.parameters,
                          f"mcp {server} (its tool {tool.server_name})")
        entry["kind"] = "mcp"
        if tool.changes:
            entry["schema_changes"] = list(tool.changes)
        listed.append(entry)
    return listed


def _function(name: str, description: str, parameters: dict[str, Any], source: str) -> dict[str, Any]:
    return {"name": name, "kind": "function", "description": description, "parameters": parameters,
            "source": source}


def _source(tool: Any) -> str:
    if tool.python is not None:
        return f"python {tool.python}"
    return f"http {tool.http.method} {tool.http.url}"


def _text(listed: list[dict[str, Any]]) -> str:
    lines = []
    for entry in listed:
        lines.append(f"{entry['name']}  [{entry['source']}]")
        if entry["description"]:
            lines.append(f"    {entry['description']}")
        if entry["parameters"] is not None:
            lines.append(f"    parameters: {json.dumps(entry['parameters'])}")
        for change in entry.get("schema_changes", []):
            lines.append(f"    schema converted for the Live API: {change}")
    return "\n".join(lines) if lines else "(no tools)"
