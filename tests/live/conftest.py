"""Shared pieces of the session tests: an event recorder to wait on, WAV makers, a session runner."""

from __future__ import annotations

import time
import wave
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
import numpy as np

from runtime.agentfile.spec import AgentSpec
from runtime.audio.ports import AudioIn, AudioOut
from runtime.live.connection import Timeouts
from runtime.live.endpoint import Endpoint
from runtime.live.events import SessionState, ToolOutcome, Usage
from runtime.live.session import AgentSession
from runtime.retry import RetryPolicy

MODEL = "gemini-3.8-live"
FAST = RetryPolicy(first_backoff_s=0.05, longest_backoff_s=0.2, healthy_after_s=0.5, fatal_retry_s=0.1,
                   fatal_attempts=3, give_up_after=5)
FAST_TIMEOUTS = Timeouts(goaway_margin_s=0.5)
"""The emulator's goAway comes seconds before its connection limit, not 50 s: a margin that fits."""


@dataclass
class Recorder:
    """SessionEvents that remember everything, with a way to wait until something happened."""

    entries: list[tuple[float, str, Any]] = field(default_factory=list)
    _changed: anyio.Event = field(default_factory=anyio.Event)

    def _add(self, kind: str, value: Any) -> None:
        self.entries.append((time.monotonic(), kind, value))
        self._changed.set()
        self._changed = anyio.Event()

    def transcript(self, agent: str, role: Literal["user", "model"], text: str) -> None:
        self._add("transcript", (role, text))

    def text(self, agent: str, text: str) -> None:
        self._add("text", text)

    def tool_call(self, agent: str, outcome: ToolOutcome) -> None:
        self._add("tool", outcome)

    def usage(self, agent: str, usage: Usage) -> None:
        self._add("usage", usage)

    def state(self, agent: str, state: SessionState, detail: str = "") -> None:
        self._add("state", (state, detail))

    def of(self, kind: str) -> list[Any]:
        return [value for _, kind_, value in self.entries if kind_ == kind]

    def states(self, name: str) -> list[str]:
        return [detail for state, detail in self.of("state") if state == name]

    async def until(self, predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
        with anyio.fail_after(timeout_s):
            while not predicate():
                with anyio.move_on_after(0.05):  # counters outside the events change too
                    await self._changed.wait()


def speech_wav(path: Path, pattern: list[tuple[str, float]], *, seed: int = 1) -> bytes:
    """A 16 kHz WAV of loud noise ("speech") and quiet noise ("pause"); every block is unique."""
    rng = np.random.default_rng(seed)
    parts = []
    for kind, seconds in pattern:
        level = 3000 if kind == "speech" else 40
        parts.append((rng.standard_normal(int(seconds * 16000)) * level).clip(-32000, 32000).astype("<i2"))
    pcm = np.concatenate(parts).tobytes()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(pcm)
    return pcm


def agent(**fields: Any) -> AgentSpec:
    return AgentSpec.model_validate({"model": MODEL, **fields})


@asynccontextmanager
async def running(
    spec: AgentSpec, emulator: Any, tmp_path: Path, audio_in: AudioIn, audio_out: AudioOut,
    *, events: Recorder | None = None, name: str = "test", policy: RetryPolicy = FAST,
    timeouts: Timeouts = FAST_TIMEOUTS, endpoint: Endpoint | None = None,
) -> AsyncIterator[AgentSession]:
    """A session against the emulator, started (setupComplete) on entry, cancelled on exit."""
    session = AgentSession(
        spec, name=name, base_dir=tmp_path,
        endpoint=endpoint or Endpoint(base_url=emulator.base_url, ca_file=emulator.ca_file, api_key="test-key"),
        audio_in=audio_in, audio_out=audio_out, state_dir=tmp_path / "state", events=events, policy=policy,
        timeouts=timeouts,
    )
    async with anyio.create_task_group() as group:
        await group.start(session.run)
        yield session
        group.cancel_scope.cancel()
