"""An agent whose microphone and speaker are the real `wyoming-satellite` (PyPI), against the emulator:
the request spoken into the satellite reaches the service, the reply is played by the satellite, a barge-in
stops it within the pacer's lead, a goAway handover loses no satellite audio, a satellite restart is
survived by the same Live session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest

from runtime.emulator import EmulatorOptions, parse_scenario, serve
from runtime.live.endpoint import Endpoint
from runtime.live.session import AgentSession
from runtime.satellite.ports import LinkedRunnable, SatelliteIn, SatelliteOut, satellite_ports
from runtime.satellite.states import CONNECTED, WAITING
from tests.live.conftest import FAST, FAST_TIMEOUTS, Recorder, agent, speech_wav
from tests.satellite.harness import SPEAKER_BYTES_PER_S, raw_mic, running_satellite

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ANSWER = "It is twelve o'clock."
STORY = "Once upon a time there was a tiny robot who loved music and sang all day long, every day."
SCENARIO = {
    "speech_transcripts": ["what time is it", "tell me a story"],
    "rules": [
        {"when": {"text": "time"}, "then": [{"say": ANSWER}]},
        {"when": {"text": "story"}, "then": [{"say": STORY}]},
        {"when": {"text": "stop"}, "then": [{"say": "Okay."}]},
        {"when": {"text": ""}, "then": [{"say": "OK."}]},
    ],
}
VOICE_BYTES_PER_CHAR = 60 * 48
"""The emulator's voice: 60 ms of 24 kHz int16 per character."""


def spec_for(url: str, **fields: Any) -> Any:
    return agent(audio={"satellite": url}, **fields)


@asynccontextmanager
async def satellite_agent(
    url: str, emulator: Any, tmp_path: Path, events: Recorder, **fields: Any
) -> AsyncIterator[tuple[AgentSession, SatelliteIn, SatelliteOut]]:
    """What the daemon runs for this agent: the session with its satellite link beside it (`LinkedRunnable`)."""
    spec = spec_for(url, **fields)
    mic, speaker, link = satellite_ports(spec.audio)
    link.backoff_s = (0.05, 0.5)
    session = AgentSession(
        spec, name="test", base_dir=tmp_path, audio_in=mic, audio_out=speaker, state_dir=tmp_path / "state",
        endpoint=Endpoint(base_url=emulator.base_url, ca_file=emulator.ca_file, api_key="test-key"),
        events=events, policy=FAST, timeouts=FAST_TIMEOUTS,
    )
    async with anyio.create_task_group() as group:
        await group.start(LinkedRunnable(session, link).run)
        yield session, mic, speaker
        group.cancel_scope.cancel()


async def test_a_request_spoken_into_the_satellite_is_answered_through_its_speaker(tmp_path: Path) -> None:
    pcm = speech_wav(tmp_path / "request.wav", [("pause", 1.5), ("speech", 1.0), ("pause", 30.0)])
    mic_raw = raw_mic(tmp_path / "mic.raw", pcm, 48_000, 2)  # converted on our side to 16 kHz mono
    events = Recorder()
    options = EmulatorOptions(scenario_obj=parse_scenario(SCENARIO))
    with running_satellite(tmp_path, mic_raw, rate_hz=48_000, channels=2) as satellite:
        async with serve(options) as emulator, satellite_agent(satellite.url, emulator, tmp_path, events) as (
            session, mic, _speaker,
        ):
            await events.until(lambda: ("user", "what time is it") in events.of("transcript"), timeout_s=30)
            reply_bytes = len(ANSWER) * VOICE_BYTES_PER_CHAR
            await events.until(lambda: len(satellite.played()) >= reply_bytes, timeout_s=30)
            assert mic.link.status == CONNECTED
        received = np.frombuffer(emulator.audio_bytes_received(), dtype="<i2").astype(np.float32)
    loud = np.sqrt(np.mean(received.reshape(-1, 160) ** 2, axis=1)) > 1000  # 10 ms frames of "speech"
    assert 0.8 < loud.sum() / 100 < 1.2, "about one second of the request reached the service"
    played = satellite.played()
    assert len(played) == reply_bytes, "the whole reply, once"
    assert session.downlink.stats.audio_bytes == reply_bytes


