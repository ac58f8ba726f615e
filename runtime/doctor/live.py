"""`--live`: one short session per distinct model, on the SDK the daemon uses and the agent's own setup.

Setup (time to `setupComplete`), one typed turn (time to the first reply), one tool call when the agent has a
tool (the tool is not run: the doctor answers for it), and a resumption handle. A real model may decline to
call the tool: that is a warning, not a failure.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from runtime.agentfile.loader import LoadedAgent
from runtime.doctor.report import Check, failed, passed, warned
from runtime.doctor.trace import TraceWriter, recording_connection
from runtime.live.endpoint import TOKEN_API_VERSION, Endpoint, fetch_token

if TYPE_CHECKING:
    from google import genai
    from google.genai import types
    from google.genai.live import AsyncSession

FAMILY = "live"
SESSION_TIMEOUT_S = 60.0
HANDLE_WAIT_S = 10.0
"""How long after the last turn a resumption handle may still come."""
PROMPT = "This is a connection check. Please answer with one short sentence."
TOOL_PROMPT = "This is a connection check. Please call the function {name} once now, then say done."
TOOL_RESULT = {"result": "runtime doctor checked the connection; the tool was not run"}
CLOSE_HINTS = {
    1007: "the service refused the setup: runtime validate the agent file; check the model's features",
    1008: "the key is refused, the quota is used up, or the model is not offered to this key: check the key "
          "and `runtime models`",
    1011: "the service had an internal error: try again later",
}


@dataclass
class Probe:
    """What one session saw, with times in seconds from the start of the connection."""

    model: str
    tool: str | None
    setup_s: float | None = None
    first_reply_s: float | None = None
    tool_called: bool = False
    handle: bool = False
    turns_done: int = 0
    turns_needed: int = 1
    """Turns to see completed: the typed one, and after a tool's result the turn that speaks it."""
    started: float = field(default_factory=time.monotonic)

    def since_start(self) -> float:
        return time.monotonic() - self.started


def probe_agents(agents: list[LoadedAgent]) -> list[LoadedAgent]:
    """One agent per distinct model, preferring one with a tool (so the tool call is tried)."""
    chosen: dict[str, LoadedAgent] = {}
    for agent in agents:
        current = chosen.get(agent.spec.model)
        if current is None or (agent.spec.functions() and not current.spec.functions()):
            chosen[agent.spec.model] = agent
    return list(chosen.values())


async def check_live(endpoint: Endpoint, agents: list[LoadedAgent], writer: TraceWriter | None) -> list[Check]:
    checks: list[Check] = []
    for agent in probe_agents(agents):
        checks.extend(await run_probe(endpoint, agent, writer))
    return checks


async def run_probe(endpoint: Endpoint, agent: LoadedAgent, writer: TraceWriter | None) -> list[Check]:
    from google.genai import errors
    from websockets.exceptions import InvalidStatus

    from runtime.errors import SessionError
    from runtime.guards.redact import SECRETS, redact_exception

    model = agent.spec.model
    functions = agent.spec.functions()
    probe = Probe(model, functions[0][1].name if functions else None)
    name = f"session on {model}"
    try:
        with anyio.fail_after(SESSION_TIMEOUT_S):
            await _session(endpoint, agent, probe, writer)
    except errors.APIError as error:
        reason = SECRETS.redact(str(error.details or error.message or ""))
        hint = CLOSE_HINTS.get(error.code or 0, "see docs/sessions.md for close codes")
        return [failed(FAMILY, name, f"closed {error.code}: {reason}", hint)]
    except InvalidStatus as error:
        status = error.response.status_code
        return [failed(FAMILY, name, f"the handshake got HTTP {status}", "check --base-url and the key")]
    except TimeoutError:
        late = failed(FAMILY, name, f"no complete exchange within {SESSION_TIMEOUT_S:g} s",
                      "try again; check the network's latency")
        return [late, *judge(probe)[1:]]
    except (OSError, SessionError) as error:
        return [failed(FAMILY, name, redact_exception(error), "run the network checks above")]
    return judge(probe)


