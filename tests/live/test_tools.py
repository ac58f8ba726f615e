"""ToolRunner: python and http tools, argument validation, failures, timeouts, truncation, address guard."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote

import anyio
import pytest

from runtime.agentfile.entrypoints import derive_parameters
from runtime.agentfile.loader import load_agent
from runtime.agentfile.resolved_tools import resolve_tools
from runtime.agentfile.spec import AgentSpec
from runtime.live.http_tools import RESPONSE_LIMIT_BYTES, fill
from runtime.live.tools import ToolRunner

TOOLS_PY = '''
import time
import anyio

def add(a: int, b: int = 1) -> int:
    return a + b

async def greet(name: str) -> dict:
    await anyio.sleep(0)
    return {"greeting": "hello " + name}

def boom() -> None:
    raise RuntimeError("the oven is on fire")

def slow_sync() -> str:
    time.sleep(1.0)
    return "late"

async def slow_async() -> str:
    await anyio.sleep(30)
    return "never"
'''


class Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        Handler.seen.append({"path": self.path, "headers": dict(self.headers)})
        if self.path.startswith("/weather"):
            self._answer(200, json.dumps({"path": self.path, "temp": 21}).encode())
        elif self.path == "/big":
            self._answer(200, b"x" * (RESPONSE_LIMIT_BYTES * 2), "text/plain")
        elif self.path == "/fail":
            self._answer(503, b"oven service down", "text/plain")
        elif self.path == "/slow":
            time.sleep(1.0)
            self._answer(200, b"{}")
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._answer(404, b"no")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        Handler.seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
        self._answer(201, json.dumps({"received": json.loads(body or b"null")}).encode())


@pytest.fixture
def http_base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Handler.seen.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def runner(tmp_path: Path, tools: list[dict[str, Any]]) -> ToolRunner:
    (tmp_path / "kitchen_tools.py").write_text(TOOLS_PY)
    spec = AgentSpec.model_validate({"model": "m", "tools": tools})
    return ToolRunner(resolve_tools(spec.tools, tmp_path))


@pytest.mark.anyio
async def test_sync_and_async_python_tools_run_and_return_objects(tmp_path: Path) -> None:
    tools = runner(tmp_path, [{"name": "add", "python": "kitchen_tools:add"},
                              {"name": "greet", "python": "kitchen_tools:greet"}])
    added = await tools.call("add", "c1", {"a": 2, "b": 3})
    assert added.ok and added.result == {"result": 5} and added.call_id == "c1"
    greeted = await tools.call("greet", "c2", {"name": "Ada"})
    assert greeted.result == {"greeting": "hello Ada"}


def test_parameters_are_derived_from_type_hints(tmp_path: Path) -> None:
    tools = runner(tmp_path, [{"name": "add", "python": "kitchen_tools:add"}])
    schema = tools.parameters["add"]
    assert schema["properties"]["a"] == {"type": "integer"}
    assert schema["required"] == ["a"]

    def local(city: str, days: int = 1, metric: bool = True) -> None: ...

    assert derive_parameters(local)["properties"] == {
        "city": {"type": "string"}, "days": {"type": "integer"}, "metric": {"type": "boolean"},
    }


@pytest.mark.anyio
async def test_arguments_are_validated_before_the_call(tmp_path: Path) -> None:
    tools = runner(tmp_path, [{"name": "add", "python": "kitchen_tools:add"}])
    wrong_type = await tools.call("add", "c", {"a": "two"})
    assert not wrong_type.ok and "invalid arguments" in wrong_type.result["error"] and "a" in wrong_type.result["error"]
    missing = await tools.call("add", "c", {})
    assert "'a' is a required property" in missing.result["error"]


@pytest.mark.anyio
async def test_exceptions_and_unknown_tools_become_errors_for_the_model(tmp_path: Path) -> None:
    tools = runner(tmp_path, [{"name": "boom", "python": "kitchen_tools:boom"}])
    outcome = await tools.call("boom", "c", {})
    assert outcome.result == {"error": "RuntimeError: the oven is on fire"} and not outcome.ok
    assert (await tools.call("nope", "c", {})).result == {"error": "unknown tool 'nope'"}


@pytest.mark.anyio
async def test_timeouts_answer_at_once_for_sync_and_async_tools(tmp_path: Path) -> None:
    tools = runner(tmp_path, [
        {"name": "slow_sync", "python": "kitchen_tools:slow_sync", "timeout_s": 0.2},
        {"name": "slow_async", "python": "kitchen_tools:slow_async", "timeout_s": 0.2},
    ])
    for name in ("slow_sync", "slow_async"):
        outcome = await tools.call(name, "c", {})
        assert outcome.result == {"error": f"tool {name} timed out after 0.2 s"}
        assert outcome.duration_s < 0.9


@pytest.mark.anyio
async def test_cancellation_stops_a_running_tool(tmp_path: Path) -> None:
    tools = runner(tmp_path, [{"name": "slow_async", "python": "kitchen_tools:slow_async", "timeout_s": 60}])
    results: list[Any] = []
    async with anyio.create_task_group() as group:

        async def call() -> None:
            results.append(await tools.call("slow_async", "c", {}))

        group.start_soon(call)
        await anyio.sleep(0.05)
        group.cancel_scope.cancel()
    assert results == []


@pytest.mark.anyio
async def test_http_get_fills_the_url_with_encoded_arguments_and_headers(tmp_path: Path, http_base: str) -> None:
    tools = runner(tmp_path, [{
        "name": "weather",
        "http": {"url": http_base + "/weather?city={city}", "headers": {"Authorization": "Bearer s3cret"}},
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }])
    outcome = await tools.call("weather", "c", {"city": "São Paulo&x=1/../"})
    assert outcome.ok
    assert outcome.result["status"] == 200
    assert outcome.result["body"]["path"] == "/weather?city=S%C3%A3o%20Paulo%26x%3D1%2F..%2F"
    assert Handler.seen[-1]["headers"]["Authorization"] == "Bearer s3cret"


@pytest.mark.anyio
async def test_http_post_sends_the_arguments_or_the_body_template_as_json(tmp_path: Path, http_base: str) -> None:
    tools = runner(tmp_path, [
        {"name": "plain", "http": {"method": "POST", "url": http_base + "/timers"}},
        {"name": "templated", "http": {"method": "POST", "url": http_base + "/t",
                                       "body": {"minutes": "{minutes}", "label": "timer {minutes}"}}},
    ])
    plain = await tools.call("plain", "c", {"minutes": 5})
    assert plain.result == {"status": 201, "body": {"received": {"minutes": 5}}}
    templated = await tools.call("templated", "c", {"minutes": 5})
    assert templated.result["body"] == {"received": {"minutes": 5, "label": "timer 5"}}


CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@pytest.mark.anyio
async def test_doubled_braces_validate_and_reach_the_service_as_braces(tmp_path: Path, http_base: str) -> None:
    """One grammar (`runtime.agentfile.placeholders`): what `runtime validate` accepts is what the call fills."""
    agent_file = tmp_path / "braces.yaml"
    agent_file.write_text(json.dumps({"model": "gemini-3.8-live", "tools": [
        {"name": "weather", "description": "d", "parameters": CITY,
         "http": {"url": http_base + "/weather?q={{literal}}&c={city}", "headers": {"X-Q": "{{h}} {city}"}}},
        {"name": "post", "description": "d", "parameters": CITY,
         "http": {"method": "POST", "url": http_base + "/t",
                  "body": {"filter": {"expr": "{{a}} = {city}"}, "tags": ["{{b}}", "{city}"]}}},
    ]}))
    agent = load_agent(agent_file)
    tools = ToolRunner(agent.tools)
    weather = await tools.call("weather", "c", {"city": "Paris"})
    assert weather.ok, weather.result
    assert unquote(weather.result["body"]["path"]) == "/weather?q={literal}&c=Paris"
    assert Handler.seen[-1]["headers"]["X-Q"] == "{h} Paris"
    posted = await tools.call("post", "c", {"city": "Paris"})
    assert posted.result["body"] == {"received": {"filter": {"expr": "{a} = Paris"}, "tags": ["{b}", "Paris"]}}


@pytest.mark.anyio
async def test_a_secret_with_braces_reaches_the_service_as_written(
    tmp_path: Path, http_base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `${env:...}` value put into a template is literal: its braces are neither placeholders nor errors."""
    monkeypatch.setenv("BRACED_TOKEN", "t{o}k}e{n")
    agent_file = tmp_path / "secret.yaml"
    agent_file.write_text(json.dumps({"model": "gemini-3.8-live", "tools": [
        {"name": "weather", "description": "d", "parameters": CITY,
         "http": {"url": http_base + "/weather?k=${env:BRACED_TOKEN}&c={city}",
                  "headers": {"Authorization": "Bearer ${env:BRACED_TOKEN}"}}},
    ]}))
    agent = load_agent(agent_file)
    weather = await ToolRunner(agent.tools).call("weather", "c", {"city": "Paris"})
    assert weather.ok, weather.result
    assert Handler.seen[-1]["headers"]["Authorization"] == "Bearer t{o}k}e{n"
    assert unquote(Handler.seen[-1]["path"]) == "/weather?k=t{o}k}e{n&c=Paris"