async def test_barge_in_ends_the_satellites_reply_with_audio_stop_and_the_answer_plays_whole(tmp_path: Path) -> None:
    pcm = speech_wav(tmp_path / "request.wav", [("pause", 60.0)])
    mic_raw = raw_mic(tmp_path / "mic.raw", pcm, 16_000, 1)
    events = Recorder()
    options = EmulatorOptions(scenario_obj=parse_scenario(SCENARIO))
    with running_satellite(tmp_path, mic_raw) as satellite:
        async with serve(options) as emulator, satellite_agent(satellite.url, emulator, tmp_path, events) as (
            session, mic, speaker,
        ):
            await events.until(lambda: mic.link.status == CONNECTED, timeout_s=30)
            await session.send_text("tell me a story")
            await events.until(lambda: len(satellite.played()) >= 2 * SPEAKER_BYTES_PER_S, timeout_s=30)
            await session.send_text("stop")
            okay_bytes = len("Okay.") * VOICE_BYTES_PER_CHAR
            await events.until(lambda: any(state == "interrupted" for state, _ in events.of("state"))
                               and len(events.of("usage")) >= 2, timeout_s=30)
            await events.until(lambda: not speaker.playing, timeout_s=30)
            await events.until(lambda: len(satellite.played()) >= speaker.link.pacer.sent_bytes, timeout_s=30)
            sent, cut = speaker.link.pacer.sent_bytes, speaker.link.pacer.cut_replies
    story_bytes = len(STORY) * VOICE_BYTES_PER_CHAR
    played_story = len(satellite.played()) - okay_bytes
    assert cut == 1, "the story's reply ended with audio-stop at the barge-in"
    assert 2 * SPEAKER_BYTES_PER_S <= played_story < story_bytes, "the story was cut"
    assert len(satellite.played()) == sent, "the satellite played exactly what was sent, then the whole answer"




async def test_a_goaway_handover_loses_and_repeats_no_satellite_audio(tmp_path: Path) -> None:
    pattern = [("pause", 0.3)]
    for _ in range(3):
        pattern += [("speech", 0.5), ("pause", 1.2)]
    pcm = speech_wav(tmp_path / "request.wav", pattern, seed=7)
    mic_raw = raw_mic(tmp_path / "mic.raw", pcm, 16_000, 1)  # the satellite's own format: no resampling
    events = Recorder()
    options = EmulatorOptions(go_away_after_s=1.0, connection_limit_s=3.0, scenario_obj=parse_scenario(SCENARIO))
    with running_satellite(tmp_path, mic_raw) as satellite:
        async with serve(options) as emulator, satellite_agent(satellite.url, emulator, tmp_path, events) as (
            session, _mic, _speaker,
        ):
            await events.until(lambda: len(session.stats.handovers) >= 2 and len(_heard(emulator, pcm)) >= len(pcm),
                               timeout_s=60)
        received = emulator.audio_bytes_received()
    heard = _heard_in(received, pcm)
    assert heard == pcm[len(pcm) - len(heard):], "every byte from the satellite, once and in order"
    assert len(session.stats.handovers) >= 2
    assert session.uplink.dropped_frames == 0


def _heard(emulator: Any, pcm: bytes) -> bytes:
    return _heard_in(emulator.audio_bytes_received(), pcm)


def _heard_in(received: bytes, pcm: bytes) -> bytes:
    """What the service received of the file: from where the satellite joined (it streams before we connect,
    so the first block is somewhere in the file) to the file's end."""
    probe = received[:640]
    start = pcm.find(probe)
    if start < 0 or start % 2:
        return b""
    return received[: len(pcm) - start]


async def test_a_satellite_restart_is_survived_by_the_same_live_session(tmp_path: Path) -> None:
    pcm = speech_wav(tmp_path / "request.wav", [("pause", 1.5), ("speech", 1.0), ("pause", 30.0)])
    mic_raw = raw_mic(tmp_path / "mic.raw", pcm, 16_000, 1)
    events = Recorder()
    statuses: list[str] = []
    options = EmulatorOptions(scenario_obj=parse_scenario(SCENARIO))
    with running_satellite(tmp_path, mic_raw) as first:
        port = first.port
        async with serve(options) as emulator, satellite_agent(first.url, emulator, tmp_path, events) as (
            session, mic, _speaker,
        ):
            mic.link.on_status = statuses.append
            await events.until(lambda: ("user", "what time is it") in events.of("transcript"), timeout_s=30)
            first.process.terminate()
            first.process.wait(timeout=10)
            await events.until(lambda: mic.link.status == WAITING, timeout_s=30)
            with running_satellite(tmp_path, mic_raw, port=port, name="again") as second:
                await events.until(lambda: ("user", "tell me a story") in events.of("transcript"), timeout_s=60)
                await events.until(lambda: len(second.played()) > 0, timeout_s=30)
                told = list(statuses)
            connections = emulator.connections
    assert told[-2:] == [WAITING, CONNECTED], "`waiting for satellite` while it was away"
    assert mic.link.counts.connections == 2
    assert connections == 1, "the Live session stayed up while the satellite was away"
    assert session.stats.handovers == []