def judge(probe: Probe) -> list[Check]:
    """Lines for one session: its timings, the tool call, the handle."""
    name = f"session on {probe.model}"
    if probe.setup_s is None:
        return [failed(FAMILY, name, "no setupComplete", "see the network checks")]
    reply = f", first reply {probe.first_reply_s:.2f} s" if probe.first_reply_s is not None else ", no reply"
    main = f"setupComplete {probe.setup_s:.2f} s{reply}"
    checks = [passed(FAMILY, name, main) if probe.first_reply_s is not None else
              failed(FAMILY, name, main, "the model did not answer a typed turn")]
    if probe.tool is not None:
        label = f"{probe.model} tool call"
        checks.append(passed(FAMILY, label, f"{probe.tool} called and answered (not run)") if probe.tool_called else
                      warned(FAMILY, label, f"the model did not call {probe.tool}", "a model may decline; not a fault"))
    checks.append(passed(FAMILY, f"{probe.model} resumption", "handle received") if probe.handle else
                  failed(FAMILY, f"{probe.model} resumption", "no resumable handle", "see docs/sessions.md"))
    return checks


async def _client(endpoint: Endpoint, connection_class: type[Any] | None, agent: str | None = None) -> genai.Client:
    from google import genai
    from google.genai import types

    key, version = endpoint.api_key, endpoint.api_version
    if endpoint.token_url:
        key = await fetch_token(endpoint.token_url, endpoint.token_ssl_context(), bearer=endpoint.token_bearer,
                                agent=agent)
        version = TOKEN_API_VERSION
    context = endpoint.ssl_context()
    args: dict[str, Any] = {"ssl": context} if context is not None else {}
    if connection_class is not None:
        args["create_connection"] = connection_class
    options = types.HttpOptions(base_url=endpoint.base_url, api_version=version, async_client_args=args or None)
    return genai.Client(api_key=key or "", http_options=options)


def _config(agent: LoadedAgent) -> types.LiveConnectConfig:
    """The agent's own setup, with resumption on so that a handle is asked for."""
    from google.genai import types

    from runtime.agentfile import catalogue
    from runtime.live.config import live_config

    config = live_config(agent.spec, model=catalogue.lookup(agent.spec.model))
    return config.model_copy(update={"session_resumption": types.SessionResumptionConfig()})


async def _session(endpoint: Endpoint, agent: LoadedAgent, probe: Probe, writer: TraceWriter | None) -> None:
    conn = writer.connection() if writer is not None else 0
    client = await _client(endpoint, recording_connection(writer, conn) if writer is not None else None, agent.name)
    probe.started = time.monotonic()
    try:
        async with client.aio.live.connect(model=agent.spec.model, config=_config(agent)) as session:
            probe.setup_s = probe.since_start()
            prompt = TOOL_PROMPT.format(name=probe.tool) if probe.tool else PROMPT
            await session.send_realtime_input(text=prompt)
            while probe.turns_done < probe.turns_needed:
                async for message in session.receive():
                    await _on_message(session, agent, probe, message)
            # The handle may follow the last turn (the next receive() pass reads it); do not wait for ever.
            with anyio.move_on_after(HANDLE_WAIT_S):
                while not probe.handle:
                    async for message in session.receive():
                        await _on_message(session, agent, probe, message)
    finally:
        await client.aio.aclose()


async def _on_message(
    session: AsyncSession, agent: LoadedAgent, probe: Probe, message: types.LiveServerMessage
) -> None:
    from google.genai import types

    from runtime.live.config import scheduling

    content = message.server_content
    if content is not None and (content.model_turn is not None or content.output_transcription is not None):
        probe.first_reply_s = probe.first_reply_s if probe.first_reply_s is not None else probe.since_start()
    if content is not None and content.turn_complete:
        probe.turns_done += 1
    update = message.session_resumption_update
    if update is not None and update.resumable and update.new_handle:
        probe.handle = True
    if message.tool_call is None:
        return
    tools = {tool.name: tool for _, tool in agent.spec.functions()}
    responses = []
    for call in message.tool_call.function_calls or []:
        tool = tools.get(call.name or "")
        probe.tool_called = probe.tool_called or tool is not None
        when = scheduling(tool) if tool is not None else None
        responses.append(types.FunctionResponse(id=call.id, name=call.name, response=TOOL_RESULT, scheduling=when))
        # A blocking call holds its turn open; a non-blocking one's result is spoken in a turn of its own.
        spoken_later = when is not None and when != types.FunctionResponseScheduling.SILENT
        probe.turns_needed = max(probe.turns_needed, probe.turns_done + 1 + int(spoken_later))
    if responses:
        await session.send_tool_response(function_responses=responses)
