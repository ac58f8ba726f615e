"""MCP servers as tools, against a real server (the SDK's server side, a process of its own) over stdio and HTTP."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from runtime.agentfile.spec import AgentSpec
from runtime.mcp.toolset import McpToolset
from tests.mcp.servers import alive, http_server, pids, stdio_entry

pytestmark = pytest.mark.anyio
DEADLINE_S = 60.0
"""Longest a test waits for something to happen (a deadline, never an assertion on time)."""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def running(*entries: dict[str, Any], taken: tuple[str, ...] = ()) -> AsyncIterator[McpToolset]:
    spec = AgentSpec.model_validate({"model": "gemini-3.8-live", "tools": list(entries)})
    toolset = McpToolset(spec, base_dir=Path.cwd(), agent="test", taken=taken)
    async with anyio.create_task_group() as group:
        await group.start(toolset.run)
        yield toolset
        group.cancel_scope.cancel()


async def eventually(check: Callable[[], Any]) -> None:
    with anyio.fail_after(DEADLINE_S):
        while not check():
            await anyio.sleep(0.05)


async def test_a_stdio_server_offers_its_tools_under_the_prefix_the_file_gives(tmp_path: Path) -> None:
    async with running(stdio_entry(tmp_path, prefix="home_", include=["turn_on", "thermostat", "pick"])) as tools:
        declared = {tool.name: tool for tool in tools.tools()}
        assert sorted(declared) == ["home_pick", "home_thermostat", "home_turn_on"]
        turn_on = declared["home_turn_on"].resolved
        assert turn_on.tool.description == "Turn on the lights of a room."
        assert turn_on.parameters["properties"]["room"]["description"] == "The room, e.g. kitchen"
        assert await tools.call("home_turn_on", {"room": "kitchen"}) == {"result": "lights on in kitchen"}
        assert await tools.call("home_thermostat", {"celsius": 20.5}) == {"set_to": 20.5, "unit": "C"}


async def test_error_results_and_content_the_model_cannot_take(tmp_path: Path) -> None:
    async with running(stdio_entry(tmp_path)) as tools:
        broken = await tools.call("broken", {})
        assert set(broken) == {"error"} and "the bulb is gone" in broken["error"]
        snapshot = await tools.call("snapshot", {})
        assert snapshot["result"] == "the hall camera"
        assert "image" in snapshot["note"]


async def test_a_schema_the_live_api_refuses_is_converted_and_each_change_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="runtime.mcp")
    async with running(stdio_entry(tmp_path, include=["pick"])) as tools:
        (pick,) = tools.tools()
        mode = pick.resolved.parameters["properties"]["mode"]
        assert "oneOf" not in mode and mode["anyOf"][0] == {"enum": ["eco"]}
        assert "not" not in mode["anyOf"][1]
        assert pick.input_schema["properties"]["mode"]["oneOf"], "calls are checked against the server's own schema"
    logged = [record.getMessage() for record in caplog.records if "schema converted" in record.getMessage()]
    assert logged == [
        "agent test: MCP tool pick: schema converted for the Live API: oneOf → anyOf at properties.mode.oneOf",
        "agent test: MCP tool pick: schema converted for the Live API: const → enum at properties.mode.oneOf[0].const",
        "agent test: MCP tool pick: schema converted for the Live API: not dropped at properties.mode.oneOf[1].not",
    ]


async def test_a_crashed_server_is_restarted_and_calls_meanwhile_get_an_error(tmp_path: Path) -> None:
    async with running(stdio_entry(tmp_path)) as tools:
        (first,) = pids(tmp_path)
        crashed = await tools.call("crash", {})
        assert "went away" in crashed["error"]
        await eventually(lambda: len(pids(tmp_path)) == 2)
        results: list[dict[str, Any]] = []

        async def answered() -> None:
            with anyio.fail_after(DEADLINE_S):
                while "result" not in (result := await tools.call("turn_on", {"room": "hall"})):
                    results.append(result)
                    await anyio.sleep(0.05)
        await answered()
        assert all("restarted" in result["error"] for result in results)
        assert not alive(first)


async def test_stopping_the_agent_leaves_no_server_process(tmp_path: Path) -> None:
    async with running(stdio_entry(tmp_path), stdio_entry(tmp_path / "second")):
        pass
    for pid in pids(tmp_path):
        assert not alive(pid), f"MCP server {pid} outlived its agent"


async def test_cancelling_a_call_cancels_the_request_on_the_server(tmp_path: Path) -> None:
    async with running(stdio_entry(tmp_path)) as tools:
        async with anyio.create_task_group() as group:  # cancelled once the server runs the call, never before
            group.start_soon(tools.call, "wait_forever", {})
            await eventually((tmp_path / "started").exists)
            group.cancel_scope.cancel()
        await eventually((tmp_path / "cancelled").exists)


async def test_a_changed_tool_list_is_listed_again_and_signalled(tmp_path: Path) -> None:
    async with running(stdio_entry(tmp_path)) as tools:
        assert tools.owner("dim") is None
        assert await tools.call("grow", {}) == {"result": "grown"}
        with anyio.fail_after(DEADLINE_S):
            await tools.wait_changed()
        assert await tools.call("dim", {"room": "hall", "percent": 30}) == {"result": "hall at 30%"}


async def test_the_daemons_api_key_never_reaches_a_stdio_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "AIzaCANARY-daemon-key-0123456789"
    monkeypatch.setenv("GEMINI_API_KEY", canary)
    monkeypatch.setenv("GOOGLE_API_KEY", canary)
    async with running(stdio_entry(tmp_path, env={"HA_TOKEN": "named-in-the-file"})) as tools:
        seen = await tools.call("environment", {})
    assert canary not in repr(seen)
    assert seen["env"]["HA_TOKEN"] == "named-in-the-file"
    assert set(seen["env"]) <= {"HA_TOKEN", "MARKS_DIR", "PYTHONPATH", "HOME", "LOGNAME", "PATH", "SHELL", "TERM",
                                "USER", "LC_CTYPE"}


async def test_a_remote_server_gets_only_the_headers_the_file_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "AIzaCANARY-daemon-key-9876543210"
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, canary if "KEY" in name else "http://127.0.0.1:9")
    with http_server(tmp_path) as url:
        async with running({"mcp": {"url": url, "headers": {"Authorization": "Bearer t"}, "prefix": "ha_"}}) as tools:
            assert await tools.call("ha_turn_on", {"room": "porch"}) == {"result": "lights on in porch"}
            seen = await tools.call("ha_environment", {})
    assert canary not in repr(seen)
    assert seen["headers"]["authorization"] == "Bearer t"
    assert not [name for name in seen["headers"] if "goog" in name.lower() or "api-key" in name.lower()]


async def test_a_remote_server_at_a_metadata_address_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    entry = {"mcp": {"url": "http://169.254.169.254/mcp"}}
    async with running(entry) as tools:
        assert tools.tools() == []
    assert any("169.254" in record.getMessage() for record in caplog.records)


async def test_a_function_of_the_agent_keeps_its_name(tmp_path: Path) -> None:
    async with running(stdio_entry(tmp_path, include=["turn_on"]), taken=("turn_on",)) as tools:
        assert tools.tools() == []


async def test_a_secret_in_a_servers_environment_is_masked_in_the_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import yaml

    from runtime.agentfile.loader import load_agent
    from runtime.guards.redact import install_logging_filter

    token = "ha-secret-token-5f1e9c"
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    (secrets / "ha_token").write_text(token)
    (secrets / "ha_token").chmod(0o600)
    entry = stdio_entry(tmp_path, env={"HA_TOKEN": "${secret:ha_token}"})
    (tmp_path / "home.yaml").write_text(yaml.safe_dump({"model": "gemini-3.8-live", "tools": [entry]}))
    agent = load_agent(tmp_path / "home.yaml", secrets_dir=secrets)
    install_logging_filter(logging.getLogger())
    caplog.set_level(logging.DEBUG)
    async with running(*[{"mcp": server.model_dump()} for _, server in agent.spec.mcp_servers()]) as tools:
        seen = await tools.call("environment", {})
        logging.getLogger("runtime.mcp").info("server answered %s", seen)
    assert seen["env"]["HA_TOKEN"] == token, "the server gets it"
    assert token not in caplog.text, "the log never shows it"


async def test_a_schema_conversion_is_logged_once_across_restarts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="runtime.mcp")
    async with running(stdio_entry(tmp_path, include=["pick", "crash", "turn_on"])) as tools:
        await tools.call("crash", {})
        await eventually(lambda: len(pids(tmp_path)) == 2)

        async def answered() -> None:
            with anyio.fail_after(DEADLINE_S):
                while "result" not in await tools.call("turn_on", {"room": "hall"}):
                    await anyio.sleep(0.05)
        await answered()
    conversions = [record for record in caplog.records if "oneOf → anyOf" in record.getMessage()]
    assert len(conversions) == 1


async def test_a_remote_server_that_goes_away_is_reconnected_when_it_is_back(tmp_path: Path) -> None:
    from tests.mcp.servers import free_port

    port = free_port()

    async def answers() -> bool:
        return "result" in await tools.call("turn_on", {"room": "porch"})

    async def until(wanted: bool) -> None:
        with anyio.fail_after(DEADLINE_S):
            while await answers() != wanted:
                await anyio.sleep(0.1)

    async with running({"mcp": {"url": f"http://127.0.0.1:{port}/mcp"}}) as tools:
        with http_server(tmp_path, port):
            await until(True)
        gone = await tools.call("turn_on", {"room": "porch"})
        assert "error" in gone
        with http_server(tmp_path, port):
            await until(True)
