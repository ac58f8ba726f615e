"""The `tools:` entries without code: MCP servers and Gemini's built-in tools, as the agent file declares them."""

from __future__ import annotations

from pathlib import Path

from runtime.agentfile.loader import load_agent
from runtime.agentfile.spec import McpServer
from tests.foundation.helpers import MODEL, failures, only_error, position, write


def test_an_agent_with_every_kind_of_tool_loads(tmp_path: Path) -> None:
    path = write(tmp_path, f"""
        model: {MODEL}
        tools:
          - name: ping
            description: Answers.
            http: {{url: "http://127.0.0.1:9/ping"}}
          - mcp:
              command: [python3, -m, home_tools]
              env: {{HA_TOKEN: "t"}}
              include: [turn_on, turn_off]
              prefix: home_
              timeout_s: 5
              behavior: non_blocking
              overrides: {{turn_on: {{scheduling: silent, timeout_s: 2}}}}
          - mcp:
              url: http://127.0.0.1:8123/api/mcp
              headers: {{Authorization: "Bearer t"}}
          - google_search: {{}}
        """)
    agent = load_agent(path)
    assert [tool.name for tool in agent.tools] == ["ping"]
    servers = [server for _, server in agent.spec.mcp_servers()]
    assert servers[0] == McpServer.model_validate({
        "command": ["python3", "-m", "home_tools"], "env": {"HA_TOKEN": "t"}, "include": ["turn_on", "turn_off"],
        "prefix": "home_", "timeout_s": 5, "behavior": "non_blocking",
        "overrides": {"turn_on": {"scheduling": "silent", "timeout_s": 2}},
    })
    assert servers[1].url == "http://127.0.0.1:8123/api/mcp"
    assert agent.spec.builtin_tools() == ["google_search"]
    assert len(agent.spec.tools) == 4, "the loader keeps every entry, not only the functions it resolved"


def test_a_misspelt_key_of_an_mcp_server_is_located_with_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, f"""
        model: {MODEL}
        tools:
          - mcp:
              comand: [python3, server.py]
        """)
    errors = failures(path)
    unknown = next(error for error in errors if "comand" in error.message)
    assert position(unknown) == "4:7"
    assert "`command`" in unknown.hint
    assert "tools[0].mcp" in unknown.message


def test_an_mcp_server_needs_exactly_one_transport(tmp_path: Path) -> None:
    both = write(tmp_path, f"""
        model: {MODEL}
        tools:
          - mcp:
              command: [python3, server.py]
              url: http://127.0.0.1:1/mcp
        """)
    assert "both `command` and `url`" in only_error(both).message
    assert position(only_error(both)) == "5:7"
    neither = write(tmp_path, f"""
        model: {MODEL}
        tools:
          - mcp: {{prefix: x_}}
        """, "neither.yaml")
    assert "exactly one of `command` or `url`" in only_error(neither).message


def test_include_and_exclude_together_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, f"""
        model: {MODEL}
        tools:
          - mcp: {{command: [srv], include: [a], exclude: [b]}}
        """)
    assert "both `include` and `exclude`" in only_error(path).message


def test_a_remote_mcp_server_goes_through_the_ssrf_guard(tmp_path: Path) -> None:
    path = write(tmp_path, f"""
        model: {MODEL}
        tools:
          - mcp:
              url: http://169.254.169.254/latest/mcp
        """)
    error = only_error(path)
    assert "169.254" in error.message
    assert position(error) == "4:12"


def test_a_remote_mcp_server_needs_an_http_url(tmp_path: Path) -> None:
    path = write(tmp_path, f"""
        model: {MODEL}
        tools:
          - mcp: {{url: "file:///etc/passwd"}}
        """)
    assert "not allowed" in only_error(path).message


def test_scheduling_of_a_blocking_mcp_tool_is_refused_where_it_is_written(tmp_path: Path) -> None:
    path = write(tmp_path, f"""
        model: {MODEL}
        tools:
          - mcp:
              command: [srv]
              overrides:
                turn_on: {{scheduling: silent}}
        """)
    error = only_error(path)
    assert "`scheduling` only applies" in error.message
    assert position(error) == "6:19"


def test_an_override_of_a_tool_left_out_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, f"""
        model: {MODEL}
        tools:
          - mcp:
              command: [srv]
              exclude: [turn_off]
              overrides: {{turn_off: {{timeout_s: 3}}}}
        """)
    warnings = load_agent(path).warnings
    assert any("never applies" in warning.message for warning in warnings)


def test_a_built_in_tool_the_model_lacks_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, """
        model: gemini-3.1-flash-live-preview
        tools:
          - google_search: {}
          - code_execution: {}
        """)
    error = only_error(path)
    assert "does not offer `code_execution`" in error.message
    assert position(error) == "4:5"


def test_a_built_in_tool_takes_no_settings(tmp_path: Path) -> None:
    path = write(tmp_path, f"""
        model: {MODEL}
        tools:
          - google_search: {{depth: 3}}
        """)
    error = only_error(path)
    assert "unknown key `depth`" in error.message
    assert position(error) == "3:21"


def test_a_built_in_tool_listed_twice_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, f"""
        model: {MODEL}
        tools:
          - google_search: {{}}
          - google_search: {{}}
        """)
    assert "listed twice" in only_error(path).message


def test_a_server_program_that_cannot_be_found_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, f"""
        model: {MODEL}
        tools:
          - mcp: {{command: [no-such-mcp-server-7, --stdio]}}
          - mcp: {{command: [python3, -m, home_tools]}}
        """)
    (warning,) = load_agent(path).warnings
    assert "`no-such-mcp-server-7` not found" in warning.message
    assert position(warning) == "3:21"
