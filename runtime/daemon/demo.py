"""`runtime run --demo`: a spoken request through one agent's microphone path, the reply into a WAV file.

What a fresh machine without a sound card or an API key shows: the daemon starts every agent, the demo
agent hears the bundled request, calls its tool, answers, and the run ends by itself once it has.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import anyio
import anyio.abc

from runtime.audio.ports import AudioOut
from runtime.daemon.agentdir import DirectoryState
from runtime.daemon.daemon import Daemon
from runtime.daemon.events import AgentState
from runtime.daemon.modes import mode_of
from runtime.live.events import SessionState, ToolOutcome, Usage

log = logging.getLogger(__name__)

DEMO_TIMEOUT_S = 60.0
PLAYOUT_TIMEOUT_S = 20.0
QUIET_S = 1.5
"""The demo ends once the agent has answered and then stayed silent this long (follow-up turns included)."""


def pick_demo_agent(state: DirectoryState) -> str | None:
    """The first agent (by name) that listens by itself (server activity detection), one that answers aloud
    if there is one."""
    listening = [name for name, config in sorted(state.configs.items())
                 if mode_of(config.agent.spec).answers_plain_speech]
    aloud = [name for name in listening if state.configs[name].agent.spec.response == "audio"]
    if aloud:
        return aloud[0]
    return listening[0] if listening else None


class DemoProgress:
    """Session events of the demo agent, reduced to one question: has it answered yet?"""

    def __init__(self, agent: str) -> None:
        self.agent = agent
        self.answered = anyio.Event()
        self._model_spoke = False
        self.tool_calls = 0
        self.last_event_at = time.monotonic()

    def transcript(self, agent: str, role: str, text: str) -> None:
        if agent == self.agent:
            self.last_event_at = time.monotonic()
            if role == "model" and text.strip():
                self._model_spoke = True

    def text(self, agent: str, text: str) -> None:
        self.transcript(agent, "model", text)

    def tool_call(self, agent: str, outcome: ToolOutcome) -> None:
        if agent == self.agent:
            self.tool_calls += 1
            self.last_event_at = time.monotonic()

    def usage(self, agent: str, usage: Usage) -> None:
        pass

    def state(self, agent: str, state: SessionState, detail: str = "") -> None:
        if agent != self.agent:
            return
        self.last_event_at = time.monotonic()
        if state is SessionState.TURN_COMPLETE and self._model_spoke:
            self.answered.set()


async def run_demo(
    daemon: Daemon,
    progress: DemoProgress,
    speaker: Callable[[], AudioOut | None],
    *,
    timeout_s: float = DEMO_TIMEOUT_S,
    keep_serving: Callable[[], None] | None = None,
) -> bool:
    """Run the daemon until the demo agent answered and its reply played out; False if it never did.

    `keep_serving`: after an answer, call it and let the daemon run on until a signal stops it (`--metrics`,
    so the page can be read after the conversation)."""
    answered = False
    async with anyio.create_task_group() as tg:

        async def run_daemon(*, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            await daemon.run(task_status=task_status)
            tg.cancel_scope.cancel()  # stopped by a signal before the demo ended

        await tg.start(run_daemon)
        with anyio.move_on_after(timeout_s):
            answered = await _wait_answer(daemon, progress)
        if not answered:
            log.error("demo: `%s` gave no answer within %g s (%s)", progress.agent, timeout_s, daemon.status())
        else:
            await _play_out(progress, speaker())
        if answered and keep_serving is not None:
            keep_serving()
        else:
            daemon.stop()
    return answered


async def _wait_answer(daemon: Daemon, progress: DemoProgress) -> bool:
    while not progress.answered.is_set():
        if daemon.states().get(progress.agent) in (AgentState.PARKED, AgentState.STOPPED):
            return False
        with anyio.move_on_after(0.1):
            await progress.answered.wait()
    return True


async def _play_out(progress: DemoProgress, speaker: AudioOut | None) -> None:
    """Wait until the agent is done: nothing heard from it for QUIET_S and its reply played out (the reply
    file is written at playback pace)."""
    with anyio.move_on_after(PLAYOUT_TIMEOUT_S):
        while (speaker is not None and speaker.playing) or time.monotonic() - progress.last_event_at < QUIET_S:
            await anyio.sleep(0.05)