@pytest.mark.anyio
async def test_http_failures_become_errors(tmp_path: Path, http_base: str) -> None:
    tools = runner(tmp_path, [
        {"name": "fail", "http": {"url": http_base + "/fail"}},
        {"name": "slow", "http": {"url": http_base + "/slow", "timeout_s": 0.2}},
        {"name": "redirect", "http": {"url": http_base + "/redirect"}},
        {"name": "closed", "http": {"url": "http://127.0.0.1:9/"}},
    ])
    fail = await tools.call("fail", "c", {})
    assert fail.result == {"error": "HTTP 503: oven service down"}
    slow = await tools.call("slow", "c", {})
    assert slow.result == {"error": "HTTP request timed out after 0.2 s"}
    redirect = await tools.call("redirect", "c", {})
    assert redirect.result["error"].startswith("HTTP 302")
    closed = await tools.call("closed", "c", {})
    assert closed.result["error"].startswith("HTTP request failed")


@pytest.mark.anyio
async def test_large_responses_are_truncated_with_a_note(tmp_path: Path, http_base: str) -> None:
    tools = runner(tmp_path, [{"name": "big", "http": {"url": http_base + "/big"}}])
    outcome = await tools.call("big", "c", {})
    assert len(outcome.result["body"]) == RESPONSE_LIMIT_BYTES
    assert "truncated" in outcome.result["note"]


