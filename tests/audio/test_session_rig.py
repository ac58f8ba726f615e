"""A Live session (real google-genai SDK, the emulator) on the rig's real microphone and speaker.

The user's voice is played into the virtual microphone; the model's voice is recorded from the virtual
speaker; with an echo path from speaker to microphone, the model must not interrupt itself, yet the user can.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from runtime.agentfile.spec import Audio
from runtime.audio.factory import open_ports
from runtime.emulator import EmulatorOptions, parse_scenario, serve
from tests.audio.rig import Recorder, echo_path, feed_microphone, needs_rig, rms, speech
from tests.live.conftest import Recorder as Events
from tests.live.conftest import agent, running

pytestmark = [pytest.mark.audio, needs_rig, pytest.mark.anyio]
LONG_REPLY = "Here is a long answer that keeps going on and on so that you have time to interrupt me."


class FlushClock:
    """AudioObserver: when the speaker went silent after a flush."""

    def __init__(self) -> None:
        self.silences: list[float] = []

    def mic_block_ready(self, t_s: float, frames: int) -> None:
        pass

    def samples_played(self, t_s: float, first_frame: int, frames: int) -> None:
        pass

    def silence_after_flush(self, t_s: float) -> None:
        self.silences.append(t_s)


async def test_a_spoken_turn_reaches_the_emulator_and_the_reply_reaches_the_speaker(tmp_path: Path) -> None:
    options = EmulatorOptions(port=0, scenario_obj=parse_scenario({"speech_transcripts": ["what time is it"]}))
    mic, speaker = open_ports(Audio(echo="none"), base_dir=tmp_path)
    events = Events()
    with Recorder("rig_speaker_monitor", 24_000) as monitor:
        async with serve(options) as emulator, running(agent(), emulator, tmp_path, mic, speaker, events=events):
            feeder = feed_microphone(speech(16_000, seconds=2.5), 16_000)
            await events.until(lambda: "turn_complete" in [s for s, _ in events.of("state")], timeout_s=20)
            await events.until(lambda: not speaker.playing)
            feeder.join()
            received = np.frombuffer(emulator.audio_bytes_received(), "<i2")
    heard = monitor.samples()
    print(
        f"session: emulator got {len(received) / 16_000:.1f} s of microphone audio (rms {rms(received):.0f}),"
        f" the speaker monitor heard {np.count_nonzero(np.abs(heard) > 1000) / 24_000:.2f} s of reply,"
        f" {speaker.underruns} underruns (a load figure: the bench reports it)"
    )
    assert ("user", "what time is it") in events.of("transcript")
    assert rms(received) > 300, "the user's voice reached the emulator"
    assert np.count_nonzero(np.abs(heard) > 1000) > 0.3 * 24_000, "the reply was played through the speaker"
    # A busy machine may starve the speaker for a period (an underrun: the bench counts those); what load cannot
    # excuse is a frame of the reply that was queued and never played, or thrown away.
    assert speaker.written_frames > 0 and speaker._playback.queued_frames == 0 and speaker.dropped_frames == 0


@pytest.mark.parametrize("echo", ["cancel", "half_duplex"])
async def test_with_an_echo_path_the_model_does_not_interrupt_itself_but_the_user_can(
    tmp_path: Path, echo: str
) -> None:
    from runtime.audio.echo import livekit_available

    if echo == "cancel" and not livekit_available():
        pytest.skip("livekit ([aec] extra) not installed")
    scenario = {
        "speech_transcripts": ["tell me a story", "stop"],
        "rules": [{"when": {"text": "story"}, "then": [{"say": LONG_REPLY}]}],
    }
    mic, speaker = open_ports(Audio(echo=echo), base_dir=tmp_path)  # type: ignore[arg-type]
    clock = FlushClock()
    speaker.observer = clock  # type: ignore[attr-defined]
    events = Events()
    with echo_path(latency_ms=60, volume="-10dB"):
        async with (
            serve(EmulatorOptions(port=0, scenario_obj=parse_scenario(scenario))) as emulator,
            running(agent(), emulator, tmp_path, mic, speaker, events=events) as session,
        ):
            feed_microphone(speech(16_000, seconds=1.5), 16_000).join()
            await events.until(lambda: session.downlink.stats.audio_bytes > 24_000 * 2 * 2.5, timeout_s=20)
            assert not session.downlink.stats.interruptions, "the model interrupted itself through the echo"
            user_at = time.monotonic()
            feeder = feed_microphone(speech(16_000, seconds=1.5), 16_000)
            await events.until(lambda: bool(clock.silences), timeout_s=10)
            feeder.join()
    silence_ms = 1000 * (clock.silences[0] - user_at)
    print(
        f"{echo}: user talks over the model -> speaker silent after {silence_ms:.0f} ms"
        f" (incl. stream start of the feeder, the emulator's VAD and {speaker_latency(speaker):.0f} ms to the ear)"
    )
    assert len(session.downlink.stats.interruptions) >= 1


def speaker_latency(speaker: Any) -> float:
    return 1000 * float(getattr(speaker, "latency_s", 0.0))