@pytest.mark.anyio
async def test_metadata_and_other_schemes_are_refused(tmp_path: Path) -> None:
    tools = runner(tmp_path, [
        {"name": "meta", "http": {"url": "http://169.254.169.254/latest/meta-data/"}},
        {"name": "host", "http": {"url": "http://{host}/"},
         "parameters": {"type": "object", "properties": {"host": {"type": "string"}}}},
        {"name": "file", "http": {"url": "file:///etc/passwd"}},
    ])
    assert "error" in (await tools.call("meta", "c", {})).result
    assert "error" in (await tools.call("host", "c", {"host": "[fd00:ec2::254]"})).result
    assert "error" in (await tools.call("file", "c", {})).result


def test_templates_refuse_missing_arguments() -> None:
    from runtime.live.http_tools import ToolCallError

    assert fill("/a/{x}", {"x": 1}, url_encode=True) == "/a/1"
    with pytest.raises(ToolCallError, match="missing argument 'y'"):
        fill("/a/{y}", {}, url_encode=True)
    with pytest.raises(ToolCallError, match="invalid request template"):
        fill("/a/{y", {"y": 1}, url_encode=True)


@pytest.mark.anyio
async def test_huge_python_results_and_errors_are_capped(tmp_path: Path) -> None:
    (tmp_path / "greedy.py").write_text(
        "def returns_huge() -> str:\n    return 'x' * 1_000_000\n\n"
        "def raises_huge() -> str:\n    raise ValueError('y' * 1_000_000)\n\n"
        "def returns_huge_dict() -> dict:\n    return {'a': 'z' * 1_000_000, 'b': 1}\n"
    )
    spec = AgentSpec.model_validate({"model": "m", "tools": [
        {"name": name, "python": f"greedy:{name}"} for name in ("returns_huge", "raises_huge", "returns_huge_dict")
    ]})
    tools = ToolRunner(resolve_tools(spec.tools, tmp_path))
    for name in ("returns_huge", "raises_huge", "returns_huge_dict"):
        outcome = await tools.call(name, "c", {})
        assert len(json.dumps(outcome.result)) <= RESPONSE_LIMIT_BYTES + 200
        assert "truncated" in outcome.result["note"]
    assert not (await tools.call("raises_huge", "c", {})).ok


@pytest.mark.anyio
async def test_registered_secrets_never_reach_the_model(tmp_path: Path, http_base: str) -> None:
    from runtime.guards.redact import SECRETS

    SECRETS.add("tok-live-agent-canary-123456")
    (tmp_path / "leaky.py").write_text("def leak() -> str:\n    return 'the token is tok-live-agent-canary-123456'\n")
    spec = AgentSpec.model_validate({"model": "m", "tools": [{"name": "leak", "python": "leaky:leak"}]})
    outcome = await ToolRunner(resolve_tools(spec.tools, tmp_path)).call("leak", "c", {})
    assert "canary" not in json.dumps(outcome.result)


@pytest.mark.anyio
async def test_calls_are_logged_with_outcome_and_duration_and_arguments_only_at_debug(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from runtime.agentlog import working_for
    from runtime.daemon.logs import AgentFilter

    tools = runner(tmp_path, [{"name": "add", "python": "kitchen_tools:add"}])
    caplog.set_level(logging.DEBUG, logger="runtime.live.tools")
    caplog.handler.addFilter(AgentFilter())
    with working_for("kitchen"):
        await tools.call("add", "c9", {"a": 41, "b": 1})
    info = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert {getattr(r, "agent", None) for r in caplog.records} == {"kitchen"}
    assert len(info) == 1 and info[0].startswith("tool add (c9) ok in ") and "41" not in info[0]
    assert any("41" in line for line in debug)
